"""The Python package on the sandbox, in the middle of a staged run with the CLI: `expand` with an
`on_event` callback and `until`, then the example script (examples/python/expand.py) against the
same plan."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import apigee_multiregion as am

from conftest import SANDBOX, kubectl, nodetool
from sbx import data, env, proc, region1
from test_expand import assert_no_secrets, events, expand, make_plan, run_cli


LB_PORT = 26544  # region-2's API server behind a load balancer (sbx/lb.py)


def test_in_stages_cli_install_python_rebuild_cli_finalize_and_verify_then_the_example_resumes(sandbox, empty_region_2, tmp_path):
    """An operator who does the work one stage at a time, with the CLI and the Python package on
    the same plan and journal: the CLI installs (`--until install`); Python rebuilds
    (`until="rebuild"`, progress through `on_event`); the CLI's `finalize` and `verify` finish;
    the example script (examples/python/expand.py) then finds every step done."""
    os.environ["KUBECONFIG"] = str(env.kubeconfig_path())
    # A slow stream (8 Mb/s between datacenters) so that a rebuild lasts long enough to be cut.
    plan_path = make_plan(tmp_path, throughput="  throughput: {interdc_megabits: 8, total_megabits: 16}")
    r = expand(plan_path, "--until", "install")
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    ran = {s["id"]: s["outcome"] for s in events(r.stdout)[-1]["steps"]}
    assert ran["install"] == "done" and ran["rebuild"] == "not-run", ran
    # Between the stages, someone rebuilt ONE keyspace of node 1 by hand: not a finished rebuild.
    ks = sorted(data.keyspaces(region1.org()))[0]
    manual = nodetool(2, 1, "rebuild", "-ks", ks, "--", "dc-1")
    assert manual.returncode == 0, manual.stderr
    assert f"rebuild from dc: dc-1, {ks}" in kubectl(2, "logs", "-n", "apigee", env.pod_name(1), "-c", env.CONTAINER).stdout
    plan = am.ExpansionPlan.from_file(plan_path)
    seen: list[am.Event] = []
    cut = threading.Event()

    def cut_the_exec_streams() -> None:
        """What a load balancer's idle timeout does to a long `kubectl exec`: every connection
        through it is reset, with no exit status; Cassandra goes on rebuilding."""
        time.sleep(2)
        os.kill(proc.pid_of("lb-r2"), signal.SIGUSR1)

    def on_event(e: am.Event) -> None:
        seen.append(e)
        if e.kind == "rebuild-node" and e.state == "started" and e.pod == env.pod_name(0) and not cut.is_set():
            cut.set()
            threading.Thread(target=cut_the_exec_streams, daemon=True).start()

    # Region-2's API server behind a load balancer that can cut every open connection.
    proc.start("lb-r2", [sys.executable, "-m", "sbx.lb", str(LB_PORT), str(env.apiserver_port(2))],
               env.region_dir(2) / "logs" / "lb.log", cwd=SANDBOX / "lib")
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", LB_PORT), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.running("lb-r2"), "the load balancer did not start"
            time.sleep(0.1)
    cuts_before = (env.region_dir(2) / "logs" / "lb.log").read_text().count("lb: cut")
    kubeconfig = json.loads(env.kubeconfig_path().read_text())
    for c in kubeconfig["clusters"]:
        if c["name"] == "region-2":
            c["cluster"]["server"] = f"https://127.0.0.1:{LB_PORT}"
    behind_lb = tmp_path / "behind-lb.kubeconfig"
    behind_lb.write_text(json.dumps(kubeconfig))
    behind_lb.chmod(0o600)
    os.environ["KUBECONFIG"] = str(behind_lb)
    try:
        report = am.expand(plan, on_event=on_event, until="rebuild")
    finally:
        os.environ["KUBECONFIG"] = str(env.kubeconfig_path())
        proc.stop("lb-r2")
    assert cut.is_set()
    assert (env.region_dir(2) / "logs" / "lb.log").read_text().count("lb: cut") == cuts_before + 1
    kinds = [e.kind for e in seen]
    assert kinds[0] == "step-started" and "step-finished" in kinds
    done = {e.pod for e in seen if e.kind == "rebuild-node" and e.state == "done"}
    assert done == {"apigee-cassandra-default-0", "apigee-cassandra-default-1"}
    # The cut stream was followed to the end: no failed attempt, no second rebuild of node 0.
    node0 = [e for e in seen if e.kind == "rebuild-node" and e.pod == env.pod_name(0)]
    assert [e.state for e in node0 if e.state in ("started", "retrying", "failed-attempt")] == ["started"], node0
    assert any(e.kind == "note" and env.pod_name(0) in (e.message or "") and "following it through netstats" in e.message
               for e in seen), [e.message for e in seen if e.kind == "note"]
    # The keyspace-scoped manual rebuild was not counted: node 1 was rebuilt in full.
    assert [e.state for e in seen if e.kind == "rebuild-node" and e.pod == env.pod_name(1)][0] == "started"
    log1 = kubectl(2, "logs", "-n", "apigee", env.pod_name(1), "-c", env.CONTAINER).stdout
    assert "rebuild from dc: dc-1, (All keyspaces), (All tokens)" in log1, log1[-2000:]
    assert [s["id"] for s in report.steps] == list(am.STEPS)
    outcomes = {s["id"]: s["outcome"] for s in report.steps}
    assert outcomes["install"] == "skipped" and outcomes["rebuild"] == "done" and outcomes["finalize"] == "not-run", outcomes
    assert report.seed_host == "127.0.1.1"
    assert_no_secrets(repr(seen), repr(report.to_dict()))
    assert "multiRegionSeedHost" in (tmp_path / "overrides-region-2.yaml").read_text(), "finalize has not run yet"
    r = run_cli("finalize", plan_path)
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    assert "multiRegionSeedHost" not in (tmp_path / "overrides-region-2.yaml").read_text()
    v = run_cli("verify", plan_path)
    assert v.returncode == 0, v.stderr + v.stdout
    assert data.all_present(data.check([env.node_ip(2, i) for i in range(env.MAX_NODES)], "dc-2", region1.org()))
    # The example script, run as a user would: the expansion is done, every step is skipped.
    example = SANDBOX.parent / "examples" / "python" / "expand.py"
    r = subprocess.run([sys.executable, str(example), str(plan_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "skipped  rebuild" in r.stdout and "ok  rebuild-completed-on-every-node" in r.stdout


def test_python_preflight_refusal_is_a_typed_exception(sandbox, empty_region_2, tmp_path):
    os.environ["KUBECONFIG"] = str(env.kubeconfig_path())
    plan_path = make_plan(tmp_path, target_dc="dc-1")
    try:
        am.ExpansionPlan.from_file(plan_path)
    except am.PlanError as e:
        assert "needs a new datacenter name" in str(e)
    else:
        raise AssertionError("a plan whose target datacenter is the source's must be refused")
    bad_jmx = make_plan(tmp_path, jmx="  from: env\n  username_env: T_JMX_USER\n  password_env: T_JMX_PASSWORD")
    os.environ.update(T_JMX_USER="jmxuser", T_JMX_PASSWORD="Py-Wrong-Passw0rd")
    findings = am.preflight(am.ExpansionPlan.from_file(bad_jmx))
    assert any(f.code == "ring-unreadable" and "JMX authentication failed" in f.message for f in findings)
    assert all("Py-Wrong-Passw0rd" not in f.message for f in findings)
