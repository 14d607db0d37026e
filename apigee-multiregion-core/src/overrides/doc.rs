//! [`OverridesDoc`]: the lossless overrides document and its edits.

use std::fmt;
use std::net::IpAddr;

use zeroize::Zeroizing;

use super::edit::{self, NewValue, Splice};
use super::tree::{self, Node, Tree};
use super::{OverridesError, OverridesView};
use crate::model::{DatacenterName, RackName};

const CASSANDRA: &str = "cassandra";

/// An overrides file held as its exact text, with edits that change only the edited key.
///
/// ```
/// use apigee_multiregion_core::overrides::OverridesDoc;
/// let original = "# region 2\ncassandra:\n  hostNetwork: true   # island network\n";
/// let mut doc = OverridesDoc::parse(original).unwrap();
/// doc.set_seed_host("10.0.0.4").unwrap();
/// assert_eq!(doc.text(), "# region 2\ncassandra:\n  hostNetwork: true   # island network\n  multiRegionSeedHost: 10.0.0.4\n");
/// doc.clear_seed_host().unwrap();
/// assert_eq!(doc.text(), original);
/// ```
///
/// The text may hold passwords: it is zeroed when the document is dropped or edited, `Debug`
/// shows only its length, and there is no `Display` (the text is reachable through
/// [`OverridesDoc::text`], for writing the file).
pub struct OverridesDoc {
    text: Zeroizing<String>,
    tree: Tree,
    /// The text as Helm reads it when keys are written twice (the earlier ones blanked out), for
    /// `yaml_serde`, which refuses duplicates. `None` when there are none.
    last_wins: Option<Zeroizing<String>>,
    /// The `cassandra` section was absent and an edit of this document added it.
    added_section: bool,
}

impl fmt::Debug for OverridesDoc {
    // The text may hold passwords: never print it from Debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OverridesDoc").field("bytes", &self.text.len()).finish_non_exhaustive()
    }
}

impl OverridesDoc {
    /// Parses an overrides file. Refuses invalid YAML, several documents and tabs in
    /// indentation, each with line and column; also checks that the keys an expansion reads have
    /// the right types.
    ///
    /// A key written twice in one mapping is accepted, as Helm and apigeectl accept it (the last
    /// one counts), when it is on a path the tool neither reads nor edits; it is listed by
    /// [`OverridesDoc::ignored_duplicates`] for a warning. On a path the tool reads or edits
    /// ([`READ_PATHS`]), or where dropping the earlier one could change what else is read
    /// (inside an anchored node or a merge key, an earlier entry defining an anchor, an explicit
    /// `?` key, right after a block scalar), it is refused: which of the two the operator meant is
    /// not ours to guess.
    pub fn parse(text: &str) -> Result<Self, OverridesError> {
        let tree = tree::parse(text)?;
        if let Some(d) = tree.duplicates.iter().find(|d| d.unsafe_to_blank.is_some() || is_read_path(&d.path)) {
            return Err(d.error());
        }
        let last_wins = tree.last_wins_text(text);
        let doc = Self { text: Zeroizing::new(text.to_owned()), tree, last_wins, added_section: false };
        if let Err(e) = doc.view() {
            // The blanked text must read as the file does; if it does not, refuse the duplicate
            // rather than guess.
            return Err(match doc.tree.duplicates.first() {
                Some(d) if matches!(e, OverridesError::Syntax { .. }) => d.error(),
                _ => e,
            });
        }
        Ok(doc)
    }

    /// The exact current text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text the typed readers see: the file as Helm and apigeectl read it.
    pub(crate) fn typed_text(&self) -> &str {
        self.last_wins.as_deref().map_or(&self.text, |t| t.as_str())
    }

    /// Keys written twice on paths the tool neither reads nor edits: accepted (Helm and
    /// apigeectl use the last one), and worth a warning.
    pub fn ignored_duplicates(&self) -> Vec<IgnoredDuplicate> {
        self.tree
            .duplicates
            .iter()
            .map(|d| IgnoredDuplicate { path: d.dotted(), line: d.line, first_line: d.first_line })
            .collect()
    }

    /// The typed view of the keys an expansion reads.
    pub fn view(&self) -> Result<OverridesView, OverridesError> {
        OverridesView::read(self.typed_text(), &|path| self.location(path).unwrap_or((0, 0)))
    }

    /// Every secret-like value in the file (`*password*`, `*secret*`, `*token*`, `*key` leaves,
    /// anywhere), to redact from anything shown.
    pub fn secret_values(&self) -> Vec<crate::model::Secret> {
        fn walk(v: &yaml_serde::Value, under_secret: bool, out: &mut Vec<crate::model::Secret>) {
            match v {
                yaml_serde::Value::Mapping(m) => {
                    for (k, v) in m {
                        let secret = under_secret || k.as_str().is_some_and(super::diff::is_secret_key);
                        walk(v, secret, out);
                    }
                }
                yaml_serde::Value::Sequence(s) => s.iter().for_each(|v| walk(v, under_secret, out)),
                yaml_serde::Value::String(s) if under_secret && s.len() >= 4 => {
                    out.push(crate::model::Secret::new(s.clone()))
                }
                yaml_serde::Value::Number(n) if under_secret && n.to_string().len() >= 4 => {
                    out.push(crate::model::Secret::new(n.to_string()))
                }
                _ => {}
            }
        }
        // Every entry as written, the earlier of two duplicates too (the typed text blanks it).
        fn walk_tree(n: &Node, under_secret: bool, out: &mut Vec<crate::model::Secret>) {
            match &n.kind {
                tree::Kind::Mapping { entries, .. } => {
                    for (k, v) in entries {
                        let secret = under_secret || k.scalar().is_some_and(super::diff::is_secret_key);
                        walk_tree(v, secret, out);
                    }
                }
                tree::Kind::Sequence { items } => items.iter().for_each(|i| walk_tree(i, under_secret, out)),
                tree::Kind::Scalar { value, .. } if under_secret && value.len() >= 4 => {
                    out.push(crate::model::Secret::new(value.clone()))
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        // Through yaml_serde as well: it resolves aliases (`password: *pw`).
        if let Ok(v) = yaml_serde::from_str::<yaml_serde::Value>(self.typed_text()) {
            walk(&v, false, &mut out);
        }
        if let Some(root) = &self.tree.root {
            walk_tree(root, false, &mut out);
        }
        out
    }

    /// 1-based line and column of the value at a key path (`["cassandra", "datacenter"]`), or of
    /// the deepest key on that path that exists.
    pub fn location(&self, path: &[&str]) -> Option<(usize, usize)> {
        let mut node: &Node = self.tree.root.as_ref()?;
        let mut found = (node.line, node.col);
        for key in path {
            match node.get(key) {
                Some((k, v)) => {
                    found = if v.end > v.start { (v.line, v.col) } else { (k.line, k.col) };
                    node = v;
                }
                None => break,
            }
        }
        Some(found)
    }

    /// Sets `cassandra.multiRegionSeedHost`. The host must be an IP address or a DNS name.
    pub fn set_seed_host(&mut self, host: &str) -> Result<(), OverridesError> {
        validate_host(host)?;
        self.set("multiRegionSeedHost", NewValue::Str(host.to_owned()))
    }

    /// Removes `cassandra.multiRegionSeedHost`. Returns whether it was there.
    pub fn clear_seed_host(&mut self) -> Result<bool, OverridesError> {
        self.remove("multiRegionSeedHost")
    }

    /// Sets `cassandra.datacenter`.
    pub fn set_datacenter(&mut self, dc: &DatacenterName) -> Result<(), OverridesError> {
        self.set("datacenter", NewValue::Str(dc.to_string()))
    }

    /// Sets `cassandra.rack`.
    pub fn set_rack(&mut self, rack: &RackName) -> Result<(), OverridesError> {
        self.set("rack", NewValue::Str(rack.to_string()))
    }

    /// Sets `cassandra.hostNetwork`.
    pub fn set_host_network(&mut self, on: bool) -> Result<(), OverridesError> {
        self.set("hostNetwork", NewValue::Bool(on))
    }

    fn set(&mut self, key: &str, value: NewValue) -> Result<(), OverridesError> {
        let absent = self.tree.root.as_ref().and_then(|r| r.get(CASSANDRA)).is_none();
        let splice = edit::set_scalar(&self.text, &self.tree, CASSANDRA, key, &value)?;
        self.apply(key, splice, Some(value))?;
        self.added_section |= absent;
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Result<bool, OverridesError> {
        match edit::remove_key(&self.text, &self.tree, CASSANDRA, key, self.added_section)? {
            None => Ok(false),
            Some(splice) => self.apply(key, splice, None).map(|()| true),
        }
    }

    /// Applies a splice, then proves it: the new text must parse, and must be the same YAML as
    /// the old document with exactly the one key changed (compared node by node: kinds, scalar
    /// values and styles, anchors, order). Otherwise the document is left as it was.
    fn apply(&mut self, key: &str, splice: Splice, value: Option<NewValue>) -> Result<(), OverridesError> {
        let path = format!("{CASSANDRA}.{key}");
        let fail = |detail: String| OverridesError::EditVerification { path: path.clone(), detail };
        let mut text = Zeroizing::new(String::with_capacity(self.text.len() + splice.text.len()));
        text.push_str(&self.text[..splice.start]);
        text.push_str(&splice.text);
        text.push_str(&self.text[splice.end..]);

        let tree = tree::parse(&text).map_err(|e| fail(format!("the result does not parse: {e}")))?;
        edit::verify_edit(&self.tree, &tree, CASSANDRA, key, value.as_ref()).map_err(fail)?;
        // The span tree and the typed view are read by two YAML parsers, which disagree on a few
        // odd documents (an anchor name holding `:` is one). Prove the edit in the typed view
        // too, which reads as Apigee's Go tools do: exactly the one key changed, to the value.
        let unlocated: &dyn Fn(&[&str]) -> (usize, usize) = &|_| (0, 0);
        let mut expected = self.view()?;
        expect_in_view(&mut expected.cassandra, key, value.as_ref());
        let last_wins = tree.last_wins_text(&text);
        let actual = OverridesView::read(last_wins.as_deref().map_or(&text, |t| t.as_str()), unlocated)
            .map_err(|e| fail(format!("the result does not read as overrides: {e}")))?;
        if actual != expected {
            return Err(fail(
                "the YAML readers disagree on this document's layout, so the edit would not land where Apigee reads it; set the key by hand, or write the file in plain block style"
                    .into(),
            ));
        }
        self.last_wins = last_wins;
        self.text = text;
        self.tree = tree;
        Ok(())
    }
}

/// Where the tool reads or edits an overrides file: a key written twice on one of these paths,
/// above or below it, is refused. `cassandra` is read and edited as a whole; `virtualhosts`
/// entries are read for TLS; `nodeSelector.apigeeData` places Cassandra's pods.
pub const READ_PATHS: &[&[&str]] = &[
    &["cassandra"],
    &["instanceID"],
    &["org"],
    &["k8sCluster", "name"],
    &["k8sCluster", "region"],
    &["nodeSelector", "apigeeData"],
    &["virtualhosts"],
];

fn is_read_path(path: &[String]) -> bool {
    READ_PATHS.iter().any(|r| r.iter().zip(path).all(|(a, b)| a == b))
}

/// A key written twice on a path the tool does not read: Helm and apigeectl use the last one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IgnoredDuplicate {
    /// The key's path, e.g. `envs[0].serviceAccountPaths.runtime`.
    pub path: String,
    /// 1-based line of the occurrence that counts (the last).
    pub line: usize,
    /// 1-based line of the earlier occurrence, which Helm ignores.
    pub first_line: usize,
}

/// What the typed view must read after setting (or, with `None`, removing) `cassandra.<key>`.
fn expect_in_view(c: &mut super::CassandraView, key: &str, value: Option<&NewValue>) {
    let text = |v: Option<&NewValue>| match v {
        Some(NewValue::Str(s)) => Some(s.clone()),
        Some(NewValue::Bool(b)) => Some(b.to_string()),
        None => None,
    };
    match key {
        "multiRegionSeedHost" => c.multi_region_seed_host = text(value),
        "datacenter" => c.datacenter = text(value),
        "rack" => c.rack = text(value),
        "hostNetwork" => {
            c.host_network = match value {
                Some(NewValue::Bool(b)) => Some(*b),
                Some(NewValue::Str(s)) => s.parse().ok(),
                None => None,
            }
        }
        // Any other key is not in the view: the view must not change at all.
        _ => {}
    }
}

fn validate_host(host: &str) -> Result<(), OverridesError> {
    let invalid =
        |why: &str| OverridesError::InvalidValue { what: "seed host", value: host.to_owned(), why: why.to_owned() };
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if host.is_empty() || host.len() > 253 {
        return Err(invalid("give an IP address such as 10.0.0.4, or a DNS name"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.split('.').all(label_ok) && !host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        Ok(())
    } else {
        Err(invalid("neither an IP address nor a DNS name; give an IP address such as 10.0.0.4"))
    }
}
