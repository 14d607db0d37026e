//! The cross-region pair check: what must agree, and what must differ, between the source
//! region's overrides and the new region's, before anything is installed.

use std::fmt;

use serde::Serialize;

use super::{OverridesDoc, OverridesError, OverridesView};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the expansion can go on.
    Warning,
    /// The expansion must not go on until this is fixed.
    Error,
}

/// Which file a finding points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The existing region's overrides.
    Source,
    /// The new region's overrides.
    Target,
}

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Stable kebab-case code, e.g. `same-datacenter`.
    pub code: &'static str,
    /// What is wrong and what to do; never a secret value.
    pub message: String,
    /// The YAML path concerned, e.g. `cassandra.datacenter`.
    pub path: String,
    /// The file concerned.
    pub side: Side,
    /// 1-based line in that file, when the key is present.
    pub line: Option<usize>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let side = match self.side {
            Side::Source => "source",
            Side::Target => "target",
        };
        match self.line {
            Some(l) => write!(f, "{sev}[{}] {side} {} (line {l}): {}", self.code, self.path, self.message),
            None => write!(f, "{sev}[{}] {side} {}: {}", self.code, self.path, self.message),
        }
    }
}

/// What the pair check assumes about the network.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Island network mode (AKS, EKS, OpenShift, on-prem): pods of different clusters cannot
    /// reach each other, so `cassandra.hostNetwork: true` is required on both sides.
    pub island_network: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self { island_network: true }
    }
}

/// [`check_pair_with`] with the default options (island network, as on AKS).
pub fn check_pair(source: &OverridesDoc, target: &OverridesDoc) -> Result<Vec<Finding>, OverridesError> {
    check_pair_with(source, target, &CheckOptions::default())
}

/// Compares the source and target overrides. Errors first, then warnings, each group in a
/// stable order.
pub fn check_pair_with(
    source: &OverridesDoc,
    target: &OverridesDoc,
    options: &CheckOptions,
) -> Result<Vec<Finding>, OverridesError> {
    let (s, t) = (source.view()?, target.view()?);
    let mut out = Findings { source, target, list: Vec::new() };
    let (sc, tc) = (&s.cassandra, &t.cassandra);

    if tc.datacenter.is_none() {
        out.push(Severity::Error, "missing-datacenter", Side::Target, &["cassandra", "datacenter"],
            format!("the new region sets no cassandra.datacenter, so it would join as `dc-1`; set a new name such as `dc-2` (the source is `{}`)", sc.effective_datacenter()));
    } else if sc.effective_datacenter() == tc.effective_datacenter() {
        out.push(
            Severity::Error,
            "same-datacenter",
            Side::Target,
            &["cassandra", "datacenter"],
            format!(
                "both regions use datacenter `{}`; the new region needs a name no existing datacenter has",
                tc.effective_datacenter()
            ),
        );
    }
    if sc.effective_cluster_name() != tc.effective_cluster_name() {
        out.push(Severity::Error, "cluster-name-mismatch", Side::Target, &["cassandra", "clusterName"],
            format!("cluster name `{}` differs from the source's `{}`: nodes of different clusters never join; use the same clusterName", tc.effective_cluster_name(), sc.effective_cluster_name()));
    }
    if options.island_network {
        for (side, view) in [(Side::Source, &s), (Side::Target, &t)] {
            if view.cassandra.host_network != Some(true) {
                out.push(Severity::Error, "host-network-disabled", side, &["cassandra", "hostNetwork"],
                    "cassandra.hostNetwork is not true: in island network mode the regions reach each other's Cassandra only on node IPs; set it to true (on the existing region first)".into());
            }
        }
    }
    if let Some(seed) = &sc.multi_region_seed_host {
        out.push(Severity::Error, "seed-host-present", Side::Source, &["cassandra", "multiRegionSeedHost"],
            format!("the source region still carries multiRegionSeedHost `{seed}` from an earlier expansion; remove it and re-apply the source datastore first"));
    }
    if let (Some(so), Some(to)) = (&s.org, &t.org)
        && so != to
    {
        out.push(
            Severity::Error,
            "org-mismatch",
            Side::Target,
            &["org"],
            format!("org `{to}` differs from the source's `{so}`; both regions serve one organization"),
        );
    }
    check_credentials(&s, &t, &mut out);
    check_tls(&s, &t, &mut out);
    if let (Some(si), Some(ti)) = (&s.instance_id, &t.instance_id)
        && si == ti
    {
        out.push(
            Severity::Warning,
            "instance-id-reused",
            Side::Target,
            &["instanceID"],
            format!("instanceID `{ti}` is the same as the source's; each region's cluster should have its own"),
        );
    }
    for (side, doc) in [(Side::Source, source), (Side::Target, target)] {
        for d in doc.ignored_duplicates() {
            out.list.push(Finding {
                severity: Severity::Warning,
                code: "duplicate-key",
                message: format!(
                    "`{}` is written twice (lines {} and {}); Helm and apigeectl use the last one (line {}), and this tool does not read it: remove the one you do not mean",
                    d.path, d.first_line, d.line, d.line
                ),
                path: d.path,
                side,
                line: Some(d.line),
            });
        }
    }
    let mut list = out.list;
    list.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(list)
}

struct Findings<'a> {
    source: &'a OverridesDoc,
    target: &'a OverridesDoc,
    list: Vec<Finding>,
}

impl Findings<'_> {
    fn push(&mut self, severity: Severity, code: &'static str, side: Side, path: &[&str], message: String) {
        let doc = match side {
            Side::Source => self.source,
            Side::Target => self.target,
        };
        // Point at the key only when the whole path exists.
        let present = path_present(doc, path);
        let line = if present { doc.location(path).map(|(l, _)| l) } else { None };
        self.list.push(Finding { severity, code, message, path: path.join("."), side, line });
    }
}

impl Findings<'_> {
    /// The line of `path` in one side's file, when the whole path is there.
    fn line(&self, side: Side, path: &[&str]) -> Option<usize> {
        let doc = match side {
            Side::Source => self.source,
            Side::Target => self.target,
        };
        if path_present(doc, path) { doc.location(path).map(|(l, _)| l) } else { None }
    }

    /// A value that must be the same in both files: "missing in the target" (or the source) when
    /// only one side sets it, "differs" when both do; each side's line where known. A secret's
    /// values are never shown.
    fn must_match(&mut self, path: &[&str], what: &str, secret: bool, present: (bool, bool)) {
        let at = |l: Option<usize>| l.map(|l| format!(" (line {l})")).unwrap_or_default();
        let (sl, tl) = (self.line(Side::Source, path), self.line(Side::Target, path));
        let message = match present {
            (true, false) => {
                format!("{what} is set in the source{} but missing in the target; copy it from the source", at(sl))
            }
            (false, true) => format!(
                "{what} is set in the target{} but missing in the source; both regions need the same: remove it from the target, or set it in the source too",
                at(tl)
            ),
            _ => {
                let mut notes: Vec<String> = Vec::new();
                if let (Some(s), Some(t)) = (sl, tl) {
                    notes.push(format!("source line {s}, target line {t}"));
                }
                if secret {
                    notes.push("values not shown".into());
                }
                let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
                format!("{what} differs between the regions{notes}; use the source's")
            }
        };
        self.push(Severity::Error, "credentials-mismatch", Side::Target, path, message);
    }
}

fn path_present(doc: &OverridesDoc, path: &[&str]) -> bool {
    let mut v: yaml_serde::Value = match yaml_serde::from_str(doc.typed_text()) {
        Ok(v) => v,
        Err(_) => return false,
    };
    for key in path {
        match v.get(key) {
            Some(next) => v = next.clone(),
            None => return false,
        }
    }
    true
}

/// Every Cassandra user's password, the JMX user name, and the credentials secret must match:
/// the new datacenter joins the same `system_auth`. Values are compared, never printed.
fn check_credentials(s: &OverridesView, t: &OverridesView, out: &mut Findings<'_>) {
    let (sa, ta) = (&s.cassandra.auth, &t.cassandra.auth);
    if sa.secret != ta.secret {
        out.must_match(
            &["cassandra", "auth", "secret"],
            "cassandra.auth.secret",
            false,
            (sa.secret.is_some(), ta.secret.is_some()),
        );
    }
    let users: std::collections::BTreeSet<&String> = sa.users.keys().chain(ta.users.keys()).collect();
    for user in users {
        let (su, tu) = (sa.users.get(user), ta.users.get(user));
        let (s_name, t_name) = (su.and_then(|c| c.username.as_ref()), tu.and_then(|c| c.username.as_ref()));
        let (s_pw, t_pw) = (su.and_then(|c| c.password.as_ref()), tu.and_then(|c| c.password.as_ref()));
        if s_name != t_name && (user == "jmx" || user == "jolokia") {
            out.must_match(
                &["cassandra", "auth", user, "username"],
                &format!("the {user} user name"),
                false,
                (s_name.is_some(), t_name.is_some()),
            );
        }
        if s_pw != t_pw {
            out.must_match(
                &["cassandra", "auth", user, "password"],
                &format!("the {user} password"),
                true,
                (s_pw.is_some(), t_pw.is_some()),
            );
        }
    }
}

/// Virtual hosts present in both files must use the same certificate and key.
fn check_tls(s: &OverridesView, t: &OverridesView, out: &mut Findings<'_>) {
    for th in &t.virtualhosts {
        let Some(sh) = s.virtualhosts.iter().find(|h| h.name == th.name) else { continue };
        let name = th.name.as_deref().unwrap_or("(unnamed)");
        let differs = sh.ssl_cert_path != th.ssl_cert_path
            || sh.ssl_key_path != th.ssl_key_path
            || sh.ssl_secret != th.ssl_secret;
        if differs {
            out.push(Severity::Warning, "tls-mismatch", Side::Target, &["virtualhosts"],
                format!("virtual host `{name}` uses a different certificate, key or secret than in the source region; every region must serve the same certificates (ignore this if the files are identical copies)"));
        }
    }
}
