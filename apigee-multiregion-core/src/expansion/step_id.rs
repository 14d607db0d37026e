//! The id of each step of an expansion, in order. Stable: ids appear in the journal, events,
//! the CLI and Python.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The id of a step. Stable: it appears in the journal, events, the CLI and Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum StepId {
    /// Read-only checks of both clusters and overrides files.
    Preflight,
    /// The seed host chosen from the live ring of the existing region.
    SelectSeeds,
    /// The target overrides get the seed host, datacenter and rack.
    PrepareOverrides,
    /// The Apigee namespace copied to the target.
    CopyNamespace,
    /// The CA secret copied to the target (in memory).
    CopyCa,
    /// Apigee hybrid installed in the target.
    Install,
    /// The new nodes are UN as the new datacenter from both sides.
    WaitJoined,
    /// Every keyspace replicates to the new datacenter.
    CheckReplication,
    /// Every new node streamed its data from the existing datacenter.
    Rebuild,
    /// Both sides agree and the data arrived.
    Verify,
    /// The seed host removed and the datastore re-applied.
    Finalize,
    /// Decommission: Apigee hybrid uninstalled from the leaving region.
    #[cfg_attr(feature = "clap", value(skip))]
    Uninstall,
    /// Decommission: the operator took the leaving datacenter out of the ring.
    #[cfg_attr(feature = "clap", value(skip))]
    WaitRemoved,
    /// Decommission: every node of the leaving datacenter still in the ring removed.
    #[cfg_attr(feature = "clap", value(skip))]
    RemoveNodes,
    /// Decommission: no keyspace names the leaving datacenter any more.
    #[cfg_attr(feature = "clap", value(skip))]
    RewriteReplication,
}

impl StepId {
    /// Every step, in order.
    pub const ALL: [StepId; 11] = [
        Self::Preflight,
        Self::SelectSeeds,
        Self::PrepareOverrides,
        Self::CopyNamespace,
        Self::CopyCa,
        Self::Install,
        Self::WaitJoined,
        Self::CheckReplication,
        Self::Rebuild,
        Self::Verify,
        Self::Finalize,
    ];

    /// Every step of a decommission, in order (`preflight` and `verify` are its own checks).
    pub const DECOMMISSION: [StepId; 6] = [
        Self::Preflight,
        Self::Uninstall,
        Self::WaitRemoved,
        Self::RemoveNodes,
        Self::RewriteReplication,
        Self::Verify,
    ];

    /// The id as written in the journal, events and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preflight => "preflight",
            Self::SelectSeeds => "select-seeds",
            Self::PrepareOverrides => "prepare-overrides",
            Self::CopyNamespace => "copy-namespace",
            Self::CopyCa => "copy-ca",
            Self::Install => "install",
            Self::WaitJoined => "wait-joined",
            Self::CheckReplication => "check-replication",
            Self::Rebuild => "rebuild",
            Self::Verify => "verify",
            Self::Finalize => "finalize",
            Self::Uninstall => "uninstall",
            Self::WaitRemoved => "wait-removed",
            Self::RemoveNodes => "remove-nodes",
            Self::RewriteReplication => "rewrite-replication",
        }
    }

    /// Read-only steps always run, also in a resumed run and a dry run.
    pub fn is_read_only(self) -> bool {
        matches!(self, Self::Preflight | Self::Verify)
    }

    /// Steps that run for real in a dry run (they change nothing): the rest are described.
    pub(crate) fn runs_in_dry_run(self) -> bool {
        matches!(self, Self::Preflight | Self::SelectSeeds)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step id that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a step; the steps are {}", StepId::ALL.map(StepId::as_str).join(", "))]
pub struct UnknownStep {
    /// What was given.
    pub name: String,
}

impl FromStr for StepId {
    type Err = UnknownStep;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|id| id.as_str() == s).ok_or_else(|| UnknownStep { name: s.to_owned() })
    }
}
