"""One Kubernetes control plane per region: etcd, kube-apiserver and kwok (standing in for the
kubelets, with `kubectl exec` and `kubectl logs` routed to the local Cassandra processes).

No kube-controller-manager or scheduler runs: the operator stand-in creates the Cassandra pods
itself with `spec.nodeName` set, as a StatefulSet controller plus scheduler would, and the sandbox's
controllers (`controllers.py`, one process per region) run the operator's Deployment.
"""
import base64
import json
import ssl
import sys
import time
import urllib.request
from pathlib import Path

from . import env, kube, pki, proc


def _pki_dir(region: int) -> Path:
    return env.region_dir(region) / "pki"


def ensure_pki(region: int) -> None:
    d = _pki_dir(region)
    if (d / "admin.crt").exists():
        return
    pki.make_ca(d / "ca.key", d / "ca.crt", f"sandbox-region-{region}-kubernetes-ca")
    pki.issue(d / "ca.key", d / "ca.crt", d / "apiserver.key", d / "apiserver.crt", "kube-apiserver",
              ips=("127.0.0.1", f"10.{region}6.0.1"), dns=("localhost", "kubernetes", "kubernetes.default.svc"), server=True)
    pki.issue(d / "ca.key", d / "ca.crt", d / "admin.key", d / "admin.crt", "sandbox-admin", org="system:masters", client=True)
    pki.make_rsa_keypair(d / "sa.key", d / "sa.pub")


def _b64(p: Path) -> str:
    return base64.b64encode(p.read_bytes()).decode()


def write_kubeconfig() -> Path:
    """One kubeconfig with a context per region (`region-1`, `region-2`); current: region-1."""
    clusters, users, contexts = [], [], []
    for r in env.REGIONS:
        d = _pki_dir(r)
        if not (d / "admin.crt").exists():
            continue
        name = env.context(r)
        clusters.append({"name": name, "cluster": {"server": f"https://127.0.0.1:{env.apiserver_port(r)}",
                                                    "certificate-authority-data": _b64(d / "ca.crt")}})
        users.append({"name": f"{name}-admin", "user": {"client-certificate-data": _b64(d / "admin.crt"),
                                                        "client-key-data": _b64(d / "admin.key")}})
        contexts.append({"name": name, "context": {"cluster": name, "user": f"{name}-admin"}})
    cfg = {"apiVersion": "v1", "kind": "Config", "clusters": clusters, "users": users, "contexts": contexts,
           "current-context": env.context(1), "preferences": {}}
    path = env.kubeconfig_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg, indent=2))
    path.chmod(0o600)
    return path


def _region_kubeconfig(region: int) -> Path:
    """A single-context kubeconfig for kwok of this region."""
    d = _pki_dir(region)
    cfg = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{env.apiserver_port(region)}",
                                                  "certificate-authority-data": _b64(d / "ca.crt")}}],
           "users": [{"name": "u", "user": {"client-certificate-data": _b64(d / "admin.crt"),
                                            "client-key-data": _b64(d / "admin.key")}}],
           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c"}
    path = env.region_dir(region) / "kwok" / "kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg))
    path.chmod(0o600)
    return path


def start_etcd(region: int) -> None:
    name = f"etcd-r{region}"
    if proc.running(name):
        return
    client, peer = env.etcd_ports(region)
    data = env.region_dir(region) / "etcd"
    proc.start(name, [str(env.ETCD), "--name", name, "--data-dir", str(data),
                      "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
                      "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                      "--initial-cluster", f"{name}=http://127.0.0.1:{peer}", "--unsafe-no-fsync",
                      "--listen-metrics-urls", f"http://127.0.0.1:{client + 2}", "--log-level", "warn"],
               env.region_dir(region) / "logs" / "etcd.log")


# Metadata only (the request URI, never a body): an exec's command line is in its URI
# (`.../exec?command=nodetool&command=status`), so a secret passed as an argument is recorded here as
# it is in AKS/GKE/EKS audit logs. The tests' secret scan reads it after every test.
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: [pods/exec, pods/attach, pods/portforward, secrets]
  - level: None
"""


def audit_log(region: int) -> Path:
    """The API server's audit log (JSON lines)."""
    return env.region_dir(region) / "logs" / "audit.log"


def start_apiserver(region: int) -> None:
    name = f"kube-apiserver-r{region}"
    if proc.running(name):
        return
    d = _pki_dir(region)
    client, _ = env.etcd_ports(region)
    policy = env.region_dir(region) / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    proc.start(name, [str(env.KUBE_APISERVER),
                      f"--etcd-servers=http://127.0.0.1:{client}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                      f"--secure-port={env.apiserver_port(region)}", f"--tls-cert-file={d / 'apiserver.crt'}",
                      f"--tls-private-key-file={d / 'apiserver.key'}", f"--client-ca-file={d / 'ca.crt'}",
                      "--service-account-issuer=https://kubernetes.default.svc", f"--service-account-key-file={d / 'sa.pub'}",
                      f"--service-account-signing-key-file={d / 'sa.key'}", f"--service-cluster-ip-range=10.{region}6.0.0/16",
                      "--authorization-mode=RBAC", "--allow-privileged=true",
                      # No controller-manager creates the default ServiceAccount.
                      "--disable-admission-plugins=ServiceAccount",
                      # kwok answers the apiserver's kubelet calls; reach it on the node's Hostname (localhost).
                      "--kubelet-preferred-address-types=Hostname,InternalIP",
                      "--enable-priority-and-fairness=false", "--max-requests-inflight=0", "--max-mutating-requests-inflight=0",
                      # Like a managed cluster's audit log: every exec with its command line.
                      f"--audit-policy-file={policy}", f"--audit-log-path={audit_log(region)}",
                      "--audit-log-format=json", "--audit-log-maxbackup=1", "--audit-log-maxsize=200",
                      "--profiling=false", "--v=0"],
               env.region_dir(region) / "logs" / "kube-apiserver.log")


def wait_ready(region: int, timeout: float = 120) -> None:
    d = _pki_dir(region)
    ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
    ctx.load_cert_chain(str(d / "admin.crt"), str(d / "admin.key"))
    url = f"https://127.0.0.1:{env.apiserver_port(region)}/readyz"
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.running(f"kube-apiserver-r{region}"):
            raise RuntimeError(f"kube-apiserver of region {region} exited; see {env.region_dir(region) / 'logs' / 'kube-apiserver.log'}")
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
                if r.status == 200:
                    return
        except Exception as e:  # noqa: BLE001 - any failure means "not ready yet"
            last = str(e)
        time.sleep(0.5)
    raise RuntimeError(f"kube-apiserver of region {region} not ready after {timeout}s: {last}")


# The tool's preflight network probe pod (one per namespace).
PROBE_POD = "apigee-multiregion-probe"


def _kwok_routes(region: int) -> str:
    """Exec and Logs routes for every Cassandra pod name this region may have."""
    docs = []
    for n in range(env.MAX_NODES):
        work = env.cassandra_dir(region, n)
        work.mkdir(parents=True, exist_ok=True)
        (work / "logs").mkdir(exist_ok=True)
        (work / "logs" / "pod-cri.log").touch()
        docs.append({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Exec",
                     "metadata": {"name": env.pod_name(n), "namespace": env.NAMESPACE},
                     "spec": {"execs": [{"local": {"workDir": str(work), "envs": [
                         {"name": "CASSANDRA_JMX_PORT", "value": str(env.jmx_port(region, n))},
                         {"name": "POD_IP", "value": env.node_ip(region, n)},
                         {"name": "SANDBOX_NODE_DIR", "value": str(work)},
                         {"name": "CASSANDRA_LIB", "value": str(env.CASSANDRA_LIB)},
                     ]}}]}})
        docs.append({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
                     "metadata": {"name": env.pod_name(n), "namespace": env.NAMESPACE},
                     # The current container's log, and the one before it (`kubectl logs --previous`):
                     # cassandra.start() moves the first to the second at every container start.
                     "spec": {"logs": [{"containers": [env.CONTAINER], "logsFile": str(work / "logs" / "pod-cri.log"),
                                        "previousLogsFile": str(work / "logs" / "pod-cri.previous.log"), "follow": True}]}})
    # The preflight network probe's pod (apigee_multiregion_core::probe::PROBE_POD): its checks run
    # on this machine, where every node address (127.0.x.y) is reachable, as from a node's host
    # network. In `default` while region-2 has no Apigee namespace yet, in `apigee` once it has.
    probe = env.region_dir(region) / "probe"
    probe.mkdir(parents=True, exist_ok=True)
    for ns in ("default", env.NAMESPACE):
        docs.append({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Exec",
                     "metadata": {"name": PROBE_POD, "namespace": ns},
                     "spec": {"execs": [{"local": {"workDir": str(probe), "envs": []}}]}})
    return "\n---\n".join(json.dumps(d) for d in docs) + "\n"


def start_kwok(region: int) -> None:
    name = f"kwok-r{region}"
    if proc.running(name):
        return
    kdir = env.region_dir(region) / "kwok"
    kdir.mkdir(parents=True, exist_ok=True)
    routes = kdir / "routes.yaml"
    routes.write_text(_kwok_routes(region))
    home = kdir / "home"  # kwok reads ~/.kwok/kwok.yaml: give it an empty home
    home.mkdir(exist_ok=True)
    stages = sorted(str(p) for p in env.KWOK_STAGES.glob("*.yaml"))
    port = env.kwok_port(region)
    path = f"{env.SANDBOX_DIR / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    proc.start(name, [str(env.KWOK), f"--kubeconfig={_region_kubeconfig(region)}",
                      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                      "--node-name=localhost", f"--node-port={port}", f"--server-address=127.0.0.1:{port}",
                      "--node-lease-duration-seconds=40", f"--cidr=10.{region}8.0.0/24",
                      *[f"--config={s}" for s in stages], f"--config={routes}"],
               env.region_dir(region) / "logs" / "kwok.log", env_vars={"HOME": str(home), "PATH": path})


def create_nodes(region: int) -> None:
    for n in range(env.MAX_NODES):
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": env.node_name(region, n), "annotations": {"kwok.x-k8s.io/node": "fake"},
                             "labels": {"type": "kwok", "cloud.google.com/gke-nodepool": "apigee-data",
                                        "topology.kubernetes.io/region": env.context(region),
                                        "kubernetes.io/hostname": env.node_name(region, n)}},
                "spec": {"podCIDR": f"10.{region}8.{n}.0/24"},
                "status": {"addresses": [{"type": "InternalIP", "address": env.node_ip(region, n)},
                                         {"type": "Hostname", "address": "localhost"}],
                           "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                           "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"}}}
        kube.apply_object(region, node)


def up(region: int) -> None:
    ensure_pki(region)
    start_etcd(region)
    start_apiserver(region)
    wait_ready(region)
    write_kubeconfig()
    start_kwok(region)
    create_nodes(region)
    install_cert_manager(region)
    start_controllers(region)


def start_controllers(region: int) -> None:
    """The stand-in for the controller-manager, scheduler and kubelet of the operator's Deployment."""
    name = f"controllers-r{region}"
    if not proc.running(name):
        proc.start(name, [sys.executable, "-m", "sbx.controllers", str(region)], env.region_dir(region) / "logs" / "controllers.log",
                   env_vars={"PYTHONPATH": str(env.SANDBOX_DIR / "lib")})


def install_cert_manager(region: int) -> None:
    """What `kubectl apply -f cert-manager.yaml` leaves for `apigeectl init` to find: the namespace
    and the cert-manager Deployment (no controller runs here, so it never gets pods; the CA secret
    that cert-manager would issue is created by the apigeectl stand-in's init)."""
    kube.ensure_namespace(region, "cert-manager")
    labels = {"app": "cert-manager", "app.kubernetes.io/name": "cert-manager"}
    kube.apply_object(region, {"apiVersion": "apps/v1", "kind": "Deployment",
                               "metadata": {"name": "cert-manager", "namespace": "cert-manager", "labels": labels},
                               "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                                        "template": {"metadata": {"labels": labels},
                                                     "spec": {"containers": [{"name": "cert-manager-controller",
                                                                              "image": "quay.io/jetstack/cert-manager-controller:v1.14.5"}]}}}})


def down(region: int) -> None:
    for name in (f"controllers-r{region}", f"kwok-r{region}", f"kube-apiserver-r{region}", f"etcd-r{region}"):
        proc.stop(name)
