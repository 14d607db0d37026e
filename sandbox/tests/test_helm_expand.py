"""The Helm era end to end: region-1 installed with the real Helm CLI from the sandbox's charts
(`SANDBOX_INSTALLER=helm`), and the CLI expanding to region-2 with `installer.kind: helm`.

Region-2 starts as a fresh cluster (the `empty_region_2` fixture): no Apigee CRDs, no operator,
no Helm release. The charts only create objects; the operator stand-in creates and starts
Cassandra later, so `helm --wait` returning proves nothing about Cassandra: the tool must judge
readiness from the cluster. On a sandbox whose region-1 was installed with apigeectl these
tests are skipped (`./run-tests` runs them on the Cassandra 5.0 sandbox, installed with Helm)."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import assert_no_secrets, kubectl, ring  # noqa: F401
from sbx import data, env, proc, region1
from test_expand import THROTTLE, TEMPLATE, events, expand, make_plan, rows_in_dc2, throttles

pytestmark = pytest.mark.skipif(env.INSTALLER != "helm", reason="region-1 is not installed with Helm (SANDBOX_INSTALLER=helm)")

CHARTS = ["operator", "datastore", "redis", "telemetry", "ingress-manager"]


INSTALLER = (
    "installer:\n"
    "  kind: helm\n"
    f"  program: {env.HELM}\n"
    f"  kubectl: {env.KUBECTL}\n"
    f"  version: \"{env.APIGEE_VERSION}\"\n"
    f"  charts: {env.CHARTS_DIR}\n"
)


def helm_plan(tmp_path: Path, replication: str, throughput: str = "") -> Path:
    """The sandbox plan with the Helm installer instead of apigeectl."""
    plan = make_plan(tmp_path, extra=f"replication: {replication}", throughput=throughput)
    text = plan.read_text()
    installer = INSTALLER + f"  org_release: {region1.org()}\n"
    text, n = re.subn(r"installer:\n(  .*\n)+", installer, text)
    assert n == 1, text
    plan.write_text(text)
    return plan


def helm_releases(region: int) -> dict[str, str]:
    """Every Helm release of a region: name -> namespace."""
    r = subprocess.run([str(env.HELM), "list", "-A", "-o", "json", "--kube-context", env.context(region)],
                       capture_output=True, text=True, env={"KUBECONFIG": str(env.kubeconfig_path()), "PATH": "/usr/bin:/bin",
                                                            "HOME": str(env.STATE)}, timeout=60)
    assert r.returncode == 0, r.stderr
    return {rel["name"]: rel["namespace"] for rel in json.loads(r.stdout or "[]")}


def source_organization() -> str:
    orgs = json.loads(kubectl(1, "get", "apigeeorganizations", "-n", "apigee", "-o", "json").stdout)["items"]
    assert len(orgs) == 1, orgs
    return orgs[0]["metadata"]["name"]


def expand_and_check(tmp_path: Path, replication: str, throughput: str = "") -> list[dict]:
    assert kubectl(2, "get", "crd", "apigeedatastores.apigee.cloud.google.com", check=False).returncode != 0, \
        "region-2 starts without the Apigee CRDs, like a fresh cluster"
    plan = helm_plan(tmp_path, replication, throughput)
    r = expand(plan)
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    evs = events(r.stdout)
    report = evs[-1]
    assert report["event"] == "report" and all(c["passed"] for c in report["verify"]["checks"])
    # The install waited on the cluster, not on Helm: the datastore was seen not yet running.
    notes = [e["message"] for e in evs if e["event"] == "note" and e.get("step") == "install"]
    assert any(m.startswith("waiting: ") for m in notes), notes
    assert data.all_present(rows_in_dc2())
    n = region1.settings()["replicas"]
    assert ring(1)["dc-2"] == {f"127.0.2.{i + 1}": "UN" for i in range(n)}
    final = (tmp_path / "overrides-region-2.yaml").read_text()
    assert "multiRegionSeedHost" not in final
    assert final == TEMPLATE.read_text().replace('datacenter: "dc-1"', 'datacenter: "dc-2"')
    # The releases, where the hybrid release puts them; the operator's namespace was created.
    releases = helm_releases(2)
    operator_ns = env.operator_namespace()
    assert releases.get("operator") == operator_ns, releases
    assert all(releases.get(c) == "apigee" for c in CHARTS[1:] + [region1.org()]), releases
    deployment = kubectl(2, "get", "deployment", "apigee-controller-manager", "-n", operator_ns, "-o", "name", check=False)
    assert deployment.returncode == 0, deployment.stderr
    assert_no_secrets(r.stdout, r.stderr)
    # A second run changes nothing.
    again = expand(plan)
    assert again.returncode == 0, again.stderr
    outcomes = {s["id"]: s["outcome"] for s in events(again.stdout)[-1]["steps"]}
    assert all(o == "skipped" for k, o in outcomes.items() if k not in ("preflight", "verify")), outcomes
    return evs


def test_helm_dry_run_lists_the_crds_then_each_chart_once_in_order_and_changes_nothing(sandbox, empty_region_2, tmp_path):
    plan = helm_plan(tmp_path, "nodetool")
    r = expand(plan, "--dry-run")
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    commands = [c for e in events(r.stdout) if e["event"] == "action" for c in e["commands"]]
    crds = [i for i, c in enumerate(commands) if c.startswith("kubectl --context region-2 apply -k ")]
    assert len(crds) == 1 and commands[crds[0]].split()[5] == f"{env.CHARTS_DIR}/apigee-operator/etc/crds/default/", commands
    upgrades = [(i, c) for i, c in enumerate(commands) if c.startswith("helm upgrade ")]
    assert upgrades and upgrades[0][0] > crds[0], "the CRDs come before any chart"
    installed = [c.split()[2] for _, c in upgrades]
    # The install lists each chart once, in order; finalize re-applies the datastore once more.
    assert installed == CHARTS + [region1.org(), "datastore"], commands
    assert all("--kube-context region-2" in c for _, c in upgrades), commands
    operator = upgrades[0][1]
    assert f"--namespace {env.operator_namespace()} " in operator, operator
    assert ("--create-namespace" in operator) == (env.operator_namespace() == "apigee-system"), operator
    # Nothing was changed: still no CRDs, no release, an untouched overrides file.
    assert kubectl(2, "get", "crd", "apigeedatastores.apigee.cloud.google.com", check=False).returncode != 0
    assert helm_releases(2) == {}
    assert (tmp_path / "overrides-region-2.yaml").read_text() == TEMPLATE.read_text()


def test_helm_with_the_cassandra_data_replication_resource(sandbox, empty_region_2, tmp_path):
    evs = expand_and_check(tmp_path, "cr")
    done = {ev["pod"] for ev in evs if ev["event"] == "rebuild-node" and ev["state"] == "done"}
    assert done == {f"apigee-cassandra-default-{i}" for i in range(region1.settings()["replicas"])}
    # The organization was read from region-1 (its name has a generated suffix).
    cdr = json.loads(kubectl(2, "get", "cassandradatareplication", "region-expansion", "-n", "apigee", "-o", "json").stdout)
    assert cdr["spec"]["organizationRef"] == source_organization() != region1.org()


def test_a_version_that_puts_the_operator_elsewhere_is_refused_by_preflight(sandbox, empty_region_2, tmp_path):
    """Region-1's operator runs where its hybrid release put it; a plan claiming a release whose
    charts put it in the other namespace would start a second operator: preflight refuses."""
    plan = helm_plan(tmp_path, "nodetool")
    other = "1.13.0" if env.operator_namespace() == "apigee-system" else "1.12.1"
    plan.write_text(plan.read_text().replace(f'version: "{env.APIGEE_VERSION}"', f'version: "{other}"'))
    r = expand(plan, "--dry-run")
    assert r.returncode == 3, r.stderr + r.stdout[-3000:]
    findings = [e["finding"] if "finding" in e else e for e in events(r.stdout) if e["event"] == "finding"]
    wrong = [f for f in findings if f["code"] == "operator-namespace"]
    assert wrong and "context `region-1` runs the Apigee operator" in wrong[0]["message"], findings
    assert f"in namespace {env.operator_namespace()}" in wrong[0]["message"], wrong


def test_helm_with_nodetool_rebuild_then_a_region_migration_retires_region_1(sandbox, empty_region_2, tmp_path):
    """Also `./run-tests`'s CLI expansion on Cassandra 5.0: the stream throttle set for the rebuild
    and set back after it, read back with 5.0's nodetool. Then the second half of a region
    migration: `decommission` of dc-1 with Helm (the charts uninstalled in order, the operator's
    remove-dc taking dc-1 out of the keyspaces and the ring), verified from region-2, and every
    row read back from dc-2 alone. Region-1 is gone afterwards: this test runs last, and leaves
    the sandbox down (the next `sandbox up` starts from nothing)."""
    before = throttles()
    evs = expand_and_check(tmp_path, "nodetool", THROTTLE)
    notes = [e["message"] for e in evs if e["event"] == "note"]
    assert any("for the rebuild" in m for m in notes) and any(": set back to" in m for m in notes), notes
    assert throttles() == before, "every source node's stream throttle is back to what it was"
    done = {ev["pod"] for ev in evs if ev["event"] == "rebuild-node" and ev["state"] == "done"}
    assert done == {f"apigee-cassandra-default-{i}" for i in range(region1.settings()["replicas"])}
    assert kubectl(2, "get", "cassandradatareplications", "-n", "apigee", "-o", "name").stdout.strip() == ""
    try:
        migrate_away_from_region_1(tmp_path)
    finally:
        subprocess.run([str(env.SANDBOX_DIR / "sandbox"), "down", "--purge"], capture_output=True, timeout=300)


def migrate_away_from_region_1(tmp_path: Path) -> None:
    from sbx import apigeectl
    from test_expand import replication_maps, run_cli
    # The plan names region-1's environment and environment-group releases (from its overrides),
    # as an operator's plan does: the tool uninstalls what the plan names.
    doc = apigeectl.read_overrides(str(region1.overrides_path()))
    envs = ", ".join(str(e["name"]) for e in doc.get("envs") or [])
    groups = ", ".join(str(v["name"]) for v in doc.get("virtualhosts") or [])
    plan = tmp_path / "retire-dc-1.yaml"
    plan.write_text(f"""name: retire-dc-1
leaving: {{context: region-1, overrides: {region1.overrides_path()}, datacenter: dc-1}}
surviving: {{context: region-2, overrides: {tmp_path / 'overrides-region-2.yaml'}, datacenter: dc-2}}
{INSTALLER}  org_release: {region1.org()}
  environments: [{envs}]
  env_groups: [{groups}]
jmx: {{from: overrides}}
timeouts: {{uninstall: 10m, removal: 5m, removenode: 10m, replication: 3m, poll: 2s}}
""")
    dry = run_cli("decommission", plan, "--dry-run")
    assert dry.returncode == 0, dry.stderr + dry.stdout[-3000:]
    assert any(f["code"] == "move-traffic-first" for f in (e.get("finding", e) for e in events(dry.stdout) if e["event"] == "finding"))
    assert set(ring(2)) == {"dc-1", "dc-2"}, "a dry run changes nothing"
    r = run_cli("decommission", plan)
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    evs = events(r.stdout)
    outcomes = {s["id"]: s["outcome"] for s in evs[-1]["steps"]}
    # `helm uninstall --wait` returns once the datastore is gone, i.e. after the operator's
    # remove-dc: wait-removed then finds nothing left to wait for.
    assert outcomes["uninstall"] == "done" and outcomes["wait-removed"] in ("done", "skipped"), outcomes
    assert outcomes["remove-nodes"] in ("done", "skipped") and outcomes["rewrite-replication"] in ("done", "skipped"), outcomes
    assert all(c["passed"] for c in evs[-1]["verify"]["checks"]), evs[-1]["verify"]
    assert_no_secrets(r.stdout, r.stderr)
    # Region-1: no release, no Cassandra; the ring and every keyspace know only dc-2.
    assert helm_releases(1) == {}, helm_releases(1)
    assert not any(proc.running(f"cassandra-r1-n{n}") for n in range(env.MAX_NODES))
    n = region1.settings()["replicas"]
    assert ring(2) == {"dc-2": {f"127.0.2.{i + 1}": "UN" for i in range(n)}}
    maps = replication_maps(region=2)
    assert maps and not [k for k, m in maps.items() if "dc-1" in m], maps
    assert data.all_present(rows_in_dc2()), "every row reads back from dc-2 alone"
