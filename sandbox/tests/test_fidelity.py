"""The sandbox behaves like the real product where the tool depends on it (issue 10):
Cassandra 4.0 by default, kubelet log semantics, an asynchronous operator, apigeectl's
working directory, the product's defaults, and cert-manager required by init."""
import base64
import json
import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from conftest import SANDBOX, apigeectl, hybrid_files, kubectl, nodetool, wait_ready
from sbx import env

# An overrides file that sets nothing about Cassandra but the network: every other value is the product's default.
MINIMAL = """gcp:
  projectID: sandbox-project
k8sCluster:
  name: sandbox-region-2
org: sandbox-org
instanceID: "sandbox-region-2"
virtualhosts:
  - name: sandbox-group
    sslCertPath: ./certs/sandbox.pem
    sslKeyPath: ./certs/sandbox.key
envs:
  - name: test
    serviceAccountPaths:
      synchronizer: ./service-accounts/sandbox-synchronizer.json
"""


def _datastore(region: int) -> dict:
    return json.loads(kubectl(region, "get", "apigeedatastore", "default", "-n", "apigee", "-o", "json").stdout)


def _pod(region: int, n: int = 0) -> dict:
    return json.loads(kubectl(region, "get", "pod", env.pod_name(n), "-n", "apigee", "-o", "json").stdout)


def _ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _nodetool_as(region: int, user: str, password: str, *args: str) -> subprocess.CompletedProcess:
    return kubectl(region, "exec", "-n", "apigee", env.pod_name(0), "--", "nodetool", "-u", user, "-pw", password, *args, check=False)


def _log_times(text: str) -> list[datetime]:
    """The CRI timestamps of a container log as `kubectl logs --timestamps` prints them."""
    out = []
    for line in text.splitlines():
        stamp = line.split(" ", 1)[0]
        try:
            out.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
        except ValueError:
            pass
    return out


def test_cassandra_is_the_4_0_line_by_default(sandbox):
    e = {k: v for k, v in os.environ.items() if k not in ("SANDBOX_CASSANDRA", "CASSANDRA_VERSION")}
    r = subprocess.run(["python3", "-c", "import sys; sys.path.insert(0, 'lib'); from sbx import env; print(env.requested_settings()['cassandra_version'])"],
                       capture_output=True, text=True, env=e, cwd=SANDBOX)
    assert r.stdout.strip() == "4.0.19", r.stderr
    out = nodetool(1, 0, "version").stdout
    assert f"ReleaseVersion: {env.CASSANDRA_VERSION}" in out, out
    # What the state folder records is what runs.
    assert json.loads((Path(env.STATE) / "settings.json").read_text())["cassandra_version"] == env.CASSANDRA_VERSION


def test_overrides_paths_are_relative_to_the_hybrid_files_directory(sandbox, tmp_path):
    hybrid = tmp_path / "hybrid-files"
    hybrid.mkdir()
    overrides = hybrid / "overrides.yaml"
    overrides.write_text(MINIMAL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = apigeectl(2, "apply", "-f", str(overrides), "--dry-run", cwd=hybrid)
    assert r.returncode == 1 and "./certs/sandbox.pem" in r.stderr and "hybrid-files directory" in r.stderr, r.stderr
    hybrid_files(hybrid, overrides)
    assert apigeectl(2, "apply", "-f", str(overrides), "--dry-run", cwd=hybrid).returncode == 0
    r = apigeectl(2, "apply", "-f", str(overrides), "--dry-run", cwd=elsewhere)
    assert r.returncode == 1 and "not found from the working directory" in r.stderr, r.stderr


def test_init_refuses_a_cluster_without_cert_manager(sandbox, empty_region_2, tmp_path):
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(MINIMAL)
    hybrid_files(tmp_path, overrides)
    kubectl(2, "delete", "deployment", "cert-manager", "-n", "cert-manager")
    r = apigeectl(2, "init", "-f", str(overrides))
    assert r.returncode == 1 and "cert-manager is not installed" in r.stderr, r.stderr
    assert kubectl(2, "get", "namespace", "apigee", check=False).returncode != 0, "init changed nothing"


def test_product_defaults_async_apply_rolling_restart_and_container_logs(sandbox, empty_region_2, tmp_path):
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(MINIMAL)
    hybrid_files(tmp_path, overrides)
    assert apigeectl(2, "init", "-f", str(overrides)).returncode == 0
    wait_ready(2, str(overrides))

    # apply returns as soon as the datastore is submitted: not ready yet.
    t0 = time.monotonic()
    r = apigeectl(2, "apply", "-f", str(overrides))
    assert r.returncode == 0, r.stderr
    ds = _datastore(2)
    st = ds.get("status") or {}
    assert not (st.get("state") == "running" and st.get("observedGeneration") == ds["metadata"]["generation"]), st
    assert apigeectl(2, "check-ready", "-f", str(overrides)).returncode == 1
    states = set()
    while time.monotonic() - t0 < 240:
        states.add((_datastore(2).get("status") or {}).get("state"))
        if apigeectl(2, "check-ready", "-f", str(overrides)).returncode == 0:
            break
        time.sleep(1)
    assert "releasing" in states, states
    ds = _datastore(2)
    assert ds["status"]["state"] == "running" and ds["status"]["observedGeneration"] == ds["metadata"]["generation"]
    gen1 = ds["metadata"]["generation"]

    # The product's defaults: one node, dc-1/ra-1, no host network, JMX user jmxuser with the product's default password.
    pods = json.loads(kubectl(2, "get", "pods", "-n", "apigee", "-l", "app=apigee-cassandra", "-o", "json").stdout)["items"]
    assert [p["metadata"]["name"] for p in pods] == ["apigee-cassandra-default-0"]
    assert pods[0]["spec"].get("hostNetwork", False) is False  # the API server omits false
    assert pods[0]["status"]["podIP"] != env.node_ip(2, 0), "a pod-network IP, not the node's"
    status = _nodetool_as(2, env.PRODUCT_JMX_USER, env.PRODUCT_JMX_PASSWORD, "status")
    assert status.returncode == 0, status.stderr
    assert "Datacenter: dc-1" in status.stdout and " ra-1" in status.stdout

    # A new pod: a log since its container started, no previous container.
    log1 = kubectl(2, "logs", "-n", "apigee", env.pod_name(0)).stdout
    assert "Starting listening for CQL clients" in log1
    assert kubectl(2, "logs", "--previous", "-n", "apigee", env.pod_name(0), check=False).returncode != 0

    # JMX credentials from a Kubernetes secret (cassandra.auth.secret): a datastore change, which
    # the operator rolls out by restarting the pod.
    kubectl(2, "create", "secret", "generic", "sandbox-cass-creds", "-n", "apigee",
            "--from-literal=jmx.user=jmxadmin", "--from-literal=jmx.password=From-Secret-42")
    overrides.write_text(MINIMAL + "cassandra:\n  auth:\n    secret: sandbox-cass-creds\n")
    restart = datetime.now(timezone.utc)
    assert apigeectl(2, "apply", "-f", str(overrides)).returncode == 0
    seen_not_ready = False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if not _ready(_pod(2)):
            seen_not_ready = True
        if apigeectl(2, "check-ready", "-f", str(overrides)).returncode == 0:
            break
        time.sleep(1)
    ds = _datastore(2)
    assert ds["metadata"]["generation"] == gen1 + 1 and ds["status"]["observedGeneration"] == gen1 + 1
    assert seen_not_ready, "the restarting pod went not-Ready"
    pod = _pod(2)
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 1

    # kubectl logs: only the new container, from its start; --previous: the one before.
    current = kubectl(2, "logs", "--timestamps", "-n", "apigee", env.pod_name(0)).stdout
    previous = kubectl(2, "logs", "--previous", "--timestamps", "-n", "apigee", env.pod_name(0)).stdout
    assert current and min(_log_times(current)) >= restart.replace(microsecond=0), current[:500]
    assert "Starting listening for CQL clients" in current
    assert previous and min(_log_times(previous)) < restart, previous[:500]

    assert _nodetool_as(2, "jmxadmin", "From-Secret-42", "status").returncode == 0
    r = _nodetool_as(2, env.PRODUCT_JMX_USER, env.PRODUCT_JMX_PASSWORD, "status")
    assert r.returncode != 0 and "Invalid username or password" in r.stdout + r.stderr
    secret = json.loads(kubectl(2, "get", "secret", "apigee-datastore-default-creds", "-n", "apigee", "-o", "json").stdout)
    assert base64.b64decode(secret["data"]["jmx.user"]).decode() == "jmxadmin"


def test_topology_data_size_and_stream_throttle_follow_the_settings(sandbox):
    from conftest import ring
    from sbx import data, region1
    assert len(ring(1)["dc-1"]) == env.NODES == region1.settings()["replicas"]
    # SANDBOX_DATA_MB: 200 rows per MB in each keyspace, the last one present, none after it.
    from sbx import cql
    rows = env.DATA_MB * 200
    cluster, s = cql.session([env.node_ip(1, 0)])
    try:
        ks = data.keyspaces(region1.org())[0]
        assert s.execute(f"SELECT id FROM {ks}.kv_rows WHERE id = {rows - 1}").one() is not None
        assert s.execute(f"SELECT id FROM {ks}.kv_rows WHERE id = {rows}").one() is None
    finally:
        cluster.shutdown()
    for n in range(env.NODES):
        out = nodetool(1, n, "getinterdcstreamthroughput").stdout
        want = env.STREAM_MBPS or 200  # 200 Mb/s: Cassandra's default when the sandbox sets none
        assert f": {want} Mb/s" in out or f": {want}.0 Mb/s" in out or f": {want} megabits" in out, out


def test_the_api_server_audits_every_exec_with_its_command_line(sandbox):
    """As in AKS/GKE/EKS audit logs: an argument given to `kubectl exec` (or any exec client) is
    recorded by the API server, so a secret must never be one (the secret scan reads this log)."""
    from sbx import controlplane
    log = controlplane.audit_log(1)
    before = log.stat().st_size
    nodetool(1, 0, "version")
    with log.open() as f:
        f.seek(before)
        lines = [json.loads(line) for line in f if line.strip()]
    uris = [e["requestURI"] for e in lines if e.get("objectRef", {}).get("subresource") == "exec"]
    assert any("command=nodetool" in u and "command=version" in u and "command=-pwf" in u for u in uris), uris
