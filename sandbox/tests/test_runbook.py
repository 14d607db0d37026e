"""The manual runbook from Apigee's multi-region page, done with kubectl, the apigeectl stand-in
and nodetool: what our tool automates, proved against real parts."""
import json
import time

from conftest import apigeectl, hybrid_files, kubectl, nodetool, ring, wait_ready
from sbx import data, env, region1


def region2_overrides(tmp_path, seed: str) -> str:
    text = region1.overrides_path().read_text()
    text = text.replace('datacenter: "dc-1"', 'datacenter: "dc-2"').replace("sandbox-region-1", "sandbox-region-2")
    text = text.replace("  clusterName: apigeecluster\n", f"  clusterName: apigeecluster\n  multiRegionSeedHost: {seed}\n")
    path = tmp_path / "overrides-region-2.yaml"
    path.write_text(text)
    hybrid_files(tmp_path, path)  # apigeectl runs from this hybrid-files directory
    return str(path)


def copy_ca_to_region_2() -> None:
    secret = json.loads(kubectl(1, "get", "secret", "apigee-ca", "-n", "cert-manager", "-o", "json").stdout)
    meta = secret["metadata"]
    secret["metadata"] = {"name": meta["name"], "namespace": meta["namespace"]}
    kubectl(2, "apply", "-f", "-", input=json.dumps(secret))


def seed_from_region_1() -> str:
    pods = json.loads(kubectl(1, "get", "pods", "-n", "apigee", "-l", "app=apigee-cassandra", "-o", "json").stdout)["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    return sorted(running, key=lambda p: p["metadata"]["name"])[0]["status"]["podIP"]


def test_manual_runbook_expands_to_dc_2_and_every_row_reads_back(sandbox, empty_region_2, tmp_path):
    seed = seed_from_region_1()
    assert seed == "127.0.1.1"
    overrides = region2_overrides(tmp_path, seed)
    copy_ca_to_region_2()
    # The install pages: init, check-ready until ready, apply, check-ready until ready.
    for step in ("init", "apply"):
        r = apigeectl(2, step, "-f", overrides)
        assert r.returncode == 0, r.stderr
        wait_ready(2, overrides)
    n = region1.settings()["replicas"]
    both = {"dc-1": {f"127.0.1.{i + 1}": "UN" for i in range(n)}, "dc-2": {f"127.0.2.{i + 1}": "UN" for i in range(n)}}
    assert ring(1) == both
    assert ring(2) == both
    before = data.check([f"127.0.2.{i + 1}" for i in range(n)], "dc-2", region1.org())
    assert all(v["found"] == 0 for v in before.values()), "dc-2 holds no data before the rebuild"
    for i in range(n):  # EVERY node of the new datacenter
        r = nodetool(2, i, "rebuild", "--", "dc-1")
        assert r.returncode == 0, r.stderr
    after = data.check([f"127.0.2.{i + 1}" for i in range(n)], "dc-2", region1.org())
    assert data.all_present(after), after
    log = kubectl(2, "logs", "-n", "apigee", "apigee-cassandra-default-0").stdout
    assert "rebuild from dc: dc-1" in log and "All sessions completed" in log


def test_a_region_that_generated_its_own_ca_cannot_join(sandbox, empty_region_2, tmp_path):
    overrides = region2_overrides(tmp_path, seed_from_region_1())
    seed_log = env.cassandra_dir(1, 0) / "logs" / "system.log"
    seen = seed_log.stat().st_size
    # No CA copied: init creates a new one, as a fresh install does.
    r = apigeectl(2, "init", "-f", overrides)
    assert r.returncode == 0 and "created a new CA" in r.stderr, r.stderr
    r = apigeectl(2, "apply", "-f", overrides)
    assert r.returncode == 0, r.stderr
    # apply returns at once; the operator then starts the first dc-2 node, which tries to join.
    deadline, refused = time.monotonic() + 120, False
    while not refused and time.monotonic() < deadline:
        time.sleep(2)
        with open(seed_log, errors="replace") as f:
            f.seek(seen)
            refused = "SSLHandshakeException" in f.read()
    assert refused, "the seed refused the TLS handshake"
    assert set(ring(1)) == {"dc-1"}, "dc-2 must not join a ring whose CA it does not trust"
