//! Text surgery on an overrides file: set or remove one `section.key` scalar, touching no
//! other byte. Works on the span tree; the caller re-parses and verifies the result.

use saphyr_parser::ScalarStyle;

use super::OverridesError;
use super::tree::{Kind, Node, Tree};

/// A value to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NewValue {
    Str(String),
    Bool(bool),
}

impl NewValue {
    /// Renders the value, keeping the quote style of the value it replaces when that style can
    /// hold it.
    fn render(&self, previous: Option<ScalarStyle>) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Str(s) => match previous {
                Some(ScalarStyle::SingleQuoted) => format!("'{}'", s.replace('\'', "''")),
                Some(ScalarStyle::DoubleQuoted) => double_quoted(s),
                _ if is_safe_plain(s) => s.clone(),
                _ => double_quoted(s),
            },
        }
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` reads back as the same string when written without quotes, in block and flow
/// context, under YAML 1.1 and 1.2 readers alike.
fn is_safe_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if !first.is_ascii_alphanumeric()
        || !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
    {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    let special = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf"];
    if special.contains(&lower.as_str()) {
        return false;
    }
    // Anything a reader could take for a number (ints, floats, 0x.., 0o.., 1e3, 1_000, sexagesimal).
    let numeric_like =
        s.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '_' | 'e' | 'E' | 'x' | 'o' | 'b'))
            && s.chars().any(|c| c.is_ascii_digit())
            && s.matches('.').count() <= 1;
    !numeric_like && s.parse::<f64>().is_err()
}

/// Line-ending style of the file.
pub(crate) fn eol_of(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// Offset of the end of the line holding `pos` (the `\r` of `\r\n`, the `\n`, or the end of text).
fn line_end(text: &str, pos: usize) -> usize {
    let nl = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    if nl > 0 && text.as_bytes().get(nl - 1) == Some(&b'\r') && nl < text.len() { nl - 1 } else { nl }
}

/// Offset of the start of the line holding `pos`.
fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// Indentation unit used by the file's first nested block mapping (default 2).
fn indent_unit(root: &Node) -> usize {
    if let Kind::Mapping { entries, .. } = &root.kind {
        for (_, v) in entries {
            if let Kind::Mapping { flow: false, entries: inner } = &v.kind
                && let Some((k, _)) = inner.first()
                && k.col > root.col
            {
                return k.col - root.col;
            }
        }
    }
    2
}

fn at(n: &Node) -> (usize, usize) {
    (n.line, n.col)
}

/// Where a new entry goes in a mapping: the offset, the text to put before the entry, the
/// entry's indentation (block mappings) and the text to put after it.
struct Slot {
    pos: usize,
    before: String,
    indent: usize,
    after: &'static str,
}

impl Slot {
    fn splice(&self, entry: &str) -> Splice {
        Splice { start: self.pos, end: self.pos, text: format!("{}{entry}{}", self.before, self.after) }
    }
}

fn slot(text: &str, map: &Node, unit: usize) -> Slot {
    let eol = eol_of(text);
    let entries: &[(Node, Node)] = match &map.kind {
        Kind::Mapping { entries, .. } => entries,
        _ => &[],
    };
    if matches!(map.kind, Kind::Mapping { flow: true, .. }) {
        // `{a: 1}` -> `{a: 1, key: value}`; `{}` -> `{key: value}`.
        return match entries.last() {
            Some((_, v)) => Slot { pos: v.content_end(), before: ", ".into(), indent: 0, after: "" },
            None => Slot { pos: map.end.saturating_sub(1), before: String::new(), indent: 0, after: "" },
        };
    }
    let indent = entries.first().map_or(unit, |(k, _)| k.col - 1);
    let pos = map.content_end();
    if pos > 0 && text[..pos].ends_with('\n') {
        // The last value was a block scalar that ends at a line start.
        Slot { pos, before: " ".repeat(indent), indent, after: eol }
    } else {
        Slot { pos: line_end(text, pos), before: format!("{eol}{}", " ".repeat(indent)), indent, after: "" }
    }
}

/// The edit to make, as one replacement of a byte range.
pub(crate) struct Splice {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Computes the splice that sets `section.key` to `value`.
pub(crate) fn set_scalar(
    text: &str,
    tree: &Tree,
    section: &str,
    key: &str,
    value: &NewValue,
) -> Result<Splice, OverridesError> {
    let path = format!("{section}.{key}");
    let eol = eol_of(text);
    let Some(root) = &tree.root else {
        // Empty document (comments only): append the section.
        let sep = if text.is_empty() || text.ends_with('\n') { "" } else { eol };
        let body = format!("{sep}{section}:{eol}  {key}: {}{eol}", value.render(None));
        return Ok(Splice { start: text.len(), end: text.len(), text: body });
    };
    let unit = indent_unit(root);
    let Kind::Mapping { flow, .. } = &root.kind else {
        let (line, column) = at(root);
        return Err(OverridesError::NotAMapping { path: "(root)".into(), needed: section.into(), line, column });
    };
    let Some((section_key, section_value)) = root.get(section) else {
        let slot = slot(text, root, unit);
        let rendered = value.render(None);
        let entry = if *flow {
            format!("{section}: {{{key}: {rendered}}}")
        } else {
            format!("{section}:{eol}{}{key}: {rendered}", " ".repeat(slot.indent + unit))
        };
        return Ok(slot.splice(&entry));
    };
    match &section_value.kind {
        Kind::Alias => {
            let (line, column) = at(section_value);
            Err(OverridesError::SharedValue { path: section.into(), how: "comes from an alias", line, column })
        }
        _ if section_value.is_null() => {
            // `cassandra:` with no value: give it a block mapping on the next line, keeping any
            // comment on the key's line where it is.
            let colon = text[section_key.end..].find(':').map_or(section_key.end, |i| section_key.end + i + 1);
            let value_end = if section_value.end > colon { section_value.end } else { colon };
            let end = line_end(text, colon).max(value_end);
            let kept = &text[value_end..end];
            let indent = " ".repeat(section_key.col - 1 + unit);
            Ok(Splice { start: colon, end, text: format!("{kept}{eol}{indent}{key}: {}", value.render(None)) })
        }
        Kind::Mapping { .. } => {
            if section_value.anchored {
                let (line, column) = at(section_value);
                return Err(OverridesError::SharedValue {
                    path: section.into(),
                    how: "is an anchor other keys may refer to",
                    line,
                    column,
                });
            }
            match section_value.get(key) {
                None => Ok(slot(text, section_value, unit).splice(&format!("{key}: {}", value.render(None)))),
                Some((k, v)) => replace_value(text, &path, k, v, value),
            }
        }
        _ => {
            let (line, column) = at(section_value);
            Err(OverridesError::NotAMapping { path: section.into(), needed: key.into(), line, column })
        }
    }
}

fn replace_value(text: &str, path: &str, k: &Node, v: &Node, value: &NewValue) -> Result<Splice, OverridesError> {
    let (line, column) = at(v);
    if v.anchored {
        return Err(OverridesError::SharedValue {
            path: path.into(),
            how: "is an anchor other keys may refer to",
            line,
            column,
        });
    }
    match &v.kind {
        Kind::Alias => Err(OverridesError::SharedValue { path: path.into(), how: "comes from an alias", line, column }),
        Kind::Scalar { style: ScalarStyle::Literal | ScalarStyle::Folded, .. } => {
            Err(OverridesError::UnsupportedValue { path: path.into(), found: "a block scalar (| or >)", line, column })
        }
        Kind::Scalar { style, .. } if v.end > v.start => {
            Ok(Splice { start: v.start, end: v.end, text: value.render(Some(*style)) })
        }
        Kind::Scalar { .. } => {
            // `key:` with nothing after it.
            let colon = text[k.end..].find(':').map_or(k.end, |i| k.end + i + 1);
            Ok(Splice { start: colon, end: colon, text: format!(" {}", value.render(None)) })
        }
        Kind::Mapping { .. } => {
            Err(OverridesError::UnsupportedValue { path: path.into(), found: "a mapping", line, column })
        }
        Kind::Sequence { .. } => {
            Err(OverridesError::UnsupportedValue { path: path.into(), found: "a list", line, column })
        }
    }
}

/// Computes the splice that removes `section.key`, or `None` when it is absent. With
/// `drop_empty_section` (the section was added by this document's own edit), a section left
/// empty goes too, so that a set followed by a remove gives back the original bytes.
pub(crate) fn remove_key(
    text: &str,
    tree: &Tree,
    section: &str,
    key: &str,
    drop_empty_section: bool,
) -> Result<Option<Splice>, OverridesError> {
    let Some(root) = &tree.root else { return Ok(None) };
    let Some((section_key, section_value)) = root.get(section) else { return Ok(None) };
    let Kind::Mapping { flow, entries } = &section_value.kind else { return Ok(None) };
    let Some(index) = entries.iter().rposition(|(k, _)| k.scalar() == Some(key)) else { return Ok(None) };
    let path = format!("{section}.{key}");
    let (k, v) = &entries[index];
    if matches!(v.kind, Kind::Alias) || v.anchored {
        let (line, column) = at(v);
        return Err(OverridesError::SharedValue { path, how: "is shared through an anchor or alias", line, column });
    }
    if *flow {
        let (start, end) = if entries.len() == 1 {
            (k.start, v.content_end())
        } else if index > 0 {
            (entries[index - 1].1.content_end(), v.content_end())
        } else {
            (k.start, entries[1].0.start)
        };
        return Ok(Some(Splice { start, end, text: String::new() }));
    }
    if entries.len() == 1 && drop_empty_section && !root_line_has_more(text, section_key, section_value) {
        return Ok(Some(remove_lines(text, section_key, section_value)));
    }
    if text[line_start(text, k.start)..k.start].chars().any(|c| c != ' ') {
        let (line, column) = at(k);
        return Err(OverridesError::UnsupportedValue {
            path,
            found: "a key that shares its line with other content",
            line,
            column,
        });
    }
    Ok(Some(remove_lines(text, k, v)))
}

/// Whether the section key's line, or the lines of the section, hold anything (a comment) that
/// removing the whole section would lose.
fn root_line_has_more(text: &str, section_key: &Node, section_value: &Node) -> bool {
    let start = line_start(text, section_key.start);
    let end = line_end(text, section_value.content_end());
    text[start..end].lines().any(|l| l.trim_start().starts_with('#') || l.contains(" #"))
}

/// Removes the lines from the one holding `first` to the one holding the end of `last`.
fn remove_lines(text: &str, first: &Node, last: &Node) -> Splice {
    let start = line_start(text, first.start);
    let content_end = last.content_end();
    if content_end > 0 && text[..content_end].ends_with('\n') {
        return Splice { start, end: content_end, text: String::new() };
    }
    let end = line_end(text, content_end);
    if start == 0 {
        // First line of the file: take its line ending with it.
        let after = if text[end..].starts_with("\r\n") {
            end + 2
        } else if text[end..].starts_with('\n') {
            end + 1
        } else {
            end
        };
        return Splice { start: 0, end: after, text: String::new() };
    }
    let before = if text[..start].ends_with("\r\n") { start - 2 } else { start - 1 };
    Splice { start: before, end, text: String::new() }
}

/// Whether two nodes are the same YAML, positions aside (kinds, scalar values and styles,
/// anchors, and the order of entries and items).
fn same(a: &Node, b: &Node) -> bool {
    if a.anchored != b.anchored {
        return false;
    }
    match (&a.kind, &b.kind) {
        (Kind::Scalar { value: va, style: sa }, Kind::Scalar { value: vb, style: sb }) => va == vb && sa == sb,
        (Kind::Alias, Kind::Alias) => true,
        (Kind::Sequence { items: ia }, Kind::Sequence { items: ib }) => {
            ia.len() == ib.len() && ia.iter().zip(ib).all(|(x, y)| same(x, y))
        }
        (Kind::Mapping { flow: fa, entries: ea }, Kind::Mapping { flow: fb, entries: eb }) => {
            fa == fb && same_entries(ea, eb)
        }
        _ => false,
    }
}

fn same_entries(a: &[(Node, Node)], b: &[(Node, Node)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
}

/// The entries of `section` (none when it is absent, null, or not a mapping).
/// Key/value pairs of a mapping.
type Entries<'t> = Vec<&'t (Node, Node)>;

fn section_entries<'t>(root: Option<&'t Node>, section: &str) -> (Entries<'t>, Entries<'t>) {
    let Some(Kind::Mapping { entries, .. }) = root.map(|r| &r.kind) else { return (Vec::new(), Vec::new()) };
    let others: Vec<&(Node, Node)> = entries.iter().filter(|(k, _)| k.scalar() != Some(section)).collect();
    let inside: Vec<&(Node, Node)> = match entries.iter().rev().find(|(k, _)| k.scalar() == Some(section)) {
        Some((_, v)) => match &v.kind {
            Kind::Mapping { entries, .. } => entries.iter().collect(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    (others, inside)
}

/// Proves an edit: `after` must be `before` with exactly `section.key` set to `value` (or
/// removed when `None`), everything else the same YAML. Returns what differs otherwise.
pub(crate) fn verify_edit(
    before: &Tree,
    after: &Tree,
    section: &str,
    key: &str,
    value: Option<&NewValue>,
) -> Result<(), String> {
    let (others_b, inside_b) = section_entries(before.root.as_ref(), section);
    let (others_a, inside_a) = section_entries(after.root.as_ref(), section);
    if others_b.len() != others_a.len()
        || !others_b.iter().zip(&others_a).all(|((kb, vb), (ka, va))| same(kb, ka) && same(vb, va))
    {
        return Err(format!("keys outside `{section}` changed"));
    }
    let expected_rest: Vec<&(Node, Node)> = inside_b.iter().copied().filter(|(k, _)| k.scalar() != Some(key)).collect();
    let actual_rest: Vec<&(Node, Node)> = inside_a.iter().copied().filter(|(k, _)| k.scalar() != Some(key)).collect();
    if expected_rest.len() != actual_rest.len()
        || !expected_rest.iter().zip(&actual_rest).all(|((kb, vb), (ka, va))| same(kb, ka) && same(vb, va))
    {
        return Err(format!("other keys of `{section}` changed"));
    }
    let edited: Vec<&Node> = inside_a.iter().filter(|(k, _)| k.scalar() == Some(key)).map(|(_, v)| v).collect();
    match (value, edited.as_slice()) {
        (None, []) => Ok(()),
        (None, _) => Err(format!("`{key}` is still there")),
        (Some(v), [node]) => {
            let ok = match (v, &node.kind) {
                (NewValue::Bool(b), Kind::Scalar { value, style: ScalarStyle::Plain }) => value == &b.to_string(),
                (NewValue::Str(s), Kind::Scalar { value, style }) => {
                    value == s && (*style != ScalarStyle::Plain || is_safe_plain(s))
                }
                _ => false,
            };
            if ok { Ok(()) } else { Err(format!("`{key}` does not read back as the value written")) }
        }
        (Some(_), _) => Err(format!("`{key}` appears {} times", edited.len())),
    }
}
