"""A third region: an installation of two regions (dc-1, dc-2) expanded to region-3 (dc-3).

Slow (two whole expansions, and a third control plane with its own Cassandra nodes): it runs in
the 4.0 suite of `./run-tests --slow`, which sets APIGEE_MULTIREGION_SLOW=1, or alone with
    APIGEE_MULTIREGION_SLOW=1 python3 -m pytest sandbox/tests/test_three_regions.py
It starts region-3 itself (`sandbox up --region-3` does the same by hand), and leaves region-2
and region-3 empty, and region-1's ring with dc-1 alone, as it found them."""
import os
from pathlib import Path

import pytest

from conftest import assert_no_secrets, kubectl, ring
from sbx import controlplane, data, env, proc, region1, region2
from test_expand import events, expand, make_plan, replication_maps

pytestmark = pytest.mark.skipif(os.environ.get("APIGEE_MULTIREGION_SLOW") != "1",
                                reason="slow: ./run-tests --slow (APIGEE_MULTIREGION_SLOW=1)")


@pytest.fixture
def empty_region_3(sandbox, empty_region_2):
    """Region-3's control plane up and empty before the test; after it, its nodes killed, its
    datacenter out of region-1's ring, and its control plane stopped (region-2's reset, which
    runs after this, forgets every datacenter but dc-1)."""
    controlplane.up(3)
    region2.reset(region=3)
    yield
    region2.reset(region=3)
    controlplane.down(3)


def third_region_plan(tmp_path: Path, second: Path) -> Path:
    """Region-1 (dc-1) is the source; region-2 (dc-2, with its overrides as the expansion left
    them, and its context: the tool reads the ring there too) is named in `others`; region-3
    gets dc-3."""
    d = tmp_path / "region-3"
    d.mkdir()
    plan = make_plan(d, target_dc="dc-3", extra=f"others:\n  - {{overrides: {second}, datacenter: dc-2, context: region-2}}")
    target = d / "overrides-region-2.yaml"
    overrides = d / "overrides-region-3.yaml"
    overrides.write_text(target.read_text().replace("sandbox-region-2", "sandbox-region-3").replace("eastus", "westus"))
    target.unlink()
    text = plan.read_text().replace("name: e2e", "name: e2e-region-3")
    text = text.replace("target:\n  context: region-2\n", "target:\n  context: region-3\n")
    plan.write_text(text.replace(str(target), str(overrides)))
    return plan


def test_a_two_region_installation_expands_to_a_third_and_every_row_reads_back_from_dc_3(empty_region_3, tmp_path):
    n = region1.settings()["replicas"]
    # The second region, as any expansion makes it.
    first = expand(make_plan(tmp_path))
    assert first.returncode == 0, first.stderr + first.stdout[-3000:]
    second = tmp_path / "overrides-region-2.yaml"
    assert 'datacenter: "dc-2"' in second.read_text() and "multiRegionSeedHost" not in second.read_text()

    # The third region, from dc-1, with dc-2 named as the other existing region.
    plan = third_region_plan(tmp_path, second)
    r = expand(plan)
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    evs = events(r.stdout)
    codes = [(e.get("finding") or e)["code"] for e in evs if e["event"] == "finding"]
    assert "unnamed-datacenter" not in codes, "dc-2 is named in `others`"
    report = evs[-1]
    assert all(c["passed"] for c in report["verify"]["checks"]), report["verify"]
    # The tool verified from all three sides: region-1 (source), region-3 (target), region-2.
    names = {c["name"] for c in report["verify"]["checks"]}
    assert {"all-up-from-source", "all-up-from-target", "all-up-from-dc-2", "same-ring-from-dc-2"} <= names, names
    done = {e["pod"] for e in evs if e["event"] == "rebuild-node" and e["state"] == "done"}
    assert done == {env.pod_name(i) for i in range(n)}
    # Every region sees the same ring of three datacenters, every node up.
    want = {f"dc-{r}": {env.node_ip(r, i): "UN" for i in range(n)} for r in (1, 2, 3)}
    for region in (1, 2, 3):
        assert ring(region) == want, f"the ring from region-{region}"
    # Every Apigee keyspace names all three datacenters (dc-2 kept, dc-3 added).
    maps = replication_maps()
    apigee = {k: m for k, m in maps.items() if not k.startswith("system")}
    assert apigee and all(set(m) == {"dc-1", "dc-2", "dc-3"} for m in apigee.values()), apigee
    # Every row reads back from dc-3 alone (LOCAL_QUORUM in dc-3, contacting only its nodes) ...
    assert data.all_present(data.check([env.node_ip(3, i) for i in range(n)], "dc-3", region1.org()))
    # ... and still from dc-2.
    assert data.all_present(data.check([env.node_ip(2, i) for i in range(n)], "dc-2", region1.org()))
    # The third region's overrides as the expansion leaves them: dc-3, no seed host.
    final = (tmp_path / "region-3" / "overrides-region-3.yaml").read_text()
    assert 'datacenter: "dc-3"' in final and "multiRegionSeedHost" not in final
    assert kubectl(3, "get", "apigeedatastore", "default", "-n", "apigee", "-o", "name").stdout.strip()
    assert all(proc.running(f"cassandra-r3-n{i}") for i in range(n))
    assert_no_secrets(first.stdout, first.stderr, r.stdout, r.stderr)
    # A second run of the third region's plan changes nothing.
    again = expand(plan)
    assert again.returncode == 0, again.stderr + again.stdout[-3000:]
    outcomes = {s["id"]: s["outcome"] for s in events(again.stdout)[-1]["steps"]}
    assert all(o == "skipped" for k, o in outcomes.items() if k not in ("preflight", "verify")), outcomes
