"""Fixtures for the sandbox's end-to-end tests: the sandbox must be up (the README's test command
brings it up first; these fixtures bring it up themselves when run alone)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SANDBOX / "lib"))

from sbx import env, proc, region1, region2  # noqa: E402


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


def nodetool(region: int, ordinal: int, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    s = region1.settings()
    return kubectl(region, "exec", "-n", "apigee", env.pod_name(ordinal), "--", "nodetool",
                   "-u", s["jmx_user"], "-pw", s["jmx_password"], *args, check=check)


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
