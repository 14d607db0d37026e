"""Apigee-like data for region-1, and a check that reads every row back from one datacenter.

Rows are deterministic (derived from keyspace and id), so the checker needs no copy of them.
"""
import hashlib
import time

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent_with_args

from . import cql, env

# ~1 KB of incompressible-looking text per row, 2,000 rows per keyspace: ~10 MB per replica, so
# the data, not Cassandra's own system tables, dominates each datacenter's Load.
# SANDBOX_DATA_MB (default 10) scales it: 200 rows per MB and keyspace.
ROWS = max(1, env.DATA_MB * 200)


def keyspaces(org: str) -> list[str]:
    o = org.replace("-", "_")
    return [f"kvm_{o}_hybrid", f"cache_{o}_hybrid", f"quota_{o}_hybrid", f"kms_{o}_hybrid", "perses"]


def payload(ks: str, i: int) -> str:
    return "".join(hashlib.sha256(f"{ks}/{i}/{k}".encode()).hexdigest() for k in range(16))


def load(contact_ip: str, datacenter: str, rf: int, org: str, rows: int | None = None) -> int:
    rows = rows or max(1, env.DATA_MB * 200)
    cluster, s = cql.session([contact_ip], consistency=ConsistencyLevel.LOCAL_QUORUM)
    try:
        total = 0
        for ks in keyspaces(org):
            s.execute(f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
                      f"{{'class': 'NetworkTopologyStrategy', '{datacenter}': '{rf}'}}")
            s.execute(f"CREATE TABLE IF NOT EXISTS {ks}.kv_rows (id int PRIMARY KEY, payload text)")
            insert = s.prepare(f"INSERT INTO {ks}.kv_rows (id, payload) VALUES (?, ?)")
            # A node the pod readiness calls Ready may not be UN in its peers' gossip yet
            # (LOCAL_QUORUM then reports it unavailable): the writes are idempotent, retry.
            deadline = time.monotonic() + 120
            while True:
                try:
                    execute_concurrent_with_args(s, insert, [(i, payload(ks, i)) for i in range(rows)], concurrency=32,
                                                 raise_on_first_error=True)
                    break
                except Exception as e:  # NoHostAvailable / Unavailable while gossip settles
                    if time.monotonic() > deadline or "Unavailable" not in repr(e):
                        raise
                    time.sleep(3)
            total += rows
        return total
    finally:
        cluster.shutdown()


def check(contact_ips: list[str], datacenter: str, org: str, rows: int | None = None) -> dict:
    """Reads every row at LOCAL_QUORUM from `datacenter` only. Returns per keyspace counts."""
    rows = rows or max(1, env.DATA_MB * 200)
    cluster, s = cql.session(contact_ips, local_dc=datacenter, consistency=ConsistencyLevel.LOCAL_QUORUM)
    report = {}
    try:
        for ks in keyspaces(org):
            select = s.prepare(f"SELECT payload FROM {ks}.kv_rows WHERE id = ?")
            results = execute_concurrent_with_args(s, select, [(i,) for i in range(rows)], concurrency=32,
                                                   raise_on_first_error=False)
            found = wrong = errors = 0
            for i, (ok, res) in enumerate(results):
                if not ok:
                    errors += 1
                    continue
                row = res.one()
                if row is None:
                    continue
                found += 1
                if row.payload != payload(ks, i):
                    wrong += 1
            report[ks] = {"expected": rows, "found": found, "wrong": wrong, "errors": errors}
    finally:
        cluster.shutdown()
    return report


def all_present(report: dict) -> bool:
    return all(v["found"] == v["expected"] and v["wrong"] == 0 and v["errors"] == 0 for v in report.values())
