"""The Helm era on the sandbox, by hand: the real Helm CLI with the stand-in charts on region-2, a
fresh cluster. What the tool's Helm installer must cope with: no CRDs on a fresh cluster, the
operator's namespace by release, `helm --wait` returning before Cassandra is ready."""
import json
import os
import subprocess
import time

from conftest import kubectl, ring
from sbx import env, proc, region2

REPO = env.REPO_DIR
TEMPLATE = REPO / "examples" / "sandbox" / "overrides-region-2.yaml"


def helm(region: int, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    h = env.STATE / "helm"
    e = {**os.environ, "HELM_CACHE_HOME": str(h / "cache"), "HELM_CONFIG_HOME": str(h / "config"), "HELM_DATA_HOME": str(h / "data")}
    r = subprocess.run([str(env.HELM), *args, "--kube-context", f"region-{region}", "--kubeconfig", str(env.kubeconfig_path())],
                       capture_output=True, text=True, env=e, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {r.stderr}")
    return r


def install(region: int, release: str, chart: str, namespace: str, overrides, *extra: str, check: bool = True):
    return helm(region, "upgrade", release, f"{env.CHARTS_DIR / chart}/", "--install", "--namespace", namespace,
                "--atomic", "--wait", "-f", str(overrides), *extra, check=check)


def region2_overrides(tmp_path):
    text = TEMPLATE.read_text().replace('datacenter: "dc-1"', 'datacenter: "dc-2"')
    text = text.replace("  clusterName: apigeecluster\n", "  clusterName: apigeecluster\n  multiRegionSeedHost: 127.0.1.1\n")
    path = tmp_path / "overrides-region-2.yaml"
    path.write_text(text)
    return path


def copy_ca_to_region_2() -> None:
    secret = json.loads(kubectl(1, "get", "secret", "apigee-ca", "-n", "cert-manager", "-o", "json").stdout)
    secret["metadata"] = {"name": "apigee-ca", "namespace": "cert-manager"}
    kubectl(2, "apply", "-f", "-", input=json.dumps(secret))


def _get(region: int, *args: str) -> dict | None:
    r = kubectl(region, "get", *args, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def assert_fresh() -> None:
    """What a fresh cluster has of Apigee: nothing."""
    crds = kubectl(2, "get", "crd", "-o", "name").stdout
    assert "apigee.cloud.google.com" not in crds, crds
    assert kubectl(2, "get", "secrets", "-A", "-l", "owner=helm", "-o", "name").stdout.strip() == "", "no Helm release left"
    assert kubectl(2, "get", "deployments", "-A", "--field-selector=metadata.name=apigee-controller-manager",
                   "-o", "name").stdout.strip() == ""
    for ns in ("apigee", "apigee-system"):
        assert kubectl(2, "get", "namespace", ns, check=False).returncode != 0, f"namespace {ns} left"
    assert not proc.running("operator-r2")
    assert proc.running("controllers-r2"), "the controllers run again after a reset"


def test_the_datastore_chart_fails_on_a_fresh_cluster_without_the_crds(sandbox, empty_region_2, tmp_path):
    assert_fresh()
    overrides = region2_overrides(tmp_path)
    kubectl(2, "create", "namespace", "apigee")
    r = install(2, "datastore", "apigee-datastore", "apigee", overrides, check=False)
    assert r.returncode != 0
    assert 'no matches for kind "ApigeeDatastore" in version "apigee.cloud.google.com/v1alpha1"' in r.stderr, r.stderr


def test_operator_and_datastore_charts_join_dc_2_then_a_reset_leaves_a_fresh_cluster(sandbox, empty_region_2, tmp_path):
    overrides = region2_overrides(tmp_path)
    copy_ca_to_region_2()
    kubectl(2, "apply", "-k", f"{env.CHARTS_DIR / 'apigee-operator' / 'etc' / 'crds' / 'default'}/",
            "--server-side", "--force-conflicts", "--validate=false")
    ns = env.operator_namespace()
    install(2, "operator", "apigee-operator", ns, overrides, *(["--create-namespace"] if ns != "apigee" else []))
    # --wait waited for the operator Deployment: the controllers run its pod and the operator process.
    dep = _get(2, "deployment", "apigee-controller-manager", "-n", ns)
    assert dep["status"]["readyReplicas"] == 1 and dep["status"]["observedGeneration"] == dep["metadata"]["generation"]
    assert proc.running("operator-r2")
    pods = json.loads(kubectl(2, "get", "pods", "-n", ns, "-l", "app=apigee-controller", "-o", "json").stdout)["items"]
    assert len(pods) == 1 and pods[0]["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"

    kubectl(2, "create", "namespace", "apigee", check=False)  # 1.11/1.12: the operator is elsewhere
    install(2, "datastore", "apigee-datastore", "apigee", overrides)
    # Helm returned: the objects exist, Cassandra is not ready yet (the operator works afterwards).
    ds = _get(2, "apigeedatastore", "default", "-n", "apigee")
    st = ds.get("status") or {}
    assert not (st.get("state") == "running" and st.get("observedGeneration") == ds["metadata"]["generation"]), st
    sts = _get(2, "statefulset", "apigee-cassandra-default", "-n", "apigee")
    assert sts is None or (sts.get("status") or {}).get("readyReplicas", 0) < 2
    states, deadline = set(), time.monotonic() + 300
    while time.monotonic() < deadline:
        ds = _get(2, "apigeedatastore", "default", "-n", "apigee")
        st = ds.get("status") or {}
        states.add(st.get("state"))
        sts = _get(2, "statefulset", "apigee-cassandra-default", "-n", "apigee")
        if st.get("state") == "running" and st.get("observedGeneration") == ds["metadata"]["generation"] \
                and sts and (sts.get("status") or {}).get("readyReplicas") == 2:
            break
        time.sleep(2)
    else:
        raise AssertionError(f"datastore not running after 300 s: {st}")
    assert "releasing" in states, states
    assert sts["metadata"]["ownerReferences"][0]["kind"] == "ApigeeDatastore", "the operator created the StatefulSet"
    assert ds["spec"]["components"]["cassandra"]["properties"]["multiRegionSeedHost"] == "127.0.1.1"
    assert ring(1)["dc-2"] == {"127.0.2.1": "UN", "127.0.2.2": "UN"}

    # The organization: a generated name, read from the cluster; running after releasing.
    install(2, "sandbox-org", "apigee-org", "apigee", overrides)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        orgs = json.loads(kubectl(2, "get", "apigeeorganizations", "-n", "apigee", "-o", "json").stdout)["items"]
        if orgs and (orgs[0].get("status") or {}).get("state") == "running":
            break
        time.sleep(1)
    assert len(orgs) == 1 and orgs[0]["metadata"]["name"].startswith("sandbox-org-") and orgs[0]["spec"]["name"] == "sandbox-org"
    assert orgs[0]["status"]["state"] == "running"

    # helm uninstall of the operator: its process stops, its ReplicaSet and pod are collected;
    # the Cassandra nodes keep running (deleting an operator does not delete its workloads).
    helm(2, "uninstall", "operator", "--namespace", ns, "--wait")
    deadline = time.monotonic() + 60
    while proc.running("operator-r2") and time.monotonic() < deadline:
        time.sleep(1)
    assert not proc.running("operator-r2")
    time.sleep(2)
    assert kubectl(2, "get", "pods,replicasets", "-n", ns, "-l", "app=apigee-controller", "-o", "name").stdout.strip() == ""
    assert proc.running("cassandra-r2-n0")

    region2.reset()
    assert_fresh()
    assert "dc-2" not in ring(1)
