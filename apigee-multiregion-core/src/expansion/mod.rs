//! The expansion engine: a fixed list of steps ([`StepId::ALL`]), run in order by a driver that
//! owns the lock, the journal, the event stream, cancellation and the timings. It reaches the
//! world only through the ports, so tests drive it with in-memory fakes (`tests/engine/`) as
//! well as on the sandbox.
//!
//! Layout: `steps/` holds one file per step (is it done, do it, describe it); `lock.rs` the
//! Lease; `journal.rs` what a run did; `ctx.rs` what the steps share; `error.rs` why a run
//! stopped; `events.rs` what a run reports; `plan.rs` the plan file.
//!
//! Order of a run: take the lock, THEN read the journal (a run that waited for another's lock
//! must see what that run did), then for each step: skip it when the world shows it done, else
//! run it (or describe it, in a dry run). Cancellation stops at the next await, records the
//! journal and releases the lock.

mod cancel;
mod ctx;
pub mod decommission;
mod error;
mod events;
mod journal;
mod limits;
mod lock;
mod plan;
mod plan_errors;
pub mod progress;
mod step_id;
mod steps;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

pub use cancel::{Cancel, CancelHandle};
pub use error::{ErrorKind, ExpansionError, StepError};
pub use events::{Event, EventSink, NodeState};
pub use journal::{
    FinalizeRecord, JOURNAL_VERSION, Journal, JournalError, RebuildRecord, RemovalRecord, StepRecord, StepState,
    ThroughputRecord,
};
pub use lock::{LEASE_TTL, LockError, lock_location};
pub use plan::{
    CaSpec, Concurrency, CrSpec, DEFAULT_PROBE_IMAGE, ExpansionPlan, HybridVersion, InstallerSpec, JmxSpec, Limits,
    NetworkMode, NetworkProbeSpec, NetworkSpec, PlanError, PreflightSpec, RebuildSpec, RegionSpec, Replication,
    ReplicationMethod, Span, ThroughputSpec, Timeouts, VerifySpec, parse_duration,
};
pub use step_id::{StepId, UnknownStep};

use crate::overrides::Finding;
use crate::ports::{CassandraAdmin, ClusterOps, HybridInstaller};
use crate::verify::VerifyReport;

use ctx::Ctx;
use lock::Lock;

/// Which region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// The existing region.
    Source,
    /// The new region.
    Target,
}

impl Region {
    /// `source` or `target`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Target => "target",
        }
    }
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
    /// What connecting decided that the operator should know (where the JMX credentials came
    /// from, ...): reported by preflight.
    pub notes: Vec<String>,
    /// The plan's other regions that name a context (`others[].context`), in the plan's order:
    /// their rings are read too (preflight, verify).
    pub others: Vec<OtherCluster>,
}

/// Another existing region the tool reads the ring from.
#[derive(Clone)]
pub struct OtherCluster {
    /// Its datacenter, as the plan names it.
    pub datacenter: String,
    /// Its Apigee namespace.
    pub namespace: String,
    /// Label selector of its Cassandra pods.
    pub selector: String,
    /// Its cluster.
    pub cluster: Arc<dyn ClusterOps>,
    /// nodetool on one of its pods (the region argument is ignored: every pod is in this cluster).
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
    /// Run only these steps (every other step is reported `not-run`): `rebuild` and `finalize`
    /// run one step of the runbook with the same checks, journal and lock.
    pub only: Option<Vec<StepId>>,
    /// Stop after this step (for running the expansion in stages).
    pub until: Option<StepId>,
    /// How long to wait for another run's lock (a crashed run's lease expires within 60 s).
    pub lock_wait: std::time::Duration,
    /// Stops the run at the next safe point when signalled (Ctrl-C in the faces).
    pub cancel: Option<Cancel>,
    /// How long the Lease is valid and how often it is renewed (default 60 s and 20 s).
    pub lease: LeaseTiming,
}

/// The Lease's validity and renewal period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// How long the Lease is valid without renewal.
    pub ttl: std::time::Duration,
    /// How often it is renewed.
    pub renew_every: std::time::Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self { ttl: LEASE_TTL, renew_every: LEASE_TTL / 3 }
    }
}

/// How a step ended in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// Done in this run.
    Done,
    /// Already done (the world shows it).
    Skipped,
    /// Failed.
    Failed,
    /// Not run (an earlier step failed, or outside `only`/`until`).
    NotRun,
    /// Described (dry run).
    Planned,
}

/// One step in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Step id.
    pub id: StepId,
    /// How it ended.
    pub outcome: StepOutcome,
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

/// The journal's default path for a plan.
pub fn journal_path(plan: &ExpansionPlan, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| plan.base_dir.join(".apigee-multiregion").join(format!("{}.journal.json", plan.name)))
}

/// Verifies an expansion without changing anything: both sides' rings, the load, and every
/// target node's rebuild (the journal's record for its host ID, else its log).
pub async fn verify_only(
    plan: &ExpansionPlan,
    deps: &Deps,
    journal: Option<PathBuf>,
) -> Result<VerifyReport, ExpansionError> {
    let path = journal_path(plan, journal);
    let recorded = if path.exists() {
        Journal::open(&path, &plan.name, &plan.hash(), false)?
    } else {
        Journal::new(path.clone(), &plan.name, &plan.hash())
    };
    let options = RunOptions { dry_run: true, ..Default::default() };
    let events = |_: Event| {};
    let deps = &limits::bounded(deps, plan.limits.exec_per_cluster);
    let ctx = Ctx {
        plan,
        deps,
        events: &events,
        journal: Mutex::new(recorded),
        options: &options,
        lock: None,
        findings: Mutex::new(Vec::new()),
        verify: Mutex::new(None),
        progress: Mutex::default(),
        decommission: None,
        source_ring: Mutex::new(None),
        rebuild_nodes: Mutex::new(None),
    };
    steps::verify_facts(&ctx).await.map(|f| crate::verify::verify(&f)).map_err(|source| ExpansionError::Step {
        step: StepId::Verify,
        source,
        journal: None,
    })
}

/// Runs one step: skipped when the world shows it done, described in a dry run, else run.
#[tracing::instrument(name = "step", level = "info", skip_all, fields(step = %id))]
async fn run_step(ctx: &Ctx<'_>, id: StepId, registry: Registry) -> Result<StepOutcome, StepError> {
    let step = registry(id);
    debug_assert_eq!(step.id(), id, "the registry maps each id to its own step");
    let dry = ctx.options.dry_run;
    if !dry
        && !id.is_read_only()
        && let Some(reason) = step.is_done(ctx).await?
    {
        ctx.emit(Event::StepSkipped { step: id, reason });
        if ctx.journal(|j| j.step(id)) != StepState::Done {
            ctx.record(|j| j.set_step(id, StepState::Done, Some(0), None))?;
        }
        return Ok(StepOutcome::Skipped);
    }
    if dry && !id.runs_in_dry_run() {
        for p in step.describe_all(ctx).await? {
            ctx.emit(Event::Action { step: id, description: p.description, commands: p.commands });
        }
        return Ok(StepOutcome::Planned);
    }
    ctx.emit(Event::StepStarted { step: id });
    ctx.record(|j| j.set_step(id, StepState::Running, None, None))?;
    let t = Instant::now();
    step.run(ctx).await?;
    let ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
    ctx.record(|j| j.set_step(id, StepState::Done, Some(ms), None))?;
    ctx.emit(Event::StepFinished { step: id, duration_ms: ms });
    Ok(StepOutcome::Done)
}

/// Maps a step id to the step an operation runs for it.
type Registry = fn(StepId) -> &'static dyn steps::Step;

/// What differs between the operations the driver runs (an expansion, a decommission).
struct Operation<'a> {
    /// The steps, in order.
    steps: &'a [StepId],
    /// The step behind each id.
    registry: Registry,
    /// The plan's hash (the journal is only used with the same plan).
    hash: String,
    /// The cluster that holds the Lease, and where in it.
    lock: (Arc<dyn ClusterOps>, (String, String)),
    /// Decommission only.
    decommission: Option<&'a decommission::Decommissioning>,
}

/// Runs (or resumes) an expansion.
pub async fn run(
    plan: &ExpansionPlan,
    deps: &Deps,
    options: &RunOptions,
    events: &dyn EventSink,
) -> Result<ExpansionReport, ExpansionError> {
    let op = Operation {
        steps: &StepId::ALL,
        registry: steps::step,
        hash: plan.hash(),
        lock: (deps.target.clone(), lock_location(plan)),
        decommission: None,
    };
    drive(plan, deps, options, events, op).await
}

/// The driver shared by every operation: the lock, THEN the journal, then each step in order
/// (skipped when the world shows it done, described in a dry run), cancellation, the report.
async fn drive(
    plan: &ExpansionPlan,
    deps: &Deps,
    options: &RunOptions,
    events: &dyn EventSink,
    op: Operation<'_>,
) -> Result<ExpansionReport, ExpansionError> {
    let started = Instant::now();
    // Every nodetool exec of the run waits for a permit of its cluster (`limits`).
    let deps = &limits::bounded(deps, plan.limits.exec_per_cluster);
    let journal_path = journal_path(plan, options.journal.clone());
    let first = op.steps.first().copied().unwrap_or(StepId::Preflight);
    // The lock first: a run that waited for another must read the journal that run left.
    let lock = if options.dry_run {
        None
    } else {
        let (cluster, location) = op.lock.clone();
        let acquire = Lock::acquire(cluster, location, options.lock_wait, options.lease.ttl, options.lease.renew_every);
        match &options.cancel {
            Some(c) => tokio::select! {
                l = acquire => Some(l.map_err(ExpansionError::Locked)?),
                () = c.cancelled() => return Err(ExpansionError::Cancelled { step: first, journal: journal_path }),
            },
            None => Some(acquire.await.map_err(ExpansionError::Locked)?),
        }
    };
    let journal = if options.dry_run {
        // A dry run reads the journal when there is one (to show what is left), and never writes.
        Journal::open(&journal_path, &plan.name, &op.hash, false)
            .unwrap_or_else(|_| Journal::new(journal_path.clone(), &plan.name, &op.hash))
    } else {
        match Journal::open(&journal_path, &plan.name, &op.hash, options.restart) {
            Ok(j) => j,
            Err(e) => {
                if let Some(l) = lock {
                    l.release().await;
                }
                return Err(e.into());
            }
        }
    };
    let ctx = Ctx {
        plan,
        deps,
        events,
        journal: Mutex::new(journal),
        options,
        lock,
        findings: Mutex::new(Vec::new()),
        verify: Mutex::new(None),
        progress: Mutex::default(),
        decommission: op.decommission,
        source_ring: Mutex::new(None),
        rebuild_nodes: Mutex::new(None),
    };
    let mut reports = Vec::new();
    let mut failure = None;
    let mut stopped = false;
    for &id in op.steps {
        let selected = options.only.as_ref().is_none_or(|o| o.contains(&id));
        if failure.is_some() || stopped || !selected {
            reports.push(StepReport { id, outcome: StepOutcome::NotRun, duration_ms: 0 });
            continue;
        }
        let t = Instant::now();
        let outcome = match &options.cancel {
            Some(c) => tokio::select! {
                o = run_step(&ctx, id, op.registry) => Some(o),
                () = c.cancelled() => None,
            },
            None => Some(run_step(&ctx, id, op.registry).await),
        };
        let ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Some(Ok(o)) => reports.push(StepReport { id, outcome: o, duration_ms: ms }),
            None => {
                failure = Some(ExpansionError::Cancelled { step: id, journal: journal_path.clone() });
                reports.push(StepReport { id, outcome: StepOutcome::Failed, duration_ms: ms });
            }
            Some(Err(e)) => {
                let message = e.to_string();
                reports.push(StepReport { id, outcome: StepOutcome::Failed, duration_ms: ms });
                if !options.dry_run && !matches!(e, StepError::Lock(_)) {
                    let _ = ctx.record(|j| j.set_step(id, StepState::Failed, Some(ms), Some(message.clone())));
                }
                ctx.emit(Event::StepFailed { step: id, error: message });
                failure = Some(match e {
                    StepError::Refused(findings) => ExpansionError::Refused { findings },
                    source => ExpansionError::Step {
                        step: id,
                        source,
                        journal: (!options.dry_run).then(|| journal_path.clone()),
                    },
                });
            }
        }
        if options.until == Some(id) {
            stopped = true;
        }
    }
    // Stream throttles still set (the rebuild step was cancelled, or a crashed run left them and
    // this run did not rebuild) are set back before the lock is released. A failure here is an
    // error only when nothing else failed; it was reported as a warning either way.
    // With the lock lost, the rebuild step already said what stays throttled.
    if ctx.lock.is_some()
        && (ctx.ensure_locked().is_ok() || failure.is_none())
        && let Err(e) = steps::restore_throughput(&ctx).await
        && failure.is_none()
    {
        failure = Some(ExpansionError::Step { step: StepId::Rebuild, source: e, journal: Some(journal_path.clone()) });
    }
    let Ctx { journal, lock, findings, verify, .. } = ctx;
    if let Some(lock) = lock {
        lock.release().await;
    }
    if let Some(f) = failure {
        return Err(f);
    }
    let journal = journal.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(ExpansionReport {
        plan: plan.name.clone(),
        dry_run: options.dry_run,
        steps: reports,
        seed_host: journal.seed_host.clone(),
        seed_alternates: journal.seed_alternates.clone(),
        findings: findings.into_inner().unwrap_or_default(),
        verify: verify.into_inner().ok().flatten(),
        journal: journal_path,
        total_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}
