"""Unit tests of the Python package's pure functions and exceptions (no cluster needed)."""
from pathlib import Path

import pytest

import apigee_multiregion as am

FIXTURES = Path(__file__).resolve().parents[2] / "apigee-multiregion-core" / "tests" / "fixtures"
SOURCE = "org: o\ninstanceID: east\ncassandra:\n  hostNetwork: true\n  datacenter: dc-1\n  auth:\n    jmx: {username: jmxuser, password: 'py-s3cret'}\n"


def test_status_parses_into_typed_objects_with_the_cli_keys():
    s = am.parse_nodetool_status((FIXTURES / "status-5.0-2dc-sandbox.txt").read_text())
    assert [d.name for d in s.datacenters] == ["dc-1", "dc-2"]
    n = s.datacenter("dc-2").nodes[0]
    assert n.is_up_normal and n.rack == "ra-1"
    assert set(n.to_dict()) == {"status", "state", "address", "port", "load_bytes", "tokens", "token", "owns_percent", "host_id", "rack"}
    assert s.to_dict()["datacenters"][0]["name"] == "dc-1"


def test_netstats_and_describecluster_and_the_log_scanner():
    ns = am.parse_nodetool_netstats((FIXTURES / "netstats-rebuild-cassandra-4x-SYNTHETIC-from-source.txt").read_text())
    assert ns.rebuild_progress() == (26214400 + 1048576, 104857600 + 94371840)
    d = am.parse_nodetool_describecluster((FIXTURES / "describecluster-5.0-2dc-sandbox.txt").read_text())
    assert d.keyspaces["perses"].replication == {"dc-1": 2, "dc-2": 2}
    assert d.to_dict()["keyspaces"]["perses"]["class"] == "NetworkTopologyStrategy"
    events = am.scan_rebuild_log((FIXTURES / "log-rebuild-success-5.0-sandbox.txt").read_text())
    assert events[0].event == "rebuild-started" and events[0].data["source_dc"] == "dc-1"
    assert events[-1].event == "all-sessions-completed"


def test_bad_nodetool_output_raises_nodetool_error_with_the_line():
    with pytest.raises(am.NodetoolError) as e:
        am.parse_nodetool_status("nodetool: Failed to connect to '127.0.0.1:7199'\n")
    assert e.value.line == 1 and "Failed to connect" in str(e.value)
    assert isinstance(e.value, am.ApigeeMultiregionError)


def test_overrides_edits_are_lossless_and_set_then_clear_restores_the_bytes():
    text = "# keep me\ncassandra:\n  hostNetwork: true   # island\n  datacenter: 'dc-1'\n"
    d = am.OverridesDoc(text)
    d.set_seed_host("10.0.0.4")
    d.set_datacenter("dc-2")
    assert str(d) == "# keep me\ncassandra:\n  hostNetwork: true   # island\n  datacenter: 'dc-2'\n  multiRegionSeedHost: 10.0.0.4\n"
    assert d.view()["cassandra"]["multi_region_seed_host"] == "10.0.0.4"
    assert d.clear_seed_host() is True
    d.set_datacenter("dc-1")
    assert str(d) == text


def test_overrides_errors_carry_line_and_column_and_bad_names_are_refused():
    with pytest.raises(am.OverridesError) as e:
        am.OverridesDoc("cassandra:\n  rack: a\n  rack: b\n")
    assert (e.value.line, e.value.column) == (3, 3)
    d = am.OverridesDoc(SOURCE)
    with pytest.raises(am.OverridesError):
        d.set_datacenter("dc 2")
    with pytest.raises(am.OverridesError):
        d.set_seed_host("not an address!")


def test_check_pair_finds_the_same_datacenter_and_never_shows_passwords():
    target = am.OverridesDoc(SOURCE.replace("py-s3cret", "other"))
    findings = am.check_pair(am.OverridesDoc(SOURCE), target)
    codes = [f.code for f in findings]
    assert codes[:2] == ["same-datacenter", "credentials-mismatch"]
    assert all("py-s3cret" not in repr(f) and "other" not in f.message for f in findings)
    assert findings[0].to_dict()["severity"] == "error"
    assert "py-s3cret" not in repr(am.OverridesDoc(SOURCE))


def test_select_seeds_prefers_ready_up_nodes_and_explains_the_others():
    ring = (FIXTURES / "status-5.0-2dc-sandbox.txt").read_text()
    pods = [
        {"name": "apigee-cassandra-default-0", "pod_ip": "127.0.1.1", "host_ip": "127.0.1.1", "ready": False, "host_network": True},
        {"name": "apigee-cassandra-default-1", "pod_ip": "127.0.1.2", "host_ip": "127.0.1.2", "ready": True, "host_network": True},
    ]
    s = am.select_seeds(pods, ring, source_dc="dc-1")
    assert s.seed_host.address == "127.0.1.2"
    assert s.verdicts[0].ineligible == {"reason": "not-ready"}
    with pytest.raises(am.SeedSelectionError) as e:
        am.select_seeds([pods[0]], ring)
    assert "apigee-cassandra-default-0: Running but not Ready" in str(e.value)


def test_plan_errors_say_where(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text("source: {context: a, overrides: a.yaml, datacenter: dc-1}\ntarget: {context: b, overrides: b.yaml, datacenter: dc-2}\ninstaller: {kind: apigeectl}\nrebuild: {concurency: 2}\n")
    with pytest.raises(am.PlanError) as e:
        am.ExpansionPlan.from_file(p)
    assert "plan.yaml:4:" in str(e.value) and "concurency" in str(e.value)
    p.write_text(p.read_text().replace("concurency", "concurrency"))
    plan = am.ExpansionPlan.from_file(p)
    assert plan.name == "expansion" and plan.to_dict()["rebuild"]["concurrency"] == 2


def test_expand_rejects_an_unknown_step(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text("source: {context: a, overrides: a.yaml, datacenter: dc-1}\ntarget: {context: b, overrides: b.yaml, datacenter: dc-2}\ninstaller: {kind: apigeectl}\n")
    with pytest.raises(ValueError, match="not a step"):
        am.expand(am.ExpansionPlan.from_file(p), until="nope")


def test_the_package_is_typed():
    pkg = Path(am.__file__).parent
    assert (pkg / "py.typed").exists() and (pkg / "_native.pyi").exists()


def _silent_api_server(tmp_path):
    """A socket that accepts connections and never answers, and a kubeconfig (contexts `a` and
    `b`) whose API server it is: every cluster call waits until the run is stopped."""
    import json
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    server = f"https://127.0.0.1:{silent.getsockname()[1]}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("a", "b")]}))
    return silent, kubeconfig


DECOMMISSION_PLAN = ("name: retire-west\nleaving: {{context: b, kubeconfig: {kc}, overrides: west.yaml, datacenter: dc-2}}\n"
                     "surviving: {{context: a, kubeconfig: {kc}, overrides: east.yaml, datacenter: dc-1}}\n"
                     "installer: {{kind: apigeectl}}\ntimeouts: {{removenode: 2h}}\n")


def test_a_decommission_plan_parses_and_a_bad_one_says_where(tmp_path):
    p = tmp_path / "retire.yaml"
    p.write_text(DECOMMISSION_PLAN.format(kc="kc.yaml").replace("removenode:", "remove_node:"))
    with pytest.raises(am.PlanError) as e:
        am.DecommissionPlan.from_file(p)
    assert "retire.yaml:5:" in str(e.value) and "remove_node" in str(e.value), str(e.value)
    p.write_text(DECOMMISSION_PLAN.format(kc="kc.yaml"))
    plan = am.DecommissionPlan.from_file(p)
    d = plan.to_dict()
    assert plan.name == "retire-west" and d["leaving"]["datacenter"] == "dc-2" and d["surviving"]["context"] == "a"
    # An expansion plan is not a decommission plan.
    p.write_text("source: {context: a, overrides: a.yaml, datacenter: dc-1}\ntarget: {context: b, overrides: b.yaml, datacenter: dc-2}\ninstaller: {kind: apigeectl}\n")
    with pytest.raises(am.PlanError, match="source"):
        am.DecommissionPlan.from_file(p)


def test_stopping_a_decommission_stops_the_run_waiting_on_a_silent_api_server(tmp_path):
    """The dry run takes no lock, but its preflight first asks the surviving API server about its
    permissions, which never answers: `stop` must end that run promptly."""
    import threading
    import time

    silent, kubeconfig = _silent_api_server(tmp_path)
    (tmp_path / "east.yaml").write_text(SOURCE)
    (tmp_path / "west.yaml").write_text(SOURCE.replace("dc-1", "dc-2"))
    (tmp_path / "retire.yaml").write_text(DECOMMISSION_PLAN.format(kc=kubeconfig))
    plan = am.DecommissionPlan.from_file(tmp_path / "retire.yaml")
    stop = threading.Event()
    events: list = []
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = am.decommission(plan, events.append, dry_run=True, stop=stop)
        except Exception as e:  # noqa: BLE001 - the test inspects what ended the run
            outcome["error"] = e

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    time.sleep(1.0)
    try:
        assert runner.is_alive(), f"the run ended before the stop: {outcome}"
        assert any(e.step == "preflight" for e in events), events
        stop.set()
        stopped = time.monotonic()
        runner.join(timeout=10)
        assert not runner.is_alive(), "the run went on after stop was set"
        assert time.monotonic() - stopped < 5
    finally:
        stop.set()
        silent.close()
    error = outcome.get("error")
    assert isinstance(error, am.ExpansionInterrupted), outcome
    assert error.step == "preflight", error.step


def test_cancelling_expand_async_stops_the_run_itself_not_only_the_await(tmp_path):
    """An API server that accepts connections and never answers keeps the run waiting for its
    lock; cancelling the asyncio task must stop that run (its worker thread ends), not leave it
    running in the background."""
    import asyncio
    import threading
    import time

    silent, kubeconfig = _silent_api_server(tmp_path)
    (tmp_path / "east.yaml").write_text(SOURCE)
    (tmp_path / "west.yaml").write_text(SOURCE.replace("dc-1", "dc-2"))
    (tmp_path / "plan.yaml").write_text(
        f"name: t\nsource: {{context: a, kubeconfig: {kubeconfig}, overrides: east.yaml, datacenter: dc-1}}\n"
        f"target: {{context: b, kubeconfig: {kubeconfig}, overrides: west.yaml, datacenter: dc-2}}\n"
        "installer: {kind: apigeectl}\n")
    plan = am.ExpansionPlan.from_file(tmp_path / "plan.yaml")
    outcome: dict = {}

    async def main() -> None:
        task = asyncio.create_task(am.expand_async(plan))
        await asyncio.sleep(1.5)
        outcome["running"] = not task.done()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            outcome["cancelled"] = True

    # asyncio.run waits for the worker thread at its end: it returns only once the run stopped.
    started = time.monotonic()
    runner = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    runner.start()
    runner.join(timeout=20)
    silent.close()
    assert not runner.is_alive(), "the run went on in its worker thread after the task was cancelled"
    assert outcome == {"running": True, "cancelled": True}, outcome
    assert time.monotonic() - started < 20


def test_stopping_expand_while_it_connects_stops_it_there(tmp_path):
    """Connecting reads the JMX credentials from `cassandra.auth.secret`: with a silent API server
    that read waits; a stop (or Ctrl-C, or a cancelled expand_async) must end it, not wait for it."""
    import threading
    import time

    silent, kubeconfig = _silent_api_server(tmp_path)
    overrides = "org: o\ninstanceID: {}\ncassandra:\n  hostNetwork: true\n  datacenter: {}\n  auth:\n    secret: creds\n"
    (tmp_path / "east.yaml").write_text(overrides.format("east", "dc-1"))
    (tmp_path / "west.yaml").write_text(overrides.format("west", "dc-2"))
    (tmp_path / "plan.yaml").write_text(
        f"name: t\nsource: {{context: a, kubeconfig: {kubeconfig}, overrides: east.yaml, datacenter: dc-1}}\n"
        f"target: {{context: b, kubeconfig: {kubeconfig}, overrides: west.yaml, datacenter: dc-2}}\n"
        "installer: {kind: apigeectl}\n")
    plan = am.ExpansionPlan.from_file(tmp_path / "plan.yaml")
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    try:
        with pytest.raises(am.ExpansionInterrupted, match="while connecting; nothing was changed"):
            am.expand(plan, stop=stop)
        assert time.monotonic() - started < 10
    finally:
        silent.close()
