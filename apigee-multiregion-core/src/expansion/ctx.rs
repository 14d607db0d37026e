//! The state shared by the steps of one run: the plan, the ports, the journal, the lock and the
//! event sink. Steps record progress through [`Ctx::record`], which saves the journal at once.

use std::sync::Mutex;

use crate::overrides::Finding;
use crate::verify::VerifyReport;

use super::error::StepError;
use super::events::{Event, EventSink};
use super::journal::Journal;
use super::lock::Lock;
use super::plan::ExpansionPlan;
use super::{Deps, RunOptions};

pub(crate) struct Ctx<'a> {
    pub plan: &'a ExpansionPlan,
    pub deps: &'a Deps,
    pub events: &'a dyn EventSink,
    pub journal: Mutex<Journal>,
    pub options: &'a RunOptions,
    pub lock: Option<Lock>,
    pub findings: Mutex<Vec<Finding>>,
    pub verify: Mutex<Option<VerifyReport>>,
    /// Rebuild progress readings (rate and time left per node and in total).
    pub progress: Mutex<super::progress::Meter>,
    /// What only a decommission has (`None` in an expansion).
    pub decommission: Option<&'a super::decommission::Decommissioning>,
    /// The source's ring as preflight read it, for the steps right after it in the same run
    /// (seed selection): one `nodetool status` serves both.
    pub source_ring: Mutex<Option<crate::nodetool::StatusReport>>,
    /// The target nodes the rebuild step's `is_done` read, for its `run` right after (taken
    /// there): one `nodetool status` serves both.
    pub rebuild_nodes: Mutex<Option<Vec<super::steps::TargetNode>>>,
}

impl Ctx<'_> {
    /// Emits a node's rebuild progress with its rate, its time left and the step's totals.
    pub fn progress(&self, pod: &str, received: u64, total: u64) {
        let (node, all) = self.progress.lock().unwrap_or_else(|p| p.into_inner()).observe(
            pod,
            received,
            total,
            std::time::Instant::now(),
        );
        self.emit(Event::RebuildProgress { pod: pod.into(), node, all });
    }

    pub fn emit(&self, e: Event) {
        self.events.emit(e);
    }

    /// Before a mutating action: the lock must still be held. (A dry run holds none and changes
    /// nothing.)
    pub fn ensure_locked(&self) -> Result<(), StepError> {
        match &self.lock {
            Some(l) => Ok(l.ensure_held()?),
            None => Ok(()),
        }
    }

    /// Changes the journal and saves it at once (not in a dry run).
    pub fn record(&self, f: impl FnOnce(&mut Journal)) -> Result<(), StepError> {
        // The lock first: with it lost, the journal is left as it was, in memory as on disk (what
        // the run then reports, e.g. the throttles it still owes, is what it really did).
        if !self.options.dry_run {
            self.ensure_locked()?;
        }
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut j);
        if !self.options.dry_run {
            j.save()?;
        }
        Ok(())
    }

    /// The decommission's settings; a decommission step run elsewhere is refused.
    pub fn decommission(
        &self,
        step: super::step_id::StepId,
    ) -> Result<&super::decommission::Decommissioning, StepError> {
        self.decommission.ok_or(StepError::NotADecommission { step })
    }

    pub fn journal<T>(&self, f: impl FnOnce(&Journal) -> T) -> T {
        let j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        f(&j)
    }
}
