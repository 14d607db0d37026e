"""The CLI's expansion on the sandbox: real kube-apiservers, real Cassandra, the apigeectl stand-in.

Each test starts from an empty region-2 and leaves it empty (the `empty_region_2` fixture)."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SECRETS, SANDBOX, ArgvWatch, assert_no_secrets, hybrid_files, kubectl, nodetool, restricted_kubeconfig, ring  # noqa: F401
from sbx import data, env, proc, region1

REPO = SANDBOX.parent
CLI = Path(os.environ.get("APIGEE_MULTIREGION_BIN", REPO / "target" / "debug" / "apigee-multiregion"))
TEMPLATE = REPO / "examples" / "sandbox" / "overrides-region-2.yaml"


# The sandbox's Cassandra (4.0+) carries internode TLS on its storage port 7000 and has no 7001
# listener (legacy SSL port off); Apigee hybrid's is 7001, the probe's default.
PROBE_7000 = "preflight:\n  network_probe: {port: 7000, connect_timeout: 2s}"


def make_plan(tmp_path: Path, **changes) -> Path:
    """A plan for the sandbox with absolute paths and short timeouts; `changes` are YAML lines."""
    target = tmp_path / "overrides-region-2.yaml"
    target.write_text(TEMPLATE.read_text())
    hybrid_files(tmp_path, target)  # the hybrid-files directory apigeectl runs from (installer.workdir)
    jmx = changes.get("jmx", "  from: overrides")
    plan = f"""name: e2e
source:
  context: region-1
  overrides: {region1.overrides_path()}
  datacenter: dc-1
target:
  context: region-2
  overrides: {target}
  datacenter: {changes.get('target_dc', 'dc-2')}
  rack: ra-1
installer:
  kind: apigeectl
  program: {env.SANDBOX_DIR / 'bin' / 'apigeectl'}
  workdir: {tmp_path}
jmx:
{jmx}
rebuild:
  concurrency: 1
  retries: {changes.get('retries', 2)}
  progress_interval: 1s
{changes.get('throughput', '')}
{changes.get('extra', '')}
{changes.get('preflight', PROBE_7000)}
verify:
  min_load_fraction: 0.25
timeouts:
  install: 5m
  join: 3m
  replication: {changes.get('replication', '90s')}
  poll: 2s
"""
    path = tmp_path / "plan.yaml"
    path.write_text(plan)
    return path


def expand(plan: Path, *extra: str, env_vars: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    e = {**os.environ, "KUBECONFIG": str(env.kubeconfig_path()), **(env_vars or {})}
    return subprocess.run([str(CLI), "expand", "--plan", str(plan), "-o", "json", *extra], capture_output=True, text=True, env=e, timeout=timeout)


def events(stdout: str) -> list[dict]:
    """Every stdout line is one JSON object (this is the CLI's contract for scripts)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# A stream throttle for the rebuild, different from every default (Cassandra's 200 Mb/s on 4.0).
THROTTLE = "  throughput: {interdc_megabits: 88, total_megabits: 176}"


def throttles() -> dict[str, str]:
    """What `nodetool get(interdc)streamthroughput` answers on every source node (its stdout; on
    4.1+ a value that is not a whole number of megabits needs `-d` to be shown at all)."""
    out = {}
    for n in range(region1.settings()["replicas"]):
        for verb in ("getinterdcstreamthroughput", "getstreamthroughput"):
            r = nodetool(1, n, verb, check=False)
            if r.returncode != 0 or not r.stdout.strip():
                r = nodetool(1, n, verb, "-d", check=False)
            assert r.returncode == 0 and r.stdout.strip(), f"n{n} {verb}: {r.stdout}{r.stderr}"
            out[f"n{n} {verb}"] = r.stdout.strip()
    return out


def rows_in_dc2() -> dict:
    return data.check([env.node_ip(2, i) for i in range(env.MAX_NODES)], "dc-2", region1.org())


def test_cli_expands_region_2_with_the_guide_s_rbac_and_every_row_reads_back(granted, tmp_path):
    """The whole expansion under an identity that has only what docs/rbac grants (a service
    account's token in each cluster), with a stream throttle set and restored."""
    kc = restricted_kubeconfig(tmp_path / "sa.kubeconfig")
    as_sa = {"KUBECONFIG": str(kc)}
    plan = make_plan(tmp_path, throughput=THROTTLE)
    before = throttles()
    with ArgvWatch() as watch:
        r = expand(plan, env_vars=as_sa)
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    forbidden = [e for e in events(r.stdout) if "forbidden" in json.dumps(e).lower()]
    assert not forbidden, forbidden
    # The stream throttle was set on every source node for the rebuild, and set back after it.
    notes = [e["message"] for e in events(r.stdout) if e["event"] == "note"]
    for n in range(region1.settings()["replicas"]):
        assert any(m.startswith(f"source/apigee-cassandra-default-{n}: ") and "for the rebuild" in m for m in notes), notes
        assert any(m.startswith(f"source/apigee-cassandra-default-{n}: set back to") for m in notes), notes
    assert throttles() == before, "every source node's stream throttle is back to what it was"
    assert watch.samples > 10 and not watch.leaks, f"a secret in a process's argv: {watch.leaks[:3]}"
    evs = events(r.stdout)
    report = evs[-1]
    assert report["event"] == "report"
    assert [s["outcome"] for s in report["steps"]].count("failed") == 0
    assert report["seed_host"] == "127.0.1.1"
    assert all(c["passed"] for c in report["verify"]["checks"])
    rebuilt = {e["pod"] for e in evs if e["event"] == "rebuild-node" and e["state"] == "done"}
    assert rebuilt == {"apigee-cassandra-default-0", "apigee-cassandra-default-1"}, "every dc-2 node rebuilt"
    assert data.all_present(rows_in_dc2())
    n = region1.settings()["replicas"]
    assert ring(1) == {"dc-1": {f"127.0.1.{i + 1}": "UN" for i in range(n)}, "dc-2": {f"127.0.2.{i + 1}": "UN" for i in range(n)}}
    # The target overrides: seed host gone, only the datacenter changed, every comment kept.
    final = (tmp_path / "overrides-region-2.yaml").read_text()
    assert final == TEMPLATE.read_text().replace('datacenter: "dc-1"', 'datacenter: "dc-2"')
    assert (tmp_path / "overrides-region-2.yaml.orig").read_text() == TEMPLATE.read_text()
    journal = (tmp_path / ".apigee-multiregion" / "e2e.journal.json")
    assert oct(journal.stat().st_mode & 0o777) == "0o600"
    assert_no_secrets(r.stdout, r.stderr, journal.read_text())
    # Finalize waited for the operator's rolling restart: every dc-2 container restarted, so its
    # log (`kubectl logs`, the current container only) no longer shows the rebuild.
    for i in range(n):
        pod = f"apigee-cassandra-default-{i}"
        restarts = kubectl(2, "get", "pod", pod, "-n", "apigee", "-o", "jsonpath={.status.containerStatuses[0].restartCount}").stdout
        assert int(restarts or 0) >= 1, f"{pod} was not restarted by finalize"
        assert "rebuild from dc" not in kubectl(2, "logs", pod, "-n", "apigee", "-c", "apigee-cassandra").stdout
    # The durable proof still holds: verify passes and running it again rebuilds nothing.
    v = subprocess.run([str(CLI), "verify", "--plan", str(plan), "-o", "json"], capture_output=True, text=True,
                       env={**os.environ, **as_sa}, timeout=300)
    assert v.returncode == 0, v.stderr + v.stdout
    again = expand(plan, env_vars=as_sa)
    assert again.returncode == 0, again.stderr
    outcomes = {s["id"]: s["outcome"] for s in events(again.stdout)[-1]["steps"]}
    assert all(o == "skipped" for k, o in outcomes.items() if k not in ("preflight", "verify")), outcomes
    assert not [e for e in events(again.stdout) if e["event"] == "rebuild-node"], "nothing rebuilt again"


def _wait_for_event(p: subprocess.Popen, pred, timeout: float = 600) -> list[dict]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        e = json.loads(line)
        seen.append(e)
        if pred(e):
            return seen
    raise AssertionError(f"event not seen; last events: {seen[-5:]}")


def test_ctrl_c_then_a_kill_during_the_rebuild_then_a_resume_that_redoes_no_finished_step(sandbox, empty_region_2, tmp_path):
    """Ctrl-C in the middle of the rebuild: the throttle is set back, the lock released, and it
    says how to resume. The resumed run is then killed (SIGKILL: no clean-up at all) in its own
    rebuild; the next run waits for the dead run's lease, sets back the throttle the killed run
    journaled, and redoes no finished step."""
    plan = make_plan(tmp_path, throughput=THROTTLE)
    before = throttles()
    e = {**os.environ, "KUBECONFIG": str(env.kubeconfig_path())}
    p = subprocess.Popen([str(CLI), "expand", "--plan", str(plan), "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    _wait_for_event(p, lambda ev: ev["event"] == "rebuild-node" and ev["state"] == "started")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert_no_secrets(out, err)
    assert p.returncode == 130, err  # interrupted: the journal holds every finished action
    assert "interrupted" in err and "run the same command again" in err, err
    assert kubectl(2, "get", "lease", "-n", "default", "apigee-multiregion-apigee", check=False).returncode != 0, "the lock was released"
    assert throttles() == before, "Ctrl-C set every source node's stream throttle back"
    # Resume (no --wait-for-lock needed), and kill it in its rebuild.
    p = subprocess.Popen([str(CLI), "expand", "--plan", str(plan), "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    try:
        seen = _wait_for_event(p, lambda ev: ev["event"] == "rebuild-node" and ev["state"] == "started")
        p.send_signal(signal.SIGKILL)  # no clean-up at all: its lease stays until it expires
    finally:
        p.wait(timeout=30)
    assert_no_secrets(p.stdout.read(), p.stderr.read())
    skipped = {ev["step"] for ev in seen if ev["event"] == "step-skipped"}
    assert {"select-seeds", "prepare-overrides", "copy-namespace", "copy-ca", "install"} <= skipped, skipped
    # Killed with the throttle on: the source nodes still carry it (nothing could set it back).
    during = throttles()
    assert "88" in during["n0 getinterdcstreamthroughput"] and "176" in during["n0 getstreamthroughput"], during
    j = json.loads((tmp_path / ".apigee-multiregion" / "e2e.journal.json").read_text())
    assert j["steps"]["install"]["state"] == "done" and j["steps"]["rebuild"]["state"] == "running"
    r = expand(plan, "--wait-for-lock", "90s")
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    evs = events(r.stdout)
    started = {ev["step"] for ev in evs if ev["event"] == "step-started"}
    assert started <= {"preflight", "rebuild", "verify", "finalize"}, f"finished steps were redone: {started}"
    assert {"install", "copy-ca", "copy-namespace", "prepare-overrides"} <= {ev["step"] for ev in evs if ev["event"] == "step-skipped"}
    assert data.all_present(rows_in_dc2())
    assert throttles() == before, "the resumed run set back the values the killed run journaled"


def test_a_node_killed_during_its_rebuild_is_waited_for_and_rebuilt_never_passed_from_the_killed_attempt(sandbox, empty_region_2, tmp_path):
    """A Cassandra container that dies under its rebuild (JMX unreachable while the pod restarts,
    as the operator/kubelet restarts it) is waited for, then rebuilt again in full: the killed
    attempt never counts."""
    plan = make_plan(tmp_path, retries=3)
    e = {**os.environ, "KUBECONFIG": str(env.kubeconfig_path())}
    p = subprocess.Popen([str(CLI), "expand", "--plan", str(plan), "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    seen = _wait_for_event(p, lambda ev: ev["event"] == "rebuild-node" and ev["pod"] == "apigee-cassandra-default-1" and ev["state"] == "started")
    os.kill(proc.pid_of("cassandra-r2-n1"), signal.SIGKILL)  # the node dies under its rebuild
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err + out[-3000:]
    evs = seen + events(out)
    pod1 = [ev for ev in evs if ev["event"] == "rebuild-node" and ev["pod"] == "apigee-cassandra-default-1"]
    done = [ev for ev in pod1 if ev["state"] == "done"]
    assert done and done[0]["attempt"] >= 2, f"the killed attempt is never counted done: {pod1}"
    assert any(ev["state"] in ("waiting", "failed-attempt") for ev in pod1), pod1
    assert all(c["passed"] for c in evs[-1]["verify"]["checks"])
    assert_no_secrets(out, err)
    assert data.all_present(rows_in_dc2())


def test_missing_replication_is_refused_before_any_rebuild(sandbox, empty_region_2, tmp_path):
    plan = make_plan(tmp_path, replication="10s")
    r = expand(plan, env_vars={"APIGEE_STANDIN_SCHEMA_SETUP": "off"})
    assert r.returncode == 1
    failed = [ev for ev in events(r.stdout) if ev["event"] == "step-failed"]
    assert failed[0]["step"] == "check-replication"
    assert "kvm_sandbox_org_hybrid" in failed[0]["error"] and "would stream nothing" in failed[0]["error"]
    log = kubectl(2, "logs", "-n", "apigee", "apigee-cassandra-default-0").stdout
    assert "rebuild from dc" not in log, "no rebuild was started"


def _untouched(tmp_path: Path) -> None:
    assert (tmp_path / "overrides-region-2.yaml").read_text() == TEMPLATE.read_text()
    assert kubectl(2, "get", "namespace", "apigee", check=False).returncode != 0, "region-2 got no namespace"
    assert kubectl(2, "get", "secret", "apigee-ca", "-n", "cert-manager", check=False).returncode != 0
    assert set(ring(1)) == {"dc-1"}


def test_a_wrong_jmx_password_is_refused_with_nothing_changed(sandbox, empty_region_2, tmp_path):
    plan = make_plan(tmp_path, jmx="  from: env\n  username_env: T_JMX_USER\n  password_env: T_JMX_PASSWORD")
    r = expand(plan, env_vars={"T_JMX_USER": "jmxuser", "T_JMX_PASSWORD": "Not-The-Password-123"})
    assert r.returncode == 3, r.stderr
    assert "JMX authentication failed" in r.stderr
    assert "Not-The-Password-123" not in r.stdout + r.stderr
    _untouched(tmp_path)


def replication_maps(region: int = 1) -> dict[str, dict]:
    """keyspace -> replication map (without `class`) of every NetworkTopologyStrategy keyspace."""
    from sbx import cql
    cluster, s = cql.session([env.node_ip(region, 0)])
    try:
        out = {}
        for row in s.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces"):
            repl = dict(row.replication)
            if repl.pop("class", "").endswith("NetworkTopologyStrategy"):
                out[row.keyspace_name] = repl
        return out
    finally:
        cluster.shutdown()


def decommission_plan(tmp_path: Path, leaving_overrides: Path, lost: bool) -> Path:
    plan = tmp_path / "retire.yaml"
    plan.write_text(f"""name: retire-dc-2
leaving: {{context: region-2, overrides: {leaving_overrides}, datacenter: dc-2}}
surviving: {{context: region-1, overrides: {region1.overrides_path()}, datacenter: dc-1}}
installer: {{kind: apigeectl, program: {env.SANDBOX_DIR / 'bin' / 'apigeectl'}}}
jmx: {{from: overrides}}
lost_region: {'true' if lost else 'false'}
timeouts: {{uninstall: 10m, removal: 5m, removenode: 10m, replication: 3m, poll: 2s}}
""")
    return plan


def test_a_lost_region_is_refused_as_a_stale_datacenter_then_removed_by_decommission(sandbox, empty_region_2, tmp_path):
    """A region-2 lost to an outage (its nodes killed, no cleanup) stays in region-1's ring: an
    expansion to a new region-2 is refused with nothing changed; `decommission --lost-region`
    removes its nodes and its datacenter from every keyspace; then a fresh region-2 passes
    preflight again and (with ./run-tests --slow) expands."""
    from conftest import apigeectl, wait_ready
    from sbx import region2
    overrides = tmp_path / "old-region-2.yaml"
    overrides.write_text(TEMPLATE.read_text().replace('datacenter: "dc-1"', 'datacenter: "dc-2"').replace("  clusterName: apigeecluster\n", "  clusterName: apigeecluster\n  multiRegionSeedHost: 127.0.1.1\n"))
    hybrid_files(tmp_path, overrides)  # apigeectl runs from this hybrid-files directory
    secret = json.loads(kubectl(1, "get", "secret", "apigee-ca", "-n", "cert-manager", "-o", "json").stdout)
    secret["metadata"] = {"name": "apigee-ca", "namespace": "cert-manager"}
    kubectl(2, "apply", "-f", "-", input=json.dumps(secret))
    assert apigeectl(2, "init", "-f", str(overrides)).returncode == 0
    assert apigeectl(2, "apply", "-f", str(overrides)).returncode == 0
    wait_ready(2, str(overrides))  # apply returns at once: the nodes join afterwards
    assert all("dc-2" in m for m in replication_maps().values()), "the setup job named dc-2 in every keyspace"
    region2.lose()
    region2.reset(forget=False)  # the lost cluster is replaced by a new, empty one
    deadline = time.monotonic() + 90
    while set(ring(1).get("dc-2", {}).values()) != {"DN"}:
        assert time.monotonic() < deadline, ring(1)
        time.sleep(2)
    plan = make_plan(tmp_path)
    before = (tmp_path / "overrides-region-2.yaml").read_text()
    r = expand(plan)
    assert r.returncode == 3, r.stderr
    assert "target-datacenter-exists" in r.stdout
    assert (tmp_path / "overrides-region-2.yaml").read_text() == before
    # Remove the lost region from region-1's ring and keyspaces.
    retire = decommission_plan(tmp_path, overrides, lost=True)
    d = run_cli("decommission", retire)
    assert d.returncode == 0, d.stderr + d.stdout[-3000:]
    evs = events(d.stdout)
    outcomes = {s["id"]: s["outcome"] for s in evs[-1]["steps"]}
    assert outcomes["remove-nodes"] == "done" and outcomes["rewrite-replication"] == "done", outcomes
    assert outcomes.get("uninstall") != "done", "a lost region is not uninstalled"
    assert ring(1) == {"dc-1": {f"127.0.1.{i + 1}": "UN" for i in range(region1.settings()["replicas"])}}
    maps = replication_maps()
    assert maps and not [k for k, m in maps.items() if "dc-2" in m], maps
    assert data.all_present(data.check([env.node_ip(1, i) for i in range(region1.settings()["replicas"])], "dc-1", region1.org()))
    assert_no_secrets(d.stdout, d.stderr)
    again = run_cli("decommission", retire)
    assert again.returncode == 0, again.stderr
    assert all(s["outcome"] in ("skipped", "done") for s in events(again.stdout)[-1]["steps"])
    # The new region-2 is accepted now.
    p = run_cli("preflight", plan)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    assert "target-datacenter-exists" not in p.stdout
    if os.environ.get("APIGEE_MULTIREGION_SLOW") != "1":
        return  # the whole expansion below: ./run-tests --slow
    # ... and expands: the same plan that was refused while the lost region was in the ring.
    r = expand(plan)
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    assert all(c["passed"] for c in events(r.stdout)[-1]["verify"]["checks"])
    n = region1.settings()["replicas"]
    assert ring(1) == {"dc-1": {f"127.0.1.{i + 1}": "UN" for i in range(n)}, "dc-2": {f"127.0.2.{i + 1}": "UN" for i in range(n)}}
    assert data.all_present(rows_in_dc2()), "every row reads back from the new region-2"


def run_cli(verb: str, plan: Path, *extra: str) -> subprocess.CompletedProcess:
    e = {**os.environ, "KUBECONFIG": str(env.kubeconfig_path())}
    return subprocess.run([str(CLI), verb, "--plan", str(plan), "-o", "json", *extra], capture_output=True, text=True, env=e, timeout=900)
