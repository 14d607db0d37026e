"""Putting region-2 (or region-3, the third region a three-region expansion adds) back to a fresh
cluster (only its cert-manager namespace: no Apigee CRDs, operator, Helm releases or namespaces),
and taking its datacenter out of region-1's ring, so that each expansion test starts from the same
state."""
import json
import shutil
import subprocess
import sys

from . import cql, env, kube, proc, region1


def _nodetool_r1(*args: str) -> str:
    s = region1.settings()
    # The node's own JMX password file (`user password`): the password stays off every argv and
    # out of the API server's audit log of exec command lines.
    pwf = env.cassandra_dir(1, 0) / "conf" / "jmxremote.password"
    r = kube.kubectl(1, "exec", "-n", env.NAMESPACE, env.pod_name(0), "--", "nodetool",
                     "-u", s["jmx_user"], "-pwf", str(pwf), *args, check=False, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"nodetool {args[0]} on region-1 failed: {r.stderr.strip()[-500:]}")
    return r.stdout


def _forget_datacenters(keep: str, only: str | None = None) -> None:
    """Removes every node of another datacenter from region-1's ring (they are stopped, so
    `assassinate`, all at once: no streaming), then drops those datacenters from keyspace
    replication. With `only` (an address prefix such as `127.0.3.`), just that region's nodes and
    their datacenters: the others' regions still run."""
    from concurrent.futures import ThreadPoolExecutor
    cluster, s = cql.session([env.node_ip(1, 0)])
    try:
        others = [(str(row.peer), row.data_center) for row in s.execute("SELECT peer, data_center FROM system.peers")
                  if row.data_center != keep and (only is None or str(row.peer).startswith(only))]
        for address, dc in others:
            print(f"removing {address} ({dc}) from region-1's ring", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=max(1, len(others))) as pool:
            list(pool.map(lambda a: _nodetool_r1("assassinate", a[0]), others))
        gone = {dc for _, dc in others}
        for row in s.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces"):
            repl = dict(row.replication)
            if not repl.get("class", "").endswith("NetworkTopologyStrategy"):
                continue
            stale = [d for d in repl if d not in ("class", keep) and (only is None or d in gone)]
            if stale:
                new = {k: v for k, v in repl.items() if k not in stale}
                body = "{" + ", ".join(f"'{k}': '{v}'" for k, v in new.items()) + "}"
                s.execute(f"ALTER KEYSPACE {row.keyspace_name} WITH replication = {body}")
    finally:
        cluster.shutdown()


def _empty_namespace(region: int, ns: str) -> None:
    """Deletes everything in the namespace, then the namespace (no controller-manager runs, so the
    namespace controller's work is done here: contents first, then the finalizer by hand)."""
    if kube.get_json(region, "namespace", ns) is None:
        return
    # No operator runs to honour its finalizer: taken off, as after a lost region.
    if ns == env.NAMESPACE and kube.get_json(region, "apigeedatastore", "default", "-n", ns) is not None:
        kube.kubectl(region, "patch", "apigeedatastore", "default", "-n", ns, "--type=merge", "-p",
                     json.dumps({"metadata": {"finalizers": None}}), check=False)
    for kinds in ("cassandradatareplications,apigeedatastores,apigeeorganizations",
                  "deployments,replicasets,statefulsets,pods,services,secrets,configmaps,leases,serviceaccounts,roles,rolebindings"):
        kube.kubectl(region, "delete", kinds, "--all", "-n", ns, "--ignore-not-found", "--wait=false",
                     "--grace-period=0", "--force", check=False)
    kube.kubectl(region, "delete", "namespace", ns, "--wait=false", check=False)
    nso = kube.get_json(region, "namespace", ns)
    if nso is not None:
        nso["spec"]["finalizers"] = []
        kube.kubectl(region, "replace", "--raw", f"/api/v1/namespaces/{ns}/finalize", "-f", "-", input=json.dumps(nso), check=False)


def _kill_nodes(region: int) -> None:
    """Every Cassandra node of the region killed at once (SIGKILL, no shutdown)."""
    import os
    import signal
    import time
    for n in range(env.MAX_NODES):
        pid = proc.pid_of(f"cassandra-r{region}-n{n}")
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 30
    while any(proc.running(f"cassandra-r{region}-n{n}") for n in range(env.MAX_NODES)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for n in range(env.MAX_NODES):
        proc.stop(f"cassandra-r{region}-n{n}")  # forgets the pid file


def lose(region: int = 2) -> None:
    """The region lost to an outage: its operator and every Cassandra node stop at once, without
    any cleanup (its nodes stay in region-1's ring, down; its objects stay in its API server)."""
    proc.stop(f"controllers-r{region}")
    proc.stop(f"operator-r{region}")
    _kill_nodes(region)


def reset(forget: bool = True, region: int = 2) -> None:
    """The region (2, or 3 when started) as a fresh cluster, whichever installer was used there: no operator (Deployment and
    process), no Helm releases, no Apigee CRDs, no `apigee` or `apigee-system` namespace, no CA;
    cert-manager installed. With `forget`, also its nodes and datacenter out of region-1's ring and
    keyspaces (for region-2: every datacenter but region-1's; without: what a region lost and
    rebuilt as a new cluster leaves behind)."""
    # The controllers first: they would start the operator again while its Deployment still exists.
    proc.stop(f"controllers-r{region}")
    proc.stop(f"operator-r{region}")
    _kill_nodes(region)  # its data goes next: no need for a clean shutdown
    for n in range(env.MAX_NODES):
        d = env.cassandra_dir(region, n)
        if d.exists():
            shutil.rmtree(d)
        (d / "logs").mkdir(parents=True)
        (d / "logs" / "pod-cri.log").touch()
    if proc.running(f"kube-apiserver-r{region}"):
        from . import apigeectl, controlplane
        controlplane.install_cert_manager(region)  # a new region has cert-manager, as the install pages require
        # Helm's release secrets live in these namespaces: emptying them removes every release.
        for ns in (env.NAMESPACE, env.APIGEECTL_OPERATOR_NAMESPACE):
            _empty_namespace(region, ns)
        kube.kubectl(region, "delete", "deployments", "-A", f"--field-selector=metadata.name={env.OPERATOR_DEPLOYMENT}",
                     "--ignore-not-found", check=False)
        kube.kubectl(region, "delete", "crd", *apigeectl.CRDS, "--ignore-not-found", "--timeout=60s", check=False, timeout=90)
        kube.kubectl(region, "delete", "secret", "apigee-ca", "-n", "cert-manager", "--ignore-not-found", check=False)
        kube.kubectl(region, "delete", "lease", "apigee-multiregion-apigee", "-n", "default", "--ignore-not-found", check=False)
        controlplane.start_controllers(region)
    if forget and proc.running("cassandra-r1-n0"):
        _forget_datacenters(region1.settings()["datacenter"], None if region == 2 else env.node_ip(region, 0).rsplit(".", 1)[0] + ".")
