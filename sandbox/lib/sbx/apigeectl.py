"""STAND-IN for Google's `apigeectl` (the apigeectl era of Apigee hybrid), sandbox only.

It offers the surface the multi-region runbook uses (`init`, `apply [--datastore]`,
`check-ready`, `delete`, each with `-f OVERRIDES`) and acts on the cluster of the current
kubeconfig context. Like the real tool it only submits objects; the operator stand-in
(`operator.py`, run by the sandbox's controllers for the operator Deployment `init` creates) does
the work in the background:

- `init` refuses a cluster without cert-manager (namespace `cert-manager` with its
  `cert-manager` Deployment), installs the CRDs (the same directory the Helm install applies:
  `kubectl apply -k charts/apigee-operator/etc/crds/default --server-side --force-conflicts`),
  creates the cluster's CA in `cert-manager/apigee-ca` when there is none (what cert-manager's
  self-signed issuer does) and the operator Deployment `apigee-controller-manager` in `apigee-system`.
- `apply` writes `ApigeeDatastore default` (spec from the overrides; the API server increments
  `metadata.generation` when it changes), the datastore's credentials secret and (without
  `--datastore`) the `ApigeeOrganization` of the overrides' `org`, and returns. The operator then
  creates the StatefulSet and starts the Cassandra nodes, or restarts them one at a time when the
  datastore configuration changed, reporting `status.state` `releasing`, then `running` with
  `status.observedGeneration`.
- `check-ready` exits 1 until the operator Deployment is ready, the datastore is `running` at its
  current generation, every Cassandra pod is Ready and every organization `running` (run it
  repeatedly, as the real one).
- `delete` deletes the organization and the datastore and waits until the datastore is gone: the
  operator's remove-dc part takes the datacenter out of the keyspaces and the ring first when
  another datacenter exists, then stops the nodes and deletes the pods and the StatefulSet.
  `delete --all` then also deletes the operator Deployment, as the real one deletes what `init`
  installed.

Like the real apigeectl it must run from the hybrid-files directory: the overrides name files by
paths relative to the working directory (`./certs/...`, `./service-accounts/...`), and a file
that is not there fails the command.

It reads the `cassandra` section with the product's defaults: replicaCount 1, datacenter dc-1,
rack ra-1, hostNetwork false, JMX user jmxuser with Apigee's documented default password unless `cassandra.auth.jmx` or the secret
named by `cassandra.auth.secret` (keys `jmx.user`, `jmx.password`) says otherwise.
Setting APIGEE_STANDIN_SCHEMA_SETUP=off disables the schema setup stand-in.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from . import env, kube

DEFAULT_JMX_USER = env.PRODUCT_JMX_USER
DEFAULT_JMX_PASSWORD = env.PRODUCT_JMX_PASSWORD
DELETE_TIMEOUT = 1500  # seconds `delete` waits for the operator to finish with the datastore
CONFIG_SECRET = "apigee-datastore-default-creds"  # what apply writes for the operator (spec.credentialRef)


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


def referenced_files(doc: dict) -> list[str]:
    """The file paths an overrides file names (certificates, keys, service-account JSON)."""
    found = []

    def walk(v, key=""):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, str(k))
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, str) and (key.endswith(("Path", "Paths")) or key in ("synchronizer", "udca", "mart", "metrics",
                                                                                  "watcher", "logger", "runtime", "connectAgent")):
            if "/" in v or v.endswith((".json", ".pem", ".key", ".crt")):
                found.append(v)
    walk(doc)
    return found


def check_files(doc: dict, cwd: Path | None = None) -> None:
    """The real apigeectl reads every file the overrides name, relative to its working directory."""
    base = cwd or Path.cwd()
    missing = [f for f in referenced_files(doc) if not (base / f).is_file()]
    if missing:
        raise StandInError(
            f"files named in the overrides not found from the working directory {base}: {', '.join(missing)} "
            "(apigeectl must run from the hybrid-files directory, where ./certs and ./service-accounts are)")


def cassandra_settings(doc: dict, region: int | None = None) -> dict:
    """The datastore settings from the overrides, with the product's defaults. With `region`,
    JMX credentials named by `cassandra.auth.secret` are read from that cluster."""
    c = doc.get("cassandra") or {}
    auth = c.get("auth") or {}
    jmx = auth.get("jmx") or {}
    s = {
        "cluster_name": str(c.get("clusterName", "apigeecluster")),
        "datacenter": str(c.get("datacenter", "dc-1")),
        "rack": str(c.get("rack", "ra-1")),
        "replicas": int(c.get("replicaCount", 1)),
        "seed_host": c.get("multiRegionSeedHost"),
        "host_network": bool(c.get("hostNetwork", False)),
        "jmx_user": str(jmx.get("username", DEFAULT_JMX_USER)),
        "jmx_password": str(jmx.get("password", DEFAULT_JMX_PASSWORD)),
    }
    if auth.get("secret") and region is not None:
        name = str(auth["secret"])
        secret = kube.get_json(region, "secret", name, "-n", env.NAMESPACE)
        if secret is None:
            raise StandInError(f"cassandra.auth.secret: secret {env.NAMESPACE}/{name} not found")
        data = secret.get("data") or {}
        for key, field in (("jmx.user", "jmx_user"), ("jmx.password", "jmx_password")):
            if key in data:
                s[field] = base64.b64decode(data[key]).decode()
    return s


def operator_deployment(namespace: str) -> dict:
    """The operator Deployment, the same as the apigee-operator chart's (charts/apigee-operator/templates)."""
    labels = {"app": "apigee-controller", "control-plane": "controller-manager"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": env.OPERATOR_DEPLOYMENT, "namespace": namespace,
                         "labels": {**labels, "app.kubernetes.io/part-of": "apigee"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": {**labels, "app.kubernetes.io/part-of": "apigee"}},
                                  "spec": {"containers": [{"name": "manager",
                                                           "image": f"sandbox/apigee-operator-standin:{env.APIGEE_VERSION}",
                                                           "args": ["--enable-leader-election", f"--apigee-namespace={env.NAMESPACE}"]}]}}}}


def apply_crds(region: int) -> None:
    """The CRDs, as the install pages apply them (also what the Helm install does first)."""
    kube.kubectl(region, "apply", "-k", str(env.CRDS_DIR), "--server-side", "--force-conflicts")
    kube.kubectl(region, "wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{c}" for c in CRDS))


CRDS = ("apigeedatastores.apigee.cloud.google.com", "cassandradatareplications.apigee.cloud.google.com",
        "apigeeorganizations.apigee.cloud.google.com")


def operator_deployments(region: int) -> list[dict]:
    """Deployment apigee-controller-manager in any namespace."""
    r = kube.kubectl(region, "get", "deployments", "-A", f"--field-selector=metadata.name={env.OPERATOR_DEPLOYMENT}", "-o", "json")
    return json.loads(r.stdout)["items"]


def cert_manager_installed(region: int) -> bool:
    return kube.get_json(region, "deployment", "cert-manager", "-n", "cert-manager") is not None


def init(region: int, doc: dict) -> None:
    if not cert_manager_installed(region):
        raise StandInError("cert-manager is not installed in this cluster (no deployment cert-manager in namespace "
                           "cert-manager): install cert-manager before `apigeectl init`")
    from . import operator
    kube.ensure_namespace(region, env.NAMESPACE)
    apply_crds(region)
    if operator.ensure_ca(region):
        # What cert-manager's self-signed issuer does on a fresh install: a new CA for this cluster.
        print(f"region-{region}: created a new CA in secret cert-manager/apigee-ca", file=sys.stderr)
    kube.ensure_namespace(region, env.APIGEECTL_OPERATOR_NAMESPACE)
    kube.apply_object(region, operator_deployment(env.APIGEECTL_OPERATOR_NAMESPACE))


def organization_name(org: str) -> str:
    """The ApigeeOrganization's name: the org with a generated-looking suffix (as the real one has;
    the apigee-org chart renders the same). Tools must read it from the cluster."""
    import hashlib
    return f"{org}-{hashlib.sha256(org.encode()).hexdigest()[:7]}"


def organization(doc: dict) -> dict:
    """ApigeeOrganization with the published field names (the same as charts/apigee-org)."""
    org = str(doc["org"])
    cluster, gcp = doc.get("k8sCluster") or {}, doc.get("gcp") or {}
    return {"apiVersion": "apigee.cloud.google.com/v1alpha1", "kind": "ApigeeOrganization",
            "metadata": {"name": organization_name(org), "namespace": env.NAMESPACE,
                         "labels": {"apigee.cloud.google.com/platform": "apigee"}},
            "spec": {"name": org, "datastoreRef": "default", "datastoreCredentialRef": CONFIG_SECRET, "redisRef": "default",
                     "instanceID": str(doc.get("instanceID") or ""), "clusterName": str(cluster.get("name") or ""),
                     "clusterRegion": str(cluster.get("region") or ""), "gcpProjectID": str(gcp.get("projectID") or ""),
                     "version": env.APIGEE_VERSION}}


def datastore(s: dict) -> dict:
    """ApigeeDatastore `default`, with the real CRD's field names."""
    import hashlib
    checksum = hashlib.sha256(f"{s['jmx_user']}\0{s['jmx_password']}".encode()).hexdigest()[:16]
    props = {"clusterName": s["cluster_name"], "datacenter": s["datacenter"], "rack": s["rack"]}
    if s["seed_host"]:
        props["multiRegionSeedHost"] = str(s["seed_host"])
    return {"apiVersion": "apigee.cloud.google.com/v1alpha1", "kind": "ApigeeDatastore",
            "metadata": {"name": "default", "namespace": env.NAMESPACE},
            "spec": {"name": "default", "credentialRef": CONFIG_SECRET, "version": env.APIGEE_VERSION,
                     "components": {"cassandra": {"replicas": s["replicas"], "hostNetwork": s["host_network"],
                                                  # A checksum of the credentials in the pod annotations: new
                                                  # credentials change the spec, so the pods are rolled.
                                                  "annotations": {"sandbox.apigee-multiregion/credentials-checksum": checksum},
                                                  "properties": props}}}}


def apply(region: int, doc: dict, datastore_only: bool = False) -> None:
    """Submits the datastore and returns: the operator stand-in does the rest."""
    s = cassandra_settings(doc, region)
    if s["replicas"] > env.MAX_NODES:
        raise StandInError(f"cassandra.replicaCount {s['replicas']} is more than the sandbox's {env.MAX_NODES} nodes per region")
    if kube.get_json(region, "secret", "apigee-ca", "-n", "cert-manager") is None:
        raise StandInError("secret cert-manager/apigee-ca not found: run `apigeectl init -f ...` first (or copy it from the existing region)")
    kube.ensure_namespace(region, env.NAMESPACE)
    creds = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": CONFIG_SECRET, "namespace": env.NAMESPACE},
             "stringData": {"jmx.user": s["jmx_user"], "jmx.password": s["jmx_password"]}}
    kube.apply_object(region, creds)
    ds = datastore(s)
    # The schema setup stand-in is the operator's; the switch travels with the datastore.
    ds["metadata"]["annotations"] = {"sandbox.apigee-multiregion/schema-setup": os.environ.get("APIGEE_STANDIN_SCHEMA_SETUP", "on"),
                                     # Every apply runs the setup jobs again (the operator records each one it ran).
                                     "sandbox.apigee-multiregion/applied-at": str(time.time_ns())}
    if not datastore_only and doc.get("org"):
        kube.apply_object(region, organization(doc))
    kube.apply_object(region, ds)
    print(f"region-{region}: ApigeeDatastore default submitted; run `apigeectl check-ready` until it is ready", file=sys.stderr)


def wait_ready(region: int, doc: dict, timeout: float = 600) -> None:
    """What an operator does by hand: check-ready until ready."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        problems = check_ready(region, doc)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise StandInError(f"region-{region} not ready after {timeout:.0f}s: {'; '.join(problems)}")
        time.sleep(2)


def check_ready(region: int, doc: dict) -> list[str]:
    problems = []
    deps = operator_deployments(region)
    if not deps:
        problems.append(f"apigee operator: no deployment {env.OPERATOR_DEPLOYMENT} (run `apigeectl init`)")
    elif not any(int((d.get("status") or {}).get("readyReplicas") or 0) >= 1 for d in deps):
        problems.append(f"apigee operator: deployment {env.OPERATOR_DEPLOYMENT} not ready")
    r = kube.kubectl(region, "get", "apigeeorganizations", "-n", env.NAMESPACE, "-o", "json", check=False)
    for org in (json.loads(r.stdout)["items"] if r.returncode == 0 else []):
        st = org.get("status") or {}
        if st.get("state") != "running" or st.get("observedGeneration") != org["metadata"].get("generation", 1):
            problems.append(f"apigeeorganization {org['metadata']['name']}: state {st.get('state', '(none)')}")
    ds = kube.get_json(region, "apigeedatastore", "default", "-n", env.NAMESPACE)
    if ds is None:
        return problems  # after init, before apply: only the operator
    gen = ds["metadata"].get("generation", 1)
    st = ds.get("status") or {}
    if st.get("state") != "running" or st.get("observedGeneration") != gen:
        problems.append(f"apigeedatastore default: state {st.get('state', '(none)')}, observed generation "
                        f"{st.get('observedGeneration', '(none)')} of {gen}")
    replicas = int(((ds.get("spec") or {}).get("components") or {}).get("cassandra", {}).get("replicas", 1))
    for n in range(replicas):
        pod = kube.get_json(region, "pod", env.pod_name(n), "-n", env.NAMESPACE)
        if pod is None:
            problems.append(f"{env.pod_name(n)}: pod not created")
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions", []))
        if not ready:
            problems.append(f"{env.pod_name(n)}: not ready")
    return problems


def delete(region: int, doc: dict, everything: bool = False) -> None:
    """Deletes the organization and the datastore, and waits for the datastore to be gone (as
    `kubectl delete` does): the operator's remove-dc part runs first when another datacenter is in
    the ring. With `--all`, then also what init installed (the operator)."""
    if doc.get("org"):
        kube.kubectl(region, "delete", "apigeeorganization", organization_name(str(doc["org"])), "-n", env.NAMESPACE,
                     "--ignore-not-found", "--wait=false", check=False)
    kube.kubectl(region, "delete", "apigeedatastore", "default", "-n", env.NAMESPACE, "--ignore-not-found",
                 f"--timeout={DELETE_TIMEOUT}s", timeout=DELETE_TIMEOUT + 30)
    if everything:  # what init installed: the operator (its process stops with its Deployment)
        kube.kubectl(region, "delete", "deployment", env.OPERATOR_DEPLOYMENT, "-n", env.APIGEECTL_OPERATOR_NAMESPACE,
                     "--ignore-not-found", "--wait=false")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="apigeectl", description="STAND-IN for apigeectl (sandbox only): " + __doc__.splitlines()[0])
    p.add_argument("command", choices=["init", "apply", "check-ready", "delete"])
    p.add_argument("-f", "--file", required=True, help="overrides file")
    p.add_argument("--datastore", action="store_true", help="only the datastore (Cassandra) component")
    p.add_argument("--all", action="store_true", help="delete: also what init installed (the operator)")
    p.add_argument("--dry-run", nargs="?", const="client", default=None)
    a = p.parse_args(argv)
    try:
        doc = read_overrides(a.file)
        check_files(doc)
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
            delete(region, doc, a.all)
        return 0
    except (StandInError, kube.KubectlError, RuntimeError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
