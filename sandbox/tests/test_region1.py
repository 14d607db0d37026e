"""Region-1 as `sandbox up` leaves it: real pods, real Cassandra, real nodetool and logs."""
import json

from conftest import kubectl, nodetool, ring
from sbx import data, region1


def test_cassandra_pods_run_on_region_1_node_addresses(sandbox):
    pods = json.loads(kubectl(1, "get", "pods", "-n", "apigee", "-l", "app=apigee-cassandra", "-o", "json").stdout)["items"]
    got = sorted((p["metadata"]["name"], p["status"]["podIP"], p["status"]["phase"]) for p in pods)
    n = region1.settings()["replicas"]
    assert got == [(f"apigee-cassandra-default-{i}", f"127.0.1.{i + 1}", "Running") for i in range(n)]
    assert all(p["spec"]["hostNetwork"] for p in pods)


def test_every_node_is_up_normal_through_kubectl_exec_nodetool(sandbox):
    r = ring(1)
    n = region1.settings()["replicas"]
    assert r == {"dc-1": {f"127.0.1.{i + 1}": "UN" for i in range(n)}}


def test_kubectl_logs_shows_the_cassandra_log(sandbox):
    log = kubectl(1, "logs", "-n", "apigee", "apigee-cassandra-default-0").stdout
    assert "Starting listening for CQL clients on /127.0.1.1:9042" in log


def test_wrong_jmx_password_is_refused_by_the_node(sandbox):
    r = kubectl(1, "exec", "-n", "apigee", "apigee-cassandra-default-0", "--", "nodetool", "-u", "jmxuser", "-pw", "wrong", "status", check=False)
    assert r.returncode != 0
    assert "Invalid username or password" in r.stdout + r.stderr


def test_region_1_data_reads_back_from_dc_1(sandbox):
    report = data.check(["127.0.1.1", "127.0.1.2"], "dc-1", region1.org())
    assert data.all_present(report), report


def test_source_keyspaces_replicate_with_network_topology_strategy(sandbox):
    out = nodetool(1, 0, "describecluster").stdout
    for ks in ("system_auth", "system_distributed", "system_traces", "perses", "kvm_sandbox_org_hybrid"):
        assert f"{ks} -> Replication class: NetworkTopologyStrategy {{dc-1=2}}" in out


def test_cli_seeds_reads_the_live_ring_of_region_1(sandbox):
    import os
    import subprocess
    from pathlib import Path

    cli = Path(os.environ.get("APIGEE_MULTIREGION_BIN", Path(__file__).resolve().parents[2] / "target" / "debug" / "apigee-multiregion"))
    e = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig_path()), "T_JMX": region1.settings()["jmx_password"]}
    r = subprocess.run([str(cli), "seeds", "--context", "region-1", "--datacenter", "dc-1", "--jmx-user", "jmxuser", "--jmx-password-env", "T_JMX", "-o", "json"],
                       capture_output=True, text=True, env=e, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["seed_host"]["address"] == "127.0.1.1"
    assert [a["address"] for a in got["alternates"]] == ["127.0.1.2"]
    assert all(v["ineligible"] is None for v in got["verdicts"])
    assert region1.settings()["jmx_password"] not in r.stdout + r.stderr
