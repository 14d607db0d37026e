//! `apigee_multiregion._native`: the Python face of `apigee-multiregion-core`.
//!
//! Results cross the boundary as JSON text (the same shapes the CLI prints); the pure-Python
//! package turns them into typed objects and raises the exceptions of
//! `apigee_multiregion.errors`. No domain logic lives here: every `if` about Apigee or Cassandra
//! is in core.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use apigee_multiregion_core::adapters::{connect, connect_decommission};
use apigee_multiregion_core::expansion::decommission as decom;
use apigee_multiregion_core::expansion::{
    self, Cancel, CancelHandle, ErrorKind, Event, EventSink, ExpansionError, ExpansionReport, RunOptions, StepId,
};
use apigee_multiregion_core::model::{CassandraPod, DatacenterName, PodPhase, RackName};
use apigee_multiregion_core::nodetool;
use apigee_multiregion_core::overrides::{self, CheckOptions, OverridesError};
use apigee_multiregion_core::seeds::{SeedPolicy, select_seeds as core_select_seeds};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Raises `apigee_multiregion.errors.<class>(message, **attributes)`.
fn raise(py: Python<'_>, class: &str, message: String, attrs: &[(&str, Py<PyAny>)]) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let module = py.import("apigee_multiregion.errors")?;
        let cls = module.getattr(class)?;
        let kwargs = PyDict::new(py);
        for (k, v) in attrs {
            kwargs.set_item(*k, v)?;
        }
        let exc = cls.call((message.clone(),), Some(&kwargs))?;
        Ok(PyErr::from_value(exc))
    })();
    built.unwrap_or_else(|e| e)
}

fn to_json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

fn overrides_err(py: Python<'_>, e: &OverridesError) -> PyErr {
    let (line, column) = e.location().unwrap_or((0, 0));
    raise(
        py,
        "OverridesError",
        e.to_string(),
        &[
            ("line", line.into_pyobject(py).map(|o| o.into_any().unbind()).unwrap_or_else(|_| py.None())),
            ("column", column.into_pyobject(py).map(|o| o.into_any().unbind()).unwrap_or_else(|_| py.None())),
        ],
    )
}

fn parse_err(py: Python<'_>, e: &nodetool::ParseError) -> PyErr {
    let line = e.line.into_pyobject(py).map(|o| o.into_any().unbind()).unwrap_or_else(|_| py.None());
    raise(py, "NodetoolError", e.to_string(), &[("line", line)])
}

/// `nodetool status` text -> JSON.
#[pyfunction]
fn parse_nodetool_status(py: Python<'_>, text: &str) -> PyResult<String> {
    nodetool::parse_status(text).map_err(|e| parse_err(py, &e)).and_then(|v| to_json(&v))
}

/// `nodetool netstats` text -> JSON.
#[pyfunction]
fn parse_nodetool_netstats(py: Python<'_>, text: &str) -> PyResult<String> {
    nodetool::parse_netstats(text).map_err(|e| parse_err(py, &e)).and_then(|v| to_json(&v))
}

/// `nodetool describecluster` text -> JSON.
#[pyfunction]
fn parse_nodetool_describecluster(py: Python<'_>, text: &str) -> PyResult<String> {
    nodetool::parse_describecluster(text).map_err(|e| parse_err(py, &e)).and_then(|v| to_json(&v))
}

/// A Cassandra log -> JSON list of rebuild events.
#[pyfunction]
fn scan_rebuild_log(text: &str) -> PyResult<String> {
    to_json(&nodetool::scan_rebuild_log(text))
}

#[derive(serde::Deserialize)]
struct PodIn {
    name: String,
    #[serde(default)]
    pod_ip: Option<String>,
    #[serde(default)]
    host_ip: Option<String>,
    #[serde(default)]
    node_name: Option<String>,
    #[serde(default = "running")]
    phase: String,
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    host_network: bool,
    #[serde(default)]
    rack: Option<String>,
}

fn running() -> String {
    "Running".into()
}

/// Seed selection: pods as JSON list of objects, the ring as `nodetool status` text.
#[pyfunction]
#[pyo3(signature = (pods_json, ring_text=None, source_dc=None, count=3))]
fn select_seeds(
    py: Python<'_>,
    pods_json: &str,
    ring_text: Option<&str>,
    source_dc: Option<&str>,
    count: usize,
) -> PyResult<String> {
    let input: Vec<PodIn> =
        serde_json::from_str(pods_json).map_err(|e| raise(py, "SeedSelectionError", format!("pods: {e}"), &[]))?;
    let pods: Vec<CassandraPod> = input
        .into_iter()
        .map(|p| CassandraPod {
            ordinal: CassandraPod::ordinal_of(&p.name),
            pod_ip: p.pod_ip.and_then(|ip| ip.parse().ok()),
            host_ip: p.host_ip.and_then(|ip| ip.parse().ok()),
            node_name: p.node_name,
            phase: PodPhase::parse(&p.phase),
            ready: p.ready,
            host_network: p.host_network,
            rack: p.rack,
            incarnation: None,
            name: p.name,
        })
        .collect();
    let ring = match ring_text {
        Some(t) => Some(nodetool::parse_status(t).map_err(|e| parse_err(py, &e))?),
        None => None,
    };
    let source_dc = match source_dc {
        Some(d) => Some(DatacenterName::new(d).map_err(|e| raise(py, "SeedSelectionError", e.to_string(), &[]))?),
        None => None,
    };
    let chosen = core_select_seeds(&pods, ring.as_ref(), &SeedPolicy { source_dc, count })
        .map_err(|e| raise(py, "SeedSelectionError", e.to_string(), &[]))?;
    to_json(&chosen)
}

/// An overrides file, edited without losing a byte of what was not edited.
#[pyclass(module = "apigee_multiregion._native")]
struct OverridesDoc {
    inner: overrides::OverridesDoc,
}

#[pymethods]
impl OverridesDoc {
    #[new]
    fn new(py: Python<'_>, text: &str) -> PyResult<Self> {
        overrides::OverridesDoc::parse(text).map(|inner| Self { inner }).map_err(|e| overrides_err(py, &e))
    }

    fn text(&self) -> String {
        self.inner.text().to_owned()
    }

    fn __str__(&self) -> String {
        self.inner.text().to_owned()
    }

    fn __repr__(&self) -> String {
        format!("OverridesDoc(<{} bytes>)", self.inner.text().len())
    }

    fn view_json(&self, py: Python<'_>) -> PyResult<String> {
        self.inner.view().map_err(|e| overrides_err(py, &e)).and_then(|v| to_json(&v))
    }

    fn set_seed_host(&mut self, py: Python<'_>, host: &str) -> PyResult<()> {
        self.inner.set_seed_host(host).map_err(|e| overrides_err(py, &e))
    }

    fn clear_seed_host(&mut self, py: Python<'_>) -> PyResult<bool> {
        self.inner.clear_seed_host().map_err(|e| overrides_err(py, &e))
    }

    fn set_datacenter(&mut self, py: Python<'_>, name: &str) -> PyResult<()> {
        let dc = DatacenterName::new(name).map_err(|e| raise(py, "OverridesError", e.to_string(), &[]))?;
        self.inner.set_datacenter(&dc).map_err(|e| overrides_err(py, &e))
    }

    fn set_rack(&mut self, py: Python<'_>, name: &str) -> PyResult<()> {
        let rack = RackName::new(name).map_err(|e| raise(py, "OverridesError", e.to_string(), &[]))?;
        self.inner.set_rack(&rack).map_err(|e| overrides_err(py, &e))
    }

    fn set_host_network(&mut self, py: Python<'_>, on: bool) -> PyResult<()> {
        self.inner.set_host_network(on).map_err(|e| overrides_err(py, &e))
    }

    #[pyo3(signature = (target, island_network=true))]
    fn check_pair_json(&self, py: Python<'_>, target: &OverridesDoc, island_network: bool) -> PyResult<String> {
        overrides::check_pair_with(&self.inner, &target.inner, &CheckOptions { island_network })
            .map_err(|e| overrides_err(py, &e))
            .and_then(|f| to_json(&f))
    }
}

/// A pyclass over a validated plan file type: `from_file` (errors raised as `PlanError`), `name`,
/// `hash`, `to_json`.
macro_rules! plan_class {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[pyclass(module = "apigee_multiregion._native", frozen)]
        struct $name {
            inner: $inner,
        }

        #[pymethods]
        impl $name {
            #[staticmethod]
            fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
                <$inner>::from_file(&path).map(|inner| Self { inner }).map_err(|e| raise(py, "PlanError", e.to_string(), &[]))
            }

            #[getter]
            fn name(&self) -> String {
                self.inner.name.clone()
            }

            #[getter]
            fn hash(&self) -> String {
                self.inner.hash()
            }

            fn to_json(&self) -> PyResult<String> {
                to_json(&self.inner)
            }
        }
    };
}

plan_class!(
    /// A validated plan file.
    Plan,
    expansion::ExpansionPlan
);
plan_class!(
    /// A validated decommission plan file (preview).
    DecommissionPlan,
    decom::DecommissionPlan
);

/// Forwards events to a Python callable as JSON text.
struct PySink(Option<Py<PyAny>>);

impl EventSink for PySink {
    fn emit(&self, event: Event) {
        let Some(cb) = &self.0 else { return };
        let Ok(json) = serde_json::to_string(&event) else { return };
        Python::attach(|py| {
            if let Err(e) = cb.call1(py, (json,)) {
                // A failing callback must not stop an expansion; Python sees the traceback.
                e.print(py);
            }
        });
    }
}

/// The one mapping from the engine's error kinds to the package's exception classes.
fn exception_class(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Input => "PlanError",
        ErrorKind::Refused => "PreflightRefused",
        ErrorKind::Locked => "ClusterError",
        ErrorKind::Failed => "ExpansionFailed",
        ErrorKind::Cancelled => "ExpansionInterrupted",
    }
}

fn py_str(py: Python<'_>, s: String) -> Py<PyAny> {
    s.into_pyobject(py).map(|o| o.into_any().unbind()).unwrap_or_else(|_| py.None())
}

fn expansion_err(py: Python<'_>, e: &ExpansionError) -> PyErr {
    let mut attrs = Vec::new();
    if let ExpansionError::Refused { findings } = e {
        attrs.push(("findings_json", py_str(py, serde_json::to_string(findings).unwrap_or_default())));
    }
    if let Some(step) = e.step() {
        attrs.push(("step", py_str(py, step.to_string())));
    }
    let journal = match e {
        ExpansionError::Step { journal, .. } => journal.as_deref(),
        ExpansionError::Cancelled { journal, .. } => Some(journal.as_path()),
        _ => None,
    };
    if let Some(journal) = journal {
        attrs.push(("journal", py_str(py, journal.display().to_string())));
    }
    raise(py, exception_class(e.kind()), e.to_string(), &attrs)
}

/// Seconds from Python as a duration: negative or NaN is 0, too large (or inf) is "forever".
fn seconds(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 { Duration::ZERO } else { Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX) }
}

/// Runs (or resumes) an expansion. Blocks with the GIL released; Ctrl-C stops it cleanly: the
/// engine stops at its next await, records the journal and releases its lock before this
/// returns. `stop` (anything with `is_set()`, e.g. a `threading.Event`) does the same from
/// another thread: the run then ends with `ExpansionInterrupted` (how `expand_async` is cancelled).
#[pyfunction]
#[pyo3(signature = (plan, on_event=None, dry_run=false, restart=false, force_ca=false, until=None, journal=None, lock_wait_seconds=0.0, only=None, stop=None))]
#[allow(clippy::too_many_arguments)]
fn expand(
    py: Python<'_>,
    plan: &Plan,
    on_event: Option<Py<PyAny>>,
    dry_run: bool,
    restart: bool,
    force_ca: bool,
    until: Option<String>,
    journal: Option<PathBuf>,
    lock_wait_seconds: f64,
    only: Option<Vec<String>>,
    stop: Option<Py<PyAny>>,
) -> PyResult<String> {
    let step = |s: &str| s.parse::<StepId>().map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()));
    let until = until.as_deref().map(step).transpose()?;
    let only = only.map(|o| o.iter().map(|s| step(s)).collect::<PyResult<Vec<_>>>()).transpose()?;
    let (handle, cancel) = Cancel::new();
    let options = RunOptions {
        dry_run,
        restart,
        force_ca,
        journal,
        until,
        only,
        lock_wait: seconds(lock_wait_seconds),
        cancel: Some(cancel),
        lease: Default::default(),
    };
    let runtime = runtime(py)?;
    let plan_owned = plan.inner.clone();
    let sink = PySink(on_event);
    let run = async move {
        let deps = connecting(&options, connect(&plan_owned)).await?;
        expansion::run(&plan_owned, &deps, &options, &sink).await.map_err(Failure::Run)
    };
    run_and_wait(py, &runtime, &handle, stop.as_ref(), "expansion", run)
}

/// How a run ended without a report.
enum Failure {
    /// The engine's error.
    Run(ExpansionError),
    /// Connecting failed (kubeconfig, credentials): nothing was changed.
    Connect(String),
    /// Cancelled while connecting: nothing was changed.
    Stopped,
}

/// Connects, unless the run is cancelled first (reading `cassandra.auth.secret` from a silent
/// API server must not outlive a Ctrl-C or a cancelled task).
async fn connecting<T, E: std::fmt::Display>(
    options: &RunOptions,
    connect: impl Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    let Some(cancel) = &options.cancel else {
        return connect.await.map_err(|e| Failure::Connect(e.to_string()));
    };
    tokio::select! {
        r = connect => r.map_err(|e| Failure::Connect(e.to_string())),
        () = cancel.cancelled() => Err(Failure::Stopped),
    }
}

/// The runtime one run lives on.
fn runtime(py: Python<'_>) -> PyResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| raise(py, "ExpansionFailed", format!("cannot start the async runtime: {e}"), &[]))
}

/// Runs `run` (an expansion or a decommission) on `runtime` and waits for it with the GIL
/// released, checking every 100 ms for Ctrl-C and for `stop.is_set()`. Either cancels the run
/// through `handle`; the engine then stops at its next await, records the journal and releases
/// its lock, and only after that does this return: Ctrl-C re-raised as it came, `stop` as
/// `ExpansionInterrupted`. `what` names the run in the messages of an abnormal end.
fn run_and_wait<F>(
    py: Python<'_>,
    runtime: &tokio::runtime::Runtime,
    handle: &CancelHandle,
    stop: Option<&Py<PyAny>>,
    what: &str,
    run: F,
) -> PyResult<String>
where
    F: Future<Output = Result<ExpansionReport, Failure>> + Send + 'static,
{
    let task = runtime.spawn(run);
    let (tx, rx) = std::sync::mpsc::channel();
    // `detach` needs `Sync` captures; the receiver is only used from this thread.
    let rx = std::sync::Mutex::new(rx);
    runtime.spawn(async move {
        let _ = tx.send(task.await);
    });
    let mut interrupted: Option<PyErr> = None;
    loop {
        let next = py.detach(|| match rx.lock() {
            Ok(r) => r.recv_timeout(Duration::from_millis(100)),
            Err(_) => Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
        });
        match next {
            // After Ctrl-C the run has stopped and released its lock: raise the interrupt.
            Ok(_) if interrupted.is_some() => {
                return Err(interrupted.unwrap_or_else(|| pyo3::exceptions::PyKeyboardInterrupt::new_err(())));
            }
            Ok(Ok(Ok(report))) => return to_json(&report),
            Ok(Ok(Err(Failure::Run(e)))) => return Err(expansion_err(py, &e)),
            Ok(Ok(Err(Failure::Connect(message)))) => return Err(raise(py, "ClusterError", message, &[])),
            Ok(Ok(Err(Failure::Stopped))) => {
                return Err(raise(
                    py,
                    "ExpansionInterrupted",
                    format!("the {what} was stopped while connecting; nothing was changed"),
                    &[],
                ));
            }
            Ok(Err(join)) => {
                return Err(raise(py, "ExpansionFailed", format!("the {what} task ended abnormally: {join}"), &[]));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if interrupted.is_none()
                    && let Err(interrupt) = py.check_signals()
                {
                    handle.cancel();
                    interrupted = Some(interrupt);
                }
                // A failing `is_set()` counts as set: stopping is the safe side.
                if let Some(s) = stop
                    && s.call_method0(py, "is_set").and_then(|v| v.is_truthy(py)).unwrap_or(true)
                {
                    handle.cancel();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(raise(py, "ExpansionFailed", format!("the {what} task disappeared"), &[]));
            }
        }
    }
}

/// Runs (or resumes) a decommission (preview), as `apigee-multiregion decommission` does: the
/// same journal, lock (in the surviving cluster), events, dry run, Ctrl-C and `stop` as
/// [`expand`].
#[pyfunction]
#[pyo3(signature = (plan, on_event=None, dry_run=false, restart=false, lost_region=false, force=false, journal=None, lock_wait_seconds=0.0, stop=None))]
#[allow(clippy::too_many_arguments)]
fn decommission(
    py: Python<'_>,
    plan: &DecommissionPlan,
    on_event: Option<Py<PyAny>>,
    dry_run: bool,
    restart: bool,
    lost_region: bool,
    force: bool,
    journal: Option<PathBuf>,
    lock_wait_seconds: f64,
    stop: Option<Py<PyAny>>,
) -> PyResult<String> {
    let (handle, cancel) = Cancel::new();
    let options = RunOptions {
        dry_run,
        restart,
        journal,
        lock_wait: seconds(lock_wait_seconds),
        cancel: Some(cancel),
        ..Default::default()
    };
    let choices = decom::DecommissionOptions { lost_region, force };
    let runtime = runtime(py)?;
    let plan_owned = plan.inner.clone();
    let sink = PySink(on_event);
    let run = async move {
        let (deps, surviving) = connecting(&options, connect_decommission(&plan_owned)).await?;
        decom::run(&plan_owned, &deps, surviving, &options, choices, &sink).await.map_err(Failure::Run)
    };
    run_and_wait(py, &runtime, &handle, stop.as_ref(), "decommission", run)
}

/// The step ids, in order.
#[pyfunction]
fn steps() -> Vec<&'static str> {
    StepId::ALL.iter().map(|s| s.as_str()).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_nodetool_status, m)?)?;
    m.add_function(wrap_pyfunction!(parse_nodetool_netstats, m)?)?;
    m.add_function(wrap_pyfunction!(parse_nodetool_describecluster, m)?)?;
    m.add_function(wrap_pyfunction!(scan_rebuild_log, m)?)?;
    m.add_function(wrap_pyfunction!(select_seeds, m)?)?;
    m.add_function(wrap_pyfunction!(expand, m)?)?;
    m.add_function(wrap_pyfunction!(decommission, m)?)?;
    m.add_function(wrap_pyfunction!(steps, m)?)?;
    m.add_class::<OverridesDoc>()?;
    m.add_class::<Plan>()?;
    m.add_class::<DecommissionPlan>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
