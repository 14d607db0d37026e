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
        from . import region1
        region1.install_and_load()
    print(env.kubeconfig_path())
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    for name in proc.names():
        if name.startswith("cassandra-"):
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
    args = p.parse_args(argv)
    return args.fn(args)
