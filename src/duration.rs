//! Prometheus-style durations (`model.Duration`): `30d`, `1w`, `720h`,
//! `1d12h`, `500ms`, `0`. Loki renders retention in these units and PromQL
//! range windows use them, so they are compared as durations, never as text.

use std::time::Duration;

const UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
    ("y", 31_536_000_000),
];

/// Parses a Prometheus duration. Units must appear largest first, each at
/// most once, as Prometheus requires (`1d12h`, not `12h1d`).
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{s}` is not a duration: expected a number at `{rest}`"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("`{s}`: number too large"))?;
        rest = &rest[digits..];
        // "ms" before "m" so `5ms` is not read as 5 minutes and an `s`.
        let Some((rank, (unit, ms))) = UNITS
            .iter()
            .enumerate()
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())
        else {
            return Err(format!(
                "`{s}` is not a duration: unknown unit at `{rest}` (use ms, s, m, h, d, w, y)"
            ));
        };
        // UNITS runs from small to large, so each next unit needs a lower rank.
        if rank >= last_rank {
            return Err(format!("`{s}`: units must go from largest to smallest, each once"));
        }
        last_rank = rank;
        rest = &rest[unit.len()..];
        total = n
            .checked_mul(*ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{s}`: duration too large"))?;
    }
    Ok(Duration::from_millis(total))
}

/// Parses a Go `time.Duration` string as Loki's `/config` prints it
/// (`2h0m0s`, `10m0s`, `1.5s`, `300ms`).
pub fn parse_go(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" || s == "0s" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        if num_len == 0 {
            return Err(format!("`{s}` is not a Go duration"));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{s}` is not a Go duration"))?;
        rest = &rest[num_len..];
        let (unit_len, secs) = if rest.starts_with("ns") {
            (2, 1e-9)
        } else if rest.starts_with("us") || rest.starts_with("µs") {
            (if rest.starts_with('µ') { 3 } else { 2 }, 1e-6)
        } else if rest.starts_with("ms") {
            (2, 1e-3)
        } else if rest.starts_with('s') {
            (1, 1.0)
        } else if rest.starts_with('m') {
            (1, 60.0)
        } else if rest.starts_with('h') {
            (1, 3600.0)
        } else {
            return Err(format!("`{s}` is not a Go duration (units ns, us, ms, s, m, h)"));
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    // `from_secs_f64` panics past `Duration::MAX`: `99999999999999999999s`.
    Duration::try_from_secs_f64(total).map_err(|_| format!("`{s}`: duration too large"))
}

/// Formats like Prometheus does: the largest units that divide it exactly.
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS.iter().rev() {
        if ms >= *size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn loki_renderings_compare_as_durations() {
        assert_eq!(parse("720h").unwrap(), parse("30d").unwrap());
        assert_eq!(parse("168h").unwrap(), parse("1w").unwrap());
        assert_eq!(parse("4w2d").unwrap(), Duration::from_secs(30 * DAY));
        assert_eq!(parse("1d12h").unwrap(), Duration::from_secs(DAY + DAY / 2));
        assert_eq!(parse("1y").unwrap(), Duration::from_secs(365 * DAY));
    }

    #[test]
    fn zero_forms_mean_zero() {
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn milliseconds_are_not_minutes() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for bad in ["", "d", "5", "5x", "12h1d", "1h1h", "1.5h", "-1d", "99999999999999999y"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go("2h0m0s").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_go("10m0s").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_go("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_go("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_go("0s").unwrap(), Duration::ZERO);
        assert!(parse_go("30d").is_err(), "Go durations have no days");
    }

    /// Found by the `duration` fuzz target: `parse_go` panicked in
    /// `Duration::from_secs_f64` on durations too large for a `Duration`.
    #[test]
    fn huge_go_durations_are_errors_not_panics() {
        let crasher: &[u8] = b"99999999999999999999s";
        assert!(std::str::from_utf8(crasher).is_ok_and(|s| parse_go(s).is_err()));
        assert!(parse_go("10000000000000000h").is_err());
        assert!(parse_go(&"9".repeat(400)).is_err(), "overflows f64 to infinity");
        assert_eq!(parse_go("1000000h").ok(), Some(Duration::from_secs(3_600_000_000)));
    }

    #[test]
    fn format_uses_largest_units() {
        assert_eq!(format(Duration::from_secs(30 * DAY)), "4w2d");
        assert_eq!(format(Duration::from_secs(7 * DAY)), "1w");
        assert_eq!(format(Duration::from_secs(3 * DAY)), "3d");
        assert_eq!(format(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format(Duration::ZERO), "0s");
    }
}
