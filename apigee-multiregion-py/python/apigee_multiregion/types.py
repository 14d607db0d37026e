"""Typed results. Every class has `to_dict()` giving exactly the keys of the CLI's JSON output."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional


class _ToDict:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class NodeStatus(_ToDict):
    """One row of `nodetool status`."""

    status: str
    state: str
    address: str
    port: Optional[int]
    load_bytes: Optional[int]
    tokens: Optional[int]
    token: Optional[str]
    owns_percent: Optional[float]
    host_id: str
    rack: str

    @property
    def is_up_normal(self) -> bool:
        return self.status == "up" and self.state == "normal"


@dataclass(frozen=True)
class DatacenterStatus(_ToDict):
    name: str
    nodes: list[NodeStatus]


@dataclass(frozen=True)
class StatusReport(_ToDict):
    """`nodetool status`: the ring as one node sees it."""

    datacenters: list[DatacenterStatus]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StatusReport:
        return cls([DatacenterStatus(dc["name"], [NodeStatus(**n) for n in dc["nodes"]]) for dc in d["datacenters"]])

    def datacenter(self, name: str) -> Optional[DatacenterStatus]:
        return next((d for d in self.datacenters if d.name == name), None)


@dataclass(frozen=True)
class StreamDirection(_ToDict):
    files_total: int
    bytes_total: int
    files_done: int
    bytes_done: int


@dataclass(frozen=True)
class StreamPeer(_ToDict):
    address: str
    receiving: Optional[StreamDirection]
    sending: Optional[StreamDirection]


@dataclass(frozen=True)
class StreamPlan(_ToDict):
    operation: str
    plan_id: str
    peers: list[StreamPeer]


@dataclass(frozen=True)
class NetStats(_ToDict):
    """`nodetool netstats`: mode and active streams."""

    mode: str
    streams: list[StreamPlan]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetStats:
        def direction(x: Optional[dict[str, int]]) -> Optional[StreamDirection]:
            return StreamDirection(**x) if x else None

        return cls(d["mode"], [StreamPlan(s["operation"], s["plan_id"], [StreamPeer(p["address"], direction(p["receiving"]), direction(p["sending"])) for p in s["peers"]]) for s in d["streams"]])

    def rebuild_progress(self) -> tuple[int, int]:
        """(bytes received, bytes to receive) over active Rebuild plans."""
        done = total = 0
        for s in self.streams:
            if s.operation.lower() == "rebuild":
                for p in s.peers:
                    if p.receiving:
                        done += p.receiving.bytes_done
                        total += p.receiving.bytes_total
        return done, total


@dataclass(frozen=True)
class DatacenterCounts(_ToDict):
    nodes: int
    down: int


@dataclass(frozen=True)
class KeyspaceReplication(_ToDict):
    class_: str
    replication: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.class_, "replication": dict(self.replication)}


@dataclass(frozen=True)
class DescribeCluster(_ToDict):
    """`nodetool describecluster`."""

    name: str
    snitch: str
    partitioner: str
    schema_versions: dict[str, list[str]]
    unreachable: list[str]
    datacenters: dict[str, DatacenterCounts]
    keyspaces: dict[str, KeyspaceReplication]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DescribeCluster:
        return cls(
            d["name"], d["snitch"], d["partitioner"], d["schema_versions"], d["unreachable"],
            {k: DatacenterCounts(**v) for k, v in d["datacenters"].items()},
            {k: KeyspaceReplication(v["class"], v["replication"]) for k, v in d["keyspaces"].items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "snitch": self.snitch, "partitioner": self.partitioner,
            "schema_versions": self.schema_versions, "unreachable": self.unreachable,
            "datacenters": {k: v.to_dict() for k, v in self.datacenters.items()},
            "keyspaces": {k: v.to_dict() for k, v in self.keyspaces.items()},
        }


@dataclass(frozen=True)
class LogEvent(_ToDict):
    """A rebuild or streaming event found in a Cassandra log (`event` is its kebab-case kind)."""

    event: str
    line: int
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogEvent:
        rest = {k: v for k, v in d.items() if k not in ("event", "line")}
        return cls(d["event"], d["line"], rest)

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "line": self.line, **self.data}


@dataclass(frozen=True)
class Finding(_ToDict):
    """A problem found by a check: severity `error` stops an expansion."""

    severity: str
    code: str
    message: str
    path: str
    side: str
    line: Optional[int]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(**d)


@dataclass(frozen=True)
class SeedHost(_ToDict):
    address: str
    pod: str
    node_name: Optional[str]
    rack: Optional[str]


@dataclass(frozen=True)
class PodVerdict(_ToDict):
    pod: str
    address: Optional[str]
    ineligible: Optional[dict[str, Any]]


@dataclass(frozen=True)
class SeedSelection(_ToDict):
    """The seed host for `cassandra.multiRegionSeedHost`, ranked alternates, and why each pod was or was not eligible."""

    seed_host: SeedHost
    alternates: list[SeedHost]
    verdicts: list[PodVerdict]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeedSelection:
        return cls(SeedHost(**d["seed_host"]), [SeedHost(**a) for a in d["alternates"]], [PodVerdict(**v) for v in d["verdicts"]])


@dataclass(frozen=True)
class Event:
    """An expansion event: `kind` is `step-started`, `step-finished`, `rebuild-progress`, ...;
    the other attributes are set when the kind has them."""

    kind: str
    step: Optional[str] = None
    pod: Optional[str] = None
    received: Optional[int] = None
    total: Optional[int] = None
    state: Optional[str] = None
    attempt: Optional[int] = None
    message: Optional[str] = None
    bytes_per_second: Optional[int] = None
    eta_seconds: Optional[int] = None
    all: Optional[dict[str, Any]] = None
    """`rebuild-progress`: every node so far: `received`, `total`, `bytes_per_second`, `eta_seconds`."""
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            kind=d["event"], step=d.get("step"), pod=d.get("pod"), received=d.get("received"), total=d.get("total"),
            state=d.get("state"), attempt=d.get("attempt"), message=d.get("message") or d.get("error") or d.get("reason"),
            bytes_per_second=d.get("bytes_per_second"), eta_seconds=d.get("eta_seconds"), all=d.get("all"), raw=d,
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True)
class ExpansionReport:
    """The result of `expand`: per-step outcomes and timings, the seed host, the verification."""

    plan: str
    dry_run: bool
    steps: list[dict[str, Any]]
    seed_host: Optional[str]
    seed_alternates: list[str]
    findings: list[Finding]
    verify: Optional[dict[str, Any]]
    journal: str
    total_ms: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExpansionReport:
        return cls(d["plan"], d["dry_run"], d["steps"], d["seed_host"], d["seed_alternates"], [Finding.from_dict(f) for f in d["findings"]], d["verify"], d["journal"], d["total_ms"])

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["findings"] = [f.to_dict() for f in self.findings]
        return d
