"""STAND-IN for the Apigee operator (and, for the Cassandra pods, the StatefulSet controller and
the kubelet), one process per region. It runs while Deployment `apigee-controller-manager` exists in
the region, whichever installer created it (`apigeectl init`, or the `apigee-operator` Helm chart):
the sandbox's controllers (`controllers.py`) start and stop it as a kubelet runs a pod's container.
On start it creates the cluster's CA in `cert-manager/apigee-ca` when there is none (what the
operator's cert-manager Certificate gets issued on a fresh cluster). It polls and reconciles:

- `ApigeeDatastore default`: creates the StatefulSet `apigee-cassandra-default` (owned by the
  datastore; its `status.readyReplicas` kept as the StatefulSet controller would), starts the
  Cassandra nodes its spec asks for (the real Apache
  Cassandra, configured from `spec.components.cassandra` and the credentials secret named by
  `spec.credentialRef`), or restarts them ONE AT A TIME when the configuration changed (e.g. the
  `multiRegionSeedHost` was cleared), and scales down. While it works, `status.state` is
  `releasing`; when done, `running` with `status.observedGeneration` = `metadata.generation`.
  A restarted pod goes not-Ready, gets `restartCount`+1 and an empty container log (the old one
  is what `kubectl logs --previous` shows), and is Ready again once it serves CQL.
- A Cassandra process that died (crash, kill) is restarted after a kubelet-like back-off
  (10 s), its pod not-Ready meanwhile.
- `CassandraDataReplication` objects: runs `nodetool rebuild -- <spec.source.region>` on every
  Cassandra node of the region, reporting in ApigeeDatastore `default`
  `status.cassandraDataReplication` (`{state, updated, rebuildDetails: {<pod>: {state, message,
  updated}}}`, `updated` in Unix seconds, states running/complete/error) and in the CR's own
  `status.state` and `status.lastAppliedGeneration`.
- `ApigeeOrganization` objects: `status.state` `releasing`, then `running` a few seconds later
  (`SANDBOX_ORG_DELAY`, default 3 s), with `observedGeneration`.
- The datastore carries the operator's finalizer. A NORMAL delete runs the operator's remove-dc
  part when another datacenter is in the ring: every Apigee and system keyspace stops naming
  this datacenter (replication first), then each node is decommissioned, one at a time, and
  stopped; then its pods and StatefulSet are deleted and the finalizer removed (the delete
  returns). As the last datacenter, the nodes are only stopped. A region that is LOST (its
  processes killed, `region2.lose()`) gets none of this: its nodes stay in the ring, down.
- The setup jobs, on every apply of the datastore (the `applied-at` annotation both installers
  stamp; handled once each, recorded in `status.setupAppliedAt`) and when a new datacenter
  starts: every replicated keyspace names this datacenter, and no datacenter that has no node
  left in the ring (what the product's user-setup job does when it runs again after a region
  was removed).
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

from . import cassandra, env, kube, proc

POLL = 2.0
# The stand-in's finalizer on ApigeeDatastore (the real operator's name is not public).
FINALIZER = "apigee.cloud.google.com/sandbox-remove-dc"
APPLIED_AT = "sandbox.apigee-multiregion/applied-at"
_credentials: dict[int, tuple[str, str]] = {}  # region -> the JMX credentials the nodes run with
CRASH_BACKOFF = float(os.environ.get("SANDBOX_CRASH_BACKOFF", "10"))
ORG_DELAY = float(os.environ.get("SANDBOX_ORG_DELAY", "3"))


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg: str) -> None:
    print(f"{now()} {msg}", flush=True)


def patch_ds_status(region: int, status: dict) -> None:
    kube.kubectl(region, "patch", "apigeedatastore", "default", "-n", env.NAMESPACE, "--subresource=status",
                 "--type=merge", "-p", json.dumps({"status": status}))


# ---- datastore ------------------------------------------------------------------------------

def settings_of(region: int, ds: dict) -> dict:
    spec = ds.get("spec") or {}
    c = (spec.get("components") or {}).get("cassandra") or {}
    props = c.get("properties") or {}
    s = {"cluster_name": props.get("clusterName", "apigeecluster"), "datacenter": props.get("datacenter", "dc-1"),
         "rack": props.get("rack", "ra-1"), "replicas": int(c.get("replicas", 1)),
         "seed_host": props.get("multiRegionSeedHost"), "host_network": bool(c.get("hostNetwork", False)),
         "jmx_user": env.PRODUCT_JMX_USER, "jmx_password": env.PRODUCT_JMX_PASSWORD}
    secret = kube.get_json(region, "secret", spec.get("credentialRef", "apigee-datastore-default-creds"), "-n", env.NAMESPACE)
    if secret is None and ds["metadata"].get("deletionTimestamp") and region in _credentials:
        # Uninstalled with the datastore (`helm uninstall` deletes the chart's secret too): the
        # operator still knows the credentials it ran the nodes with.
        s["jmx_user"], s["jmx_password"] = _credentials[region]
        return s
    data = (secret or {}).get("data") or {}
    if "jmx.user" in data:
        s["jmx_user"] = base64.b64decode(data["jmx.user"]).decode()
    if "jmx.password" in data:
        s["jmx_password"] = base64.b64decode(data["jmx.password"]).decode()
    _credentials[region] = (s["jmx_user"], s["jmx_password"])
    return s


def ensure_ca(region: int) -> bool:
    """What cert-manager's self-signed issuer does on a fresh install: a new CA for this cluster in
    `cert-manager/apigee-ca`, only when there is none. Returns whether one was created."""
    import tempfile
    from pathlib import Path

    from . import pki
    if kube.get_json(region, "secret", "apigee-ca", "-n", "cert-manager") is not None:
        return False
    with tempfile.TemporaryDirectory(dir=env.STATE) as tmp:
        key, crt = Path(tmp) / "ca.key", Path(tmp) / "ca.crt"
        pki.make_ca(key, crt, "apigee-ca")
        r = kube.kubectl(region, "create", "secret", "tls", "apigee-ca", "-n", "cert-manager", f"--cert={crt}", f"--key={key}", check=False)
    if r.returncode != 0:
        if "AlreadyExists" in r.stderr:
            return False
        raise kube.KubectlError(f"creating secret cert-manager/apigee-ca failed: {r.stderr.strip()}")
    return True


def _ca(region: int) -> tuple[bytes, bytes]:
    s = kube.get_json(region, "secret", "apigee-ca", "-n", "cert-manager")
    if s is None:
        raise RuntimeError("secret cert-manager/apigee-ca not found")
    data = s.get("data", {})
    return base64.b64decode(data["tls.key"]), base64.b64decode(data["tls.crt"])


def node_configs(region: int, s: dict, ca_crt: bytes) -> list[cassandra.NodeConfig]:
    seeds = [env.node_ip(region, 0)]
    if s["seed_host"]:
        seeds.append(str(s["seed_host"]))
    fp = hashlib.sha256(ca_crt).hexdigest()[:16]
    return [cassandra.NodeConfig(region, n, s["cluster_name"], s["datacenter"], s["rack"], tuple(seeds),
                                 s["jmx_user"], s["jmx_password"], fp, env.CASSANDRA_VERSION, env.STREAM_MBPS)
            for n in range(s["replicas"])]


def _pod(region: int, n: int, s: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": env.pod_name(n), "namespace": env.NAMESPACE,
                         "labels": {"app": "apigee-cassandra", "statefulset.kubernetes.io/pod-name": env.pod_name(n),
                                    "apigee.cloud.google.com/platform": "apigee", "name": "default"},
                         "annotations": {"sandbox.apigee-multiregion/datacenter": s["datacenter"],
                                         "sandbox.apigee-multiregion/rack": s["rack"]}},
            "spec": {"hostNetwork": s["host_network"], "nodeName": env.node_name(region, n),
                     "containers": [{"name": env.CONTAINER, "image": f"sandbox/apigee-cassandra-standin:{env.CASSANDRA_VERSION}",
                                     "ports": [{"containerPort": p, "name": nm} for p, nm in
                                               ((7000, "gossip"), (7001, "gossip-tls"), (7199, "jmx"), (9042, "cql"))]}]}}


def statefulset(ds: dict, s: dict) -> dict:
    """StatefulSet `apigee-cassandra-default`, owned by the datastore (what the real operator creates)."""
    labels = {"app": "apigee-cassandra", "name": "default"}
    m = ds["metadata"]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": env.STS_NAME, "namespace": env.NAMESPACE, "labels": labels,
                         "ownerReferences": [{"apiVersion": ds["apiVersion"], "kind": ds["kind"], "name": m["name"],
                                              "uid": m["uid"], "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"replicas": s["replicas"], "serviceName": env.STS_NAME, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"hostNetwork": s["host_network"],
                                           "containers": [{"name": env.CONTAINER,
                                                           "image": f"sandbox/apigee-cassandra-standin:{env.CASSANDRA_VERSION}"}]}}}}


def sync_statefulset_status(region: int) -> None:
    """The StatefulSet controller's part: replicas, readyReplicas, ... from the pods."""
    sts = kube.get_json(region, "statefulset", env.STS_NAME, "-n", env.NAMESPACE)
    if sts is None:
        return
    pods = json.loads(kube.kubectl(region, "get", "pods", "-n", env.NAMESPACE, "-l", env.CASSANDRA_LABEL, "-o", "json").stdout)["items"]
    pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    ready = sum(1 for p in pods if _is_ready(p))
    want = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods), "readyReplicas": ready,
            "availableReplicas": ready, "currentReplicas": len(pods), "updatedReplicas": len(pods)}
    have = sts.get("status") or {}
    if any(have.get(k, 0) != v for k, v in want.items()):
        kube.kubectl(region, "patch", "statefulset", env.STS_NAME, "-n", env.NAMESPACE, "--subresource=status",
                     "--type=merge", "-p", json.dumps({"status": want}))


def _get_pod(region: int, n: int) -> dict | None:
    return kube.get_json(region, "pod", env.pod_name(n), "-n", env.NAMESPACE)


def _patch_pod_status(region: int, pod: dict, ready: bool, container: dict) -> None:
    t = now()
    conds = [c for c in (pod.get("status") or {}).get("conditions", []) if c.get("type") not in ("Ready", "ContainersReady")]
    flag = "True" if ready else "False"
    for typ in ("Ready", "ContainersReady"):
        c = {"type": typ, "status": flag, "lastTransitionTime": t}
        if not ready:
            c["reason"] = "ContainersNotReady"
            c["message"] = f"containers with unready status: [{env.CONTAINER}]"
        conds.append(c)
    cs = ((pod.get("status") or {}).get("containerStatuses") or [{"name": env.CONTAINER, "image": "", "restartCount": 0}])[0]
    cs = {**cs, **container, "ready": ready}
    kube.kubectl(region, "patch", "pod", pod["metadata"]["name"], "-n", env.NAMESPACE,
                 "--subresource=status", "--type=merge", "-p", json.dumps({"status": {"conditions": conds, "containerStatuses": [cs]}}))
    sync_statefulset_status(region)


def pod_stopped(region: int, n: int, exit_code: int, reason: str) -> None:
    """The container ended: the pod is not Ready; the state is terminated."""
    pod = _get_pod(region, n)
    if pod is None:
        return
    cs = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]
    started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", now())
    term = {"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": now()}
    _patch_pod_status(region, pod, False, {"started": False, "state": {"terminated": term}})


def pod_started(region: int, n: int) -> None:
    """A new container runs (not Ready yet): restartCount+1, the last one in lastState."""
    pod = _get_pod(region, n)
    if pod is None:
        return
    cs = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]
    last = (cs.get("state") or {}).get("terminated") or {"exitCode": 137, "reason": "Error", "finishedAt": now()}
    _patch_pod_status(region, pod, False, {"started": True, "restartCount": int(cs.get("restartCount", 0)) + 1,
                                            "lastState": {"terminated": last}, "state": {"running": {"startedAt": now()}}})


def pod_ready(region: int, n: int) -> None:
    pod = _get_pod(region, n)
    if pod is None:
        return
    _patch_pod_status(region, pod, True, {"started": True})


def _is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions", []))


_crashed_at: dict[tuple[int, int], float] = {}
_seen_running: set[tuple[int, int]] = set()  # nodes this operator saw running (a later exit is a crash)


def reconcile(region: int, ds: dict) -> None:
    gen = ds["metadata"].get("generation", 1)
    status = ds.get("status") or {}
    replicas = int(((ds.get("spec") or {}).get("components") or {}).get("cassandra", {}).get("replicas", 1))
    up = [proc.running(f"cassandra-r{region}-n{n}") for n in range(env.MAX_NODES)]
    if FINALIZER not in (ds["metadata"].get("finalizers") or []):
        kube.kubectl(region, "patch", "apigeedatastore", "default", "-n", env.NAMESPACE, "--type=merge", "-p",
                     json.dumps({"metadata": {"finalizers": [*(ds["metadata"].get("finalizers") or []), FINALIZER]}}))
    if (status.get("observedGeneration") == gen and status.get("state") == "running"
            and all(up[:replicas]) and not any(up[replicas:])):
        _seen_running.update((region, n) for n in range(replicas))
        run_setup_if_applied(region, ds)
        return  # nothing changed since the last reconcile (one kubectl call per poll when idle)
    s = settings_of(region, ds)
    ca_key, ca_crt = _ca(region)
    cfgs = node_configs(region, s, ca_crt)
    sts = statefulset(ds, s)
    have = kube.get_json(region, "statefulset", env.STS_NAME, "-n", env.NAMESPACE)
    if have is None or have["spec"].get("replicas") != s["replicas"] or \
            bool(have["spec"]["template"]["spec"].get("hostNetwork", False)) != s["host_network"]:
        kube.apply_object(region, sts)
        sync_statefulset_status(region)
    todo = []
    for cfg in cfgs:
        current = cassandra.running_digest(region, cfg.ordinal)
        if current == cfg.digest():
            _seen_running.add((region, cfg.ordinal))
            continue
        pod = _get_pod(region, cfg.ordinal)
        if current is None and pod is not None and (region, cfg.ordinal) in _seen_running:
            # The process died under an unchanged spec: the kubelet restarts the container after a back-off.
            key = (region, cfg.ordinal)
            if key not in _crashed_at:
                _crashed_at[key] = time.monotonic()
                log(f"{env.pod_name(cfg.ordinal)}: Cassandra exited; restarting in {CRASH_BACKOFF:.0f}s")
                pod_stopped(region, cfg.ordinal, 137, "Error")
            if time.monotonic() - _crashed_at[key] < CRASH_BACKOFF:
                continue
        todo.append(cfg)
    extra = [n for n in range(s["replicas"], env.MAX_NODES)
             if proc.running(f"cassandra-r{region}-n{n}") or _get_pod(region, n) is not None]
    if not todo and not extra:
        if status.get("state") != "running" or status.get("observedGeneration") != gen:
            patch_ds_status(region, {"state": "running", "observedGeneration": gen, "cassandraReadyReplicas": len(cfgs)})
        return
    releasing = status.get("observedGeneration") != gen
    if releasing:
        patch_ds_status(region, {"state": "releasing"})
        log(f"apigeedatastore default generation {gen}: releasing")
    new_dc = False
    for cfg in todo:
        n = cfg.ordinal
        pod = _get_pod(region, n)
        if cassandra.running_digest(region, n) is not None:
            log(f"{env.pod_name(n)}: restarting with the new configuration")
            pod_stopped(region, n, 143, "Completed")
            cassandra.stop(region, n)
        if pod is None:
            new_dc = True  # a new pod: the schema setup jobs extend replication to this datacenter
        cassandra.write_config(cfg, ca_key, ca_crt)
        cassandra.start(cfg, new_pod=pod is None)
        if pod is not None:
            pod_started(region, n)
        cassandra.wait_cql(cfg)
        if pod is None:
            kube.create_object(region, _pod(region, n, s))
            sync_statefulset_status(region)
        else:
            pod_ready(region, n)
        _crashed_at.pop((region, n), None)
        _seen_running.discard((region, n))
        log(f"{env.pod_name(n)}: Cassandra {env.CASSANDRA_VERSION} serving CQL at {cfg.address}")
        time.sleep(2)  # let gossip settle before touching the next node
    for n in extra:
        if proc.running(f"cassandra-r{region}-n{n}"):
            cassandra.stop(region, n)
        kube.kubectl(region, "delete", "pod", env.pod_name(n), "-n", env.NAMESPACE, "--ignore-not-found", "--wait=false")
    if extra:
        sync_statefulset_status(region)
    if new_dc and setup_enabled(ds):
        from . import schema
        schema.setup_replication(env.node_ip(region, 0), s["datacenter"], min(3, s["replicas"]))
    fresh = kube.get_json(region, "apigeedatastore", "default", "-n", env.NAMESPACE)
    if fresh is not None and fresh["metadata"].get("generation", 1) == gen:
        patch_ds_status(region, {"state": "running", "observedGeneration": gen, "cassandraReadyReplicas": len(cfgs),
                                 "cassandraPodIps": [c.address for c in cfgs]})
        log(f"apigeedatastore default generation {gen}: running")


# ---- CassandraDataReplication -----------------------------------------------------------------

def epoch() -> int:
    return int(time.time())


def set_cdr_status(region: int, cdr_state: dict) -> None:
    patch_ds_status(region, {"cassandraDataReplication": cdr_state})


def rebuild(region: int, ordinal: int, source_dc: str, user: str, password: str) -> tuple[bool, str]:
    return nodetool(region, ordinal, user, password, "rebuild", "--", source_dc)


def handle_cdr(region: int, cdr: dict, ds: dict) -> None:
    name = cdr["metadata"]["name"]
    gen = cdr["metadata"].get("generation", 1)
    source_dc = ((cdr.get("spec") or {}).get("source") or {}).get("region", "")
    s = settings_of(region, ds)

    def cr_status(state: str, message: str = "") -> None:
        kube.kubectl(region, "patch", "cassandradatareplication", name, "-n", env.NAMESPACE, "--subresource=status",
                     "--type=merge", "-p", json.dumps({"status": {"state": state, "message": message, "lastAppliedGeneration": gen}}))

    pods = json.loads(kube.kubectl(region, "get", "pods", "-n", env.NAMESPACE, "-l", env.CASSANDRA_LABEL, "-o", "json").stdout)["items"]
    names = sorted(p["metadata"]["name"] for p in pods)
    details = {p: {"state": "running", "message": "", "updated": epoch()} for p in names}
    cr_status("running")
    set_cdr_status(region, {"state": "running", "updated": epoch(), "rebuildDetails": details})
    for p in names:
        ok, message = rebuild(region, int(p.rsplit("-", 1)[1]), source_dc, s["jmx_user"], s["jmx_password"])
        details[p] = {"state": "complete" if ok else "error", "message": "" if ok else message, "updated": epoch()}
        set_cdr_status(region, {"state": "running", "updated": epoch(), "rebuildDetails": details})
    overall = "complete" if all(d["state"] == "complete" for d in details.values()) else "error"
    set_cdr_status(region, {"state": overall, "updated": epoch(), "rebuildDetails": details})
    cr_status(overall, "" if overall == "complete" else "rebuild failed on " + ", ".join(p for p, d in details.items() if d["state"] != "complete"))
    log(f"{name}: {overall}")


# ---- ApigeeOrganization ------------------------------------------------------------------------

_org_seen: dict[tuple[str, int], float] = {}


def reconcile_org(region: int, org: dict) -> None:
    """`releasing` when a generation is first seen, `running` ORG_DELAY seconds later."""
    name, gen = org["metadata"]["name"], org["metadata"].get("generation", 1)
    st = org.get("status") or {}
    if st.get("state") == "running" and st.get("observedGeneration") == gen:
        return

    def set_state(state: str) -> None:
        status = {"state": state}
        if state == "running":
            status["observedGeneration"] = gen
        kube.kubectl(region, "patch", "apigeeorganization", name, "-n", env.NAMESPACE, "--subresource=status",
                     "--type=merge", "-p", json.dumps({"status": status}))
        log(f"apigeeorganization {name} generation {gen}: {state}")

    first = _org_seen.setdefault((name, gen), time.monotonic())
    if st.get("state") != "releasing":
        set_state("releasing")
    elif time.monotonic() - first >= ORG_DELAY:
        set_state("running")


def setup_enabled(ds: dict) -> bool:
    switch = (ds["metadata"].get("annotations") or {}).get("sandbox.apigee-multiregion/schema-setup", "on")
    return switch != "off" and os.environ.get("APIGEE_STANDIN_SCHEMA_SETUP", "on") != "off"


def run_setup_if_applied(region: int, ds: dict) -> None:
    """The setup jobs of an apply the operator has not handled yet (`applied-at` is stamped by
    `apigeectl apply` and by the datastore chart on every install or upgrade)."""
    stamp = (ds["metadata"].get("annotations") or {}).get(APPLIED_AT)
    if not stamp or (ds.get("status") or {}).get("setupAppliedAt") == stamp:
        return
    if setup_enabled(ds):
        from . import schema
        s = settings_of(region, ds)
        running = [n for n in range(s["replicas"]) if proc.running(f"cassandra-r{region}-n{n}")]
        if not running:
            return
        schema.setup_replication(env.node_ip(region, running[0]), s["datacenter"], min(3, s["replicas"]))
    patch_ds_status(region, {"setupAppliedAt": stamp})
    log(f"apigeedatastore default: setup jobs ran for the apply of {stamp}")


def nodetool(region: int, ordinal: int, user: str, password: str, *args: str, timeout: float = 3600) -> tuple[bool, str]:
    """The real nodetool against that node's JMX (what the operator does inside the pod)."""
    e = {**os.environ, "CASSANDRA_JMX_PORT": str(env.jmx_port(region, ordinal)), "CASSANDRA_LIB": str(env.CASSANDRA_LIB)}
    # The node's own JMX password file: the password is never an argument of any process.
    pwf = env.cassandra_dir(region, ordinal) / "conf" / "jmxremote.password"
    r = subprocess.run([str(env.SANDBOX_DIR / "bin" / "nodetool"), "-u", user, "-pwf", str(pwf), *args],
                       capture_output=True, text=True, env=e, timeout=timeout)
    out = (r.stdout + r.stderr).replace(password, "<redacted>")
    message = next((line.strip() for line in out.splitlines() if line.strip() and not line.startswith("\t")), "")
    return r.returncode == 0, message[:300]


# ---- a deleted datastore --------------------------------------------------------------------------

def remove_dc(region: int, ds: dict) -> None:
    """The operator's remove-dc on a normal delete of the datastore, then its finalizer removed."""
    from . import schema
    s = settings_of(region, ds)
    dc = s["datacenter"]
    running = [n for n in range(env.MAX_NODES) if proc.running(f"cassandra-r{region}-n{n}")]
    if running and schema.other_datacenters(env.node_ip(region, running[0]), dc):
        log(f"apigeedatastore default deleted: removing datacenter {dc} (replication first, then its nodes)")
        dropped, kept = schema.drop_datacenter(env.node_ip(region, running[0]), dc)
        if dropped:
            log(f"remove-dc: {', '.join(dropped)} no longer replicate to {dc}")
        if kept:  # Cassandra 4.1+: not while the datacenter has live nodes
            log(f"remove-dc: {', '.join(kept)} still name {dc} (Cassandra refuses while it has live nodes): "
                f"left to the setup job of a surviving region; decommissioning with --force")
        for n in running:
            # `--force`: since 4.0 decommission refuses to leave fewer nodes than a keyspace's
            # replication factor in the datacenter, which a keyspace still naming it does.
            args = ("decommission", "--force") if kept else ("decommission",)
            ok, message = nodetool(region, n, s["jmx_user"], s["jmx_password"], *args, timeout=1800)
            if not ok:
                raise RuntimeError(f"remove-dc: nodetool decommission on {env.pod_name(n)} failed: {message}")
            log(f"remove-dc: {env.pod_name(n)} decommissioned")
            pod_stopped(region, n, 0, "Completed")
            cassandra.stop(region, n)
            _seen_running.discard((region, n))
    collect_datastore_garbage(region)
    kube.kubectl(region, "patch", "apigeedatastore", "default", "-n", env.NAMESPACE, "--type=merge", "-p",
                 json.dumps({"metadata": {"finalizers": [f for f in ds["metadata"].get("finalizers") or [] if f != FINALIZER]}}))
    log("apigeedatastore default: finalizer removed")


def collect_datastore_garbage(region: int) -> None:
    """No ApigeeDatastore: what it owned goes (the StatefulSet, its pods, their containers)."""
    running = [n for n in range(env.MAX_NODES) if proc.running(f"cassandra-r{region}-n{n}")]
    # The StatefulSet and its pods carry the same label: one call.
    left = kube.kubectl(region, "get", "statefulsets,pods", "-n", env.NAMESPACE, "-l", env.CASSANDRA_LABEL, "-o", "name").stdout.strip()
    if not running and not left:
        return
    log("apigeedatastore default is gone: stopping its Cassandra nodes, deleting its pods and StatefulSet")
    for n in running:
        cassandra.stop(region, n)
        _seen_running.discard((region, n))
    kube.kubectl(region, "delete", "pods", "-l", env.CASSANDRA_LABEL, "-n", env.NAMESPACE, "--ignore-not-found",
                 "--wait=false", "--grace-period=0", "--force", check=False)
    kube.kubectl(region, "delete", "statefulset", env.STS_NAME, "-n", env.NAMESPACE, "--ignore-not-found", "--wait=false", check=False)


def main(region: int) -> int:
    log(f"region-{region}: Apigee operator stand-in started (watching namespace {env.NAMESPACE})")
    ca_checked = False
    while True:
        try:
            if not ca_checked:  # once, at start: the operator chart's Certificate, issued on a fresh cluster
                if ensure_ca(region):
                    log("created a new CA in secret cert-manager/apigee-ca (none was there)")
                ca_checked = True
            r = kube.kubectl(region, "get", "apigeedatastores,cassandradatareplications,apigeeorganizations",
                             "-n", env.NAMESPACE, "-o", "json", check=False)
            if r.returncode == 0:
                items = json.loads(r.stdout)["items"]
                for org in (i for i in items if i["kind"] == "ApigeeOrganization"):
                    reconcile_org(region, org)
                ds = next((i for i in items if i["kind"] == "ApigeeDatastore" and i["metadata"]["name"] == "default"), None)
                if ds is not None and ds["metadata"].get("deletionTimestamp"):
                    if FINALIZER in (ds["metadata"].get("finalizers") or []):
                        remove_dc(region, ds)
                elif ds is not None:
                    reconcile(region, ds)
                    for cdr in (i for i in items if i["kind"] == "CassandraDataReplication"):
                        if (cdr.get("status") or {}).get("lastAppliedGeneration") != cdr["metadata"].get("generation", 1):
                            handle_cdr(region, cdr, ds)
                else:
                    collect_datastore_garbage(region)
        except Exception as e:  # noqa: BLE001 - an operator keeps running
            log(f"error: {e}")
        time.sleep(POLL)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
