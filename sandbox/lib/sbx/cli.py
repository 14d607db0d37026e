"""The `sandbox` command."""
import argparse
import shutil
import subprocess
import sys

from . import controlplane, env, proc


def cmd_build(_: argparse.Namespace) -> int:
    return subprocess.call([str(env.SANDBOX_DIR / "build" / "all.sh")])


def cmd_up(args: argparse.Namespace) -> int:
    if cmd_build(args) != 0:
        return 1
    for r in env.REGIONS:
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
    for name in proc.names():
        if name.startswith(("cassandra-", "operator-")):
            proc.stop(name, timeout=60)
    for r in env.REGIONS:
        controlplane.down(r)
    if args.purge and env.STATE.exists():
        shutil.rmtree(env.STATE)
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    names = proc.names()
    if not names:
        print("sandbox is down")
        return 3
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


def cmd_reset_region_2(_: argparse.Namespace) -> int:
    from . import region2
    region2.reset()
    return 0


def cmd_apigeectl(args: argparse.Namespace) -> int:
    from . import apigeectl
    return apigeectl.main(args.rest)


def cmd_kubeconfig(_: argparse.Namespace) -> int:
    print(env.kubeconfig_path())
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sandbox", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build or fetch every component into the cache").set_defaults(fn=cmd_build)
    up = sub.add_parser("up", help="start both regions; install region-1 and load data (idempotent)")
    up.add_argument("--control-plane-only", action="store_true", help="start only the two Kubernetes control planes")
    up.set_defaults(fn=cmd_up)
    down = sub.add_parser("down", help="stop every process the sandbox started, by PID")
    down.add_argument("--purge", action="store_true", help="also delete all state (data, certificates)")
    down.set_defaults(fn=cmd_down)
    sub.add_parser("status", help="list the sandbox's processes").set_defaults(fn=cmd_status)
    sub.add_parser("kubeconfig", help="print the path of the two-context kubeconfig").set_defaults(fn=cmd_kubeconfig)
    d = sub.add_parser("data", help="load region-1's data, or check every row from one datacenter")
    d.add_argument("action", choices=["load", "check"])
    d.add_argument("--dc", default="dc-2", help="datacenter to read from (check)")
    d.add_argument("--region", type=int, default=None, help="region whose node addresses to contact (default: from --dc)")
    d.set_defaults(fn=cmd_data)
    sub.add_parser("reset-region-2", help="empty region-2 and remove its datacenter from region-1's ring").set_defaults(fn=cmd_reset_region_2)
    a = sub.add_parser("apigeectl", help="run the apigeectl stand-in (same as sandbox/bin/apigeectl)")
    a.add_argument("rest", nargs=argparse.REMAINDER)
    a.set_defaults(fn=cmd_apigeectl)
    args = p.parse_args(argv)
    return args.fn(args)
