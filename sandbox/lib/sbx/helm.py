"""The real Helm CLI (built by build/helm.sh) against one region, with the stand-in charts
(charts/): the install order and flags of Google's Helm install pages."""
import os
import subprocess
import sys

from . import env, kube


class HelmError(RuntimeError):
    pass


def helm(region: int, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    argv = [str(env.HELM), *args, "--kube-context", env.context(region), "--kubeconfig", str(env.kubeconfig_path())]
    h = env.STATE / "helm"  # Helm's own cache/config/data, out of $HOME
    e = {"HELM_CACHE_HOME": str(h / "cache"), "HELM_CONFIG_HOME": str(h / "config"), "HELM_DATA_HOME": str(h / "data")}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, **e})
    if check and r.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} (region {region}) failed: {r.stderr.strip() or r.stdout.strip()}")
    return r


def upgrade_install(region: int, release: str, chart: str, namespace: str, overrides: str, *extra: str) -> None:
    """`helm upgrade RELEASE CHART/ --install --namespace NS --atomic --wait -f OVERRIDES ...`"""
    helm(region, "upgrade", release, f"{env.CHARTS_DIR / chart}/", "--install", "--namespace", namespace,
         "--atomic", "--wait", "-f", overrides, *extra)
    print(f"region-{region}: helm release {release} ({chart}) installed in {namespace}", file=sys.stderr)


def install_all(region: int, overrides: str, doc: dict) -> None:
    """CRDs first, then every chart in the documented order (operator, datastore, redis, telemetry,
    ingress-manager, org, envs, envgroups). Returns once Helm does: before Cassandra is ready."""
    from . import apigeectl
    apigeectl.apply_crds(region)  # kubectl apply -k .../etc/crds/default --server-side --force-conflicts
    ns = env.operator_namespace()
    create = ["--create-namespace"] if ns != env.NAMESPACE else []
    kube.ensure_namespace(region, env.NAMESPACE)  # the install pages create it before the charts
    upgrade_install(region, "operator", "apigee-operator", ns, overrides, *create)
    for release, chart in (("datastore", "apigee-datastore"), ("redis", "apigee-redis"), ("telemetry", "apigee-telemetry"),
                           ("ingress-manager", "apigee-ingress-manager"), (str(doc["org"]), "apigee-org")):
        upgrade_install(region, release, chart, env.NAMESPACE, overrides)
    for e in doc.get("envs") or []:
        upgrade_install(region, str(e["name"]), "apigee-env", env.NAMESPACE, overrides, "--set", f"env={e['name']}")
    for v in doc.get("virtualhosts") or []:
        upgrade_install(region, str(v["name"]), "apigee-virtualhost", env.NAMESPACE, overrides, "--set", f"envgroup={v['name']}")
