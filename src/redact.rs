//! Keeps secrets out of every output. Probes never put a secret into an
//! outcome on purpose; this is the second line of defence, applied to the
//! finished report and to every message written to stderr.
//!
//! What it looks for, for every secret of the gate:
//! - the value itself, and the forms the tool itself produces from it: its
//!   percent-encodings (a token in a redirect `Location`), its JSON escaping,
//!   and for Basic auth `user:password` and its base64;
//! - credentials inside target URLs (`http://user:pass@host`) and the
//!   values of secret-looking query parameters (`?token=…`);
//! - any run of 8 or more characters of one of those forms, so a value that
//!   a server echoed and an excerpt then cut in half is still caught.
//!
//! The gate's own ids and names are restored after redaction (see
//! `report::build`): a secret that happens to spell a check id must not
//! rename the check.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use secrecy::ExposeSecret;

use crate::gate::Gate;

/// Secrets shorter than this are not searched for: replacing every `a` in a
/// report would destroy it. The gate is warned about them instead.
pub const MIN_REDACT_LEN: usize = 4;

/// A run of this many characters of a secret's form counts as the secret.
pub const WINDOW: usize = 8;

// Windows are packed into a `u64` (see `pack`).
const _: () = assert!(WINDOW == 8);

/// What credentials in a URL are replaced with.
const URL_CREDENTIALS: &str = "****";

/// Query parameters whose values are treated as secrets wherever they appear.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "password",
    "passwd",
    "pass",
    "auth",
    "signature",
    "sig",
];

/// One form of a secret and what replaces it.
#[derive(Clone)]
struct Form {
    text: String,
    placeholder: String,
}

/// Hashes a window already packed into a `u64`: one multiply, as windows
/// are looked up at every byte of every string of a report.
#[derive(Default)]
struct WindowHasher(u64);

impl Hasher for WindowHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // hashbrown takes its index from the low bits and its tag from the
        // top seven: the multiply feeds the top, the fold the bottom.
        let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a longer form is replaced before its pieces.
    forms: Vec<Form>,
    /// Every `WINDOW`-byte window of every form that long, packed into a
    /// `u64`, to the first (longest) form that has it: one lookup per byte
    /// of a text for all forms, instead of one per form.
    windows: HashMap<u64, usize, BuildHasherDefault<WindowHasher>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values: only how many forms are watched for.
        f.debug_struct("Redactor").field("forms", &self.forms.len()).finish()
    }
}

impl Redactor {
    pub fn for_gate(gate: &Gate) -> Self {
        let mut r = Redactor::default();
        for s in gate.secrets.values() {
            r.add_secret(s.value.expose_secret(), &s.placeholder);
        }
        // Basic auth: `user:password` and its base64, for every pair a check sends.
        for (_, c) in gate.checks() {
            let credentials = match &c.spec {
                crate::probe::CheckSpec::Grafana(g) => &g.credentials,
                crate::probe::CheckSpec::GrafanaDashboards(d) => &d.credentials,
                _ => continue,
            };
            if let (Some(u), Some(p)) = (credentials.user.as_deref(), credentials.password.as_deref())
                && let (Some(user), Some(pass)) = (gate.secrets.get(u), gate.secrets.get(p))
            {
                let pair = format!("{}:{}", user.value.expose_secret(), pass.value.expose_secret());
                let placeholder = format!("{}:{}", user.placeholder, pass.placeholder);
                r.add(base64(pair.as_bytes()), &placeholder);
                r.add(pair, &placeholder);
            }
        }
        for t in gate.targets.values() {
            r.add_url(&t.url);
        }
        for (_, c) in gate.checks() {
            let path = match &c.spec {
                crate::probe::CheckSpec::Http(h) => Some(&h.path),
                crate::probe::CheckSpec::MetricsEndpoint(m) => Some(&m.path),
                crate::probe::CheckSpec::TelemetryRoundtrip(t) => Some(&t.path),
                _ => None,
            };
            if let Some(path) = path {
                r.add_url(&format!("http://h{path}"));
            }
        }
        r.seal();
        r
    }

    /// Orders the forms longest first and indexes their windows; after the
    /// last [`Redactor::add`].
    fn seal(&mut self) {
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.text.len()));
        self.windows.clear();
        for (idx, form) in self.forms.iter().enumerate() {
            for window in form.text.as_bytes().windows(WINDOW) {
                self.windows.entry(pack(window)).or_insert(idx);
            }
        }
    }

    /// A secret value and the forms the tool derives from it.
    fn add_secret(&mut self, value: &str, placeholder: &str) {
        if value.len() < MIN_REDACT_LEN {
            return;
        }
        self.add(value.to_string(), placeholder);
        self.add(
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string(),
            placeholder,
        );
        self.add(
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
            placeholder,
        );
        if let Ok(json) = serde_json::to_string(value)
            && let Some(inner) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"'))
        {
            self.add(inner.to_string(), placeholder);
        }
    }

    /// Credentials and secret query values of a URL.
    fn add_url(&mut self, url: &str) {
        let Ok(u) = url::Url::parse(url) else {
            return;
        };
        if let Some(password) = u.password() {
            let decoded = percent_encoding::percent_decode_str(password)
                .decode_utf8_lossy()
                .into_owned();
            self.add(format!("{}:{password}", u.username()), URL_CREDENTIALS);
            self.add_secret(&decoded, URL_CREDENTIALS);
            self.add(password.to_string(), URL_CREDENTIALS);
        }
        for (k, v) in u.query_pairs() {
            if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) {
                self.add_secret(&v, URL_CREDENTIALS);
            }
        }
    }

    fn add(&mut self, text: String, placeholder: &str) {
        if text.len() < MIN_REDACT_LEN || self.forms.iter().any(|f| f.text == text) {
            return;
        }
        self.forms.push(Form {
            text,
            placeholder: placeholder.to_string(),
        });
    }

    /// Names of secrets too short to redact.
    pub fn short_secrets(gate: &Gate) -> Vec<String> {
        gate.secrets
            .values()
            .filter(|s| {
                let n = s.value.expose_secret().len();
                n > 0 && n < MIN_REDACT_LEN
            })
            .map(|s| s.name.clone())
            .collect()
    }

    /// Every form, and every run of `WINDOW` or more of a form's bytes,
    /// replaced by its placeholder. All forms are matched against the
    /// original text first, so one form's replacement never hides another's
    /// match; a byte several forms match goes to the first (longest) of
    /// them, and each covered run then becomes one placeholder.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        if bytes.len() < MIN_REDACT_LEN || self.forms.is_empty() {
            return Cow::Borrowed(text);
        }
        // Sized on the first match: most strings of a report hold no secret,
        // and a 10,000-check report has hundreds of thousands of them.
        let mut covered: Vec<Option<usize>> = Vec::new();
        let mut take = |range: std::ops::Range<usize>, idx: usize| {
            if covered.is_empty() {
                covered.resize(bytes.len(), None);
            }
            for c in covered.get_mut(range).into_iter().flatten() {
                if c.is_none_or(|held| idx < held) {
                    *c = Some(idx);
                }
            }
        };
        if !self.windows.is_empty() {
            for (i, window) in bytes.windows(WINDOW).enumerate() {
                if let Some(&idx) = self.windows.get(&pack(window)) {
                    take(i..i + WINDOW, idx);
                }
            }
        }
        // Forms too short for windows are matched whole.
        for (idx, form) in self.forms.iter().enumerate().filter(|(_, f)| f.text.len() < WINDOW) {
            for (i, _) in text.match_indices(form.text.as_str()) {
                take(i..i + form.text.len(), idx);
            }
        }
        if covered.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < bytes.len() {
            match covered.get(i).copied().flatten() {
                Some(idx) => {
                    // Widen the run to character boundaries so the output stays UTF-8.
                    let mut end = i;
                    while end < bytes.len()
                        && (covered.get(end).is_some_and(Option::is_some) || !text.is_char_boundary(end))
                    {
                        end += 1;
                    }
                    if let Some(form) = self.forms.get(idx) {
                        out.push_str(&form.placeholder);
                    }
                    i = end;
                }
                None => {
                    let next = (i + 1..=bytes.len())
                        .find(|e| text.is_char_boundary(*e))
                        .unwrap_or(bytes.len());
                    out.push_str(text.get(i..next).unwrap_or(""));
                    i = next;
                }
            }
        }
        Cow::Owned(out)
    }

    /// Redacts every string inside a JSON value, keys included.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    self.redact_json(&mut v);
                    let redacted = match self.redact(&k) {
                        Cow::Owned(r) => Some(r),
                        Cow::Borrowed(_) => None,
                    };
                    map.insert(redacted.unwrap_or(k), v);
                }
            }
            _ => {}
        }
    }
}

/// A `WINDOW`-byte window as one number.
fn pack(window: &[u8]) -> u64 {
    let mut word = [0u8; WINDOW];
    if let Some(bytes) = window.get(..WINDOW) {
        word.copy_from_slice(bytes);
    }
    u64::from_le_bytes(word)
}

/// Standard base64 with padding, as HTTP Basic auth sends it.
fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn redactor(pairs: &[(&str, &str)]) -> Redactor {
        let mut r = Redactor::default();
        for (v, p) in pairs {
            r.add_secret(v, p);
        }
        r.seal();
        r
    }

    #[test]
    fn replaces_every_occurrence_with_the_placeholder() {
        let r = redactor(&[("s3cr3t-token", "$METRICS_TOKEN")]);
        assert_eq!(
            r.redact("a s3cr3t-token b s3cr3t-token"),
            "a $METRICS_TOKEN b $METRICS_TOKEN"
        );
        assert!(matches!(r.redact("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn longer_secret_wins_over_its_prefix() {
        let r = redactor(&[("abcd", "$A"), ("abcdefgh", "$LONG")]);
        assert_eq!(r.redact("x abcdefgh y"), "x $LONG y");
    }

    #[test]
    fn json_strings_and_keys_are_redacted() {
        let r = redactor(&[("tok-1234", "$T")]);
        let mut v = serde_json::json!({"a": ["Bearer tok-1234"], "tok-1234": 1, "n": 5});
        r.redact_json(&mut v);
        assert_eq!(v, serde_json::json!({"a": ["Bearer $T"], "$T": 1, "n": 5}));
    }

    #[test]
    fn a_secret_cut_by_an_excerpt_is_still_caught() {
        let secret = "mng-test-9f3c2a7b5d1e-0123456789abcdef012345";
        let r = redactor(&[(secret, "$T")]);
        let cut = format!("body: Bearer {}…", &secret[..43]);
        assert_eq!(r.redact(&cut), "body: Bearer $T…");
        let tail = format!("…{} end", &secret[30..]);
        assert_eq!(r.redact(&tail), "…$T end");
    }

    #[test]
    fn derived_forms_are_caught() {
        let secret = "p@ss/w rd+\"q\"";
        let r = redactor(&[(secret, "$P")]);
        let percent = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string();
        assert_eq!(r.redact(&format!("Location: /x?t={percent}")), "Location: /x?t=$P");
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        assert_eq!(r.redact(&format!("q={form}")), "q=$P");
        let json = serde_json::to_string(secret).unwrap_or_default();
        assert_eq!(r.redact(&format!("{{\"t\":{json}}}")), "{\"t\":\"$P\"}");
    }

    #[test]
    fn url_credentials_and_secret_query_values_are_masked() {
        let mut r = Redactor::default();
        r.add_url("http://admin:hunter2-long@db.example:5432/x?token=qwerty-123456&page=2");
        r.seal();
        let text = "GET http://admin:hunter2-long@db.example:5432/x?token=qwerty-123456&page=2 failed";
        let out = r.redact(text);
        assert!(!out.contains("hunter2") && !out.contains("qwerty-123456"), "{out}");
        assert!(
            out.contains("page=2") && out.contains("db.example"),
            "the rest stays: {out}"
        );
    }

    #[test]
    fn debug_never_shows_a_value() {
        let r = redactor(&[("very-secret-value", "$S")]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn non_ascii_secrets_redact_on_character_boundaries() {
        let secret = "ключ-доступа-42";
        let r = redactor(&[(secret, "$K")]);
        let cut: String = secret.chars().take(9).collect();
        let text = format!("[{cut}]");
        assert_eq!(r.redact(&text), "[$K]");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a server wraps around a secret, and wherever an excerpt
        /// cuts it, no run of `WINDOW` characters of it survives.
        #[test]
        fn no_window_of_a_secret_survives(
            secret in "[!-~]{8,48}",
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
            cut_start in 0usize..48,
            cut_len in 8usize..48,
        ) {
            let r = redactor(&[(&secret, "\u{2022}")]);
            let start = cut_start.min(secret.len() - WINDOW);
            let end = (start + cut_len).min(secret.len());
            for body in [
                format!("{before}{secret}{after}"),
                format!("{before}{}{after}", &secret[start..end]),
                format!("{before}{}{after}", serde_json::to_string(&secret).unwrap_or_default()),
                format!("{before}{}{after}", percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC)),
            ] {
                let out = r.redact(&body);
                for w in secret.as_bytes().windows(WINDOW) {
                    let w = std::str::from_utf8(w).unwrap_or_default();
                    prop_assert!(!out.contains(w), "window {w:?} of the secret survives in {out:?}");
                }
            }
        }
    }
}
