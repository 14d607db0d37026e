"""Fixtures for the sandbox's end-to-end tests: the sandbox must be up (the README's test command
brings it up first; these fixtures bring it up themselves when run alone)."""
import json
import os
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SANDBOX / "lib"))

from sbx import controlplane, env, proc, region1, region2  # noqa: E402


@pytest.fixture(scope="session")
def sandbox():
    if not (proc.running("kube-apiserver-r1") and proc.running("cassandra-r1-n0")):
        subprocess.run([str(SANDBOX / "sandbox"), "up"], check=True)
    os.environ["KUBECONFIG"] = str(env.kubeconfig_path())
    return env


@pytest.fixture
def empty_region_2(sandbox):
    """Region-2 empty before the test, and again after it, whatever the test did."""
    region2.reset()
    yield
    region2.reset()


def kubectl(region: int, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["kubectl", f"--kubeconfig={env.kubeconfig_path()}", f"--context=region-{region}", *args],
                       input=input, capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {r.stderr}")
    return r


def _password_file() -> Path:
    """nodetool's JMX password file (`-pwf`, lines `user password`), 0600: the tests' own nodetool
    calls keep the password off every argv too, like the tool (the secret scan samples argv)."""
    s = region1.settings()
    path = Path(env.STATE) / "tests-jmx.pwf"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{s['jmx_user']} {s['jmx_password']}\n")
    return path


def nodetool(region: int, ordinal: int, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    s = region1.settings()
    return kubectl(region, "exec", "-n", "apigee", env.pod_name(ordinal), "--", "nodetool",
                   "-u", s["jmx_user"], "-pwf", str(_password_file()), *args, check=check)


# Every secret of the sandbox (overrides passwords, the CA's key). None may appear in the tool's
# output, events, journals or files, nor in any process's argv on this machine.
SECRETS = ("sandbox-jmx-pw", "sandbox-default-pw", "sandbox-admin-pw", "sandbox-ddl-pw", "sandbox-dml-pw",
           "sandbox-jolokia-pw", "PRIVATE KEY")


def assert_no_secrets(*texts: str) -> None:
    for t in texts:
        for s in SECRETS:
            assert s not in t, f"secret {s!r} leaked"


class ArgvWatch:
    """Samples every process's argv on this machine while a block runs (the sandbox's pods are
    local processes): a secret must never be an argument of any process."""

    def __init__(self, secrets=SECRETS, interval: float = 0.2):
        self.secrets, self.interval, self.leaks, self.samples = secrets, interval, [], 0
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            self.samples += 1
            self.leaks += [line[:200] for line in out.splitlines() if any(s in line for s in self.secrets)]
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def _is_ours(argv) -> bool:
    """A process of the tool: the CLI, or Python running an example or the wheel."""
    args = [str(a) for a in (argv if isinstance(argv, (list, tuple)) else [argv])]
    return bool(args) and (Path(args[0]).name == "apigee-multiregion" or any("examples" in a for a in args[1:2]))


def _text(x) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")


@pytest.fixture(autouse=True)
def secret_scan(request, monkeypatch):
    """After every sandbox test: no secret in the tool's output (every `subprocess.run` of the CLI
    or an example), in any journal or file the tool wrote under the test's tmp_path, no backup more
    open than its source, and no secret in any process's argv sampled during the test."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    outputs: list[str] = []
    real_run = subprocess.run

    def run(*args, **kwargs):
        r = real_run(*args, **kwargs)
        if _is_ours(args[0] if args else kwargs.get("args", [])):
            outputs.extend([_text(r.stdout), _text(r.stderr)])
        return r

    monkeypatch.setattr(subprocess, "run", run)
    audits = {r: controlplane.audit_log(r) for r in env.REGIONS}
    start = {r: (p.stat().st_size if p.exists() else 0) for r, p in audits.items()}
    with ArgvWatch(interval=0.3) as watch:
        yield
    monkeypatch.setattr(subprocess, "run", real_run)
    # Every exec's command line, from the API servers' audit logs: complete, unlike sampling.
    for r, p in audits.items():
        if p.exists():
            with p.open("rb") as f:
                f.seek(start[r] if p.stat().st_size >= start[r] else 0)
                new = f.read().decode(errors="replace")
            for line in new.splitlines():
                uri = urllib.parse.unquote_plus(line)
                assert not any(s in uri for s in SECRETS), f"a secret in an API request (region-{r} audit log): {uri[:300]}"
    assert not watch.leaks, f"a secret in a process's argv: {watch.leaks[:3]}"
    assert_no_secrets(*outputs)
    tmp = request.node.funcargs.get("tmp_path")
    if tmp is None:
        return
    for f in Path(tmp).rglob("*"):
        if not f.is_file() or f.is_symlink():
            continue
        if ".apigee-multiregion" in f.parts or ".journal." in f.name:
            assert_no_secrets(f.read_text(errors="replace"))
        if ".orig" in f.name:
            source = f.with_name(f.name.split(".orig")[0])
            if source.exists():
                wider = f.stat().st_mode & 0o777 & ~(source.stat().st_mode & 0o777)
                assert not wider, f"{f} is more open ({oct(f.stat().st_mode & 0o777)}) than {source}"


def apigeectl(region: int, *args: str, cwd: Path | None = None, env_vars: dict | None = None) -> subprocess.CompletedProcess:
    """Runs the stand-in as an operator would: from the hybrid-files directory (by default the
    directory of the `-f` overrides file), with the region's context current (through a
    kubeconfig that only selects the context, in front of the sandbox's own)."""
    ctx = Path(env.STATE) / f"select-region-{region}.yaml"
    ctx.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": f"region-{region}"}))
    e = {**os.environ, "KUBECONFIG": f"{ctx}:{env.kubeconfig_path()}", **(env_vars or {})}
    if cwd is None and "-f" in args:
        cwd = Path(args[args.index("-f") + 1]).parent
    return subprocess.run([str(SANDBOX / "bin" / "apigeectl"), *args], capture_output=True, text=True, env=e, timeout=600, cwd=cwd)


def wait_ready(region: int, overrides: str, timeout: float = 300) -> None:
    """`apigeectl check-ready` until it succeeds, as the install pages say."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        r = apigeectl(region, "check-ready", "-f", overrides)
        if r.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"region-{region} not ready after {timeout}s: {r.stderr}")
        time.sleep(2)


def hybrid_files(directory: Path, overrides: Path) -> None:
    """The certs and service-account files the overrides name, next to them (the hybrid-files directory)."""
    from sbx import hybrid_files as hf
    hf.populate(Path(directory), Path(overrides))


def ring(region: int, ordinal: int = 0) -> dict[str, dict[str, str]]:
    """datacenter -> {address: two-letter state}, from nodetool status through kubectl exec."""
    out, dc = {}, None
    for line in nodetool(region, ordinal, "status").stdout.splitlines():
        if line.startswith("Datacenter:"):
            dc = line.split(":", 1)[1].strip()
            out[dc] = {}
        elif dc and len(line) > 2 and line[:2] in ("UN", "DN", "UJ", "DJ", "UL", "DL", "UM", "DM"):
            out[dc][line.split()[1]] = line[:2]
    return out


# ---- the guide's RBAC (docs/rbac/) bound to a service account that has nothing else -----------------

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


@pytest.fixture
def granted(sandbox, empty_region_2):
    _grant()
    yield
    _revoke()
