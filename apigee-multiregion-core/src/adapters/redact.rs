//! Removing secret values from text that came back from a process or an API (exec status
//! messages repeat the command line; installers echo their input, Kubernetes objects carry
//! them base64-encoded, JSON escapes them).

use crate::model::Secret;
use crate::ports::ExecArg;

/// Replaces every occurrence of known secret values with `<redacted>`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Vec<Secret>,
}

impl Redactor {
    /// A redactor for these secrets, in their plain, base64 and JSON-escaped forms.
    pub fn new(values: impl IntoIterator<Item = Secret>) -> Self {
        let mut values: Vec<Secret> = values
            .into_iter()
            .filter(|s| !s.expose().is_empty())
            .flat_map(|s| {
                let json = serde_json::to_string(s.expose()).unwrap_or_default();
                let escaped = json.trim_matches('"').to_owned();
                [Secret::new(base64(s.expose().as_bytes())), Secret::new(escaped), s]
            })
            .collect();
        values.dedup_by(|a, b| a.expose() == b.expose());
        // Longest first, so a secret that contains another is removed whole.
        values.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        Self { values }
    }

    /// A redactor for the secret arguments of a command.
    pub fn from_args(args: &[ExecArg]) -> Self {
        Self::new(args.iter().filter_map(|a| if let ExecArg::Secret(s) = a { Some(s.clone()) } else { None }))
    }

    /// This redactor and one more secret.
    #[must_use]
    pub fn with(self, secret: Secret) -> Self {
        Self::new(self.values.into_iter().chain([secret]))
    }

    /// `text` with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.values {
            out = out.replace(s.expose(), "<redacted>");
        }
        out
    }
}

/// Standard base64 with padding (how Kubernetes carries secret data).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_every_occurrence_longest_first() {
        let r = Redactor::new([Secret::new("pw"), Secret::new("pw-long"), Secret::new("")]);
        assert_eq!(r.redact("a pw-long b pw c"), "a <redacted> b <redacted> c");
    }

    #[test]
    fn removes_base64_and_json_escaped_forms() {
        assert_eq!(base64(b"s3cret-jmx"), "czNjcmV0LWpteA==");
        assert_eq!(base64(b"ab"), "YWI=");
        let r = Redactor::new([Secret::new("p\"w\\1")]);
        let json = serde_json::to_string(&serde_json::json!({"password": "p\"w\\1"})).unwrap();
        assert_eq!(r.redact(&json), r#"{"password":"<redacted>"}"#);
        let r = Redactor::new([Secret::new("s3cret-jmx")]);
        assert_eq!(r.redact("data: {jmx.password: czNjcmV0LWpteA==}"), "data: {jmx.password: <redacted>}");
    }
}
