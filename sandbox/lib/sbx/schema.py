"""STAND-IN for Apigee's schema/user setup jobs: when a datacenter is installed, extend the
replication of Apigee's keyspaces and of system_auth/system_distributed/system_traces to it
(NetworkTopologyStrategy). On a fresh cluster this also turns the system keyspaces from
SimpleStrategy into NetworkTopologyStrategy, as Apigee's setup does.
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


def extend_replication(contact_ip: str, datacenter: str, rf: int) -> list[str]:
    cluster, s = cql.session([contact_ip])
    changed = []
    try:
        for row in s.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces"):
            ks, repl = row.keyspace_name, dict(row.replication)
            if not is_replicated_keyspace(ks):
                continue
            cls = repl.pop("class", "")
            if cls.endswith("SimpleStrategy"):
                new = {"class": "NetworkTopologyStrategy", datacenter: rf}
            elif cls.endswith("NetworkTopologyStrategy") and datacenter not in repl:
                new = {"class": "NetworkTopologyStrategy", **repl, datacenter: rf}
            else:
                continue
            for attempt in range(10):
                try:
                    s.execute(f"ALTER KEYSPACE {ks} WITH replication = {_cql_map(new)}")
                    break
                except Exception as e:  # noqa: BLE001 - "Cannot alter RF while some endpoints are not in normal state"
                    if attempt == 9:
                        raise
                    print(f"schema setup: retrying ALTER KEYSPACE {ks}: {e}", file=sys.stderr)
                    time.sleep(3)
            changed.append(ks)
    finally:
        cluster.shutdown()
    if changed:
        print(f"schema setup stand-in: replication of {', '.join(changed)} now includes {datacenter}", file=sys.stderr)
    return changed
