//! Removing secret values from text that came back from a process or an API (exec status
//! messages repeat the command line; installers echo their input).

use crate::model::Secret;
use crate::ports::ExecArg;

/// Replaces every occurrence of known secret values with `<redacted>`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Vec<Secret>,
}

impl Redactor {
    /// A redactor for these secrets.
    pub fn new(values: impl IntoIterator<Item = Secret>) -> Self {
        let mut values: Vec<Secret> = values.into_iter().filter(|s| !s.expose().is_empty()).collect();
        // Longest first, so a secret that contains another is removed whole.
        values.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        Self { values }
    }

    /// A redactor for the secret arguments of a command.
    pub fn from_args(args: &[ExecArg]) -> Self {
        Self::new(args.iter().filter_map(|a| if let ExecArg::Secret(s) = a { Some(s.clone()) } else { None }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_every_occurrence_longest_first() {
        let r = Redactor::new([Secret::new("pw"), Secret::new("pw-long"), Secret::new("")]);
        assert_eq!(r.redact("a pw-long b pw c"), "a <redacted> b <redacted> c");
    }
}
