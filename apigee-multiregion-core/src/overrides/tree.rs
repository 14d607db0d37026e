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
    /// The entry whose key is the plain string `key`.
    pub fn get(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.kind {
            Kind::Mapping { entries, .. } => entries.iter().find(|(k, _)| k.scalar() == Some(key)),
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

/// Parses `text` into a span tree, refusing what an overrides file must not contain.
pub(crate) fn parse(text: &str) -> Result<Tree, OverridesError> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;

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
            match stack.last_mut() {
                None => root = Some(n),
                Some(Frame::Sequence { items, .. }) => items.push(n),
                Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                    None => *key = Some(n),
                    Some(k) => {
                        if let Some(name) = k.scalar()
                            && name != "<<"
                            && let Some((first, _)) = entries.iter().find(|(e, _)| e.scalar() == Some(name))
                        {
                            return Err(OverridesError::DuplicateKey {
                                key: name.to_owned(),
                                line: k.line,
                                column: k.col,
                                first_line: first.line,
                            });
                        }
                        entries.push((k, n));
                    }
                },
            }
        }
    }
    if let Some(root) = &root {
        check_tabs(text, root)?;
    }
    Ok(Tree { root })
}

/// Where a scalar's own text ends. The parser's span of a scalar (and of a flow collection's
/// closing bracket) can run on over the spaces and the comment that follow it on its line
/// (`"10.0.0.10"   # seed in west`); an edit must replace the value, never the comment.
fn scalar_end(text: &str, start: usize, end: usize, style: ScalarStyle) -> usize {
    let quote = match style {
        ScalarStyle::DoubleQuoted => Some('"'),
        ScalarStyle::SingleQuoted => Some('\''),
        _ => None,
    };
    let raw = &text[start..end.max(start)];
    match quote {
        Some(q) if raw.starts_with(q) => {
            let mut chars = raw.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                if q == '"' && c == '\\' {
                    chars.next();
                } else if c == q {
                    if q == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                        chars.next();
                    } else {
                        return start + i + 1;
                    }
                }
            }
            end
        }
        Some(_) => end,
        None if matches!(style, ScalarStyle::Plain) => {
            // In a plain scalar, `#` after a space starts a comment, never content.
            let cut = raw.find([' ', '\t']).map_or(raw.len(), |_| {
                raw.match_indices('#')
                    .find(|(i, _)| *i > 0 && raw[..*i].ends_with([' ', '\t']))
                    .map_or(raw.len(), |(i, _)| i)
            });
            start + raw[..cut].trim_end_matches([' ', '\t', '\r', '\n']).len()
        }
        None => end,
    }
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
