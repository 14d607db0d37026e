"""Region-1, the existing region: installed through the apigeectl stand-in and loaded with data."""
import sys

from . import apigeectl, data, env

OVERRIDES = env.SANDBOX_DIR / "regions" / "region-1" / "overrides.yaml"


def settings() -> dict:
    return apigeectl.cassandra_settings(apigeectl.read_overrides(str(OVERRIDES)))


def org() -> str:
    return str(apigeectl.read_overrides(str(OVERRIDES)).get("org", "sandbox-org"))


def install_and_load() -> None:
    doc = apigeectl.read_overrides(str(OVERRIDES))
    apigeectl.init(1, doc)
    apigeectl.apply(1, doc)
    s = apigeectl.cassandra_settings(doc)
    n = data.load(env.node_ip(1, 0), s["datacenter"], min(3, s["replicas"]), org())
    print(f"region-1: {s['replicas']} Cassandra nodes in {s['datacenter']}, {n} rows loaded", file=sys.stderr)
