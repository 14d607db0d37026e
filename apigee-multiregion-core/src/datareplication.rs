//! `CassandraDataReplication` (replication: cr): the typed status the Apigee operator reports on
//! `ApigeeDatastore.status.cassandraDataReplication`, and the pure judgement of an attempt.
//!
//! The API reference says a `rebuildDetails` key "represents the node ID in Cassandra" while the
//! docs' example uses pod names: both are looked up. An entry older than the attempt
//! (`updated` before the apply) belongs to an earlier attempt and is ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `status.cassandraDataReplication` of an `ApigeeDatastore`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataReplicationStatus {
    /// `running`, `complete`, `error`.
    #[serde(default)]
    pub state: Option<String>,
    /// Per node (pod name or host ID).
    #[serde(default)]
    pub rebuild_details: BTreeMap<String, RebuildDetail>,
}

/// One node's rebuild as the operator reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildDetail {
    /// `running`, `complete`, `error`.
    #[serde(default)]
    pub state: Option<String>,
    /// What went wrong.
    #[serde(default)]
    pub message: Option<String>,
    /// When the entry was last updated (Unix seconds).
    #[serde(default)]
    pub updated: Option<i64>,
}

impl DataReplicationStatus {
    /// The status from a whole `ApigeeDatastore` object; empty when it has none.
    pub fn from_datastore(object: &serde_json::Value) -> Self {
        serde_json::from_value(object["status"]["cassandraDataReplication"].clone()).unwrap_or_default()
    }

    /// The entry of a node, by pod name or by host ID, ignoring entries older than `since`.
    pub fn detail(&self, pod: &str, host_id: Option<&str>, since: Option<i64>) -> Option<&RebuildDetail> {
        let fresh = |d: &&RebuildDetail| since.is_none_or(|s| d.updated.is_none_or(|u| u >= s));
        self.rebuild_details
            .get(pod)
            .filter(fresh)
            .or_else(|| host_id.and_then(|h| self.rebuild_details.get(h)).filter(fresh))
    }
}

/// Where an attempt stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Every node's entry is `complete`.
    Complete,
    /// Still working (or not picked up yet).
    Running,
    /// The operator reports an error: `(pod, message)` per failed node.
    Failed(Vec<(String, String)>),
}

/// Judges an attempt for `pods` (with their host IDs when known), ignoring entries older than
/// `since`. Only every node `complete` is complete: never the top-level state alone.
pub fn judge(status: &DataReplicationStatus, pods: &[(String, Option<String>)], since: Option<i64>) -> Progress {
    let mut failed = Vec::new();
    let mut all_complete = true;
    for (pod, host) in pods {
        match status.detail(pod, host.as_deref(), since).and_then(|d| d.state.as_deref().map(|s| (s, d))) {
            Some(("complete", _)) => {}
            Some(("error", d)) => {
                all_complete = false;
                failed.push((pod.clone(), d.message.clone().unwrap_or_else(|| "error".into())));
            }
            _ => all_complete = false,
        }
    }
    if all_complete && !pods.is_empty() {
        return Progress::Complete;
    }
    // A finished top-level state while some node is not complete is never success: the
    // operator gave up on (or forgot) those nodes. Unless nothing is fresh yet: then the
    // top-level state is the earlier attempt's.
    let any_fresh = since.is_none() || pods.iter().any(|(p, h)| status.detail(p, h.as_deref(), since).is_some());
    let finished = matches!(status.state.as_deref(), Some("complete" | "error"));
    if failed.is_empty() && finished && any_fresh {
        for (pod, host) in pods {
            if status.detail(pod, host.as_deref(), since).and_then(|d| d.state.as_deref()) != Some("complete") {
                failed.push((
                    pod.clone(),
                    format!(
                        "the operator reports {} but this node's rebuild is not complete",
                        status.state.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
    }
    if failed.is_empty() { Progress::Running } else { Progress::Failed(failed) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> Vec<(String, Option<String>)> {
        vec![
            ("apigee-cassandra-default-0".into(), Some("h0".into())),
            ("apigee-cassandra-default-1".into(), Some("h1".into())),
        ]
    }

    fn status(v: serde_json::Value) -> DataReplicationStatus {
        DataReplicationStatus::from_datastore(&json!({"status": {"cassandraDataReplication": v}}))
    }

    #[test]
    fn complete_only_when_every_pod_is_complete() {
        let s = status(
            json!({"state": "complete", "rebuildDetails": {"apigee-cassandra-default-0": {"state": "complete"}}}),
        );
        assert!(
            matches!(judge(&s, &pods(), None), Progress::Failed(f) if f[0].0 == "apigee-cassandra-default-1"),
            "pod 1 has no entry: the top-level state is not enough"
        );
        let s = status(
            json!({"state": "running", "rebuildDetails": {"apigee-cassandra-default-0": {"state": "complete"}}}),
        );
        assert_eq!(judge(&s, &pods(), None), Progress::Running);
        let s = status(
            json!({"state": "complete", "rebuildDetails": {"apigee-cassandra-default-0": {"state": "complete"}, "apigee-cassandra-default-1": {"state": "complete"}}}),
        );
        assert_eq!(judge(&s, &pods(), None), Progress::Complete);
    }

    #[test]
    fn entries_keyed_by_host_id_count() {
        let s = status(
            json!({"state": "complete", "rebuildDetails": {"h0": {"state": "complete"}, "h1": {"state": "complete"}}}),
        );
        assert_eq!(judge(&s, &pods(), None), Progress::Complete);
    }

    #[test]
    fn errors_name_the_pod() {
        let s = status(
            json!({"state": "error", "rebuildDetails": {"h0": {"state": "complete"}, "apigee-cassandra-default-1": {"state": "error", "message": "stream failed"}}}),
        );
        assert_eq!(
            judge(&s, &pods(), None),
            Progress::Failed(vec![("apigee-cassandra-default-1".into(), "stream failed".into())])
        );
    }

    #[test]
    fn status_from_an_earlier_attempt_is_ignored() {
        let s = status(
            json!({"state": "complete", "rebuildDetails": {"h0": {"state": "complete", "updated": 100}, "h1": {"state": "complete", "updated": 100}}}),
        );
        assert_eq!(judge(&s, &pods(), Some(200)), Progress::Running);
        assert_eq!(judge(&s, &pods(), Some(100)), Progress::Complete);
    }

    #[test]
    fn a_datastore_without_status_is_running() {
        assert_eq!(judge(&DataReplicationStatus::from_datastore(&json!({})), &pods(), None), Progress::Running);
    }
}
