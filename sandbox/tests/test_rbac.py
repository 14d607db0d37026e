"""The guide's RBAC manifests (docs/rbac/) on the sandbox's RBAC-enforcing API servers: bound to a
service account that has nothing else, they run a whole expansion; with one permission removed,
preflight names exactly that permission and changes nothing.

The installer (the apigeectl stand-in) and the operator stand-in keep the sandbox's admin identity,
as a real install runs apigeectl or Helm with cluster-admin (docs/running-on-your-clusters.md):
what is tested here is the tool's own calls."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import SANDBOX, kubectl
from test_expand import CLI, assert_no_secrets, events, make_plan
from sbx import data, env, region1

REPO = SANDBOX.parent
RBAC = REPO / "docs" / "rbac"
SA = "apigee-multiregion"


def _admin_config() -> dict:
    return json.loads(env.kubeconfig_path().read_text())


def _grant() -> None:
    """What the guide says to do, in its order: source manifest; target part 1; the Apigee namespace
    (copied from the source); target part 2 in it."""
    kubectl(1, "apply", "-f", str(RBAC / "source-cluster.yaml"))
    kubectl(2, "apply", "-f", str(RBAC / "target-cluster.yaml"))
    ns = json.loads(kubectl(1, "get", "namespace", "apigee", "-o", "json").stdout)
    copy = {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "apigee", "labels": ns["metadata"].get("labels", {})}}
    kubectl(2, "apply", "-f", "-", input=json.dumps(copy))
    kubectl(2, "apply", "-f", str(RBAC / "target-apigee-namespace.yaml"))


def _revoke() -> None:
    for region, files in ((1, ["source-cluster.yaml"]), (2, ["target-apigee-namespace.yaml", "target-cluster.yaml"])):
        for f in files:
            kubectl(region, "delete", "-f", str(RBAC / f), "--ignore-not-found", "--wait=false", check=False)


def restricted_kubeconfig(path: Path) -> Path:
    """Contexts `region-1` and `region-2` (the names the plan uses) whose user is the service
    account's token in each cluster: that identity has only what docs/rbac grants."""
    admin = _admin_config()
    users, contexts = [], []
    for region in (1, 2):
        token = kubectl(region, "create", "token", SA, "-n", "default", "--duration=2h").stdout.strip()
        assert token.count(".") == 2, "a JWT from the TokenRequest API"
        users.append({"name": f"sa-{region}", "user": {"token": token}})
        contexts.append({"name": f"region-{region}", "context": {"cluster": f"region-{region}", "user": f"sa-{region}"}})
    cfg = {"apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"], "users": users,
           "contexts": contexts, "current-context": "region-1"}
    path.write_text(json.dumps(cfg))
    path.chmod(0o600)
    return path


def cli(kubeconfig: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    e = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=e, timeout=timeout)


@pytest.fixture
def granted(sandbox, empty_region_2):
    _grant()
    yield
    _revoke()


def test_the_identity_is_really_restricted(granted, tmp_path):
    kc = restricted_kubeconfig(tmp_path / "sa.kubeconfig")
    def can_i(region, *what):
        return subprocess.run(["kubectl", f"--kubeconfig={kc}", f"--context=region-{region}", "auth", "can-i", *what],
                              capture_output=True, text=True).stdout.strip()
    assert can_i(1, "list", "pods", "-n", "apigee") == "yes"
    assert can_i(1, "delete", "pods", "-n", "apigee") == "no"
    assert can_i(1, "list", "secrets", "-n", "cert-manager") == "no"
    assert can_i(2, "get", "pods", "--subresource=log", "-n", "apigee") == "yes"
    assert can_i(2, "create", "statefulsets.apps", "-n", "apigee") == "no"


def _preflight_permission_findings(kc: Path, plan: Path) -> tuple[int, list[dict]]:
    r = cli(kc, "preflight", "--plan", str(plan), "-o", "json", timeout=300)
    found = [e["finding"] if "finding" in e else e for e in events(r.stdout) if e.get("event") == "finding"]
    return r.returncode, [f for f in found if str(f.get("code", "")).startswith("permission")]


def test_removing_one_permission_makes_preflight_name_exactly_that_one(granted, tmp_path):
    kc = restricted_kubeconfig(tmp_path / "sa.kubeconfig")
    plan = make_plan(tmp_path)
    ca_before = kubectl(2, "get", "secret", "apigee-ca", "-n", "cert-manager", check=False).returncode
    rc, found = _preflight_permission_findings(kc, plan)
    assert (rc, found) == (0, []), f"the guide's manifests are enough for preflight: {found}"
    # Take `pods/log` out of the target's Role.
    role = json.loads(kubectl(2, "get", "role", "apigee-multiregion-target", "-n", "apigee", "-o", "json").stdout)
    role["rules"] = [r for r in role["rules"] if r["resources"] != ["pods/log"]]
    kubectl(2, "replace", "-f", "-", input=json.dumps(role))
    rc, found = _preflight_permission_findings(kc, plan)
    assert rc == 3, "refused"
    assert len(found) == 1, found
    assert found[0]["code"] == "permission-missing" and found[0]["side"] == "target"
    assert "context `region-2` (target) may not get pods/log in namespace apigee" in found[0]["message"]
    assert "docs/rbac/target-apigee-namespace.yaml" in found[0]["message"]
    # And one in the source: listing nodes.
    kubectl(2, "apply", "-f", str(RBAC / "target-apigee-namespace.yaml"))
    kubectl(1, "delete", "clusterrolebinding", "apigee-multiregion-source")
    rc, found = _preflight_permission_findings(kc, plan)
    assert rc == 3 and [f["message"].split(",")[0] for f in found] == [
        "context `region-1` (source) may not list nodes (cluster-wide)",
        "context `region-1` (source) may not get namespaces named apigee (cluster-wide)"], found
    # Nothing was changed in the target by the refused runs.
    assert kubectl(2, "get", "secret", "apigee-ca", "-n", "cert-manager", check=False).returncode == ca_before


def test_the_guide_s_manifests_run_a_whole_expansion(granted, tmp_path):
    kc = restricted_kubeconfig(tmp_path / "sa.kubeconfig")
    plan = make_plan(tmp_path)
    r = cli(kc, "expand", "--plan", str(plan), "-o", "json")
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    report = events(r.stdout)[-1]
    assert report["event"] == "report" and all(c["passed"] for c in report["verify"]["checks"]), report
    forbidden = [e for e in events(r.stdout) if "forbidden" in json.dumps(e).lower()]
    assert not forbidden, forbidden
    assert data.all_present(data.check([env.node_ip(2, i) for i in range(env.MAX_NODES)], "dc-2", region1.org()))
    assert_no_secrets(r.stdout, r.stderr)
