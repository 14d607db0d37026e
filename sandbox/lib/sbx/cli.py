"""The `sandbox` command."""
import argparse
import json
import os
import shutil
import subprocess
import sys

from . import controlplane, env, proc


def cmd_build(_: argparse.Namespace) -> int:
    want = env.requested_settings()
    e = {**os.environ, "SANDBOX_CASSANDRA": want["cassandra_line"], "CASSANDRA_VERSION": want["cassandra_version"]}
    return subprocess.call([str(env.SANDBOX_DIR / "build" / "all.sh")], env=e)


def _settle_settings() -> None:
    """A sandbox keeps the settings it was started with. `up` with other settings (another
    Cassandra line, node count, data size or throttle) stops everything and starts again from an
    empty state folder: a Cassandra data directory cannot go from 5.0 back to 4.0."""
    want, have = env.requested_settings(), env.recorded_settings()
    if have is None and any(proc.running(n) for n in proc.names() if n.startswith("cassandra-")):
        have = {"cassandra_line": "(not recorded)"}  # started by an older sandbox: start again
    if have is not None and have != want:
        changed = ", ".join(f"{k} {have.get(k)} -> {want[k]}" for k in want if have.get(k) != want[k])
        print(f"sandbox: the state folder was made with other settings ({changed}): stopping it and starting again "
              f"from nothing", file=sys.stderr)
        cmd_down(argparse.Namespace(purge=True))
    env.record_settings(want)


def cmd_up(args: argparse.Namespace) -> int:
    if cmd_build(args) != 0:
        return 1
    _settle_settings()
    print(f"sandbox: Cassandra {env.CASSANDRA_VERSION} on {env.JAVA}, {env.NODES} node(s) in region-1, "
          f"{env.DATA_MB} MB of data, stream throttle {env.STREAM_MBPS or 'none'} Mbit/s, region-1 installed with "
          f"{env.INSTALLER}" + (f" (Apigee {env.APIGEE_VERSION}, operator in {env.operator_namespace()})" if env.INSTALLER == "helm" else ""),
          file=sys.stderr)
    for r in env.DEFAULT_REGIONS + ((3,) if args.region_3 else ()):
        controlplane.up(r)
        print(f"region-{r}: kube-apiserver https://127.0.0.1:{env.apiserver_port(r)} ready", file=sys.stderr)
    if not args.control_plane_only:
        from . import region1, region2
        region1.install_and_load()
        if not proc.running("cassandra-r2-n0"):
            # Region-2 is not running (e.g. after `down`): make it empty again, and take its
            # datacenter out of region-1's ring, so `up` always ends in the documented state.
            region2.reset()
    print(env.kubeconfig_path())
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    # The controllers first (they would start the operator again), then the operators (they would
    # restart a Cassandra node stopped under them).
    for prefix in ("controllers-", "operator-", "cassandra-"):
        for name in proc.names():
            if name.startswith(prefix):
                proc.stop(name, timeout=60)
    for r in env.REGIONS:
        controlplane.down(r)
    # What no pid file records any more (restarted by hand, or orphaned by a crash) goes too: a
    # Cassandra left running would hold its ports against the next sandbox.
    for pid, cmd in proc.kill_strays():
        print(f"sandbox down: killed stray process {pid} ({cmd[:100]})", file=sys.stderr)
    if args.purge and env.STATE.exists():
        shutil.rmtree(env.STATE)
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    names = proc.names()
    if not names:
        print("sandbox is down")
        return 3
    print(f"settings: {json.dumps(env.recorded_settings())}")
    for name in names:
        pid = proc.pid_of(name)
        print(f"{name:28} {'running pid ' + str(pid) if pid else 'stopped'}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from . import data, region1
    import json
    if args.action == "load":
        s = region1.settings()
        n = data.load(env.node_ip(1, 0), s["datacenter"], min(3, s["replicas"]), region1.org())
        print(f"{n} rows loaded")
        return 0
    region = int(args.dc.rsplit("-", 1)[-1]) if args.region is None else args.region
    report = data.check([env.node_ip(region, i) for i in range(env.MAX_NODES)], args.dc, region1.org())
    print(json.dumps(report, indent=2))
    return 0 if data.all_present(report) else 1


def cmd_reset_region(args: argparse.Namespace) -> int:
    from . import region2
    region = getattr(args, "region", 2)
    if region == 3 and not proc.running("kube-apiserver-r3"):
        print("sandbox: region-3 is not up (start it with `sandbox up --region-3`)", file=sys.stderr)
        return 2
    region2.reset(region=region)
    return 0


def cmd_apigeectl(args: argparse.Namespace) -> int:
    from . import apigeectl
    return apigeectl.main(args.rest)


def cmd_hybrid_files(args: argparse.Namespace) -> int:
    """Puts the files an overrides file names (./certs, ./service-accounts) into a directory."""
    from . import hybrid_files
    from pathlib import Path
    d = Path(args.dir)
    overrides = Path(args.overrides) if args.overrides else d / "overrides.yaml"
    for f in hybrid_files.populate(d, overrides):
        print(f)
    return 0


def cmd_timing(args: argparse.Namespace) -> int:
    from . import timing
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        print("sandbox timing: give the command to run after --", file=sys.stderr)
        return 2
    return timing.report(argv, Path(args.journal) if args.journal else None)


def cmd_kubeconfig(_: argparse.Namespace) -> int:
    print(env.kubeconfig_path())
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sandbox", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build or fetch every component into the cache").set_defaults(fn=cmd_build)
    up = sub.add_parser("up", help="start both regions; install region-1 and load data (idempotent)")
    up.add_argument("--control-plane-only", action="store_true", help="start only the two Kubernetes control planes")
    up.add_argument("--region-3", action="store_true", help="also start a third control plane, region-3 (nodes 127.0.3.x), "
                                                            "empty like region-2: for a three-region expansion")
    up.set_defaults(fn=cmd_up)
    down = sub.add_parser("down", help="stop every process the sandbox started, by PID")
    down.add_argument("--purge", action="store_true", help="also delete all state (data, certificates)")
    down.set_defaults(fn=cmd_down)
    sub.add_parser("status", help="list the sandbox's processes").set_defaults(fn=cmd_status)
    sub.add_parser("kubeconfig", help="print the path of the two-context kubeconfig").set_defaults(fn=cmd_kubeconfig)
    h = sub.add_parser("hybrid-files", help="create the files an overrides file names by relative paths, in its hybrid-files directory")
    h.add_argument("dir")
    h.add_argument("--overrides", help="overrides file (default: DIR/overrides.yaml)")
    h.set_defaults(fn=cmd_hybrid_files)
    d = sub.add_parser("data", help="load region-1's data, or check every row from one datacenter")
    d.add_argument("action", choices=["load", "check"])
    d.add_argument("--dc", default="dc-2", help="datacenter to read from (check)")
    d.add_argument("--region", type=int, default=None, help="region whose node addresses to contact (default: from --dc)")
    d.set_defaults(fn=cmd_data)
    sub.add_parser("reset-region-2", help="empty region-2 and remove every datacenter but region-1's from region-1's ring").set_defaults(fn=cmd_reset_region)
    rr = sub.add_parser("reset-region", help="empty region 2 or 3 and remove its nodes and datacenter from region-1's ring")
    rr.add_argument("region", type=int, choices=[2, 3])
    rr.set_defaults(fn=cmd_reset_region)
    t = sub.add_parser("timing", help="run a command and report its wall time, the kubectl exec calls each API server "
                                      "received (by nodetool verb) and, with --journal, the tool's step durations")
    t.add_argument("--journal", help="the tool's journal file, for its step durations")
    t.add_argument("command", nargs=argparse.REMAINDER)
    t.set_defaults(fn=cmd_timing)
    a = sub.add_parser("apigeectl", help="run the apigeectl stand-in (same as sandbox/bin/apigeectl)")
    a.add_argument("rest", nargs=argparse.REMAINDER)
    a.set_defaults(fn=cmd_apigeectl)
    args = p.parse_args(argv)
    return args.fn(args)
