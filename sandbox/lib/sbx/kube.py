"""kubectl against one region of the sandbox."""
import json
import subprocess

from . import env


class KubectlError(RuntimeError):
    pass


def kubectl(region: int, *args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    argv = [env.KUBECTL, f"--kubeconfig={env.kubeconfig_path()}", f"--context={env.context(region)}", *args]
    r = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise KubectlError(f"kubectl {' '.join(args)} (region {region}) failed: {r.stderr.strip() or r.stdout.strip()}")
    return r


def apply_object(region: int, obj: dict) -> None:
    kubectl(region, "apply", "-f", "-", input=json.dumps(obj))


def create_object(region: int, obj: dict) -> None:
    kubectl(region, "create", "-f", "-", input=json.dumps(obj))


def ensure_namespace(region: int, name: str) -> None:
    if kubectl(region, "get", "namespace", name, check=False).returncode != 0:
        kubectl(region, "create", "namespace", name)


def get_json(region: int, *args: str) -> dict | None:
    """The object, or None when it does not exist, including when its kind is not known to the API
    server (a custom resource whose CRD is not installed, as on a fresh cluster)."""
    r = kubectl(region, "get", *args, "-o", "json", check=False)
    if r.returncode != 0:
        if "NotFound" in r.stderr or "not found" in r.stderr or "doesn't have a resource type" in r.stderr:
            return None
        raise KubectlError(f"kubectl get {' '.join(args)} (region {region}) failed: {r.stderr.strip()}")
    return json.loads(r.stdout)
