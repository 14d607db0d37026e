"""The guide's RBAC manifests (docs/rbac/) on the sandbox's RBAC-enforcing API servers: bound to a
service account that has nothing else, the identity is really restricted; with one permission
removed, preflight names exactly that permission and changes nothing. (The whole expansion under
that identity is the CLI test in test_expand.py.)

The installer (the apigeectl stand-in) and the operator stand-in keep the sandbox's admin identity,
as a real install runs apigeectl or Helm with cluster-admin (docs/running-on-your-clusters.md):
what is tested here is the tool's own calls."""
import json
import os
import subprocess
from pathlib import Path

from conftest import RBAC, kubectl, restricted_kubeconfig  # noqa: F401 - `granted` is a conftest fixture
from test_expand import CLI, events, make_plan


def cli(kubeconfig: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    e = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=e, timeout=timeout)


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
