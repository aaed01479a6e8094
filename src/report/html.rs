//! The HTML report: one self-contained page for the person who reads the
//! audit. The verdict and the score against the threshold as a gauge, one
//! bar pair per requirement (weight, score), the fix path as a waterfall
//! from today's score to the threshold, every blocker with its evidence and
//! a command to copy, every check filterable by status, and the score trend
//! of recent runs when `check --history` gives one.
//!
//! Safety: every string of the report goes through [`crate::text::html`]
//! (unsafe characters shown as escapes, then `& < > " '` as references), so
//! a server's `<script>` is text; the markup in this file is the only
//! markup on the page. A strict Content-Security-Policy forbids every
//! fetch (no network, no external script, font or image) and allows one
//! script, the copy buttons', by its hash; so even markup that slipped in
//! could neither run nor load anything. The report is already redacted.
//!
//! Accessibility: real headings (h1–h4), every status shown as an icon and
//! a word, never by colour alone; filtering by status works without
//! JavaScript (radio inputs and `:has()`); the page reflows to 375 px
//! (long text and commands wrap inside their own box) and prints black on
//! white with every check shown and no controls.

use std::fmt::Write as _;
use std::io;

use super::groups::{BlockerGroup, group_blockers};
use super::model::{Blocker, CheckReport};
use super::words::{impact, pct, req_status, status, weight};
use super::{RenderOptions, Renderer, Report, TrendPoint};
use crate::status::{ReqStatus, Status};
use crate::text::{html as h, html_keep_tabs};

pub struct Html;

/// The copy buttons: shown only where the clipboard API is, so a page
/// without it (or without JavaScript) has a selectable command and no dead
/// button. Allowed by its hash in the page's Content-Security-Policy.
const SCRIPT: &str = "if(navigator.clipboard){for(const b of document.querySelectorAll('button.copy')){b.hidden=false;b.addEventListener('click',()=>{const c=document.getElementById(b.dataset.copy);navigator.clipboard.writeText(c.textContent).then(()=>{b.textContent='Copied'},()=>{b.textContent='Select the command to copy it'})})}}";

const STYLE: &str = r#"
:root{--pass:#1a7f37;--fail:#c21c2c;--error:#a44200;--blocked:#7a3fd6;--skipped:#5c6670;--waived:#0b62c4;--ink:#1f2328;--muted:#57606a;--line:#c8d1da;--soft:#f3f5f7}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:#fff}
header,main,footer{max-width:62rem;margin:0 auto;padding:0 1rem}
h1{font-size:1.5rem;line-height:1.25;margin:1rem 0 .5rem}
h2{font-size:1.25rem;margin:2rem 0 .75rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1.05rem;margin:0 0 .5rem}
h4{font-size:1rem;margin:1rem 0 .25rem}
h1,h2,h3,h4,p,li,dd,dt,td,th,code{overflow-wrap:anywhere}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:.875em}
p{margin:.4rem 0}
.muted{color:var(--muted)}
.status{font-weight:700;white-space:nowrap}
.s-pass{color:var(--pass)}.s-fail{color:var(--fail)}.s-error{color:var(--error)}.s-blocked{color:var(--blocked)}.s-skipped{color:var(--skipped)}.s-waived{color:var(--waived)}
.overview{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center}
.overview>div{flex:1 1 16rem;min-width:0}
.gauge{width:13rem;max-width:100%;height:auto}
.verdict{display:inline-block;font-size:1.25rem;padding:.1rem .6rem;border:2px solid currentColor;border-radius:.3rem}
.score{font-size:1.1rem;margin:.5rem 0}
.note{border-left:4px solid var(--error);padding:.25rem .75rem;background:var(--soft)}
.bar{position:relative;height:.8rem;min-width:4rem;background:var(--soft);border:1px solid var(--line);border-radius:.2rem;overflow:hidden}
.bar>span{position:absolute;top:0;bottom:0;left:0;background:currentColor}
.bar>.mark{width:2px;margin-left:-1px;background:var(--ink)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:.875rem;color:var(--muted)}
.reqs td:nth-child(2){width:22%}.reqs td:nth-child(3){width:30%}
.num{white-space:nowrap;font-variant-numeric:tabular-nums}
.tag{font-size:.75rem;font-weight:600;border:1px solid var(--line);border-radius:.2rem;padding:0 .3rem;white-space:nowrap}
.steps{list-style:none;padding:0;margin:0}
.steps li{margin:0 0 .6rem}
.steps .bar{height:1rem}
.steps .base{background:#9aa4ae}
.steps .gain{background:var(--pass)}
.steps .gain.short{background:var(--error)}
.blocker{border:1px solid var(--line);border-left:4px solid var(--fail);border-radius:.3rem;padding:.75rem;margin:0 0 1rem}
dl.evidence{display:grid;grid-template-columns:minmax(6rem,max-content) 1fr;gap:.2rem .75rem;margin:.5rem 0}
dl.evidence dt{font-weight:600}
dl.evidence dd{margin:0;min-width:0;max-height:12rem;overflow:auto}
.cmd{margin:.5rem 0}
pre{margin:.25rem 0;padding:.5rem;background:var(--soft);border:1px solid var(--line);border-radius:.2rem;white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%;overflow-x:auto}
button.copy{font:inherit;font-size:.875rem;padding:.15rem .6rem;border:1px solid var(--ink);border-radius:.2rem;background:#fff;color:var(--ink);cursor:pointer}
.filter{display:flex;flex-wrap:wrap;gap:.25rem 1rem;border:1px solid var(--line);border-radius:.3rem;padding:.5rem .75rem;margin:0 0 .75rem}
.filter legend{font-weight:600;padding:0 .25rem}
.filter label{white-space:nowrap}
input[type=radio]:focus-visible+label{outline:2px solid var(--waived);outline-offset:2px}
.checks{list-style:none;padding:0;margin:0}
.check{border-bottom:1px solid var(--line);padding:.5rem 0}
.check .what{display:flex;flex-wrap:wrap;gap:.1rem .6rem;align-items:baseline}
.trend svg{width:100%;max-width:32rem;height:auto;display:block}
footer{margin-top:2rem;padding-bottom:2rem;font-size:.875rem;color:var(--muted)}
@media (max-width:40rem){
 .reqs thead{display:none}
 .reqs tr{display:grid;grid-template-columns:1fr 1fr auto;grid-template-areas:"name name status" "weight score score";gap:.2rem .75rem;padding:.5rem 0;border-bottom:1px solid var(--line)}
 .reqs th,.reqs td{display:block;width:auto!important;border:0;padding:0}
 .reqs th{grid-area:name}.reqs td:nth-child(2){grid-area:weight}.reqs td:nth-child(3){grid-area:score}.reqs td:nth-child(4){grid-area:status;text-align:right}
 .reqs td[data-label]::before{content:attr(data-label);display:block;font-size:.75rem;color:var(--muted)}
 .reqs td:nth-child(4)::before{display:none!important}
 dl.evidence{grid-template-columns:1fr}
 dl.evidence dd{margin-bottom:.3rem}
}
@media print{
 body{color:#000;background:#fff;font-size:11pt}
 .filter,button.copy{display:none!important}
 .check{display:block!important}
 :root{--pass:#000;--fail:#000;--error:#000;--blocked:#000;--skipped:#000;--waived:#000;--ink:#000;--muted:#000;--line:#777;--soft:#fff}
 .steps .base{background:#bbb}.steps .gain,.steps .gain.short{background:#555}
 .check,tr,.cmd{break-inside:avoid}
 .trend polyline{stroke:#000}.trend rect{stroke:#000}.trend circle{fill:#000}
 h2,h3,h4{break-after:avoid}
 header,main,footer{max-width:none;padding:0}
 pre{border-color:#000}
 dl.evidence dd{max-height:none;overflow:visible}
}
"#;

/// Statuses in the order the filter offers them.
const STATUSES: [Status; 6] = [
    Status::Fail,
    Status::Error,
    Status::Blocked,
    Status::Waived,
    Status::Skipped,
    Status::Pass,
];

fn icon(s: Status) -> &'static str {
    match s {
        Status::Pass => "✔",
        Status::Fail => "✖",
        Status::Error => "⚠",
        Status::Blocked => "⊘",
        Status::Skipped => "↷",
        Status::Waived => "≋",
    }
}

fn req_icon(s: ReqStatus) -> &'static str {
    match s {
        ReqStatus::Pass => icon(Status::Pass),
        ReqStatus::Fail => icon(Status::Fail),
        ReqStatus::Waived => icon(Status::Waived),
        ReqStatus::Skipped => icon(Status::Skipped),
    }
}

/// A status as icon and word, coloured by class: `<span class="status s-fail">✖ FAIL</span>`.
fn status_badge(s: Status) -> String {
    format!(
        r#"<span class="status s-{}">{} {}</span>"#,
        s.as_str(),
        icon(s),
        status(s)
    )
}

fn req_badge(s: ReqStatus) -> String {
    let word = req_status(s);
    format!(
        r#"<span class="status s-{}">{} {word}</span>"#,
        word.to_ascii_lowercase(),
        req_icon(s)
    )
}

/// Prose (a message, a cause, a fix): [`h`], with the code spans our own
/// wording uses (`` `backend` ``) shown as code. Only balanced backticks
/// pair up, and the text is escaped first, so a span holds text only.
fn prose(s: &str) -> String {
    let escaped = h(s);
    let parts: Vec<&str> = escaped.split('`').collect();
    if parts.len() < 3 || parts.len().is_multiple_of(2) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// A percentage for a CSS length or an SVG coordinate, clamped to 0–100.
fn css_pct(x: f64) -> String {
    format!("{:.1}%", clamp100(x))
}

fn clamp100(x: f64) -> f64 {
    if x.is_finite() { x.clamp(0.0, 100.0) } else { 0.0 }
}

/// The `sha256-…` source of [`SCRIPT`] for the Content-Security-Policy.
fn script_hash() -> String {
    use base64::Engine as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, SCRIPT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

impl Renderer for Html {
    fn render(&self, r: &Report, out: &mut dyn io::Write, opts: RenderOptions<'_>) -> io::Result<()> {
        let mut page = String::with_capacity(32 * 1024);
        write_page(&mut page, r, opts.trend).map_err(io::Error::other)?;
        out.write_all(page.as_bytes())
    }
}

fn verdict(r: &Report) -> (&'static str, &'static str) {
    match (r.passed, r.partial) {
        (true, false) => ("PASSED", "pass"),
        (true, true) => ("PASSED (partial)", "pass"),
        (false, _) if r.verdict == super::model::verdict::PARTIAL => ("PARTIAL", "skipped"),
        (false, _) => ("BLOCKED", "fail"),
    }
}

fn write_page(o: &mut String, r: &Report, trend: &[TrendPoint]) -> std::fmt::Result {
    let (word, class) = verdict(r);
    let icon = if r.passed {
        icon(Status::Pass)
    } else {
        icon(Status::Fail)
    };
    writeln!(o, "<!DOCTYPE html>")?;
    writeln!(o, r#"<html lang="en">"#)?;
    writeln!(o, "<head>")?;
    writeln!(o, r#"<meta charset="utf-8">"#)?;
    writeln!(
        o,
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src {}; img-src data:; base-uri 'none'; form-action 'none'">"#,
        script_hash()
    )?;
    writeln!(o, r#"<meta name="referrer" content="no-referrer">"#)?;
    writeln!(
        o,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
    )?;
    writeln!(
        o,
        "<title>Gate {} — {}: {word} {}</title>",
        h(&r.gate.id),
        h(&r.gate.name),
        pct(r.score)
    )?;
    writeln!(o, "<style>{STYLE}{}</style>", filter_rules(r))?;
    writeln!(o, "</head>")?;
    writeln!(o, "<body>")?;

    writeln!(o, "<header>")?;
    writeln!(o, "<h1>Gate {} — {}</h1>", h(&r.gate.id), h(&r.gate.name))?;
    writeln!(o, r#"<div class="overview">"#)?;
    write_gauge(o, r, class)?;
    writeln!(o, "<div>")?;
    writeln!(
        o,
        r#"<p><span class="verdict status s-{class}" id="verdict">{icon} {word}</span></p>"#
    )?;
    let gap = r.gate.threshold - r.score;
    let short = if !r.passed && gap > 0.0 {
        format!(" · {:.1} points short", gap)
    } else {
        String::new()
    };
    writeln!(
        o,
        r#"<p class="score" id="score"><strong>Score {}</strong> (threshold {}){short}</p>"#,
        pct(r.score),
        pct(r.gate.threshold)
    )?;
    let checks: usize = r.requirements.iter().map(|q| q.checks.len()).sum();
    writeln!(
        o,
        r#"<p class="muted">{checks} check{}: {} · started {} · took {} ms</p>"#,
        if checks == 1 { "" } else { "s" },
        super::table::counts_line(r),
        h(&r.started_at),
        r.duration_ms
    )?;
    writeln!(o, "</div>")?;
    writeln!(o, "</div>")?;
    writeln!(o, r#"<p id="summary">{}</p>"#, prose(&r.summary))?;
    if let Some(sim) = &r.simulated {
        writeln!(
            o,
            r#"<p class="note"><strong>Simulated stack:</strong> {}</p>"#,
            prose(sim)
        )?;
    }
    if r.insecure {
        writeln!(
            o,
            r#"<p class="note"><strong>⚠ Run with <code>--insecure</code>:</strong> TLS certificates were not verified.</p>"#
        )?;
    }
    if r.partial && !r.not_checked.is_empty() {
        let items: Vec<String> = r.not_checked.iter().map(|n| h(n)).collect();
        writeln!(
            o,
            r#"<p class="note"><strong>Not checked:</strong> {}</p>"#,
            items.join(", ")
        )?;
    }
    if let Some(line) = super::words::attempts_line(r) {
        writeln!(o, r#"<p class="muted">{}</p>"#, h(&line))?;
    }
    writeln!(o, "</header>")?;

    writeln!(o, "<main>")?;
    write_requirements(o, r)?;
    write_fix_path(o, r)?;
    write_blockers(o, r)?;
    write_checks(o, r)?;
    if !trend.is_empty() {
        write_trend(o, r, trend)?;
    }
    if let Some(w) = &r.warm_up {
        writeln!(o, r#"<section aria-labelledby="h-warm-up">"#)?;
        writeln!(o, r#"<h2 id="h-warm-up">Warm-up</h2>"#)?;
        writeln!(
            o,
            "<p>Synthetic traffic at {}: {}</p>",
            h(&w.started_at),
            prose(&w.summary)
        )?;
        writeln!(o, "</section>")?;
    }
    if !r.warnings.is_empty() {
        writeln!(o, r#"<section aria-labelledby="h-warnings">"#)?;
        writeln!(o, r#"<h2 id="h-warnings">Warnings</h2>"#)?;
        writeln!(o, "<ul>")?;
        for w in &r.warnings {
            writeln!(o, "<li>{}</li>", prose(w))?;
        }
        writeln!(o, "</ul>")?;
        writeln!(o, "</section>")?;
    }
    writeln!(o, "</main>")?;

    writeln!(o, "<footer>")?;
    let requests = super::table::requests_line(r, &|t| h(t))
        .map(|l| format!(" · {l}"))
        .unwrap_or_default();
    writeln!(
        o,
        "<p>{} {} · gate source: {}{requests}</p>",
        h(&r.tool.name),
        h(&r.tool.version),
        h(&r.gate.source)
    )?;
    writeln!(o, "</footer>")?;
    writeln!(o, "<script>{SCRIPT}</script>")?;
    writeln!(o, "</body>")?;
    writeln!(o, "</html>")
}

/// A half-circle gauge: the score's arc, and a tick at the threshold.
fn write_gauge(o: &mut String, r: &Report, class: &str) -> std::fmt::Result {
    let score = clamp100(r.score);
    let t = clamp100(r.gate.threshold);
    // The arc runs from 180° (0 %) to 0° (100 %) around (60, 62), radius 50.
    let angle = std::f64::consts::PI * (1.0 - t / 100.0);
    let (c, s) = (angle.cos(), angle.sin());
    let (x1, y1) = (60.0 + 40.0 * c, 62.0 - 40.0 * s);
    let (x2, y2) = (60.0 + 60.0 * c, 62.0 - 60.0 * s);
    writeln!(
        o,
        r#"<svg class="gauge" viewBox="0 0 120 72" role="img" aria-labelledby="gauge-title"><title id="gauge-title">Score {} of 100, threshold {}</title>"#,
        pct(r.score),
        pct(r.gate.threshold)
    )?;
    writeln!(
        o,
        r##"<path d="M10 62 A50 50 0 0 1 110 62" fill="none" stroke="#e3e8ed" stroke-width="12" pathLength="100"/>"##
    )?;
    writeln!(
        o,
        r#"<path class="s-{class}" d="M10 62 A50 50 0 0 1 110 62" fill="none" stroke="currentColor" stroke-width="12" pathLength="100" stroke-dasharray="{score:.1} 100"/>"#
    )?;
    writeln!(
        o,
        r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#1f2328" stroke-width="2.5"/>"##
    )?;
    writeln!(
        o,
        r##"<text x="60" y="58" text-anchor="middle" font-size="17" font-weight="700" fill="#1f2328">{}</text>"##,
        pct(r.score)
    )?;
    writeln!(o, "</svg>")
}

fn write_requirements(o: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(o, r#"<section aria-labelledby="h-requirements">"#)?;
    writeln!(o, r#"<h2 id="h-requirements">Requirements</h2>"#)?;
    let total: f64 = r.requirements.iter().map(|q| q.weight).sum();
    let max = r.requirements.iter().map(|q| q.weight).fold(0.0, f64::max);
    writeln!(o, r#"<table class="reqs">"#)?;
    writeln!(
        o,
        r#"<thead><tr><th scope="col">Requirement</th><th scope="col">Weight</th><th scope="col">Score</th><th scope="col">Status</th></tr></thead>"#
    )?;
    writeln!(o, "<tbody>")?;
    for q in &r.requirements {
        let share = if total > 0.0 { 100.0 * q.weight / total } else { 0.0 };
        let width = if max > 0.0 { 100.0 * q.weight / max } else { 0.0 };
        let word = req_status(q.status).to_ascii_lowercase();
        let score = if q.status == ReqStatus::Skipped {
            "-".to_string()
        } else {
            pct(q.score)
        };
        let required = if q.required {
            r#" <span class="tag">required</span>"#
        } else {
            ""
        };
        writeln!(
            o,
            r#"<tr class="req" data-status="{word}"><th scope="row">{} <code>{}</code>{required}</th>"#,
            h(&q.name),
            h(&q.id)
        )?;
        writeln!(
            o,
            r#"<td data-label="Weight"><div class="bar" aria-hidden="true"><span style="width:{}"></span></div><span class="num">{} ({:.0}% of the score)</span></td>"#,
            css_pct(width),
            weight(q.weight),
            share
        )?;
        writeln!(
            o,
            r#"<td data-label="Score"><div class="bar s-{word}" aria-hidden="true"><span style="width:{}"></span><span class="mark" style="left:{}"></span></div><span class="num">{score}</span></td>"#,
            css_pct(q.score),
            css_pct(r.gate.threshold)
        )?;
        writeln!(o, r#"<td data-label="Status">{}</td></tr>"#, req_badge(q.status))?;
    }
    writeln!(o, "</tbody>")?;
    writeln!(o, "</table>")?;
    writeln!(
        o,
        r#"<p class="muted">Weight: the requirement's share of the score. The mark on each score bar is the gate's threshold, {}.</p>"#,
        pct(r.gate.threshold)
    )?;
    writeln!(o, "</section>")
}

/// The fix path as a waterfall: today's score, then what each root cause's
/// fix adds, against the threshold.
fn write_fix_path(o: &mut String, r: &Report) -> std::fmt::Result {
    if r.fix_path.already_passing && r.root_causes.is_empty() {
        return Ok(());
    }
    writeln!(o, r#"<section aria-labelledby="h-fix-path">"#)?;
    writeln!(
        o,
        r#"<h2 id="h-fix-path">Fix path: root causes from {} to the threshold {}</h2>"#,
        pct(r.score),
        pct(r.gate.threshold)
    )?;
    let fp = &r.fix_path;
    if fp.already_passing {
        writeln!(
            o,
            "<p>The gate already passes; these root causes still cost points.</p>"
        )?;
    } else if fp.reachable {
        match fp.steps.len() {
            1 => writeln!(
                o,
                "<p>Fixing this root cause passes the gate (the mark on each bar is the threshold).</p>"
            )?,
            n => writeln!(
                o,
                "<p>Fixing these {n} root causes in this order passes the gate (the mark on each bar is the threshold).</p>"
            )?,
        }
    } else {
        writeln!(
            o,
            "<p><strong>No fix path reaches {}</strong>: fixing every root cause gives {} (waived or advisory checks hold the rest).</p>",
            pct(r.gate.threshold),
            pct(fp.score_after)
        )?;
    }
    writeln!(o, r#"<ol class="steps">"#)?;
    let mark = css_pct(r.gate.threshold);
    writeln!(
        o,
        r#"<li><div><strong>Today: {}</strong></div><div class="bar" aria-hidden="true"><span class="base" style="width:{}"></span><span class="mark" style="left:{mark}"></span></div></li>"#,
        pct(r.score),
        css_pct(r.score)
    )?;
    let mut before = r.score;
    for (i, s) in fp.steps.iter().enumerate() {
        let rc = r.root_causes.iter().find(|rc| rc.key == s.root_cause);
        let gain = (s.score_after - before).max(0.0);
        let reaches = s.score_after >= r.gate.threshold;
        let security = if rc.is_some_and(|rc| rc.security) {
            r#"<span class="tag">🔒 security</span> "#
        } else {
            ""
        };
        writeln!(
            o,
            r#"<li><div>{}. {security}{} <span class="num">{} → <strong>{}</strong></span>{}</div>"#,
            i + 1,
            prose(&s.summary),
            impact(gain),
            pct(s.score_after),
            if reaches { " ✔ passes the threshold" } else { "" }
        )?;
        writeln!(
            o,
            r#"<div class="bar" aria-hidden="true"><span class="base" style="width:{}"></span><span class="gain{}" style="left:{};width:{}"></span><span class="mark" style="left:{mark}"></span></div>"#,
            css_pct(before),
            if reaches { "" } else { " short" },
            css_pct(before),
            css_pct(gain)
        )?;
        if let Some(rc) = rc {
            let checks: Vec<String> = rc.checks.iter().map(|c| format!("<code>{}</code>", h(c))).collect();
            writeln!(
                o,
                r#"<div class="muted">{} · affects {}</div>"#,
                h(rc.severity.as_str()),
                checks.join(", ")
            )?;
        }
        writeln!(o, "</li>")?;
        before = s.score_after;
    }
    writeln!(o, "</ol>")?;
    // Root causes the fix path does not name (advisory or already passing).
    let rest: Vec<_> = r
        .root_causes
        .iter()
        .filter(|rc| !fp.steps.iter().any(|s| s.root_cause == rc.key))
        .collect();
    if !rest.is_empty() {
        writeln!(o, "<h3>Other root causes</h3>")?;
        writeln!(o, "<ul>")?;
        for rc in rest {
            writeln!(
                o,
                r#"<li>{} <span class="num">{}</span> · {}</li>"#,
                prose(&rc.summary),
                impact(rc.score_impact),
                h(rc.severity.as_str())
            )?;
        }
        writeln!(o, "</ul>")?;
    }
    writeln!(o, "</section>")
}

fn write_blockers(o: &mut String, r: &Report) -> std::fmt::Result {
    if r.blockers.is_empty() {
        return Ok(());
    }
    writeln!(o, r#"<section aria-labelledby="h-blockers">"#)?;
    writeln!(o, r#"<h2 id="h-blockers">Blockers</h2>"#)?;
    let mut cmd = 0usize;
    for (i, g) in group_blockers(r).iter().enumerate() {
        write_group(o, i + 1, g, &mut cmd)?;
    }
    writeln!(o, "</section>")
}

fn write_group(o: &mut String, n: usize, g: &BlockerGroup<'_>, cmd: &mut usize) -> std::fmt::Result {
    let first = g.blockers[0];
    let tag = if g.blockers.iter().any(|b| b.security) {
        "🔒 SECURITY".to_string()
    } else {
        first.severity.as_str().to_ascii_uppercase()
    };
    writeln!(o, r#"<article class="blocker">"#)?;
    if let [b] = g.blockers.as_slice() {
        writeln!(
            o,
            r#"<h3>{n}. <span class="tag">{tag}</span> {} / <code>{}</code> — {}</h3>"#,
            h(&b.requirement),
            h(&b.check),
            status_badge(b.status)
        )?;
        writeln!(o, "<p>{}</p>", prose(&b.message))?;
        if let Some(c) = g.cause() {
            writeln!(o, "<p><strong>Cause:</strong> {}</p>", prose(c))?;
        }
        for f in g.fixes() {
            writeln!(o, "<p><strong>Remediation:</strong> {}</p>", prose(f))?;
        }
        write_evidence(o, b, cmd)?;
    } else {
        writeln!(
            o,
            r#"<h3>{n}. <span class="tag">{tag}</span> {}</h3>"#,
            prose(g.cause().unwrap_or(&first.message))
        )?;
        let checks: Vec<String> = g
            .blockers
            .iter()
            .map(|b| {
                format!(
                    "{} / <code>{}</code> ({})",
                    h(&b.requirement),
                    h(&b.check),
                    status(b.status)
                )
            })
            .collect();
        writeln!(o, "<p><strong>Affected checks:</strong> {}</p>", checks.join(", "))?;
        for f in g.fixes() {
            writeln!(o, "<p><strong>Remediation:</strong> {}</p>", prose(f))?;
        }
        for b in &g.blockers {
            writeln!(
                o,
                "<h4>{} / <code>{}</code> — {}</h4>",
                h(&b.requirement),
                h(&b.check),
                status_badge(b.status)
            )?;
            writeln!(o, "<p>{}</p>", prose(&b.message))?;
            write_evidence(o, b, cmd)?;
        }
    }
    writeln!(o, "</article>")
}

fn write_evidence(o: &mut String, b: &Blocker, cmd: &mut usize) -> std::fmt::Result {
    if !b.evidence.is_empty() {
        writeln!(o, r#"<dl class="evidence">"#)?;
        for (k, v) in &b.evidence {
            writeln!(o, "<dt>{}</dt><dd><code>{}</code></dd>", h(k), h(&compact(v)))?;
        }
        writeln!(o, "</dl>")?;
    }
    if let Some(command) = &b.reproduce {
        *cmd += 1;
        writeln!(o, r#"<div class="cmd"><strong>Reproduce:</strong>"#)?;
        writeln!(
            o,
            r#"<pre><code id="cmd-{cmd}">{}</code></pre>"#,
            html_keep_tabs(command)
        )?;
        writeln!(
            o,
            r#"<button type="button" class="copy" data-copy="cmd-{cmd}" hidden>Copy command</button></div>"#
        )?;
    }
    Ok(())
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn count(r: &Report, s: Status) -> usize {
    let c = &r.counts;
    match s {
        Status::Pass => c.pass,
        Status::Fail => c.fail,
        Status::Error => c.error,
        Status::Blocked => c.blocked,
        Status::Skipped => c.skipped,
        Status::Waived => c.waived,
    }
}

/// The statuses the filter offers: those some check has.
fn shown_statuses(r: &Report) -> Vec<Status> {
    STATUSES.into_iter().filter(|&s| count(r, s) > 0).collect()
}

/// The filter's CSS: with `#f-fail` checked, only failing checks show.
fn filter_rules(r: &Report) -> String {
    let mut rules = String::new();
    for s in shown_statuses(r) {
        let _ = writeln!(
            rules,
            "#checks:has(#f-{0}:checked) .check:not([data-status={0}]){{display:none}}",
            s.as_str()
        );
    }
    rules
}

/// Every check, with radio buttons that show one status at a time: CSS
/// alone does it (`:has(#f-fail:checked)`), so it works without JavaScript.
fn write_checks(o: &mut String, r: &Report) -> std::fmt::Result {
    let total: usize = r.requirements.iter().map(|q| q.checks.len()).sum();
    let shown = shown_statuses(r);
    writeln!(o, r#"<section id="checks" aria-labelledby="h-checks">"#)?;
    writeln!(o, r#"<h2 id="h-checks">Checks</h2>"#)?;
    writeln!(o, r#"<fieldset class="filter"><legend>Show checks</legend>"#)?;
    writeln!(
        o,
        r#"<span><input type="radio" name="status" id="f-all" checked><label for="f-all">All ({total})</label></span>"#
    )?;
    for s in shown {
        writeln!(
            o,
            r#"<span><input type="radio" name="status" id="f-{0}"><label for="f-{0}">{1} ({2})</label></span>"#,
            s.as_str(),
            status_badge(s),
            count(r, s)
        )?;
    }
    writeln!(o, "</fieldset>")?;
    writeln!(o, r#"<ul class="checks">"#)?;
    for (q, c) in r.all_checks() {
        write_check(o, &q.id, c)?;
    }
    writeln!(o, "</ul>")?;
    writeln!(o, "</section>")
}

fn write_check(o: &mut String, req: &str, c: &CheckReport) -> std::fmt::Result {
    writeln!(o, r#"<li class="check" data-status="{}">"#, c.status.as_str())?;
    let name = c.name.as_deref().map(|n| format!(" {}", h(n))).unwrap_or_default();
    let target = c.target.as_deref().map(|t| format!(" → {}", h(t))).unwrap_or_default();
    writeln!(
        o,
        r#"<div class="what">{} <span><code>{}</code> / <code>{}</code>{name}</span> <span class="muted">{}{target} · {} ms</span></div>"#,
        status_badge(c.status),
        h(req),
        h(&c.id),
        h(&c.kind),
        c.duration_ms
    )?;
    match super::words::retried(c) {
        Some(retried) => writeln!(o, "<p>{}: {}</p>", h(&retried), prose(&c.message))?,
        None => writeln!(o, "<p>{}</p>", prose(&c.message))?,
    }
    if let Some(w) = &c.waiver {
        writeln!(
            o,
            "<p><strong>Waived</strong> until {}{}: {}</p>",
            h(&w.expires),
            if w.expired { " (expired)" } else { "" },
            prose(&w.reason)
        )?;
    }
    for w in &c.warnings {
        writeln!(o, r#"<p class="muted">⚠ {}</p>"#, prose(w))?;
    }
    writeln!(o, "</li>")
}

/// The score of recent runs (from `--history`) as a line against the
/// threshold: a circle for a run that passed, a square for one that did not.
fn write_trend(o: &mut String, r: &Report, trend: &[TrendPoint]) -> std::fmt::Result {
    let (w, top, height, left, right) = (400.0, 12.0, 120.0, 44.0, 10.0);
    let y = |score: f64| top + (100.0 - clamp100(score)) * height / 100.0;
    let span = w - left - right;
    let x = |i: usize| {
        if trend.len() < 2 {
            left + span / 2.0
        } else {
            left + span * i as f64 / (trend.len() - 1) as f64
        }
    };
    let first = &trend[0];
    let last = &trend[trend.len() - 1];
    let passed = trend.iter().filter(|p| p.passed).count();
    writeln!(o, r#"<section class="trend" aria-labelledby="h-trend">"#)?;
    writeln!(o, r#"<h2 id="h-trend">Score trend</h2>"#)?;
    writeln!(
        o,
        r#"<p id="trend-summary">Last {} run{}: {} ({}) to {} ({}); {passed} passed.</p>"#,
        trend.len(),
        if trend.len() == 1 { "" } else { "s" },
        pct(first.score),
        h(&first.time),
        pct(last.score),
        h(&last.time)
    )?;
    writeln!(
        o,
        r#"<svg viewBox="0 0 {w} {}" role="img" aria-labelledby="trend-title"><title id="trend-title">Score of the last {} runs against the threshold {}</title>"#,
        top + height + 24.0,
        trend.len(),
        pct(r.gate.threshold)
    )?;
    let right_x = w - right;
    for grid in [0.0, 50.0, 100.0] {
        let gy = y(grid);
        writeln!(
            o,
            r##"<line x1="{left}" x2="{right_x}" y1="{gy:.1}" y2="{gy:.1}" stroke="#e3e8ed"/><text x="{lx}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#57606a">{grid:.0}%</text>"##,
            lx = left - 4.0,
            ty = gy + 4.0
        )?;
    }
    let ty = y(r.gate.threshold);
    writeln!(
        o,
        r##"<line x1="{left}" x2="{right_x}" y1="{ty:.1}" y2="{ty:.1}" stroke="#1f2328" stroke-dasharray="6 4"/><text x="{right_x}" y="{label_y:.1}" font-size="12" text-anchor="end" fill="#1f2328">threshold {threshold}</text>"##,
        label_y = ty - 4.0,
        threshold = pct(r.gate.threshold)
    )?;
    let points: Vec<String> = trend
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.score)))
        .collect();
    writeln!(
        o,
        r##"<polyline points="{}" fill="none" stroke="#0b62c4" stroke-width="2"/>"##,
        points.join(" ")
    )?;
    for (i, p) in trend.iter().enumerate() {
        let (cx, cy) = (x(i), y(p.score));
        let title = format!(
            "<title>{}: {} {}</title>",
            h(&p.time),
            pct(p.score),
            if p.passed { "passed" } else { "blocked" }
        );
        if p.passed {
            writeln!(
                o,
                r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="4.5" fill="#1a7f37">{title}</circle>"##
            )?;
        } else {
            writeln!(
                o,
                r##"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="#fff" stroke="#c21c2c" stroke-width="2">{title}</rect>"##,
                cx - 4.0,
                cy - 4.0
            )?;
        }
    }
    writeln!(
        o,
        r##"<text x="{left}" y="{:.1}" font-size="12" fill="#57606a">oldest</text><text x="{}" y="{:.1}" font-size="12" text-anchor="end" fill="#57606a">latest</text>"##,
        top + height + 18.0,
        w - right,
        top + height + 18.0
    )?;
    writeln!(o, "</svg>")?;
    writeln!(
        o,
        r#"<p class="muted"><span class="s-pass">●</span> passed · <span class="s-fail">□</span> blocked · dashed line: threshold</p>"#
    )?;
    writeln!(o, "</section>")
}

#[cfg(test)]
mod tests {
    use super::super::table::hostile::{self, EVIL};
    use crate::report::{Format, RenderOptions, Report, TrendPoint, render_to_string};

    fn render(r: &Report, trend: &[TrendPoint]) -> String {
        let opts = RenderOptions {
            trend,
            ..RenderOptions::default()
        };
        render_to_string(Format::Html, r, opts).expect("render HTML")
    }

    /// Every tag name on the page, in order.
    fn tags(page: &str) -> Vec<String> {
        page.match_indices('<')
            .map(|(i, _)| {
                page[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
                    .collect()
            })
            .collect()
    }

    const OURS: &[&str] = &[
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "div", "svg", "path", "line", "text",
        "p", "span", "strong", "code", "main", "section", "h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr",
        "th", "td", "ol", "li", "ul", "article", "dl", "dt", "dd", "pre", "button", "fieldset", "legend", "input",
        "label", "polyline", "circle", "rect", "footer", "script",
    ];

    #[test]
    fn hostile_text_opens_no_tag_and_only_our_script_runs() {
        let r = hostile::report();
        let page = render(&r, &[]);
        for t in tags(&page) {
            let name = t.trim_start_matches('/');
            assert!(OURS.contains(&name), "a tag that is not ours: <{t}>");
        }
        assert_eq!(page.matches("<script").count(), 1);
        assert!(!page.contains("<img"), "no image tag");
        assert!(!page.contains("onerror"), "no event handler attribute");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;!-- hide"));
        super::super::table::hostile::assert_inert("html", &page, true);
        // The command's quotes are escaped, its tab kept.
        assert!(page.contains("--format &#39;{{.Names}}\t{{.Status}}&#39;"));
    }

    #[test]
    fn prose_shows_our_code_spans_as_code_and_nothing_else_as_markup() {
        assert_eq!(
            super::prose("start `backend` <b>now</b>"),
            "start <code>backend</code> &lt;b&gt;now&lt;/b&gt;"
        );
        assert_eq!(super::prose("`<script>` ok"), "<code>&lt;script&gt;</code> ok");
        assert_eq!(super::prose("one ` tick"), "one ` tick");
    }

    #[test]
    fn the_policy_allows_no_fetch_and_only_the_hashed_script() {
        let page = render(&hostile::report(), &[]);
        let csp = page
            .lines()
            .find(|l| l.contains("Content-Security-Policy"))
            .expect("a CSP meta");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains(&format!("script-src {}", super::script_hash())), "{csp}");
        assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'unsafe-inline'"));
        for scheme in ["http:", "https:", "//"] {
            assert!(
                !page.contains(&format!("src=\"{scheme}")) && !page.contains(&format!("href=\"{scheme}")),
                "{scheme}"
            );
        }
    }

    #[test]
    fn every_status_has_a_word_not_only_a_colour() {
        let page = render(&hostile::report(), &[]);
        for w in ["✖ FAIL", "⚠ ERROR", "⊘ BLOCKED", "≋ WAIVED", "↷ SKIPPED", "✔ PASS"] {
            assert!(page.contains(w), "{w}");
        }
        assert_eq!(page.matches(r#"<tr class="req""#).count(), 1);
        assert_eq!(page.matches(r#"<li class="check""#).count(), 6);
    }

    #[test]
    fn the_trend_section_is_there_only_with_history() {
        let r = hostile::report();
        assert!(!render(&r, &[]).contains("Score trend"));
        let trend = [
            TrendPoint {
                time: format!("t1 {EVIL}"),
                score: 40.0,
                passed: false,
            },
            TrendPoint {
                time: "2026-01-02T00:00:00Z".into(),
                score: 90.0,
                passed: true,
            },
        ];
        let page = render(&r, &trend);
        assert!(page.contains(r#"<h2 id="h-trend">Score trend</h2>"#));
        assert!(page.contains("Last 2 runs: 40.0%"));
        assert_eq!(page.matches("<circle").count(), 1);
        assert_eq!(page.matches("<rect").count(), 1);
        assert!(!page.contains("<script>alert"));
    }

    /// A small report, as a person would see it: the snapshot pins the markup.
    fn small() -> Report {
        use crate::gate::Severity;
        use crate::probe::Status;
        use crate::report::model::*;
        use crate::status::ReqStatus;
        use std::collections::BTreeMap;
        let check = |id: &str, status: Status, message: &str| CheckReport {
            id: id.into(),
            name: None,
            kind: "http".into(),
            target: Some("backend".into()),
            weight: 1.0,
            status,
            duration_ms: 7,
            message: message.into(),
            evidence: BTreeMap::from([("status".to_string(), serde_json::json!(503))]),
            expected: BTreeMap::new(),
            cause: None,
            remediation: None,
            reproduce: Some("curl -sS http://127.0.0.1:8080/health".into()),
            security: false,
            waiver: None,
            attempts: 1,
            passed_after_retry: false,
            warnings: Vec::new(),
            line: None,
        };
        let health = check("health", Status::Fail, "GET /health answered 503");
        let metrics = check("metrics", Status::Pass, "200, 12 series");
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "medianest-gate".into(),
                version: "0.1.0".into(),
            },
            gate: GateInfo {
                id: "G".into(),
                name: "observability".into(),
                source: "built-in".into(),
                threshold: 85.0,
                required_must_pass: true,
                from_file: false,
            },
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 40,
            score: 50.0,
            passed: false,
            verdict: "blocked".into(),
            partial: false,
            not_checked: Vec::new(),
            summary: "BLOCKED: score 50.0% < 85%".into(),
            insecure: false,
            attempts: 1,
            counts: Counts {
                pass: 1,
                fail: 1,
                ..Counts::default()
            },
            requirements: vec![
                RequirementReport {
                    id: "health-checks".into(),
                    name: "Health checks".into(),
                    weight: 1.0,
                    required: true,
                    severity: Severity::High,
                    score: 0.0,
                    status: ReqStatus::Fail,
                    checks: vec![health.clone()],
                },
                RequirementReport {
                    id: "metrics-endpoint".into(),
                    name: "Metrics endpoint".into(),
                    weight: 1.0,
                    required: false,
                    severity: Severity::Medium,
                    score: 100.0,
                    status: ReqStatus::Pass,
                    checks: vec![metrics],
                },
            ],
            blockers: vec![Blocker {
                requirement: "health-checks".into(),
                check: "health".into(),
                severity: Severity::High,
                status: Status::Fail,
                security: false,
                message: health.message.clone(),
                cause: Some("the backend answers 503".into()),
                remediation: Some("start the backend".into()),
                evidence: health.evidence.clone(),
                reproduce: health.reproduce.clone(),
            }],
            root_causes: vec![RootCauseReport {
                key: "status:backend".into(),
                summary: "the backend answers 503".into(),
                score_impact: 50.0,
                severity: Severity::High,
                security: false,
                checks: vec!["health".into()],
                unblocks: vec!["health-checks".into()],
                remediation: Some("start the backend".into()),
            }],
            fix_path: FixPathReport {
                already_passing: false,
                reachable: true,
                score_after: 100.0,
                steps: vec![FixStepReport {
                    root_cause: "status:backend".into(),
                    summary: "the backend answers 503".into(),
                    score_after: 100.0,
                }],
            },
            warnings: Vec::new(),
            warm_up: None,
            requests: None,
            simulated: None,
        }
    }

    #[test]
    fn a_small_report_renders_as_the_snapshot() {
        let page = render(&small(), &[]);
        let body = &page[page.find("<body>").expect("a body")..];
        let mut s = insta::Settings::clone_current();
        s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
        s.add_filter(r"\b\d+ ms\b", "[DURATION]");
        s.bind(|| insta::assert_snapshot!("html_small_report", body));
    }
}
