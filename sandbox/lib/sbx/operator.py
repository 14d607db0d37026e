"""STAND-IN for the Apigee operator's data replication: watches CassandraDataReplication objects
in one region and runs `nodetool rebuild -- <spec.source.region>` on every Cassandra node of that
region, reporting in ApigeeDatastore `default` `status.cassandraDataReplication` as the real
operator does: `{state, updated, rebuildDetails: {<pod>: {state, message, updated}}}` with states
running, complete, error.

Run by `apigeectl init` (sandbox/sandbox apigeectl) as a background process per region.
"""
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

from . import env, kube, region1

POLL = 2.0


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_status(region: int, cdr_state: dict) -> None:
    patch = {"status": {"state": "running", "cassandraDataReplication": cdr_state}}
    kube.kubectl(region, "patch", "apigeedatastore", "default", "-n", env.NAMESPACE, "--subresource=status",
                 "--type=merge", "-p", json.dumps(patch))


def rebuild(region: int, ordinal: int, source_dc: str) -> tuple[bool, str]:
    """The real nodetool against that node's JMX (what the operator does inside the pod)."""
    s = region1.settings()
    e = {**os.environ, "CASSANDRA_JMX_PORT": str(env.jmx_port(region, ordinal)), "CASSANDRA_LIB": str(env.CASSANDRA_LIB)}
    r = subprocess.run([str(env.SANDBOX_DIR / "bin" / "nodetool"), "-u", s["jmx_user"], "-pw", s["jmx_password"], "rebuild", "--", source_dc],
                       capture_output=True, text=True, env=e, timeout=3600)
    out = (r.stdout + r.stderr).replace(s["jmx_password"], "<redacted>")
    message = next((line.strip() for line in out.splitlines() if line.strip() and not line.startswith("\t")), "")
    return r.returncode == 0, message[:300]


def handle(region: int, cdr: dict) -> None:
    name = cdr["metadata"]["name"]
    source_dc = ((cdr.get("spec") or {}).get("source") or {}).get("region", "")
    pods = json.loads(kube.kubectl(region, "get", "pods", "-n", env.NAMESPACE, "-l", env.CASSANDRA_LABEL, "-o", "json").stdout)["items"]
    names = sorted(p["metadata"]["name"] for p in pods)
    details = {p: {"state": "running", "message": "", "updated": now()} for p in names}
    set_status(region, {"state": "running", "updated": now(), "rebuildDetails": details})
    for p in names:
        ok, message = rebuild(region, int(p.rsplit("-", 1)[1]), source_dc)
        details[p] = {"state": "complete" if ok else "error", "message": "" if ok else message, "updated": now()}
        set_status(region, {"state": "running", "updated": now(), "rebuildDetails": details})
    overall = "complete" if all(d["state"] == "complete" for d in details.values()) else "error"
    set_status(region, {"state": overall, "updated": now(), "rebuildDetails": details})
    kube.kubectl(region, "annotate", "cassandradatareplication", name, "-n", env.NAMESPACE, "--overwrite",
                 f"sandbox.apigee-multiregion/handled={cdr['metadata'].get('generation', 1)}")
    print(f"{now()} {name}: {overall}", flush=True)


def main(region: int) -> int:
    while True:
        try:
            r = kube.kubectl(region, "get", "cassandradatareplications", "-n", env.NAMESPACE, "-o", "json", check=False)
            if r.returncode == 0:
                for cdr in json.loads(r.stdout)["items"]:
                    handled = (cdr["metadata"].get("annotations") or {}).get("sandbox.apigee-multiregion/handled")
                    if handled != str(cdr["metadata"].get("generation", 1)):
                        handle(region, cdr)
        except Exception as e:  # noqa: BLE001 - an operator keeps running
            print(f"{now()} error: {e}", flush=True)
        time.sleep(POLL)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
