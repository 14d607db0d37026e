//! A plan that does not match the plan's shape, said for the person who wrote it: the key path
//! (`installer.charts`), the line and column of that key, and what is expected there, never a
//! Rust type name.
//!
//! `yaml_serde` gives a path and a position for most errors, but not for the contents of the
//! tagged sections (`installer`, `jmx`: their contents are buffered before their `kind`/`from`
//! is known) and not for a section's missing key (it points at the section's first child). The
//! span tree of the overrides editor (saphyr-parser) finds the key's own line in those cases.

use serde::Deserialize;

use super::plan::{InstallerSpec, JmxSpec};
use crate::overrides::tree::{self, Kind, Node};

/// Where and what, ready for `file:line:col: message`.
pub(super) struct Described {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The sections whose contents `yaml_serde` reports without a position.
const TAGGED: [&str; 2] = ["installer", "jmx"];

/// What a plan's deserialization error means, where.
pub(super) fn describe(text: &str, e: &yaml_serde::Error) -> Described {
    let raw = e.to_string();
    let root = match tree::parse(text) {
        Ok(t) => match t.duplicates.first() {
            // A plan is read whole: a key written twice anywhere is refused.
            Some(d) => {
                return Described {
                    line: d.line,
                    column: d.column,
                    message: format!("`{}` is written twice (first on line {}): keep one", d.dotted(), d.first_line),
                };
            }
            None => t.root,
        },
        Err(crate::overrides::OverridesError::Syntax { line, column, message }) => {
            return Described { line, column, message: format!("invalid YAML: {message}") };
        }
        Err(_) => None,
    };
    let position = e.location().map(|l| (l.line(), l.column()));
    let (body, positioned) = strip_position(&raw);
    let (mut path, message) = split_path(body);
    if !positioned && path.is_empty() {
        // No position: either the root, or the contents of a tagged section.
        if let Some(section) = failing_tagged_section(text) {
            path.push(section.to_owned());
        }
    }
    let what = What::parse(message);
    let mut narrowed = false;
    // A value's own message names the value but its path stops at the enclosing section: find
    // the entry that holds it.
    if let (Some(r), What::Type { found, .. }) = (&root, &what)
        && let Some(value) = found.strip_prefix("string \"").and_then(|v| v.strip_suffix('"'))
    {
        narrowed = narrow(r, &mut path, value);
    } else if let (Some(r), What::Other(m)) = (&root, &what) {
        narrowed = m.split('`').skip(1).step_by(2).any(|value| narrow(r, &mut path, value));
    }
    // A key named by the message (missing or unknown) belongs under `path`.
    let (full, anchor): (Vec<String>, Vec<String>) = match &what {
        What::Missing { field } => {
            let mut full = path.clone();
            full.push(field.clone());
            (full, path.clone())
        }
        What::Unknown { field, .. } => {
            let mut full = path.clone();
            full.push(field.clone());
            (full.clone(), full)
        }
        _ => (path.clone(), path.clone()),
    };
    // Line of the key itself when the tree has it; else what yaml_serde said; else the top.
    let located = root.as_ref().and_then(|r| key_location(r, &anchor));
    let (line, column) = match (&what, located, position) {
        // A missing key: at the key of the mapping that lacks it (the top of the file for the root).
        (What::Missing { .. }, Some(at), _) => at,
        (What::Missing { .. }, None, _) if anchor.is_empty() => (1, 1),
        (_, Some(at), _) if narrowed || !positioned || matches!(what, What::Unknown { .. }) => at,
        (_, _, Some(p)) if positioned => p,
        (_, Some(at), _) => at,
        _ => (1, 1),
    };
    Described { line, column, message: what.say(&full) }
}

/// `body` without yaml_serde's ` at line N column M` suffix, and whether it had one.
fn strip_position(raw: &str) -> (&str, bool) {
    if let Some(i) = raw.rfind(" at line ") {
        let tail = &raw[i + " at line ".len()..];
        let mut parts = tail.split(" column ");
        let is_position = matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(c), None)
            if l.bytes().all(|b| b.is_ascii_digit()) && c.bytes().all(|b| b.is_ascii_digit()));
        if is_position {
            return (&raw[..i], true);
        }
    }
    (raw, false)
}

/// yaml_serde writes `a.b[0].c: message`; the path is made of key characters only.
fn split_path(body: &str) -> (Vec<String>, &str) {
    if let Some((head, rest)) = body.split_once(": ")
        && !head.is_empty()
        && head.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]?".contains(&b))
    {
        return (head.split('.').map(str::to_owned).collect(), rest);
    }
    (Vec::new(), body)
}

/// Which of `installer`/`jmx` does not deserialize on its own (their errors carry no position).
fn failing_tagged_section(text: &str) -> Option<&'static str> {
    let value: yaml_serde::Value = yaml_serde::from_str(text).ok()?;
    TAGGED.into_iter().find(|section| match value.get(*section) {
        Some(v) if *section == "installer" => InstallerSpec::deserialize(v.clone()).is_err(),
        Some(v) => JmxSpec::deserialize(v.clone()).is_err(),
        None => false,
    })
}

/// When the node at `path` is a mapping with an entry whose value is the scalar `value`, adds
/// that entry's key to `path`.
fn narrow(root: &Node, path: &mut Vec<String>, value: &str) -> bool {
    let Some(node) = node_at(root, path) else { return false };
    let Kind::Mapping { entries, .. } = &node.kind else { return false };
    let mut holders = entries.iter().filter(|(_, v)| v.scalar() == Some(value));
    match (holders.next(), holders.next()) {
        (Some((k, _)), None) if let Some(key) = k.scalar() => {
            path.push(key.to_owned());
            true
        }
        _ => false,
    }
}

/// The node at a key path (keys only).
fn node_at<'a>(root: &'a Node, path: &[String]) -> Option<&'a Node> {
    path.iter().try_fold(root, |node, key| node.get(key).map(|(_, v)| v))
}

/// Line and column of the key at the end of `path` (`a`, `b[0]`), or the document's start for
/// the empty path.
fn key_location(root: &Node, path: &[String]) -> Option<(usize, usize)> {
    let mut node = root;
    let mut at = (1, 1);
    for segment in path {
        let (key, indexes) = match segment.split_once('[') {
            Some((k, rest)) => (k, Some(rest)),
            None => (segment.as_str(), None),
        };
        let (k, v) = node.get(key)?;
        at = (k.line, k.col);
        node = v;
        for index in indexes.into_iter().flat_map(|r| r.split('[')) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            match &node.kind {
                Kind::Sequence { items } => {
                    node = items.get(i)?;
                    at = (node.line, node.col);
                }
                _ => return None,
            }
        }
    }
    Some(at)
}

/// The kinds of error serde's derived code produces, plus the plan's own messages.
enum What<'a> {
    Missing { field: String },
    Unknown { field: String, expected: &'a str },
    Type { found: &'a str, expected: &'a str },
    Variant { value: &'a str, expected: &'a str },
    Other(&'a str),
}

impl<'a> What<'a> {
    fn parse(m: &'a str) -> Self {
        if let Some(rest) = m.strip_prefix("missing field `") {
            return Self::Missing { field: rest.trim_end_matches('`').to_owned() };
        }
        if let Some(rest) = m.strip_prefix("unknown field `")
            && let Some((field, expected)) = rest.split_once("`, ")
        {
            return Self::Unknown { field: field.to_owned(), expected: expected.trim_start_matches("expected ") };
        }
        if let Some(rest) = m.strip_prefix("unknown variant `")
            && let Some((value, expected)) = rest.split_once("`, ")
        {
            return Self::Variant { value, expected: expected.trim_start_matches("expected ") };
        }
        for prefix in ["invalid type: ", "invalid value: "] {
            if let Some(rest) = m.strip_prefix(prefix)
                && let Some((found, expected)) = rest.rsplit_once(", expected ")
            {
                return Self::Type { found, expected };
            }
        }
        Self::Other(m)
    }

    fn say(&self, path: &[String]) -> String {
        let shown = if path.is_empty() { "the plan".to_owned() } else { format!("`{}`", path.join(".")) };
        let parent = if path.len() > 1 {
            format!("under `{}`", path[..path.len() - 1].join("."))
        } else {
            "at the top of the plan".to_owned()
        };
        match self {
            Self::Missing { field } => format!(
                "{shown} is missing: add `{field}:` {parent} ({}docs/cli.md, \"Plan file\", lists every key)",
                hint(field)
            ),
            Self::Unknown { field, expected } => format!(
                "`{field}` is not a key here (a typo?); the keys {parent} are {}",
                expected.trim_start_matches("one of ")
            ),
            Self::Type { found, expected } => {
                format!("{shown} must be {}, not {}", expected_in_words(path, expected), found_in_words(found))
            }
            Self::Variant { value, expected } => {
                format!("{shown}: `{value}` is not one of the choices: {}", expected.trim_start_matches("one of "))
            }
            Self::Other(m) if path.is_empty() => (*m).to_owned(),
            Self::Other(m) => format!("{shown}: {m}"),
        }
    }
}

/// What a missing key of the plan is for.
fn hint(field: &str) -> &'static str {
    match field {
        "kind" => "`apigeectl` or `helm`; ",
        "from" => "`overrides`, `env`, `pod-env` or `none`; ",
        "charts" => "the folder with the Apigee Helm charts; ",
        "version" => {
            "the Apigee hybrid release of the charts, such as \"1.12.3\", which decides the operator's namespace; "
        }
        "org_release" => "the Helm release name of the org chart; ",
        "context" => "the kubeconfig context; ",
        "overrides" => "the region's overrides file; ",
        "datacenter" => "the region's Cassandra datacenter name; ",
        "source" => "the existing region; ",
        "target" => "the new region; ",
        "installer" => "`installer: {kind: apigeectl}` or `{kind: helm, ...}`; ",
        "username_env" | "password_env" => "the name of an environment variable; ",
        "organization" => "the ApigeeOrganization name, from `kubectl get apigeeorg -n apigee`; ",
        _ => "",
    }
}

/// serde's `expected ...` without Rust names.
fn expected_in_words(path: &[String], expected: &str) -> String {
    let last = path.last().map(String::as_str).unwrap_or_default();
    if let Some(name) = expected.strip_prefix("internally tagged enum ") {
        return match name {
            "JmxSpec" => "a mapping like `{from: pod-env}`".into(),
            "InstallerSpec" => "a mapping like `{kind: apigeectl}`".into(),
            _ => "a mapping".into(),
        };
    }
    if let Some(name) = expected.strip_prefix("struct ") {
        return match name {
            "ExpansionPlan" => "a mapping of the plan's keys (`source:`, `target:`, `installer:`, ...)".into(),
            "RegionSpec" => format!("a mapping like `{last}: {{context: ..., overrides: ..., datacenter: ...}}`"),
            _ => format!("a mapping (`{last}:` followed by `key: value` lines)"),
        };
    }
    if let Some(name) = expected.strip_prefix("enum ") {
        return match name {
            "NetworkMode" => "`island` or `flat`".into(),
            "ReplicationMethod" => "`nodetool` or `cr`".into(),
            _ => "one of the documented values".into(),
        };
    }
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "`true` or `false`".into(),
        "a sequence" => "a list (`[a, b]`)".into(),
        "path string" => "a file path".into(),
        "a string" => "text".into(),
        other => other.into(),
    }
}

/// serde's `invalid type: <found>` in words.
fn found_in_words(found: &str) -> String {
    if let Some(s) = found.strip_prefix("string ") {
        return format!("the text {s}");
    }
    for (prefix, what) in [("integer ", "the number "), ("floating point ", "the number "), ("boolean ", "")] {
        if let Some(v) = found.strip_prefix(prefix) {
            return format!("{what}{}", v.trim_matches('`'));
        }
    }
    match found {
        "sequence" => "a list".into(),
        "map" => "a mapping".into(),
        "unit value" => "an empty value".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ExpansionPlan;

    const HEAD: &str = "name: west\nsource: {context: east, overrides: east.yaml, datacenter: dc-1}\ntarget: {context: west, overrides: west.yaml, datacenter: dc-2}\n";

    fn error(text: &str) -> String {
        ExpansionPlan::from_str_at(text, "plan.yaml", "".into()).unwrap_err().to_string()
    }

    #[test]
    fn every_shape_error_names_the_key_its_line_and_what_is_expected() {
        let cases = [
            format!("{HEAD}installer:\n  kind: helm\n  org_release: apigee-org\n"),
            format!("{HEAD}installer:\n  kind: apigeectl\n  charts: ./charts\n"),
            format!("{HEAD}installer:\n  program: ./apigeectl\n"),
            format!("{HEAD}installer: {{kind: helmx}}\n"),
            format!("{HEAD}installer: {{kind: helm, charts: c, org_release: o, environments: test}}\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\njmx: pod-env\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\njmx: {{from: podenv}}\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\njmx:\n  from: env\n  username_env: JMX_USER\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\nrebuild:\n  retries: lots\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\nrebuild:\n  concurrency: [1]\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\nrebuild: {{concurency: 2}}\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\ntimeouts:\n  poll: 5\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\nverify: {{min_load_fraction: most}}\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\nnetwork: {{mode: mesh}}\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\ncr: {{organisation: x}}\n"),
            format!("{HEAD}installer: {{kind: apigeectl}}\nsource: {{}}\n"),
            HEAD.replace("source: {context: east, overrides: east.yaml, datacenter: dc-1}", "source: [east]")
                + "installer: {kind: apigeectl}\n",
            HEAD.replace("datacenter: dc-1}", "}") + "installer: {kind: apigeectl}\n",
            HEAD.replace("datacenter: dc-2", "datacenter: dc 2") + "installer: {kind: apigeectl}\n",
            HEAD.to_owned(),
            "- east\n".to_owned(),
            format!("{HEAD}installer: {{kind: apigeectl\n"),
        ];
        let mut out = String::new();
        for case in &cases {
            let last = case.strip_prefix(HEAD).unwrap_or(case).trim_end().replace('\n', " / ");
            let e = error(case);
            for rust in ["Spec", "struct ", "enum ", "u32", "f64", "at line", "Raw"] {
                assert!(!e.contains(rust), "{e}");
            }
            assert_eq!(e.matches("plan.yaml:").count(), 1, "the location once: {e}");
            out.push_str(&format!("{last}\n  {e}\n"));
        }
        insta::assert_snapshot!("plan_shape_errors", out);
    }
}
