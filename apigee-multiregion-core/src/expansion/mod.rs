//! The expansion engine: a fixed list of steps, run in order by a driver that owns the journal,
//! the lock, the event stream and the timings. It reaches the world only through the ports, so
//! tests drive it with in-memory fakes (`tests/engine.rs`) as well as on the sandbox.
//!
//! Steps (stable ids): `preflight`, `select-seeds`, `prepare-overrides`, `copy-namespace`,
//! `copy-ca`, `install`, `wait-joined`, `check-replication`, `rebuild`, `verify`, `finalize`.
//! Each step first asks the world whether it is already done (so a step finished just before a
//! crash is not redone), then runs.

#[cfg(feature = "kube")]
mod connect;
mod events;
mod journal;
mod plan;
mod preflight;
mod rebuild;
mod steps;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

#[cfg(feature = "kube")]
pub use connect::{connect, jmx_credentials, overrides_redactor};
pub use events::{Event, EventSink};
pub use journal::{Journal, JournalError, RebuildRecord, StepRecord, StepState};
pub use plan::{
    CaSpec, Concurrency, CrSpec, ExpansionPlan, InstallerSpec, JmxSpec, NetworkMode, NetworkSpec, PlanError, RebuildSpec, RegionSpec,
    ReplicationMethod, Span, Timeouts, VerifySpec, parse_duration,
};
pub use preflight::{PreflightFacts, judge_preflight};
pub use steps::{lock_identity, release_lock};

use crate::overrides::{Finding, OverridesError};
use crate::ports::{AdminError, CassandraAdmin, ClusterError, ClusterOps, HybridInstaller, InstallerError};
use crate::verify::VerifyReport;

/// The step ids, in order.
pub const STEPS: [&str; 11] = [
    "preflight",
    "select-seeds",
    "prepare-overrides",
    "copy-namespace",
    "copy-ca",
    "install",
    "wait-joined",
    "check-replication",
    "rebuild",
    "verify",
    "finalize",
];

/// Which region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// The existing region.
    Source,
    /// The new region.
    Target,
}

/// Makes a [`CassandraAdmin`] for a pod of one region.
pub trait AdminFactory: Send + Sync {
    /// nodetool on `pod` of `region`.
    fn admin(&self, region: Region, pod: &str) -> Arc<dyn CassandraAdmin>;
}

/// Everything the engine uses to reach the world.
#[derive(Clone)]
pub struct Deps {
    /// The existing region's cluster.
    pub source: Arc<dyn ClusterOps>,
    /// The new region's cluster.
    pub target: Arc<dyn ClusterOps>,
    /// The new region's installer.
    pub installer: Arc<dyn HybridInstaller>,
    /// nodetool on any pod.
    pub admins: Arc<dyn AdminFactory>,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only preflight and seed selection; print every other action. Changes nothing.
    pub dry_run: bool,
    /// Discard an existing journal (kept as `.prev`) and start over.
    pub restart: bool,
    /// Replace a different CA in the target.
    pub force_ca: bool,
    /// Where the journal lives (default: next to the plan, `.apigee-multiregion/<name>.journal.json`).
    pub journal: Option<PathBuf>,
    /// Stop after this step (for running the expansion in stages: `preflight`, `rebuild`, ...).
    pub until: Option<String>,
    /// How long to wait for another run's lock (a crashed run's lease expires within 60 s).
    pub lock_wait: std::time::Duration,
}

/// Why an expansion stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExpansionError {
    /// The plan is unusable.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The journal is unusable.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Preflight found errors: nothing was changed.
    #[error("preflight refused to proceed ({} error(s)); nothing was changed:\n{}", .findings.iter().filter(|f| f.severity == crate::overrides::Severity::Error).count(), .findings.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Refused {
        /// Every finding, errors first.
        findings: Vec<Finding>,
    },
    /// A step failed.
    #[error("step `{step}` failed: {message}\nThe journal {} records where the run stopped: fix the cause, then run the same command again to continue.", journal.display())]
    Step {
        /// The step id.
        step: &'static str,
        /// What failed and what to do.
        message: String,
        /// The journal path.
        journal: PathBuf,
    },
    /// Another run holds the lock.
    #[error(transparent)]
    Locked(ClusterError),
}

impl ExpansionError {
    /// The step that failed, when a step failed.
    pub fn step(&self) -> Option<&'static str> {
        match self {
            Self::Step { step, .. } => Some(step),
            _ => None,
        }
    }
}

/// What a step failure carries inside the engine before it gets its step id.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Installer(#[from] InstallerError),
    #[error("{path}: {source}")]
    Overrides { path: String, source: OverridesError },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Refused(RefusedFindings),
}

#[derive(Debug, thiserror::Error)]
#[error("refused")]
pub(crate) struct RefusedFindings(pub Vec<Finding>);

/// One step in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Step id.
    pub id: &'static str,
    /// `done`, `skipped` (already done), `failed`, `not-run`, `planned` (dry run).
    pub outcome: &'static str,
    /// Milliseconds spent in this run.
    pub duration_ms: u64,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpansionReport {
    /// Plan name.
    pub plan: String,
    /// A dry run.
    pub dry_run: bool,
    /// Every step.
    pub steps: Vec<StepReport>,
    /// The seed host written to the target overrides.
    pub seed_host: Option<String>,
    /// Its alternates.
    pub seed_alternates: Vec<String>,
    /// Preflight findings (warnings, when it passed).
    pub findings: Vec<Finding>,
    /// The verification, when it ran.
    pub verify: Option<VerifyReport>,
    /// The journal.
    pub journal: PathBuf,
    /// Milliseconds for the whole run.
    pub total_ms: u64,
}

/// The state shared by the steps of one run.
pub(crate) struct Ctx<'a> {
    pub plan: &'a ExpansionPlan,
    pub deps: &'a Deps,
    pub events: &'a dyn EventSink,
    pub journal: Mutex<Journal>,
    pub options: &'a RunOptions,
    pub findings: Mutex<Vec<Finding>>,
    pub verify: Mutex<Option<VerifyReport>>,
}

impl Ctx<'_> {
    pub fn emit(&self, e: Event) {
        self.events.emit(e);
    }

    /// Changes the journal and saves it at once.
    pub fn record(&self, f: impl FnOnce(&mut Journal)) -> Result<(), StepError> {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut j);
        j.save()?;
        Ok(())
    }

    pub fn journal<T>(&self, f: impl FnOnce(&Journal) -> T) -> T {
        let j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        f(&j)
    }
}

/// Verifies an expansion without changing anything: both sides' rings, the load, and every
/// target node's rebuild in its log (the journal's plan ids when it has them).
pub async fn verify_only(plan: &ExpansionPlan, deps: &Deps, journal: Option<PathBuf>) -> Result<VerifyReport, ExpansionError> {
    let path = journal.unwrap_or_else(|| plan.base_dir.join(".apigee-multiregion").join(format!("{}.journal.json", plan.name)));
    let recorded_journal = if path.exists() { Journal::open(&path, &plan.name, &plan.hash(), false).ok() } else { None };
    let recorded = |pod: &str| recorded_journal.as_ref().and_then(|j| j.rebuild.get(pod).and_then(|r| r.plan_id.clone()));
    steps::verify_facts(plan, deps, &recorded)
        .await
        .map(|f| crate::verify::verify(&f))
        .map_err(|e| ExpansionError::Step { step: "verify", message: e.to_string(), journal: path })
}

/// Runs (or resumes) an expansion.
pub async fn run(plan: &ExpansionPlan, deps: &Deps, options: &RunOptions, events: &dyn EventSink) -> Result<ExpansionReport, ExpansionError> {
    let started = Instant::now();
    let journal_path = options.journal.clone().unwrap_or_else(|| plan.base_dir.join(".apigee-multiregion").join(format!("{}.journal.json", plan.name)));
    let journal = if options.dry_run {
        Journal::new(journal_path.clone(), &plan.name, &plan.hash())
    } else {
        Journal::open(&journal_path, &plan.name, &plan.hash(), options.restart)?
    };
    let ctx = Ctx { plan, deps, events, journal: Mutex::new(journal), options, findings: Mutex::new(Vec::new()), verify: Mutex::new(None) };

    let lock = if options.dry_run { None } else { Some(steps::Lock::acquire(deps.target.clone(), plan, options.lock_wait).await.map_err(ExpansionError::Locked)?) };
    let mut reports = Vec::new();
    let mut failure = None;
    for id in STEPS {
        if failure.is_some() {
            reports.push(StepReport { id, outcome: "not-run", duration_ms: 0 });
            continue;
        }
        let t = Instant::now();
        let outcome = steps::run_step(&ctx, id).await;
        let ms = t.elapsed().as_millis() as u64;
        match outcome {
            Ok(o) => reports.push(StepReport { id, outcome: o, duration_ms: ms }),
            Err(e) => {
                let message = e.to_string();
                reports.push(StepReport { id, outcome: "failed", duration_ms: ms });
                if !options.dry_run {
                    let _ = ctx.record(|j| j.set_step(id, StepState::Failed, Some(ms), Some(message.clone())));
                }
                ctx.emit(Event::StepFailed { step: id, error: message.clone() });
                failure = Some(match e {
                    StepError::Refused(RefusedFindings(findings)) => ExpansionError::Refused { findings },
                    _ => ExpansionError::Step { step: id, message, journal: journal_path.clone() },
                });
            }
        }
        if options.until.as_deref() == Some(id) && failure.is_none() {
            break;
        }
    }
    if let Some(lock) = lock {
        lock.release().await;
    }
    if let Some(f) = failure {
        return Err(f);
    }
    let (seed_host, seed_alternates) = ctx.journal(|j| (j.seed_host.clone(), j.seed_alternates.clone()));
    let findings = ctx.findings.lock().map(|f| f.clone()).unwrap_or_default();
    let verify = ctx.verify.lock().ok().and_then(|v| v.clone());
    Ok(ExpansionReport {
        plan: plan.name.clone(),
        dry_run: options.dry_run,
        steps: reports,
        seed_host,
        seed_alternates,
        findings,
        verify,
        journal: journal_path,
        total_ms: started.elapsed().as_millis() as u64,
    })
}
