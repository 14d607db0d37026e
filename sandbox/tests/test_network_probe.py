"""Preflight's network probe on the sandbox (issue 11, e2e (7)): a short-lived pod on the host
network of a region-2 node connects to each seed's internode port; kwok runs its checks on this
machine (the probe's Exec route, sbx/controlplane.py), where region-1's node addresses answer.

Port 7001 is closed on every region-1 node of the sandbox (its Cassandra listens for internode
TLS on 7000 only), exactly what a missing firewall/NSG rule looks like to the new region. Cheap:
preflight only, nothing is installed, seconds."""
import json

from conftest import kubectl
from sbx import env, region1
from test_expand import _untouched, events, expand, make_plan, run_cli

PROBE = "apigee-multiregion-probe"


def _findings(stdout: str) -> list[dict]:
    return [e["finding"] if "finding" in e else e for e in events(stdout) if e.get("event") == "finding"]


def _no_probe_pod_left() -> None:
    r = kubectl(2, "get", "pods", "-A", "-l", "app.kubernetes.io/managed-by=apigee-multiregion", "-o", "json")
    left = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in json.loads(r.stdout)["items"]]
    assert left == [], f"the probe pod is deleted after its checks: {left}"


def test_open_internode_ports_pass_the_probe_and_leave_no_pod(sandbox, empty_region_2, tmp_path):
    r = run_cli("preflight", make_plan(tmp_path))
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    codes = {f.get("code") for f in _findings(r.stdout)}
    assert not codes & {"internode-port-closed", "node-hostname-unresolved", "network-probe-failed"}, codes
    _no_probe_pod_left()


def test_a_seed_whose_internode_port_is_closed_is_refused_in_preflight_before_anything_is_installed(
        sandbox, empty_region_2, tmp_path):
    plan = make_plan(tmp_path, preflight="preflight:\n  network_probe: {port: 7001, connect_timeout: 2s}")
    r = expand(plan, timeout=300)
    assert r.returncode == 3, "refused by preflight: " + r.stderr + r.stdout[-3000:]
    closed = [f for f in _findings(r.stdout) if f.get("code") == "internode-port-closed"]
    seeds = [f"127.0.1.{i + 1}" for i in range(min(3, region1.settings()["replicas"]))]
    assert len(closed) == len(seeds), closed  # the seed host and its alternates, one finding each
    nodes = [env.node_name(2, n) for n in range(env.MAX_NODES)]
    for seed, f in zip(seeds, sorted(closed, key=lambda f: f["message"])):
        m = f["message"]
        assert f["severity"] == "error", f
        assert f"seed {seed} " in m and "TCP 7001" in m, m
        assert any(f"from target node {n}," in m for n in nodes), m
        assert "firewall/NSG rule for TCP 7001" in m, m
    steps = {s["id"]: s["outcome"] for s in events(r.stdout)[-1].get("steps", [])} if events(r.stdout)[-1].get("event") == "report" else {}
    assert steps.get("install") in (None, "not-run"), steps
    _untouched(tmp_path)  # overrides, namespace, CA, ring: nothing installed in region-2
    assert kubectl(2, "get", "apigeedatastores", "-A", "-o", "name", check=False).stdout.strip() == ""
    _no_probe_pod_left()
