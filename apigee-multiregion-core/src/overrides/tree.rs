//! A span tree of one YAML document: every node with the byte range it occupies in the text.
//!
//! Built from `saphyr-parser` events. The editor uses it to find exactly which bytes to replace
//! or where to insert, so that nothing else in the file changes. It is rebuilt after each edit.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::OverridesError;

/// One node and where it is.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Byte offset of the node's first character (for a block mapping: its first key).
    pub start: usize,
    /// Byte offset just past the node's last character (for block collections: where the next
    /// token starts, which may be lines later).
    pub end: usize,
    /// 1-based line and 1-based column of `start`.
    pub line: usize,
    pub col: usize,
    /// The node carries an anchor (`&name`).
    pub anchored: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar { value: String, style: ScalarStyle },
    Mapping { flow: bool, entries: Vec<(Node, Node)> },
    Sequence { items: Vec<Node> },
    Alias,
}

impl Node {
    /// The entry whose key is the plain string `key`; of a key written twice, the last one, as
    /// Helm and apigeectl read it.
    pub fn get(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.kind {
            Kind::Mapping { entries, .. } => entries.iter().rev().find(|(k, _)| k.scalar() == Some(key)),
            _ => None,
        }
    }

    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether the node is a scalar that YAML reads as null (`~`, `null`, or nothing at all).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The byte offset just past the last character of this node's content. For block
    /// collections that is the end of their last descendant, not where the next token starts.
    pub fn content_end(&self) -> usize {
        match &self.kind {
            Kind::Mapping { flow: false, entries } => entries.last().map_or(self.start, |(_, v)| v.content_end()),
            Kind::Sequence { items } if !items.is_empty() && self.end > self.start => {
                items.last().map_or(self.end, Node::content_end)
            }
            _ => self.end,
        }
    }
}

/// The parsed document.
pub(crate) struct Tree {
    /// The root node; `None` for an empty document (only comments or nothing).
    pub root: Option<Node>,
    /// Keys written twice in one mapping, in document order. Both entries stay in the tree.
    pub duplicates: Vec<Duplicate>,
}

/// A key written a second time in the same mapping (YAML forbids it; Helm and apigeectl keep the
/// last one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The keys from the root to the duplicated key, list items as `[i]`.
    pub path: Vec<String>,
    /// 1-based line and column of the later occurrence.
    pub line: usize,
    pub column: usize,
    /// 1-based line of the earlier occurrence.
    pub first_line: usize,
    /// Why the earlier entry cannot simply be blanked out for the typed readers, if it cannot:
    /// the mapping holding it is inside an anchored node (a merge key or an alias may carry it to
    /// any path), the earlier entry defines an anchor (Helm resolves a later alias to the last
    /// definition), it sits under a merge key, its key is explicit (`? key`), or it directly
    /// follows a block scalar (blank lines would join that scalar).
    pub unsafe_to_blank: Option<&'static str>,
    /// Bytes of the earlier entry: from its key to where the next entry's key starts.
    pub earlier: (usize, usize),
}

impl Duplicate {
    /// The path as written in messages: `envs[0].name`.
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            if !out.is_empty() && !seg.starts_with('[') {
                out.push('.');
            }
            out.push_str(seg);
        }
        out
    }

    /// The refusal for this duplicate.
    pub fn error(&self) -> OverridesError {
        OverridesError::DuplicateKey {
            key: self.dotted(),
            line: self.line,
            column: self.column,
            first_line: self.first_line,
        }
    }
}

impl Tree {
    /// The text with the earlier entry of every duplicated key blanked out (its characters
    /// turned to spaces, line breaks kept, so every line and column stays where it was): what
    /// Helm and apigeectl read, for readers that refuse duplicates. `None` when there are none.
    pub fn last_wins_text(&self, text: &str) -> Option<zeroize::Zeroizing<String>> {
        if self.duplicates.is_empty() {
            return None;
        }
        let mut bytes = zeroize::Zeroizing::new(text.as_bytes().to_vec());
        for d in &self.duplicates {
            for b in &mut bytes[d.earlier.0..d.earlier.1] {
                if !matches!(*b, b'\n' | b'\r') {
                    *b = b' ';
                }
            }
        }
        // Only whole characters were replaced (every byte of a multi-byte character became a
        // space), so the result is valid UTF-8.
        let text = String::from_utf8(std::mem::take(&mut *bytes)).ok()?;
        Some(zeroize::Zeroizing::new(text))
    }
}

/// Char index -> byte offset table, because saphyr's markers count characters.
struct Offsets(Vec<usize>);

impl Offsets {
    fn new(text: &str) -> Self {
        let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        v.push(text.len());
        Self(v)
    }
    fn byte(&self, char_index: usize) -> usize {
        self.0.get(char_index).copied().unwrap_or_else(|| self.0.last().copied().unwrap_or(0))
    }
}

enum Frame {
    Mapping { start: Span, anchored: bool, entries: Vec<(Node, Node)>, key: Option<Node> },
    Sequence { start: Span, anchored: bool, items: Vec<Node> },
}

/// Parses `text` into a span tree, refusing what an overrides file must not contain. Keys written
/// twice are kept (both entries) and listed in [`Tree::duplicates`]: whether they are acceptable
/// depends on the path, which is the caller's judgement.
pub(crate) fn parse(text: &str) -> Result<Tree, OverridesError> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut duplicates: Vec<Duplicate> = Vec::new();
    let mut block_ends: Vec<usize> = Vec::new();

    let node = |kind: Kind, start: &Span, end: &Span, anchored: bool| Node {
        kind,
        start: offsets.byte(start.start.index()),
        end: offsets.byte(end.end.index()),
        line: start.start.line(),
        col: start.start.col() + 1,
        anchored,
    };

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| OverridesError::Syntax {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let finished: Option<Node> = match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(OverridesError::MultipleDocuments { line: span.start.line() });
                }
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Mapping { start: span, anchored: anchor != 0, entries: Vec::new(), key: None });
                None
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Sequence { start: span, anchored: anchor != 0, items: Vec::new() });
                None
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Mapping { start, anchored, entries, .. }) => {
                    let close = offsets.byte(span.start.index());
                    let flow = text[close..].starts_with('}');
                    let mut n = node(Kind::Mapping { flow, entries }, &start, &span, anchored);
                    if flow {
                        n.end = close + 1;
                    }
                    Some(n)
                }
                _ => None,
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Sequence { start, anchored, items }) => {
                    let close = offsets.byte(span.start.index());
                    let mut n = node(Kind::Sequence { items }, &start, &span, anchored);
                    if text[close..].starts_with(']') {
                        n.end = close + 1;
                    }
                    Some(n)
                }
                _ => None,
            },
            Event::Scalar(value, style, anchor, _) => {
                let mut n = node(Kind::Scalar { value: value.into_owned(), style }, &span, &span, anchor != 0);
                n.end = scalar_end(text, n.start, n.end, style);
                Some(n)
            }
            Event::Alias(_) => Some(node(Kind::Alias, &span, &span, false)),
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => None,
        };
        if let Some(n) = finished {
            // A value completes an entry: is its key already in this mapping?
            if let Some(Frame::Mapping { entries, key: Some(k), .. }) = stack.last()
                && let Some(name) = k.scalar()
                && name != "<<"
                && let Some(i) = entries.iter().rposition(|(e, _)| e.scalar() == Some(name))
            {
                let (path, in_anchor) = where_in(&stack);
                let (ek, ev) = &entries[i];
                let next = entries.get(i + 1).map_or(k.start, |(e, _)| e.start);
                // An explicit next key (`? key`): its `?` stays.
                let before_next = text[..next].trim_end_matches([' ', '\t']);
                let end = if before_next.ends_with('?') { before_next.len() - 1 } else { next };
                let explicit = text[line_start(text, ek.start)..ek.start].trim_end().ends_with('?');
                let unsafe_to_blank = if in_anchor {
                    Some("inside an anchored node")
                } else if path.iter().any(|p| p == "<<") {
                    Some("under a merge key")
                } else if ek.anchored || has_anchor(ev) {
                    Some("the earlier one defines an anchor")
                } else if explicit {
                    Some("an explicit key")
                } else if block_ends.iter().any(|&e| e <= ek.start && text[e..ek.start].trim().is_empty()) {
                    Some("right after a block scalar")
                } else {
                    None
                };
                duplicates.push(Duplicate {
                    path: path.into_iter().chain([name.to_owned()]).collect(),
                    line: k.line,
                    column: k.col,
                    first_line: ek.line,
                    unsafe_to_blank,
                    earlier: (ek.start, end.max(ek.start)),
                });
            }
            if let Kind::Scalar { style: ScalarStyle::Literal | ScalarStyle::Folded, .. } = &n.kind {
                block_ends.push(n.end);
            }
            match stack.last_mut() {
                None => root = Some(n),
                Some(Frame::Sequence { items, .. }) => items.push(n),
                Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                    None => *key = Some(n),
                    Some(k) => entries.push((k, n)),
                },
            }
        }
    }
    if let Some(root) = &root {
        check_tabs(text, root)?;
    }
    Ok(Tree { root, duplicates })
}

/// Whether a node or anything in it carries an anchor (`&name`).
fn has_anchor(n: &Node) -> bool {
    n.anchored
        || match &n.kind {
            Kind::Mapping { entries, .. } => entries.iter().any(|(k, v)| has_anchor(k) || has_anchor(v)),
            Kind::Sequence { items } => items.iter().any(has_anchor),
            _ => false,
        }
}

fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// The path of the collection being built at the top of `stack` (keys, list items as `[i]`),
/// and whether it lies inside an anchored node.
fn where_in(stack: &[Frame]) -> (Vec<String>, bool) {
    let mut path = Vec::new();
    let mut anchored = false;
    for (depth, frame) in stack.iter().enumerate() {
        let last = depth + 1 == stack.len();
        match frame {
            Frame::Mapping { anchored: a, key, .. } => {
                anchored |= *a;
                if !last {
                    path.push(key.as_ref().and_then(Node::scalar).unwrap_or("?").to_owned());
                }
            }
            Frame::Sequence { anchored: a, items, .. } => {
                anchored |= *a;
                if !last {
                    path.push(format!("[{}]", items.len()));
                }
            }
        }
    }
    (path, anchored)
}

/// Where a scalar's own text ends. The parser's span of a quoted scalar (and of a flow
/// collection's closing bracket) can run on over the spaces and the comment that follow it on
/// its line (`"10.0.0.10"   # seed in west`); an edit must replace the value, never the comment.
/// Plain scalars end where their text ends already.
fn scalar_end(text: &str, start: usize, end: usize, style: ScalarStyle) -> usize {
    let quote = match style {
        ScalarStyle::DoubleQuoted => '"',
        ScalarStyle::SingleQuoted => '\'',
        _ => return end,
    };
    let raw = &text[start..end.max(start)];
    // The value may come after its properties: `!!str "x"`, `&a 'x'`.
    let mut off = 0;
    while raw[off..].starts_with(['&', '!']) {
        let Some(ws) = raw[off..].find(char::is_whitespace) else { return end };
        off += ws;
        off += raw[off..].len() - raw[off..].trim_start().len();
    }
    if !raw[off..].starts_with(quote) {
        return end;
    }
    let mut chars = raw[off..].char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
            } else {
                return start + off + i + 1;
            }
        }
    }
    end
}

/// Tabs are not allowed in YAML indentation; most parsers say something obscure about them, so
/// name the line. Lines inside block scalars may start with tabs as content.
fn check_tabs(text: &str, root: &Node) -> Result<(), OverridesError> {
    let mut block_ranges = Vec::new();
    collect_block_scalars(root, &mut block_ranges);
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let indent: &str = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
        if let Some(col) = indent.find('\t') {
            let rest = line.trim_start_matches([' ', '\t']);
            let is_blank_or_comment = rest.trim().is_empty() || rest.starts_with('#');
            let inside_block = block_ranges.iter().any(|(s, e)| offset >= *s && offset < *e);
            if !is_blank_or_comment && !inside_block {
                return Err(OverridesError::TabIndentation { line: i + 1, column: col + 1 });
            }
        }
        offset += line.len();
    }
    Ok(())
}

fn collect_block_scalars(node: &Node, out: &mut Vec<(usize, usize)>) {
    match &node.kind {
        Kind::Scalar { style: ScalarStyle::Literal | ScalarStyle::Folded, .. } => out.push((node.start, node.end)),
        Kind::Mapping { entries, .. } => entries.iter().for_each(|(k, v)| {
            collect_block_scalars(k, out);
            collect_block_scalars(v, out);
        }),
        Kind::Sequence { items } => items.iter().for_each(|n| collect_block_scalars(n, out)),
        _ => {}
    }
}
