"""The sandbox at its largest: 3+3 nodes, 100 MB per replica, every node's stream throttled.

Runs only on a sandbox brought up that way (`./run-tests --slow` does it):
    SANDBOX_NODES=3 SANDBOX_DATA_MB=100 SANDBOX_STREAM_MBPS=16 sandbox/sandbox up
On the default sandbox (2 nodes, 10 MB, no throttle) it is skipped."""
import json
import time

import pytest

from conftest import ring
from sbx import data, env, region1
from test_expand import events, expand, make_plan, rows_in_dc2


def test_3_plus_3_throttled_rebuild_of_100_mb_per_node(sandbox, empty_region_2, tmp_path):
    if env.NODES < 3 or env.DATA_MB < 100 or not env.STREAM_MBPS:
        pytest.skip(f"needs SANDBOX_NODES=3 SANDBOX_DATA_MB=100 SANDBOX_STREAM_MBPS>0 (this sandbox: "
                    f"{env.NODES} nodes, {env.DATA_MB} MB, {env.STREAM_MBPS} Mb/s); ./run-tests --slow")
    plan = make_plan(tmp_path, replication="5m")
    target = tmp_path / "overrides-region-2.yaml"
    target.write_text(target.read_text().replace("  replicaCount: 2\n", "  replicaCount: 3\n"))
    started = time.monotonic()
    r = expand(plan, timeout=3600)
    took = time.monotonic() - started
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    evs = events(r.stdout)
    report = evs[-1]
    assert all(c["passed"] for c in report["verify"]["checks"]), report["verify"]
    pods = {f"apigee-cassandra-default-{i}" for i in range(3)}
    assert {e["pod"] for e in evs if e["event"] == "rebuild-node" and e["state"] == "done"} == pods
    assert ring(1) == {"dc-1": {f"127.0.1.{i + 1}": "UN" for i in range(3)},
                       "dc-2": {f"127.0.2.{i + 1}": "UN" for i in range(3)}}
    assert data.all_present(rows_in_dc2())
    # The throttle holds: dc-2 receives 3 x DATA_MB (RF 3 on 3 nodes) from 3 senders, each limited
    # to STREAM_MBPS megabits/s, so the rebuild step cannot take less than 3*DATA_MB*8/(3*STREAM_MBPS).
    steps = {s["id"]: s["duration_ms"] / 1000 for s in report["steps"]}
    floor = env.DATA_MB * 8 / env.STREAM_MBPS
    assert steps["rebuild"] >= floor, f"rebuild took {steps['rebuild']:.0f}s, less than the throttle allows ({floor:.0f}s)"
    measured = {"nodes": env.NODES, "data_mb": env.DATA_MB, "stream_mbps": env.STREAM_MBPS,
                "cassandra": env.CASSANDRA_VERSION, "expansion_s": round(took), "steps_s": {k: round(v, 1) for k, v in steps.items()}}
    (env.STATE / "scale-run.json").write_text(json.dumps(measured, indent=2))
    print("scale run:", json.dumps(measured))
    assert region1.settings()["replicas"] == 3
