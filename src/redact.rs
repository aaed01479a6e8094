//! Keeps secrets out of every output. Probes never put a secret into an
//! outcome on purpose; this is the second line of defence, applied to the
//! finished report and to every message written to stderr.

use std::borrow::Cow;

use secrecy::ExposeSecret;

use crate::gate::Gate;

/// Secrets shorter than this are not searched for: replacing every `a` in a
/// report would destroy it. The gate is warned about them instead.
pub const MIN_REDACT_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (value, placeholder), longest value first so overlapping secrets redact fully.
    secrets: Vec<(String, String)>,
}

impl Redactor {
    pub fn for_gate(gate: &Gate) -> Self {
        let mut secrets: Vec<(String, String)> = gate
            .secrets
            .values()
            .map(|s| (s.value.expose_secret().to_string(), s.placeholder.clone()))
            .filter(|(v, _)| v.len() >= MIN_REDACT_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        Self { secrets }
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

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for (value, placeholder) in &self.secrets {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), placeholder));
            }
        }
        out
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
                    map.insert(self.redact(&k).into_owned(), v);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(pairs: &[(&str, &str)]) -> Redactor {
        let mut secrets: Vec<(String, String)> = pairs.iter().map(|(v, p)| (v.to_string(), p.to_string())).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        Redactor { secrets }
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
}
