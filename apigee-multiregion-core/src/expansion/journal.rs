//! The journal: what an expansion has done, so that a second run continues where the first
//! stopped. JSON, mode 0600, written atomically after every change, and never holds a secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_file::{WriteError, write_atomic};
use crate::nodetool::Throughput;

use super::Region;

use super::step_id::StepId;

/// Format version of the journal file. 2 records each completed rebuild's host ID; 3 records the
/// stream throttles to set back (`throughput`), so an older tool, which would not set them back,
/// refuses it. Journals of versions 1 and 2 are read (version 1's rebuilds are then confirmed
/// from the nodes' logs).
pub const JOURNAL_VERSION: u32 = 3;

/// The state of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    /// Not started.
    #[default]
    Pending,
    /// Started and not finished (a crash leaves this).
    Running,
    /// Finished.
    Done,
    /// Failed; a new run retries it.
    Failed,
}

/// One step's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StepRecord {
    /// State.
    pub state: StepState,
    /// Milliseconds the step took in the run that finished it.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The failure, for a failed step.
    #[serde(default)]
    pub error: Option<String>,
}

/// One target node's rebuild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RebuildRecord {
    /// State.
    pub state: StepState,
    /// Rebuild attempts made.
    pub attempts: u32,
    /// The Rebuild stream plan id of the attempt that completed.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// Bytes received, as last read.
    #[serde(default)]
    pub bytes_received: u64,
    /// Last failure.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The node's host ID when its rebuild completed: the durable proof. A node with another
    /// host ID now was wiped or replaced and is rebuilt again.
    #[serde(default)]
    pub host_id: Option<String>,
    /// When the rebuild completed (Unix seconds).
    #[serde(default)]
    pub completed_at: Option<u64>,
}

/// One node's stream throttles as they were before the rebuild step changed them: written
/// before the first change, marked `restored` once set back. A record not restored (a crash)
/// is set back by the next run (see [`crate::expansion`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThroughputRecord {
    /// The node's region.
    pub region: Region,
    /// The pod.
    pub pod: String,
    /// `getinterdcstreamthroughput` before the change (`None`: not changed).
    #[serde(default)]
    pub interdc_before: Option<Throughput>,
    /// `getstreamthroughput` before the change (`None`: not changed).
    #[serde(default)]
    pub total_before: Option<Throughput>,
    /// Set back to the values before.
    #[serde(default)]
    pub restored: bool,
}

impl ThroughputRecord {
    /// The journal key: `source/<pod>` or `target/<pod>`.
    pub fn key(region: Region, pod: &str) -> String {
        format!("{}/{pod}", region.as_str())
    }
}

/// What finalize saw just before its re-apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FinalizeRecord {
    /// Target pod -> its incarnation before the apply; each must change (a restart).
    pub incarnations: BTreeMap<String, String>,
    /// `metadata.generation` of the ApigeeDatastore before the apply, when it exists.
    #[serde(default)]
    pub generation_before: Option<i64>,
}

/// One node of a decommissioned datacenter, removed from the ring with `nodetool removenode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RemovalRecord {
    /// The node's address.
    pub address: String,
    /// `Running` from just before `removenode` is asked until the node is gone from the ring.
    pub state: StepState,
    /// The surviving pod that coordinates the removal (only it reports the removal's status).
    #[serde(default)]
    pub coordinator: Option<String>,
    /// `removenode` calls made for this node.
    #[serde(default)]
    pub attempts: u32,
    /// Removed with `nodetool assassinate` (`--force`): its data was not streamed.
    #[serde(default)]
    pub assassinated: bool,
    /// The last failure.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The whole journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// Format version.
    pub version: u32,
    /// The plan's name.
    pub plan_name: String,
    /// The plan's hash: a journal is only used with the same plan.
    pub plan_hash: String,
    /// The chosen seed host and alternates.
    #[serde(default)]
    pub seed_host: Option<String>,
    /// Alternates.
    #[serde(default)]
    pub seed_alternates: Vec<String>,
    /// Step id -> record.
    #[serde(default)]
    pub steps: BTreeMap<StepId, StepRecord>,
    /// Target pod -> rebuild record.
    #[serde(default)]
    pub rebuild: BTreeMap<String, RebuildRecord>,
    /// `<region>/<pod>` -> its stream throttles before the rebuild changed them.
    #[serde(default)]
    pub throughput: BTreeMap<String, ThroughputRecord>,
    /// The datastore was re-applied without the seed host (finalize).
    #[serde(default)]
    pub datastore_reapplied: bool,
    /// Finalize's re-apply: what the rolling restart is judged against.
    #[serde(default)]
    pub finalize: Option<FinalizeRecord>,
    /// Backups of files we changed.
    #[serde(default)]
    pub backups: Vec<PathBuf>,
    /// Decommission: host ID -> the removal of that node of the leaving datacenter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub removals: BTreeMap<String, RemovalRecord>,
    /// Decommission: the surviving region's datastore was re-applied (or its apply started) so
    /// that the operator's setup job rewrites the keyspaces' replication.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replication_reapplied: bool,
    /// Where this journal lives (not stored).
    #[serde(skip)]
    pub path: PathBuf,
}

/// A journal that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Cannot read or parse it.
    #[error("journal {}: {message}", path.display())]
    Read {
        /// Its path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// It belongs to another plan.
    #[error("journal {} was written for a different plan (plan hash {found}, this plan {expected}); the plan changed since that run. Run with --restart to start over (the old journal is kept as .prev), or restore the plan", path.display())]
    PlanChanged {
        /// Its path.
        path: PathBuf,
        /// This plan's hash.
        expected: String,
        /// The journal's.
        found: String,
    },
    /// Written by a newer version of this tool.
    #[error("journal {} has format version {found}, newer than this tool understands ({supported}); use the apigee-multiregion version that wrote it, or move the journal away and start with --restart", path.display())]
    TooNew {
        /// Its path.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this tool reads.
        supported: u32,
    },
    /// Cannot write it.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Journal {
    /// A fresh journal for a plan.
    pub fn new(path: PathBuf, plan_name: &str, plan_hash: &str) -> Self {
        Self {
            version: JOURNAL_VERSION,
            plan_name: plan_name.into(),
            plan_hash: plan_hash.into(),
            seed_host: None,
            seed_alternates: Vec::new(),
            steps: BTreeMap::new(),
            rebuild: BTreeMap::new(),
            throughput: BTreeMap::new(),
            datastore_reapplied: false,
            finalize: None,
            backups: Vec::new(),
            removals: BTreeMap::new(),
            replication_reapplied: false,
            path,
        }
    }

    /// Opens the journal at `path` for this plan: a new one when absent; the existing one when it
    /// is for the same plan; with `restart`, the existing one is moved to `.prev` first.
    pub fn open(path: &Path, plan_name: &str, plan_hash: &str, restart: bool) -> Result<Self, JournalError> {
        if !path.exists() {
            return Ok(Self::new(path.to_path_buf(), plan_name, plan_hash));
        }
        if restart {
            // Stream throttles the old run set and did not set back stay owed: the values before
            // are only in its journal, and a fresh run would read the tool's own throttle as them.
            let owed: BTreeMap<String, ThroughputRecord> = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| serde_json::from_str::<Journal>(&t).ok())
                .map(|old| old.throughput.into_iter().filter(|(_, r)| !r.restored).collect())
                .unwrap_or_default();
            let prev = PathBuf::from(format!("{}.prev", path.display()));
            std::fs::rename(path, &prev).map_err(|e| JournalError::Read {
                path: path.into(),
                message: format!("cannot move it to {}: {e}", prev.display()),
            })?;
            let mut fresh = Self::new(path.to_path_buf(), plan_name, plan_hash);
            fresh.throughput = owed;
            return Ok(fresh);
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| JournalError::Read { path: path.into(), message: e.to_string() })?;
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_str(&text).map_err(|e| JournalError::Read {
            path: path.into(),
            message: format!("not a journal: {e}; move it away or use --restart"),
        })?;
        if v.version > JOURNAL_VERSION {
            return Err(JournalError::TooNew { path: path.into(), found: v.version, supported: JOURNAL_VERSION });
        }
        let mut j: Journal = serde_json::from_str(&text).map_err(|e| JournalError::Read {
            path: path.into(),
            message: format!("not a journal: {e}; move it away or use --restart"),
        })?;
        if j.plan_hash != plan_hash {
            return Err(JournalError::PlanChanged {
                path: path.into(),
                expected: plan_hash.into(),
                found: j.plan_hash,
            });
        }
        j.path = path.to_path_buf();
        j.version = JOURNAL_VERSION; // saved in this tool's format from now on
        Ok(j)
    }

    /// Writes the journal (atomically, mode 0600).
    pub fn save(&self) -> Result<(), JournalError> {
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| JournalError::Write(WriteError { path: dir.into(), source: e }))?;
        }
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| JournalError::Read { path: self.path.clone(), message: e.to_string() })?;
        write_atomic(&self.path, format!("{text}\n").as_bytes(), Some(0o600))?;
        Ok(())
    }

    /// A step's state.
    pub fn step(&self, id: StepId) -> StepState {
        self.steps.get(&id).map(|r| r.state).unwrap_or_default()
    }

    /// The throttle records not yet set back.
    pub fn throughput_to_restore(&self) -> Vec<ThroughputRecord> {
        self.throughput.values().filter(|r| !r.restored).cloned().collect()
    }

    /// Sets a step's record.
    pub fn set_step(&mut self, id: StepId, state: StepState, duration_ms: Option<u64>, error: Option<String>) {
        self.steps.insert(id, StepRecord { state, duration_ms, error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j").join("plan.journal.json");
        let mut j = Journal::open(&p, "demo", "abc", false).unwrap();
        j.set_step(StepId::Preflight, StepState::Done, Some(12), None);
        j.save().unwrap();
        let again = Journal::open(&p, "demo", "abc", false).unwrap();
        assert_eq!(again.step(StepId::Preflight), StepState::Done);
        assert!(std::fs::read_to_string(&p).unwrap().contains("\"preflight\""), "step ids are written as text");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_journal_from_a_newer_tool_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.journal.json");
        std::fs::write(&p, r#"{"version": 99, "plan_name": "demo", "plan_hash": "abc"}"#).unwrap();
        let err = Journal::open(&p, "demo", "abc", false).unwrap_err();
        assert!(matches!(err, JournalError::TooNew { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("newer than this tool"), "{err}");
    }

    #[test]
    fn a_version_1_journal_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.journal.json");
        std::fs::write(&p, r#"{"version": 1, "plan_name": "demo", "plan_hash": "abc", "steps": {"rebuild": {"state": "done"}}, "rebuild": {"apigee-cassandra-default-0": {"state": "done", "attempts": 1, "plan_id": "p"}}}"#).unwrap();
        let j = Journal::open(&p, "demo", "abc", false).unwrap();
        assert_eq!(j.step(StepId::Rebuild), StepState::Done);
        assert_eq!(j.rebuild["apigee-cassandra-default-0"].host_id, None);
    }

    #[test]
    fn a_journal_of_another_plan_is_refused_unless_restarting() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.journal.json");
        Journal::new(p.clone(), "demo", "abc").save().unwrap();
        let err = Journal::open(&p, "demo", "xyz", false).unwrap_err();
        assert!(err.to_string().contains("--restart"), "{err}");
        let fresh = Journal::open(&p, "demo", "xyz", true).unwrap();
        assert_eq!(fresh.plan_hash, "xyz");
        assert!(dir.path().join("plan.journal.json.prev").exists());
    }
}
