"""STAND-IN for the parts of kube-controller-manager, the scheduler and the kubelet that run the
Apigee operator's Deployment, one process per region (`controllers-r<N>`), started by
`sandbox up` with the control plane. The sandbox runs no real controller-manager (Deployments get
no pods), so this does, for Deployment `apigee-controller-manager` only (in any namespace, whichever
installer created it: `apigeectl init` in `apigee-system`, the `apigee-operator` Helm chart in the
release namespace):

- deployment controller: a ReplicaSet `apigee-controller-manager-<template hash>` owned by the
  Deployment (with the `pod-template-hash` label, as Helm's `--wait` looks for it), a new one when the
  pod template changes; `status.{observedGeneration,replicas,updatedReplicas,readyReplicas,
  availableReplicas,conditions}` of the Deployment;
- replicaset controller and scheduler: the operator pod, owned by the ReplicaSet, bound to a node of
  the region (kwok, the node's kubelet, makes it Running and Ready); the ReplicaSet's status;
- kubelet for the pod's container: the operator stand-in process (`operator-r<N>`, lib/sbx/operator.py)
  runs while the Deployment exists with replicas > 0, is started again if it dies, and is stopped
  when the Deployment is deleted (`helm uninstall`, `apigeectl delete --all`, a reset);
- garbage collector: ReplicaSets and pods of an operator Deployment that is gone or replaced are
  deleted.

Only the Deployment's pods count as ready when the operator process runs. It talks to the API
server over HTTPS with the admin certificate (no kubectl process per poll).
"""
import hashlib
import json
import random
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from . import env, proc

POLL = 1.0
NAME = env.OPERATOR_DEPLOYMENT
HASH_LABEL = "pod-template-hash"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg: str) -> None:
    print(f"{now()} {msg}", flush=True)


def operator_process(region: int) -> str:
    return f"operator-r{region}"


class Api:
    """A minimal Kubernetes REST client for one region (admin identity, like the installers)."""

    def __init__(self, region: int):
        d = env.region_dir(region) / "pki"
        self.ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
        self.ctx.load_cert_chain(str(d / "admin.crt"), str(d / "admin.key"))
        self.base = f"https://127.0.0.1:{env.apiserver_port(region)}"

    def call(self, method: str, path: str, body: dict | None = None, content_type: str = "application/json") -> dict | None:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=20) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise RuntimeError(f"{method} {path}: HTTP {e.code} {e.read()[:300]!r}") from None

    def get(self, path: str) -> dict | None:
        return self.call("GET", path)

    def create(self, path: str, body: dict) -> dict | None:
        return self.call("POST", path, body)

    def patch_status(self, path: str, status: dict) -> None:
        self.call("PATCH", path + "/status", {"status": status}, "application/merge-patch+json")

    def delete(self, path: str) -> None:
        self.call("DELETE", path + "?gracePeriodSeconds=0", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                               "gracePeriodSeconds": 0, "propagationPolicy": "Background"})


def _controller_of(obj: dict) -> dict | None:
    return next((o for o in obj["metadata"].get("ownerReferences") or [] if o.get("controller")), None)


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions", []))


def template_hash(dep: dict) -> str:
    return hashlib.sha256(json.dumps(dep["spec"]["template"], sort_keys=True).encode()).hexdigest()[:10]


def _owner(obj: dict, kind: str) -> dict:
    """A controller reference (items of a list response carry no apiVersion/kind: given here)."""
    m = obj["metadata"]
    return {"apiVersion": "apps/v1", "kind": kind, "name": m["name"], "uid": m["uid"], "controller": True, "blockOwnerDeletion": True}


def _rs_path(ns: str, name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/replicasets" + (f"/{name}" if name else "")


def _pod_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/pods" + (f"/{name}" if name else "")


def collect_garbage(api: Api, keep_rs_uid: str | None) -> None:
    """ReplicaSets of an operator Deployment other than the current one, and pods whose ReplicaSet is gone."""
    rss = (api.get("/apis/apps/v1/replicasets") or {}).get("items", [])
    alive = set()
    for rs in rss:
        owner = _controller_of(rs)
        if not owner or owner.get("kind") != "Deployment" or owner.get("name") != NAME:
            continue
        if rs["metadata"]["uid"] == keep_rs_uid:
            alive.add(rs["metadata"]["uid"])
            continue
        log(f"deleting replicaset {rs['metadata']['namespace']}/{rs['metadata']['name']} (its deployment is gone or replaced)")
        api.delete(_rs_path(rs["metadata"]["namespace"], rs["metadata"]["name"]))
    pods = (api.get("/api/v1/pods?labelSelector=" + HASH_LABEL) or {}).get("items", [])
    for pod in pods:
        owner = _controller_of(pod)
        if not owner or owner.get("kind") != "ReplicaSet" or not owner.get("name", "").startswith(NAME + "-"):
            continue
        if owner.get("uid") not in alive and not pod["metadata"].get("deletionTimestamp"):
            log(f"deleting pod {pod['metadata']['namespace']}/{pod['metadata']['name']} (its replicaset is gone)")
            api.delete(_pod_path(pod["metadata"]["namespace"], pod["metadata"]["name"]))


def ensure_replicaset(api: Api, dep: dict) -> dict:
    ns, h = dep["metadata"]["namespace"], template_hash(dep)
    name = f"{NAME}-{h}"
    rs = api.get(_rs_path(ns, name))
    if rs is not None:
        return rs
    template = json.loads(json.dumps(dep["spec"]["template"]))
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
    selector = json.loads(json.dumps(dep["spec"]["selector"]))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = h
    log(f"creating replicaset {ns}/{name}")
    return api.create(_rs_path(ns), {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": ns, "labels": template["metadata"]["labels"],
                     "ownerReferences": [_owner(dep, "Deployment")]},
        "spec": {"replicas": dep["spec"].get("replicas", 1), "selector": selector, "template": template}})


def ensure_pods(api: Api, region: int, rs: dict) -> list[dict]:
    ns, h = rs["metadata"]["namespace"], rs["metadata"]["labels"][HASH_LABEL]
    pods = [p for p in (api.get(_pod_path(ns) + f"?labelSelector={HASH_LABEL}%3D{h}") or {}).get("items", [])
            if (_controller_of(p) or {}).get("uid") == rs["metadata"]["uid"] and not p["metadata"].get("deletionTimestamp")]
    want = int(rs["spec"].get("replicas", 1))
    while len(pods) < want:
        suffix = "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        t = rs["spec"]["template"]
        name = f"{rs['metadata']['name']}-{suffix}"
        log(f"creating pod {ns}/{name}")
        pods.append(api.create(_pod_path(ns), {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": t["metadata"].get("labels", {}),
                         "annotations": t["metadata"].get("annotations", {}), "ownerReferences": [_owner(rs, "ReplicaSet")]},
            # The scheduler's part: a node of this region (kwok, its kubelet, makes the pod Running and Ready).
            "spec": {**t["spec"], "nodeName": env.node_name(region, len(pods) % env.MAX_NODES)}}))
    for extra in pods[want:]:
        api.delete(_pod_path(ns, extra["metadata"]["name"]))
    return pods[:want]


def run_operator(region: int, on: bool) -> None:
    name = operator_process(region)
    if on and not proc.running(name):
        log(f"starting the operator ({name})")
        proc.start(name, [sys.executable, "-m", "sbx.operator", str(region)], env.region_dir(region) / "logs" / "operator.log",
                   env_vars={"PYTHONPATH": str(env.SANDBOX_DIR / "lib")})
    elif not on and proc.running(name):
        log(f"stopping the operator ({name}): no {NAME} deployment to run")
        proc.stop(name, timeout=60)


def _set_status(api: Api, path: str, obj: dict, status: dict, keys: tuple[str, ...]) -> None:
    have = obj.get("status") or {}
    if any(have.get(k, 0) != status.get(k, 0) for k in keys):
        api.patch_status(path, status)


def step(api: Api, region: int) -> None:
    deps = (api.get(f"/apis/apps/v1/deployments?fieldSelector=metadata.name%3D{NAME}") or {}).get("items", [])
    deps = sorted((d for d in deps if not d["metadata"].get("deletionTimestamp")), key=lambda d: d["metadata"]["creationTimestamp"])
    if len(deps) > 1:
        log(f"more than one {NAME} deployment ({', '.join(d['metadata']['namespace'] for d in deps)}): running the oldest")
    dep = deps[0] if deps else None
    if dep is None:
        collect_garbage(api, None)
        run_operator(region, False)
        return
    rs = ensure_replicaset(api, dep)
    collect_garbage(api, rs["metadata"]["uid"])
    replicas = int(dep["spec"].get("replicas", 1))
    pods = ensure_pods(api, region, rs)
    run_operator(region, replicas > 0)
    running = proc.running(operator_process(region))
    ready = sum(1 for p in pods if running and _ready(api.get(_pod_path(p["metadata"]["namespace"], p["metadata"]["name"])) or {}))
    ns = dep["metadata"]["namespace"]
    _set_status(api, _rs_path(ns, rs["metadata"]["name"]), rs,
                {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
                 "observedGeneration": rs["metadata"].get("generation", 1)},
                ("replicas", "readyReplicas", "availableReplicas", "observedGeneration"))
    t = now()
    available = ready >= replicas
    _set_status(api, f"/apis/apps/v1/namespaces/{ns}/deployments/{NAME}", dep,
                {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": len(pods), "updatedReplicas": len(pods),
                 "readyReplicas": ready, "availableReplicas": ready, "unavailableReplicas": max(0, replicas - ready),
                 "conditions": [
                     {"type": "Available", "status": "True" if available else "False",
                      "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                      "message": "Deployment has minimum availability." if available else "Deployment does not have minimum availability.",
                      "lastUpdateTime": t, "lastTransitionTime": t},
                     {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                      "message": f'ReplicaSet "{rs["metadata"]["name"]}" has ' + ("successfully progressed." if available else "is progressing."),
                      "lastUpdateTime": t, "lastTransitionTime": t}]},
                ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas"))


def main(region: int) -> int:
    api = Api(region)
    log(f"region-{region}: running deployment {NAME} (any namespace) with the operator stand-in")
    while True:
        try:
            step(api, region)
        except Exception as e:  # noqa: BLE001 - a controller keeps running
            log(f"error: {e}")
        time.sleep(POLL)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
