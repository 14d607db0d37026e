"""STAND-IN for Apigee's schema/user setup jobs and the operator's remove-dc part.

- `setup_replication`: when a datacenter is installed, and on every apply of its datastore, the
  replication of Apigee's keyspaces and of system_auth/system_distributed/system_traces
  (NetworkTopologyStrategy) names this datacenter, and no datacenter that has no node left in the
  ring. On a fresh cluster this also turns the system keyspaces from SimpleStrategy into
  NetworkTopologyStrategy, as Apigee's setup does.
- `drop_datacenter`: what remove-dc does first on a normal delete: no keyspace names the leaving
  datacenter any more.
"""
import re
import sys
import time

from . import cql

SYSTEM = ("system_auth", "system_distributed", "system_traces")
APIGEE = re.compile(r"^((cache|rtc|quota|kms|kvm)_.+_hybrid|perses)$")


def is_replicated_keyspace(name: str) -> bool:
    return name in SYSTEM or bool(APIGEE.match(name))


def _cql_map(m: dict) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in m.items()) + "}"


def ring_datacenters(s) -> set[str]:
    """The datacenters that have a node in the ring (this node's and its peers'; a removed node
    is no longer a peer, a node that is down still is)."""
    dcs = {row.data_center for row in s.execute("SELECT data_center FROM system.local")}
    return dcs | {row.data_center for row in s.execute("SELECT data_center FROM system.peers")}


def other_datacenters(contact_ip: str, datacenter: str) -> set[str]:
    cluster, s = cql.session([contact_ip])
    try:
        return ring_datacenters(s) - {datacenter}
    finally:
        cluster.shutdown()


def _alter(s, ks: str, new: dict) -> None:
    for attempt in range(10):
        try:
            s.execute(f"ALTER KEYSPACE {ks} WITH replication = {_cql_map(new)}")
            return
        except Exception as e:  # noqa: BLE001 - "Cannot alter RF while some endpoints are not in normal state"
            if attempt == 9:
                raise
            print(f"schema setup: retrying ALTER KEYSPACE {ks}: {e}", file=sys.stderr)
            time.sleep(3)


def _rewrite(contact_ip: str, want) -> list[str]:
    """`want(keyspace, replication without class, class)` -> the new map with its class, or None."""
    cluster, s = cql.session([contact_ip])
    changed = []
    try:
        in_ring = ring_datacenters(s)
        for row in s.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces"):
            ks, repl = row.keyspace_name, dict(row.replication)
            if not is_replicated_keyspace(ks):
                continue
            cls = repl.pop("class", "")
            new = want(repl, cls, in_ring)
            if new is not None:
                _alter(s, ks, new)
                changed.append(ks)
    finally:
        cluster.shutdown()
    return changed


def setup_replication(contact_ip: str, datacenter: str, rf: int) -> list[str]:
    def want(repl: dict, cls: str, in_ring: set[str]):
        if cls.endswith("SimpleStrategy"):
            return {"class": "NetworkTopologyStrategy", datacenter: rf}
        if not cls.endswith("NetworkTopologyStrategy"):
            return None
        new = {dc: n for dc, n in repl.items() if dc in in_ring or dc == datacenter}
        new.setdefault(datacenter, rf)
        return None if new == repl else {"class": "NetworkTopologyStrategy", **new}
    changed = _rewrite(contact_ip, want)
    if changed:
        print(f"schema setup stand-in: replication of {', '.join(changed)} now includes {datacenter} and only "
              f"datacenters with nodes", file=sys.stderr)
    return changed


def drop_datacenter(contact_ip: str, datacenter: str) -> tuple[list[str], list[str]]:
    """Every replicated keyspace stops naming `datacenter`, except where Cassandra refuses while
    the datacenter has live nodes (4.1+, `system_auth`): those are returned second, left for the
    setup job of a surviving region once the nodes are gone."""
    cluster, s = cql.session([contact_ip])
    dropped, kept = [], []
    try:
        for row in s.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces"):
            ks, repl = row.keyspace_name, dict(row.replication)
            cls = repl.pop("class", "")
            if not is_replicated_keyspace(ks) or not cls.endswith("NetworkTopologyStrategy") or datacenter not in repl:
                continue
            new = {"class": "NetworkTopologyStrategy", **{dc: n for dc, n in repl.items() if dc != datacenter}}
            try:
                s.execute(f"ALTER KEYSPACE {ks} WITH replication = {_cql_map(new)}")
                dropped.append(ks)
            except Exception as e:  # noqa: BLE001
                if "have active nodes and must be present" not in str(e):
                    raise
                kept.append(ks)
    finally:
        cluster.shutdown()
    return dropped, kept
