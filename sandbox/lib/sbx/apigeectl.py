"""STAND-IN for Google's `apigeectl` plus the Apigee operator and its schema setup jobs.

It offers the surface the multi-region runbook uses (`init`, `apply [--datastore]`,
`check-ready`, `delete`, each with `-f OVERRIDES`) and acts on the cluster of the current
kubeconfig context. Unlike the real tool it only installs the Cassandra datastore, but it does
so for real: it starts Apache Cassandra nodes configured from the overrides file (clusterName,
datacenter, rack, replicaCount, multiRegionSeedHost, JMX credentials) with internode TLS issued
from the cluster's `apigee-ca` secret. A wrong seed, datacenter or CA fails as it would in a
real region.

Differences from the real apigeectl, on purpose:
- `apply` returns when the Cassandra pods are Running (the real one returns at once and the
  operator works in the background; `check-ready` then waits).
- A changed datastore configuration restarts the nodes one by one (as the operator's rolling
  update does).
- Setting APIGEE_STANDIN_SCHEMA_SETUP=off disables the schema setup stand-in, which otherwise
  extends the replication of Apigee's keyspaces and system_auth/system_distributed/system_traces
  to a newly installed datacenter.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from . import cassandra, env, kube, pki, proc

DEFAULT_JMX_USER = "jmxuser"
DEFAULT_JMX_PASSWORD = "iloveapis123"  # Apigee's documented default; the sandbox stand-in uses it only when the overrides set none


class StandInError(RuntimeError):
    pass


def current_region() -> int:
    r = subprocess.run([env.KUBECTL, "config", "view", "--minify", "-o", "json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise StandInError(f"cannot read the current kubeconfig context: {r.stderr.strip()}")
    server = json.loads(r.stdout)["clusters"][0]["cluster"]["server"]
    return env.region_of_server(server)


def read_overrides(path: str) -> dict:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise StandInError(f"overrides file {path} not found") from None
    except yaml.YAMLError as e:
        raise StandInError(f"overrides file {path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise StandInError(f"overrides file {path} is not a mapping")
    return doc


def cassandra_settings(doc: dict) -> dict:
    c = doc.get("cassandra") or {}
    auth = c.get("auth") or {}
    jmx = auth.get("jmx") or {}
    return {
        "cluster_name": str(c.get("clusterName", "apigeecluster")),
        "datacenter": str(c.get("datacenter", "dc-1")),
        "rack": str(c.get("rack", "ra-1")),
        "replicas": int(c.get("replicaCount", 3)),
        "seed_host": c.get("multiRegionSeedHost"),
        "host_network": bool(c.get("hostNetwork", False)),
        "jmx_user": str(jmx.get("username", DEFAULT_JMX_USER)),
        "jmx_password": str(jmx.get("password", DEFAULT_JMX_PASSWORD)),
    }


def start_operator(region: int) -> None:
    """The Apigee operator stand-in (CassandraDataReplication), one per region, in the background."""
    name = f"operator-r{region}"
    if not proc.running(name):
        proc.start(name, [sys.executable, "-m", "sbx.operator", str(region)], env.region_dir(region) / "logs" / "operator.log",
                   env_vars={"PYTHONPATH": str(env.SANDBOX_DIR / "lib")})


def init(region: int, doc: dict) -> None:
    for ns in (env.NAMESPACE, "cert-manager"):
        kube.ensure_namespace(region, ns)
    kube.kubectl(region, "apply", "-f", str(env.SANDBOX_DIR / "crds" / "apigee-datastore.yaml"))
    start_operator(region)
    if kube.get_json(region, "secret", "apigee-ca", "-n", "cert-manager") is None:
        # What cert-manager's self-signed issuer does on a fresh install: a new CA for this cluster.
        with tempfile.TemporaryDirectory(dir=env.STATE) as tmp:
            key, crt = Path(tmp) / "ca.key", Path(tmp) / "ca.crt"
            pki.make_ca(key, crt, "apigee-ca")
            kube.kubectl(region, "create", "secret", "tls", "apigee-ca", "-n", "cert-manager",
                         f"--cert={crt}", f"--key={key}")
        print(f"region-{region}: created a new CA in secret cert-manager/apigee-ca", file=sys.stderr)


def _ca(region: int) -> tuple[bytes, bytes]:
    import base64
    s = kube.get_json(region, "secret", "apigee-ca", "-n", "cert-manager")
    if s is None:
        raise StandInError("secret cert-manager/apigee-ca not found: run `apigeectl init -f ...` first (or copy it from the existing region)")
    data = s.get("data", {})
    return base64.b64decode(data["tls.key"]), base64.b64decode(data["tls.crt"])


def _fingerprint(crt: bytes) -> str:
    import hashlib
    return hashlib.sha256(crt).hexdigest()[:16]


def node_configs(region: int, s: dict, ca_crt: bytes) -> list[cassandra.NodeConfig]:
    seeds = [env.node_ip(region, 0)]
    if s["seed_host"]:
        seeds.append(str(s["seed_host"]))
    return [cassandra.NodeConfig(region, n, s["cluster_name"], s["datacenter"], s["rack"], tuple(seeds),
                                 s["jmx_user"], s["jmx_password"], _fingerprint(ca_crt))
            for n in range(s["replicas"])]


def _pod(region: int, n: int, s: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": env.pod_name(n), "namespace": env.NAMESPACE,
                         "labels": {"app": "apigee-cassandra", "statefulset.kubernetes.io/pod-name": env.pod_name(n),
                                    "apigee.cloud.google.com/platform": "apigee", "name": "default"},
                         "annotations": {"sandbox.apigee-multiregion/datacenter": s["datacenter"],
                                         "sandbox.apigee-multiregion/rack": s["rack"]}},
            "spec": {"hostNetwork": s["host_network"], "nodeName": env.node_name(region, n),
                     "containers": [{"name": env.CONTAINER, "image": "sandbox/apigee-cassandra-standin:5.0",
                                     "ports": [{"containerPort": p, "name": nm} for p, nm in
                                               ((7000, "gossip"), (7001, "gossip-tls"), (7199, "jmx"), (9042, "cql"))]}]}}


def _statefulset(s: dict) -> dict:
    labels = {"app": "apigee-cassandra", "name": "default"}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": env.STS_NAME, "namespace": env.NAMESPACE, "labels": labels},
            "spec": {"replicas": s["replicas"], "serviceName": "apigee-cassandra-default", "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"hostNetwork": s["host_network"],
                                           "containers": [{"name": env.CONTAINER, "image": "sandbox/apigee-cassandra-standin:5.0"}]}}}}


def apply(region: int, doc: dict, datastore_only: bool = False) -> None:
    s = cassandra_settings(doc)
    if s["replicas"] > env.MAX_NODES:
        raise StandInError(f"cassandra.replicaCount {s['replicas']} is more than the sandbox's {env.MAX_NODES} nodes per region")
    kube.ensure_namespace(region, env.NAMESPACE)
    ca_key, ca_crt = _ca(region)
    kube.apply_object(region, _statefulset(s))
    if kube.get_json(region, "apigeedatastore", "default", "-n", env.NAMESPACE) is None:
        kube.create_object(region, {"apiVersion": "apigee.cloud.google.com/v1alpha1", "kind": "ApigeeDatastore",
                                    "metadata": {"name": "default", "namespace": env.NAMESPACE}, "spec": {"name": "default"}})
        kube.kubectl(region, "patch", "apigeedatastore", "default", "-n", env.NAMESPACE, "--subresource=status", "--type=merge",
                     "-p", json.dumps({"status": {"state": "running"}}))
    new_dc = False
    for cfg in node_configs(region, s, ca_crt):
        current = cassandra.running_digest(region, cfg.ordinal)
        if current == cfg.digest():
            continue
        if current is not None:
            print(f"region-{region}: restarting {env.pod_name(cfg.ordinal)} with the new configuration", file=sys.stderr)
            cassandra.stop(region, cfg.ordinal)
        else:
            new_dc = True
        cassandra.write_config(cfg, ca_key, ca_crt)
        cassandra.start(cfg)
        cassandra.wait_cql(cfg)
        if kube.get_json(region, "pod", env.pod_name(cfg.ordinal), "-n", env.NAMESPACE) is None:
            kube.create_object(region, _pod(region, cfg.ordinal, s))
        time.sleep(2)  # let gossip settle before touching the next node
    for n in range(s["replicas"], env.MAX_NODES):  # scaled down
        if proc.running(f"cassandra-r{region}-n{n}"):
            cassandra.stop(region, n)
        kube.kubectl(region, "delete", "pod", env.pod_name(n), "-n", env.NAMESPACE, "--ignore-not-found", "--wait=false")
    if new_dc and os.environ.get("APIGEE_STANDIN_SCHEMA_SETUP", "on") != "off":
        from . import schema
        schema.extend_replication(env.node_ip(region, 0), s["datacenter"], min(3, s["replicas"]))


def check_ready(region: int, doc: dict) -> list[str]:
    s = cassandra_settings(doc)
    problems = []
    for n in range(s["replicas"]):
        if not proc.running(f"cassandra-r{region}-n{n}"):
            problems.append(f"{env.pod_name(n)}: Cassandra is not running")
        elif kube.get_json(region, "pod", env.pod_name(n), "-n", env.NAMESPACE) is None:
            problems.append(f"{env.pod_name(n)}: pod not created")
    return problems


def delete(region: int, doc: dict) -> None:
    proc.stop(f"operator-r{region}")
    for n in range(env.MAX_NODES):
        if proc.running(f"cassandra-r{region}-n{n}"):
            cassandra.stop(region, n)
    kube.kubectl(region, "delete", "statefulset", env.STS_NAME, "-n", env.NAMESPACE, "--ignore-not-found", "--wait=false")
    kube.kubectl(region, "delete", "pods", "-l", env.CASSANDRA_LABEL, "-n", env.NAMESPACE, "--ignore-not-found",
                 "--wait=false", "--grace-period=0", "--force")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="apigeectl", description="STAND-IN for apigeectl (sandbox only): " + __doc__.splitlines()[0])
    p.add_argument("command", choices=["init", "apply", "check-ready", "delete"])
    p.add_argument("-f", "--file", required=True, help="overrides file")
    p.add_argument("--datastore", action="store_true", help="only the datastore (Cassandra) component")
    p.add_argument("--dry-run", nargs="?", const="client", default=None)
    a = p.parse_args(argv)
    try:
        doc = read_overrides(a.file)
        region = current_region()
        if a.dry_run:
            print(f"(dry run) would {a.command} {a.file} on region-{region}")
            return 0
        if a.command == "init":
            init(region, doc)
        elif a.command == "apply":
            apply(region, doc, a.datastore)
        elif a.command == "check-ready":
            problems = check_ready(region, doc)
            if problems:
                print("\n".join(problems), file=sys.stderr)
                return 1
            print("All containers ready.")
        elif a.command == "delete":
            delete(region, doc)
        return 0
    except (StandInError, kube.KubectlError, RuntimeError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
