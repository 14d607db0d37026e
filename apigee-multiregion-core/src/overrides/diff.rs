//! A line diff of an overrides file before and after an edit, for the dry run. Values of
//! secret-like keys (`*password*`, `*secret*`, `*token*`, `*key`) are never shown.

/// Changed lines as `@@ line N`, `-old`, `+new` (an LCS diff of the changed middle). `N` is the
/// line number in the new text.
pub fn line_diff(before: &str, after: &str) -> Vec<String> {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let prefix = b.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let suffix = b[prefix..].iter().rev().zip(a[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (bm, am) = (&b[prefix..b.len() - suffix], &a[prefix..a.len() - suffix]);
    // LCS table over the changed middle (small: an edit touches a few lines).
    let mut t = vec![vec![0usize; am.len() + 1]; bm.len() + 1];
    for i in (0..bm.len()).rev() {
        for j in (0..am.len()).rev() {
            t[i][j] = if bm[i] == am[j] { t[i + 1][j + 1] + 1 } else { t[i + 1][j].max(t[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out, mut last_hunk) = (0, 0, Vec::new(), None);
    while i < bm.len() || j < am.len() {
        if i < bm.len() && j < am.len() && bm[i] == am[j] {
            i += 1;
            j += 1;
            continue;
        }
        let line = prefix + j + 1;
        if last_hunk != Some(line) {
            out.push(format!("@@ line {line}"));
        }
        if j < am.len() && (i == bm.len() || t[i][j + 1] > t[i + 1][j]) {
            out.push(shown('+', am[j]));
            j += 1;
            last_hunk = Some(prefix + j + 1);
        } else {
            out.push(shown('-', bm[i]));
            i += 1;
            last_hunk = Some(line);
        }
    }
    out
}

/// Whether a mapping key names a secret.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let k = key.trim().trim_matches(|c| c == '"' || c == '\'' || c == '-' || c == ' ').to_ascii_lowercase();
    ["password", "passwd", "secret", "token"].iter().any(|w| k.contains(w)) || k.ends_with("key")
}

fn shown(sign: char, line: &str) -> String {
    match line.split_once(':') {
        Some((key, value)) if is_secret_key(key) && !value.trim().is_empty() => format!("{sign}{key}: <redacted>"),
        _ => format!("{sign}{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "org: demo\ncassandra:\n  hostNetwork: true   # island\n  auth:\n    jmx:\n      password: \"s3cret\"\nenvs: []\n";

    #[test]
    fn an_inserted_seed_host_is_one_hunk() {
        let after = BEFORE.replace("cassandra:\n", "cassandra:\n  multiRegionSeedHost: 10.0.0.1\n  datacenter: dc-2\n");
        insta::assert_snapshot!(line_diff(BEFORE, &after).join("\n"), @r"
        @@ line 3
        +  multiRegionSeedHost: 10.0.0.1
        +  datacenter: dc-2
        ");
    }

    #[test]
    fn a_changed_line_shows_old_and_new() {
        let after = BEFORE.replace("hostNetwork: true   # island", "hostNetwork: false");
        insta::assert_snapshot!(line_diff(BEFORE, &after).join("\n"), @r"
        @@ line 3
        -  hostNetwork: true   # island
        +  hostNetwork: false
        ");
    }

    #[test]
    fn secret_values_are_never_shown() {
        let after = BEFORE.replace("s3cret", "n3w").replace("envs: []", "envs: []\nprivateKey: abc\ntokenTTL: 5");
        let d = line_diff(BEFORE, &after).join("\n");
        assert!(!d.contains("s3cret") && !d.contains("n3w") && !d.contains("abc"), "{d}");
        insta::assert_snapshot!(d, @r"
        @@ line 6
        -      password: <redacted>
        +      password: <redacted>
        @@ line 8
        +privateKey: <redacted>
        +tokenTTL: <redacted>
        ");
    }

    #[test]
    fn no_change_no_lines() {
        assert!(line_diff(BEFORE, BEFORE).is_empty());
    }
}
