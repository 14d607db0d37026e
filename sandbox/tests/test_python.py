"""The Python package on the sandbox: `expand` with an `on_event` callback, then the example
script (examples/python/expand.py) against the same plan."""
import os
import subprocess
import sys

import apigee_multiregion as am

from conftest import SANDBOX
from sbx import data, env, region1
from test_expand import make_plan, assert_no_secrets


def test_python_expand_records_progress_and_the_example_resumes(sandbox, empty_region_2, tmp_path):
    os.environ["KUBECONFIG"] = str(env.kubeconfig_path())
    plan = am.ExpansionPlan.from_file(make_plan(tmp_path))
    seen: list[am.Event] = []
    report = am.expand(plan, on_event=seen.append)
    kinds = [e.kind for e in seen]
    assert kinds[0] == "step-started" and "step-finished" in kinds
    done = {e.pod for e in seen if e.kind == "rebuild-node" and e.state == "done"}
    assert done == {"apigee-cassandra-default-0", "apigee-cassandra-default-1"}
    assert [s["id"] for s in report.steps] == list(am.STEPS)
    assert report.seed_host == "127.0.1.1" and all(c["passed"] for c in report.verify["checks"])
    assert data.all_present(data.check([env.node_ip(2, i) for i in range(env.MAX_NODES)], "dc-2", region1.org()))
    assert_no_secrets(repr(seen), repr(report.to_dict()))
    # The example script, run as a user would: the expansion is done, every step is skipped.
    example = SANDBOX.parent / "examples" / "python" / "expand.py"
    r = subprocess.run([sys.executable, str(example), str(tmp_path / "plan.yaml")], capture_output=True, text=True, timeout=300)
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
