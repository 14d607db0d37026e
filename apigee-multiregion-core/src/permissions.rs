//! The Kubernetes permissions an expansion needs in each cluster, and the judgement of the API
//! servers' answers (`SelfSubjectAccessReview`) as preflight findings.
//!
//! [`needed`] lists exactly the calls the engine and the kube adapter make (the same list as the
//! manifests in `docs/rbac/`); preflight asks each cluster about each one before anything changes,
//! so a missing permission is one finding naming the context, verb, resource and namespace instead
//! of a 403 halfway through an expansion.

use crate::overrides::{Finding, Severity, Side};
use crate::ports::AccessCheck;

/// What the permissions depend on: the plan's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Apigee's namespace in the source cluster.
    pub source_namespace: String,
    /// Apigee's namespace in the target cluster (copied from the source under the same name).
    pub target_namespace: String,
    /// The CA secret's namespace (both clusters).
    pub ca_namespace: String,
    /// The CA secret's name.
    pub ca_secret: String,
    /// The Lease's namespace (target cluster).
    pub lease_namespace: String,
    /// The Lease's name.
    pub lease_name: String,
    /// `replication: cr`: the CassandraDataReplication's name.
    pub replication_cr: Option<String>,
    /// `replication: cr` without `cr.organization`: the source's ApigeeOrganizations are listed.
    pub organization_lookup: bool,
    /// A Helm install: where each cluster runs the Apigee operator is read (Deployment
    /// `apigee-controller-manager`, in `apigee-system` or the Apigee namespace).
    pub helm: bool,
    /// The ApigeeDatastore finalize (and `replication: cr`) reads.
    pub datastore: String,
}

/// One permission: any of `checks` suffices (they differ only in the verb, e.g. a WebSocket exec
/// is authorized as `create` from Kubernetes 1.30 and as `get` before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    /// The cluster asked.
    pub cluster: Side,
    /// Alternatives; the first is the one named in messages.
    pub checks: Vec<AccessCheck>,
    /// What the tool does with it.
    pub why: &'static str,
    /// The manifest in `docs/rbac/` that grants it.
    pub grant: &'static str,
}

fn check(
    verbs: &[&'static str],
    group: &'static str,
    resource: &'static str,
    subresource: Option<&'static str>,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Vec<AccessCheck> {
    verbs
        .iter()
        .map(|verb| AccessCheck {
            verb,
            group,
            resource,
            subresource,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        })
        .collect()
}

const SOURCE: &str = "docs/rbac/source-cluster.yaml";
const TARGET: &str = "docs/rbac/target-cluster.yaml";
const TARGET_NS: &str = "docs/rbac/target-apigee-namespace.yaml";
const TARGET_CR: &str = "docs/rbac/target-replication-cr.yaml";
const SOURCE_CR: &str = "docs/rbac/source-replication-cr.yaml";
const APIGEE: &str = "apigee.cloud.google.com";
/// The Apigee operator's Deployment.
pub const OPERATOR_DEPLOYMENT: &str = "apigee-controller-manager";
const SURVIVING: &str = "docs/rbac/decommission-surviving.yaml";

/// What a decommission's permissions depend on. Clusters as the decommission's view names them:
/// [`Side::Source`] is the surviving region, [`Side::Target`] the leaving one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecomScope {
    /// Apigee's namespace in the surviving cluster.
    pub surviving_namespace: String,
    /// Apigee's namespace in the leaving cluster.
    pub leaving_namespace: String,
    /// The Lease's namespace (surviving cluster).
    pub lease_namespace: String,
    /// The Lease's name.
    pub lease_name: String,
    /// The leaving region is gone: nothing is asked of it.
    pub lost_region: bool,
}

/// Every permission a decommission needs, surviving cluster first: nodetool (status,
/// describecluster, tablestats, describering, removenode, assassinate) and the lock in the
/// surviving cluster; in the leaving cluster only what shows the uninstall done (its Cassandra
/// pods and its ApigeeDatastore), and nothing with `lost_region`. The installer's own calls
/// (uninstall, the surviving datastore's re-apply) are not the tool's and not listed.
pub fn needed_for_decommission(s: &DecomScope) -> Vec<Needed> {
    let mut out = nodetool(
        Side::Source,
        Some(&s.surviving_namespace),
        "find the surviving Cassandra pods",
        "run nodetool (status, describecluster, removenode, assassinate)",
        SURVIVING,
    );
    out.extend(lock(Side::Source, &s.lease_namespace, &s.lease_name, SURVIVING));
    if !s.lost_region {
        let leaving = Some(s.leaving_namespace.as_str());
        out.push(Needed {
            cluster: Side::Target,
            checks: check(&["list"], "", "pods", None, leaving, None),
            why: "see whether the leaving Cassandra pods are gone",
            grant: TARGET_NS,
        });
        out.push(Needed {
            cluster: Side::Target,
            checks: check(&["get"], APIGEE, "apigeedatastores", None, leaving, Some("default")),
            why: "see whether the leaving ApigeeDatastore is gone",
            grant: TARGET_NS,
        });
    }
    out
}

/// Listing a region's Cassandra pods and running nodetool in them (`kubectl exec`).
fn nodetool(
    cluster: Side,
    namespace: Option<&str>,
    why_list: &'static str,
    why_exec: &'static str,
    grant: &'static str,
) -> Vec<Needed> {
    vec![
        Needed { cluster, checks: check(&["list"], "", "pods", None, namespace, None), why: why_list, grant },
        Needed {
            cluster,
            checks: check(&["create", "get"], "", "pods", Some("exec"), namespace, None),
            why: why_exec,
            grant,
        },
    ]
}

/// The run's lock: the Lease read, renewed, released, and created the first time.
fn lock(cluster: Side, namespace: &str, name: &str, grant: &'static str) -> Vec<Needed> {
    let ns = Some(namespace);
    let lease = |verb: &'static str, name: Option<&str>, why| Needed {
        cluster,
        checks: check(&[verb], "coordination.k8s.io", "leases", None, ns, name),
        why,
        grant,
    };
    vec![
        lease("get", Some(name), "the run's lock"),
        lease("update", Some(name), "renew the run's lock"),
        lease("delete", Some(name), "release the run's lock"),
        lease("create", None, "take the lock the first time"),
    ]
}

/// Every permission the plan needs, source cluster first.
pub fn needed(s: &Scope) -> Vec<Needed> {
    let n = |cluster, checks, why, grant| Needed { cluster, checks, why, grant };
    let (src, tgt) = (Some(s.source_namespace.as_str()), Some(s.target_namespace.as_str()));
    let ca_ns = Some(s.ca_namespace.as_str());
    let mut out =
        nodetool(Side::Source, src, "find the Cassandra pods", "run nodetool (status, describecluster, flush)", SOURCE);
    out.extend([
        n(Side::Source, check(&["list"], "", "nodes", None, None, None), "node addresses and pod ranges", SOURCE),
        n(
            Side::Source,
            check(&["get"], "", "namespaces", None, None, Some(&s.target_namespace)),
            "copy the Apigee namespace",
            SOURCE,
        ),
        n(Side::Source, check(&["get"], "", "secrets", None, ca_ns, Some(&s.ca_secret)), "read the CA to copy", SOURCE),
        n(Side::Target, check(&["list"], "", "nodes", None, None, None), "node addresses and pod ranges", TARGET),
        n(
            Side::Target,
            check(&["get"], "", "namespaces", None, None, Some(&s.target_namespace)),
            "see whether the Apigee namespace exists",
            TARGET,
        ),
        n(
            Side::Target,
            check(&["patch"], "", "namespaces", None, None, Some(&s.target_namespace)),
            "copy the Apigee namespace (server-side apply)",
            TARGET,
        ),
        n(Side::Target, check(&["create"], "", "namespaces", None, None, None), "create a missing namespace", TARGET),
        n(
            Side::Target,
            check(&["get"], "", "namespaces", None, None, Some(&s.ca_namespace)),
            "see whether the CA's namespace exists",
            TARGET,
        ),
        n(
            Side::Target,
            check(&["patch"], "", "namespaces", None, None, Some(&s.ca_namespace)),
            "create the CA's namespace when it is missing (server-side apply)",
            TARGET,
        ),
        n(
            Side::Target,
            check(&["get"], "", "secrets", None, ca_ns, Some(&s.ca_secret)),
            "compare the CA with the source's",
            TARGET,
        ),
        n(
            Side::Target,
            check(&["patch"], "", "secrets", None, ca_ns, Some(&s.ca_secret)),
            "copy the CA (server-side apply)",
            TARGET,
        ),
        n(Side::Target, check(&["create"], "", "secrets", None, ca_ns, None), "the CA's first copy", TARGET),
    ]);
    out.extend(lock(Side::Target, &s.lease_namespace, &s.lease_name, TARGET));
    out.extend(nodetool(
        Side::Target,
        tgt,
        "find the new Cassandra pods",
        "run nodetool (status, netstats, rebuild)",
        TARGET_NS,
    ));
    out.extend([
        n(
            Side::Target,
            check(&["get"], "", "pods", Some("log"), tgt, None),
            "read each node's rebuild from its log",
            TARGET_NS,
        ),
        n(
            Side::Target,
            check(&["get"], APIGEE, "apigeedatastores", None, tgt, Some(&s.datastore)),
            "follow the datastore's rolling restart",
            TARGET_NS,
        ),
    ]);
    if s.helm {
        for (side, grant) in [(Side::Source, SOURCE), (Side::Target, TARGET)] {
            out.push(n(
                side,
                check(&["get"], "apps", "deployments", None, None, Some(OPERATOR_DEPLOYMENT)),
                "see in which namespace the Apigee operator runs (it must match installer.version)",
                grant,
            ));
        }
    }
    if let Some(cr) = &s.replication_cr {
        out.push(n(
            Side::Target,
            check(&["patch"], APIGEE, "cassandradatareplications", None, tgt, Some(cr)),
            "apply the CassandraDataReplication (server-side apply)",
            TARGET_CR,
        ));
        out.push(n(
            Side::Target,
            check(&["create"], APIGEE, "cassandradatareplications", None, tgt, None),
            "create the CassandraDataReplication",
            TARGET_CR,
        ));
        out.push(n(
            Side::Target,
            check(&["get"], APIGEE, "apigeeorganizations", None, tgt, None),
            "wait until the organization runs in the target before applying the CassandraDataReplication",
            TARGET_CR,
        ));
        if s.organization_lookup {
            out.push(n(
                Side::Source,
                check(&["list"], APIGEE, "apigeeorganizations", None, Some(&s.source_namespace), None),
                "find the organization's ApigeeOrganization (cr.organization is not set)",
                SOURCE_CR,
            ));
        }
    }
    out
}

/// The preflight network probe's pod in the target cluster: created, read while it starts, run
/// in (`kubectl exec`), deleted. `namespace` is where it runs ([`crate::probe`]); `in_apigee`
/// says whether that is the target's Apigee namespace (granted by its manifest) or another one
/// (the lock's `default`, granted by the cluster manifest).
pub fn needed_for_probe(namespace: &str, pod: &str, in_apigee: bool) -> Vec<Needed> {
    let ns = Some(namespace);
    let grant = if in_apigee { TARGET_NS } else { TARGET };
    let n = |checks, why| Needed { cluster: Side::Target, checks, why, grant };
    vec![
        n(check(&["create"], "", "pods", None, ns, None), "create the network probe pod (preflight)"),
        n(check(&["get"], "", "pods", None, ns, Some(pod)), "wait for the network probe pod to be ready"),
        n(check(&["delete"], "", "pods", None, ns, Some(pod)), "delete the network probe pod"),
        n(
            check(&["create", "get"], "", "pods", Some("exec"), ns, Some(pod)),
            "run the network checks in the probe pod",
        ),
    ]
}

/// The answer for one [`Needed`]: allowed, refused, or the question itself failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// At least one alternative is allowed.
    Allowed,
    /// Every alternative was refused.
    Denied,
    /// The API server could not answer (message); the permission is not known.
    Unknown(String),
}

/// How an expansion names its clusters in findings.
pub const EXPANSION_CLUSTERS: (&str, &str) = ("source", "target");
/// How a decommission names its clusters in findings (`source` is the surviving region).
pub const DECOMMISSION_CLUSTERS: (&str, &str) = ("surviving", "leaving");

/// Findings for the answers (`answers[i]` answers `needed[i]`), naming the context of each side
/// and the side as `names` calls it ([`EXPANSION_CLUSTERS`], [`DECOMMISSION_CLUSTERS`]).
/// In-namespace permissions of a target namespace that does not exist yet cannot be granted yet
/// (a Role lives in its namespace): those are warnings that say when to grant them.
pub fn judge(
    needed: &[Needed],
    answers: &[Answer],
    contexts: (&str, &str),
    names: (&str, &str),
    target_namespace: &str,
    target_namespace_exists: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (need, answer) in needed.iter().zip(answers) {
        let Some(first) = need.checks.first() else { continue };
        let (context, cluster) = match need.cluster {
            Side::Source => (contexts.0, names.0),
            Side::Target => (contexts.1, names.1),
        };
        let verbs: Vec<&str> = need.checks.iter().map(|c| c.verb).collect();
        let shown = first.to_string();
        let what = format!("{} {}", verbs.join(" or "), shown.get(first.verb.len() + 1..).unwrap_or_default());
        let (severity, code, message) = match answer {
            Answer::Allowed => continue,
            Answer::Unknown(e) => (
                Severity::Warning,
                "permission-unchecked",
                format!("could not ask the {cluster} cluster (context `{context}`) whether it may {what}: {e}"),
            ),
            Answer::Denied
                if need.cluster == Side::Target
                    && !target_namespace_exists
                    && first.namespace.as_deref() == Some(target_namespace) =>
            {
                (
                    Severity::Warning,
                    "permission-missing-later",
                    format!(
                        "context `{context}` ({cluster}) may not {what}, needed to {}; namespace `{target_namespace}` does not exist there yet, so no Role can grant it now: apply {} once the copy-namespace step has created it (`expand --until copy-namespace`), then run again",
                        need.why, need.grant
                    ),
                )
            }
            Answer::Denied => (
                Severity::Error,
                "permission-missing",
                format!(
                    "context `{context}` ({cluster}) may not {what}, needed to {}: grant it (see {})",
                    need.why, need.grant
                ),
            ),
        };
        out.push(Finding { severity, code, message, path: String::new(), side: need.cluster, line: None });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(cr: bool) -> Scope {
        Scope {
            source_namespace: "apigee".into(),
            target_namespace: "apigee".into(),
            ca_namespace: "cert-manager".into(),
            ca_secret: "apigee-ca".into(),
            lease_namespace: "default".into(),
            lease_name: "apigee-multiregion-apigee".into(),
            replication_cr: cr.then(|| "region-expansion".into()),
            organization_lookup: cr,
            helm: cr,
            datastore: "default".into(),
        }
    }

    #[test]
    fn the_list_matches_the_manifests_and_grows_only_for_the_cr_path() {
        let plain = needed(&scope(false));
        let cr = needed(&scope(true));
        assert_eq!(cr.len(), plain.len() + 6);
        let shown: Vec<String> = plain.iter().map(|n| format!("{:?} {}", n.cluster, n.checks[0])).collect();
        assert!(shown.contains(&"Target get pods/log in namespace apigee".to_owned()), "{shown:#?}");
        assert!(shown.contains(&"Source get secrets named apigee-ca in namespace cert-manager".to_owned()));
        assert!(
            shown.contains(
                &"Target delete leases (coordination.k8s.io) named apigee-multiregion-apigee in namespace default"
                    .to_owned()
            )
        );
        // Every manifest named exists in the repository.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for n in &cr {
            assert!(root.join(n.grant).is_file(), "{} is not in the repository", n.grant);
        }
    }

    #[test]
    fn the_probe_asks_for_its_pod_in_the_namespace_it_runs_in() {
        let shown: Vec<String> = needed_for_probe("default", "apigee-multiregion-probe", false)
            .iter()
            .map(|n| format!("{:?} {} ({})", n.cluster, n.checks[0], n.grant))
            .collect();
        assert_eq!(
            shown,
            [
                "Target create pods in namespace default (docs/rbac/target-cluster.yaml)",
                "Target get pods named apigee-multiregion-probe in namespace default (docs/rbac/target-cluster.yaml)",
                "Target delete pods named apigee-multiregion-probe in namespace default (docs/rbac/target-cluster.yaml)",
                "Target create pods/exec named apigee-multiregion-probe in namespace default (docs/rbac/target-cluster.yaml)",
            ]
        );
        assert!(needed_for_probe("apigee", "p", true).iter().all(|n| n.grant == TARGET_NS));
    }

    fn decom(lost_region: bool) -> DecomScope {
        DecomScope {
            surviving_namespace: "apigee".into(),
            leaving_namespace: "apigee-west".into(),
            lease_namespace: "default".into(),
            lease_name: "apigee-multiregion-apigee".into(),
            lost_region,
        }
    }

    #[test]
    fn a_decommission_asks_the_surviving_cluster_for_nodetool_and_the_lock_and_a_lost_region_nothing() {
        let shown = |s: &DecomScope| -> Vec<String> {
            needed_for_decommission(s).iter().map(|n| format!("{:?} {}", n.cluster, n.checks[0])).collect()
        };
        assert_eq!(
            shown(&decom(false)),
            [
                "Source list pods in namespace apigee",
                "Source create pods/exec in namespace apigee",
                "Source get leases (coordination.k8s.io) named apigee-multiregion-apigee in namespace default",
                "Source update leases (coordination.k8s.io) named apigee-multiregion-apigee in namespace default",
                "Source delete leases (coordination.k8s.io) named apigee-multiregion-apigee in namespace default",
                "Source create leases (coordination.k8s.io) in namespace default",
                "Target list pods in namespace apigee-west",
                "Target get apigeedatastores (apigee.cloud.google.com) named default in namespace apigee-west",
            ]
        );
        let lost = needed_for_decommission(&decom(true));
        assert!(lost.iter().all(|n| n.cluster == Side::Source) && lost.len() == 6, "{lost:#?}");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for n in needed_for_decommission(&decom(false)) {
            assert!(root.join(n.grant).is_file(), "{} is not in the repository", n.grant);
        }
    }

    #[test]
    fn a_decommission_names_its_clusters_surviving_and_leaving() {
        let need = needed_for_decommission(&decom(false));
        let answers: Vec<Answer> = need.iter().map(|_| Answer::Denied).collect();
        let f = judge(&need, &answers, ("east", "west"), DECOMMISSION_CLUSTERS, "apigee-west", true);
        assert!(f.iter().all(|f| f.severity == Severity::Error && f.code == "permission-missing"), "{f:#?}");
        assert_eq!(
            f[1].message,
            "context `east` (surviving) may not create or get pods/exec in namespace apigee, needed to run nodetool (status, describecluster, removenode, assassinate): grant it (see docs/rbac/decommission-surviving.yaml)"
        );
        assert!(f[7].message.starts_with("context `west` (leaving) may not get apigeedatastores"), "{}", f[7].message);
    }

    #[test]
    fn one_missing_permission_is_exactly_one_error_naming_context_verb_resource_and_namespace() {
        let need = needed(&scope(false));
        let mut answers = vec![Answer::Allowed; need.len()];
        let i = need.iter().position(|n| n.checks[0].subresource == Some("log")).unwrap();
        answers[i] = Answer::Denied;
        let f = judge(&need, &answers, ("region-1", "region-2"), EXPANSION_CLUSTERS, "apigee", true);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].severity, f[0].code), (Severity::Error, "permission-missing"));
        assert_eq!(
            f[0].message,
            "context `region-2` (target) may not get pods/log in namespace apigee, needed to read each node's rebuild from its log: grant it (see docs/rbac/target-apigee-namespace.yaml)"
        );
    }

    #[test]
    fn exec_is_allowed_by_either_verb_and_named_with_both_when_refused() {
        let need = needed(&scope(false));
        let i = need.iter().position(|n| n.checks[0].subresource == Some("exec")).unwrap();
        let mut answers = vec![Answer::Allowed; need.len()];
        answers[i] = Answer::Denied;
        let f = judge(&need, &answers, ("a", "b"), EXPANSION_CLUSTERS, "apigee", true);
        assert!(f[0].message.starts_with("context `a` (source) may not create or get pods/exec in namespace apigee,"));
    }

    #[test]
    fn in_namespace_permissions_are_warnings_while_the_target_namespace_does_not_exist() {
        let need = needed(&scope(false));
        let answers: Vec<Answer> = need.iter().map(|_| Answer::Denied).collect();
        let f = judge(&need, &answers, ("a", "b"), EXPANSION_CLUSTERS, "apigee", false);
        let later: Vec<&Finding> = f.iter().filter(|f| f.code == "permission-missing-later").collect();
        assert_eq!(later.len(), 4, "{later:#?}");
        assert!(later.iter().all(|f| f.severity == Severity::Warning && f.side == Side::Target));
        // The source's namespace is not the target's: its permissions are errors.
        assert!(
            f.iter()
                .any(|f| f.side == Side::Source && f.message.contains("pods/exec") && f.severity == Severity::Error)
        );
        // Once the namespace exists they are errors.
        let f = judge(&need, &answers, ("a", "b"), EXPANSION_CLUSTERS, "apigee", true);
        assert!(f.iter().all(|f| f.severity == Severity::Error));
    }

    #[test]
    fn an_unanswerable_question_warns_and_does_not_refuse() {
        let need = needed(&scope(false));
        let mut answers = vec![Answer::Allowed; need.len()];
        answers[0] = Answer::Unknown("connection refused".into());
        let f = judge(&need, &answers, ("a", "b"), EXPANSION_CLUSTERS, "apigee", true);
        assert_eq!((f.len(), f[0].severity, f[0].code), (1, Severity::Warning, "permission-unchecked"));
    }
}
