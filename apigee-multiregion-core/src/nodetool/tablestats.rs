//! `nodetool tablestats` (alias `cfstats`): the keyspaces and tables a node holds. The replication
//! check takes its keyspace list from here on Cassandra 3.11, where `describecluster` has no
//! keyspace section; each keyspace's ring then comes from `describering`.
//!
//! Layouts (`TableStatsPrinter`'s default printer, 3.10 to 5.0; `TableStats` before):
//!
//! ```text
//! Total number of tables: 37
//! ----------------
//! Keyspace : perses                  (3.10+; `Keyspace: perses` in 2.x and 3.0)
//!     Read Count: 0
//!     ...
//!         Table: metrics                 (`Table (index): ...` for a secondary index)
//!         SSTable count: 1
//!         ...
//! ----------------
//! ```
//!
//! A keyspace without tables has no column family store, so tablestats does not list it; such a
//! keyspace holds no data to replicate. The sorted layout (`-s`) prints `Table: ks.table` lines
//! without `Keyspace` lines: the keyspace is then taken from the table name.

use serde::Serialize;

use super::{ParseError, first_line_hint};

const WHAT: &str = "nodetool tablestats";

/// Parsed `nodetool tablestats`: keyspaces and their tables, in printed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TableStats {
    /// `Total number of tables:`, when printed.
    pub total_tables: Option<u32>,
    /// Keyspaces in printed order.
    pub keyspaces: Vec<TableStatsKeyspace>,
}

/// One `Keyspace : <name>` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableStatsKeyspace {
    /// The keyspace name.
    pub name: String,
    /// Its tables (and secondary indexes), in printed order.
    pub tables: Vec<String>,
}

impl TableStats {
    /// The keyspace names, in printed order.
    pub fn keyspace_names(&self) -> Vec<&str> {
        self.keyspaces.iter().map(|k| k.name.as_str()).collect()
    }
}

/// The name after `Keyspace : ` / `Keyspace: `, if the line is a keyspace header.
fn keyspace_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("Keyspace")?;
    let rest = rest.trim_start().strip_prefix(':')?;
    Some(rest.trim())
}

/// The name after `Table: ` / `Table (index): `, if the line is a table header.
fn table_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("Table")?;
    let rest = rest.strip_prefix(" (index)").unwrap_or(rest);
    let rest = rest.trim_start().strip_prefix(':')?;
    Some(rest.trim())
}

/// Parses `nodetool tablestats` output (default text format).
///
/// Lines before `Total number of tables:` or the first `Keyspace :` line are skipped; after it,
/// every non-blank line must be a `----` separator, a `name: value` statistic, or a line of dots
/// (an elision in a pasted capture).
pub fn parse_tablestats(text: &str) -> Result<TableStats, ParseError> {
    let mut out = TableStats::default();
    let mut started = false;
    let mut sorted = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if let Some(v) = line.strip_prefix("Total number of tables:") {
            let count = v.split_whitespace().next().unwrap_or("");
            out.total_tables = Some(
                count
                    .parse()
                    .map_err(|_| ParseError::new(WHAT, n, format!("table count `{count}` is not a number")))?,
            );
            started = true;
            continue;
        }
        if let Some(name) = keyspace_header(line)
            && !sorted
        {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ParseError::new(WHAT, n, format!("`{line}` does not name one keyspace")));
            }
            out.keyspaces.push(TableStatsKeyspace { name: name.to_owned(), tables: Vec::new() });
            started = true;
            continue;
        }
        // `----` separators; a line of dots is how people elide a pasted capture.
        if !started || line.is_empty() || line.chars().all(|c| c == '-') || line.chars().all(|c| c == '.') {
            continue;
        }
        if let Some(table) = table_header(line) {
            if out.keyspaces.is_empty() {
                sorted = true;
            }
            if !sorted && let Some(ks) = out.keyspaces.last_mut() {
                ks.tables.push(table.to_owned());
                continue;
            }
            // Sorted layout: `Table: ks.table`, no keyspace lines.
            let Some((ks, t)) = table.split_once('.') else {
                return Err(ParseError::new(WHAT, n, format!("a table `{table}` before any `Keyspace :` line")));
            };
            match out.keyspaces.iter_mut().find(|k| k.name == ks) {
                Some(k) => k.tables.push(t.to_owned()),
                None => out.keyspaces.push(TableStatsKeyspace { name: ks.to_owned(), tables: vec![t.to_owned()] }),
            }
            continue;
        }
        if !line.contains(':') {
            return Err(ParseError::new(
                WHAT,
                n,
                format!("expected a `name: value` statistic, found `{}`", line.chars().take(160).collect::<String>()),
            ));
        }
    }
    if !started {
        return Err(ParseError::new(
            WHAT,
            1,
            format!("no `Total number of tables:` or `Keyspace :` line found; {}", first_line_hint(text)),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_KEYSPACES: &str = "\
Total number of tables: 3
----------------
Keyspace : kvm_org_hybrid
\tRead Count: 0
\tRead Latency: NaN ms
\tWrite Count: 0
\tWrite Latency: NaN ms
\tPending Flushes: 0
\t\tTable: kvm_map_entry
\t\tSSTable count: 1
\t\tSSTables in each level: [1, 0, 0, 0, 0, 0, 0, 0, 0]
\t\tSpace used (live): 5123
\t\tDropped Mutations: 0

\t\tTable (index): kvm_map_entry.by_name
\t\tSSTable count: 0

----------------
Keyspace: perses
\tRead Count: 2
\t\tTable: metrics
\t\tSSTable count: 0

----------------
";

    #[test]
    fn lists_every_keyspace_with_its_tables() {
        let t = parse_tablestats(TWO_KEYSPACES).unwrap();
        assert_eq!(t.total_tables, Some(3));
        assert_eq!(t.keyspace_names(), ["kvm_org_hybrid", "perses"]);
        assert_eq!(t.keyspaces[0].tables, ["kvm_map_entry", "kvm_map_entry.by_name"]);
        assert_eq!(t.keyspaces[1].tables, ["metrics"]);
    }

    #[test]
    fn the_sorted_layout_names_keyspaces_through_tables() {
        let t = parse_tablestats("Total number of tables: 2 (showing top 2 by reads)\n----------------\n\tTable: perses.metrics\n\tSSTable count: 0\n\tTable: system_auth.roles\n----------------\n").unwrap();
        assert_eq!(t.keyspace_names(), ["perses", "system_auth"]);
    }

    #[test]
    fn a_connection_error_is_not_tablestats() {
        let err = parse_tablestats(
            "nodetool: Failed to connect to '127.0.0.1:7199' - ConnectException: 'Connection refused'.\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("Failed to connect"), "{err}");
    }

    #[test]
    fn garbage_inside_names_its_line() {
        let err = parse_tablestats(
            "Total number of tables: 1\n----------------\nKeyspace : a\n\tRead Count: 0\nsomething odd\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 5);
        let err = parse_tablestats("Total number of tables: many\n").unwrap_err();
        assert_eq!(err.line, 1);
    }
}
