"""apigee_multiregion: expand Apigee hybrid to a new region, safely and resumably.

The same library as the `apigee-multiregion` CLI (Rust core, this is a thin face over it):

>>> from apigee_multiregion import OverridesDoc
>>> doc = OverridesDoc("cassandra:\\n  hostNetwork: true  # island\\n")
>>> doc.set_seed_host("10.0.0.4")
>>> print(doc, end="")
cassandra:
  hostNetwork: true  # island
  multiRegionSeedHost: 10.0.0.4
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, Iterable, Optional, Union

from . import _native
from .errors import (
    ApigeeMultiregionError,
    ClusterError,
    ExpansionFailed,
    ExpansionInterrupted,
    NodetoolError,
    OverridesError,
    PlanError,
    PreflightRefused,
    SeedSelectionError,
)
from .types import (
    DescribeCluster,
    Event,
    ExpansionReport,
    Finding,
    LogEvent,
    NetStats,
    SeedSelection,
    StatusReport,
)

__version__: str = _native.__version__

#: The expansion's step ids, in order.
STEPS: tuple[str, ...] = tuple(_native.steps())


def parse_nodetool_status(text: str) -> StatusReport:
    """Parses `nodetool status` output (3.11 to 5.0 layouts, noise before the first header)."""
    return StatusReport.from_dict(json.loads(_native.parse_nodetool_status(text)))


def parse_nodetool_netstats(text: str) -> NetStats:
    """Parses `nodetool netstats` output."""
    return NetStats.from_dict(json.loads(_native.parse_nodetool_netstats(text)))


def parse_nodetool_describecluster(text: str) -> DescribeCluster:
    """Parses `nodetool describecluster` output."""
    return DescribeCluster.from_dict(json.loads(_native.parse_nodetool_describecluster(text)))


def scan_rebuild_log(text: str) -> list[LogEvent]:
    """Finds rebuild and streaming events in a Cassandra log."""
    return [LogEvent.from_dict(e) for e in json.loads(_native.scan_rebuild_log(text))]


def select_seeds(pods: Iterable[dict[str, Any]], ring: Union[str, StatusReport, None] = None, source_dc: Optional[str] = None, count: int = 3) -> SeedSelection:
    """Chooses the seed host among `pods` (dicts with name, pod_ip, host_ip, node_name, phase,
    ready, host_network, rack). `ring` is `nodetool status` text of the source ring."""
    if isinstance(ring, StatusReport):
        raise TypeError("pass the `nodetool status` text as ring, not a parsed report")
    return SeedSelection.from_dict(json.loads(_native.select_seeds(json.dumps(list(pods)), ring, source_dc, count)))


class OverridesDoc:
    """An Apigee hybrid overrides file, edited without losing a comment, a key order or a quote.
    `str(doc)` is the exact text."""

    def __init__(self, text: str) -> None:
        self._doc = _native.OverridesDoc(text)

    @classmethod
    def parse(cls, text: str) -> OverridesDoc:
        return cls(text)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]]) -> OverridesDoc:
        with open(path, encoding="utf-8") as f:
            return cls(f.read())

    def __str__(self) -> str:
        return self._doc.text()

    def __repr__(self) -> str:
        return repr(self._doc)

    def view(self) -> dict[str, Any]:
        """The keys an expansion reads (passwords are not included)."""
        return json.loads(self._doc.view_json())

    def set_seed_host(self, host: str) -> None:
        self._doc.set_seed_host(host)

    def clear_seed_host(self) -> bool:
        return self._doc.clear_seed_host()

    def set_datacenter(self, name: str) -> None:
        self._doc.set_datacenter(name)

    def set_rack(self, name: str) -> None:
        self._doc.set_rack(name)

    def set_host_network(self, on: bool) -> None:
        self._doc.set_host_network(on)

    def check_pair(self, target: OverridesDoc, island_network: bool = True) -> list[Finding]:
        """This (source) file against the new region's `target`."""
        return check_pair(self, target, island_network)


def check_pair(source: OverridesDoc, target: OverridesDoc, island_network: bool = True) -> list[Finding]:
    """The cross-region invariants between the existing region's overrides and the new one's."""
    return [Finding.from_dict(f) for f in json.loads(source._doc.check_pair_json(target._doc, island_network))]


class _PlanFile:
    def __init__(self, native: Any) -> None:
        self._plan = native

    @property
    def name(self) -> str:
        return self._plan.name

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self._plan.to_json())


class ExpansionPlan(_PlanFile):
    """A validated plan file (see docs/cli.md, "Plan file")."""

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]]) -> ExpansionPlan:
        """Reads and validates a plan file; raises PlanError naming the file, line and column."""
        return cls(_native.Plan.from_file(os.fspath(path)))


class DecommissionPlan(_PlanFile):
    """A validated decommission plan file (preview; see docs/migrate-a-region.md): `leaving`,
    `surviving`, `installer`, `jmx`, `lost_region`, `timeouts`."""

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]]) -> DecommissionPlan:
        """Reads and validates a plan file; raises PlanError naming the file, line and column."""
        return cls(_native.DecommissionPlan.from_file(os.fspath(path)))


def _callback(on_event: Optional[Callable[[Event], Any]]) -> Optional[Callable[[str], None]]:
    if on_event is None:
        return None
    return lambda raw: on_event(Event.from_dict(json.loads(raw)))


def expand(plan: ExpansionPlan, on_event: Optional[Callable[[Event], Any]] = None, dry_run: bool = False, *,
           restart: bool = False, force_ca: bool = False, until: Optional[str] = None,
           journal: Optional[str] = None, lock_wait_seconds: float = 0.0,
           stop: Optional[threading.Event] = None) -> ExpansionReport:
    """Runs (or resumes) the expansion. Blocks with the GIL released; Ctrl-C (or setting `stop`
    from another thread) stops it cleanly: the journal records every finished action and the lock
    is released before ExpansionInterrupted is raised; the next call resumes from the journal.
    Raises PreflightRefused, ExpansionFailed, ClusterError."""
    raw = _native.expand(plan._plan, _callback(on_event), dry_run, restart, force_ca, until, journal,
                         lock_wait_seconds, stop=stop)
    return ExpansionReport.from_dict(json.loads(raw))


def decommission(plan: DecommissionPlan, on_event: Optional[Callable[[Event], Any]] = None, dry_run: bool = False, *,
                 restart: bool = False, lost_region: bool = False, force: bool = False,
                 journal: Optional[str] = None, lock_wait_seconds: float = 0.0,
                 stop: Optional[threading.Event] = None) -> ExpansionReport:
    """Runs (or resumes) a decommission (preview): removes the plan's `leaving` region, checked
    and cleaned up from the `surviving` one, as `apigee-multiregion decommission` does.
    `lost_region`: the leaving region is gone (no uninstall, its nodes must be down); `force`:
    a removal that fails or does not finish is completed with `nodetool assassinate` (its data is
    not streamed: repair afterwards). Blocks with the GIL released; Ctrl-C (or setting `stop`
    from another thread) stops it cleanly as in `expand`: journal recorded, lock released, then
    ExpansionInterrupted. Raises PreflightRefused, ExpansionFailed, ClusterError."""
    raw = _native.decommission(plan._plan, _callback(on_event), dry_run, restart, lost_region, force, journal,
                               lock_wait_seconds, stop=stop)
    return ExpansionReport.from_dict(json.loads(raw))


async def expand_async(plan: ExpansionPlan, on_event: Optional[Callable[[Event], Any]] = None, dry_run: bool = False, **kwargs: Any) -> ExpansionReport:
    """`expand` for asyncio, in a worker thread. Cancelling the task stops the run as Ctrl-C does
    (journal recorded, lock released) before CancelledError reaches the caller."""
    import asyncio  # imported here: it costs more than the rest of the package to import

    stop = threading.Event()

    def run() -> Union[ExpansionReport, ExpansionInterrupted]:
        try:
            return expand(plan, on_event, dry_run, stop=stop, **kwargs)
        except ExpansionInterrupted as stopped:
            return stopped  # returned: a KeyboardInterrupt raised in a task escapes asyncio's loop

    work = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        result = await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()
        try:
            await work  # the run stops at its next safe point
        except Exception:
            pass  # the cancellation is what the caller asked for; the run's own end is in the journal
        raise
    if isinstance(result, ExpansionInterrupted):
        raise result
    return result


def preflight(plan: ExpansionPlan) -> list[Finding]:
    """Read-only checks of both clusters and overrides files. Returns every finding (errors and
    warnings) instead of raising."""
    try:
        report = expand(plan, dry_run=True, until="preflight")
    except PreflightRefused as refused:
        return refused.findings
    return report.findings


__all__ = [
    "STEPS", "ApigeeMultiregionError", "ClusterError", "DecommissionPlan", "DescribeCluster", "Event", "ExpansionFailed",
    "ExpansionInterrupted", "ExpansionPlan",
    "ExpansionReport", "Finding", "LogEvent", "NetStats", "NodetoolError", "OverridesDoc", "OverridesError", "PlanError",
    "PreflightRefused", "SeedSelection", "SeedSelectionError", "StatusReport", "check_pair", "decommission", "expand", "expand_async",
    "parse_nodetool_describecluster", "parse_nodetool_netstats", "parse_nodetool_status", "preflight", "scan_rebuild_log",
    "select_seeds",
]
