"""Starting and stopping the sandbox's processes by PID, never by name.

A pid file holds the PID and the process start time from /proc, so a PID reused by an unrelated
process after a crash is never signalled. Every process started here also carries the state
folder in its environment (`MARKER`), inherited by whatever it starts: `strays` finds the ones no
pid file records any more (a process restarted by hand, the child of a crashed controller), so
that `down` leaves nothing behind.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

from . import env

MARKER = "APIGEE_MULTIREGION_SANDBOX_STATE"


def _pid_file(name: str) -> Path:
    return env.STATE / "pids" / f"{name}.pid"


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) counted after the ')' that closes the command name.
    return stat.rsplit(")", 1)[1].split()[19]


def start(name: str, argv: list[str], log: Path, env_vars: dict | None = None, cwd: Path | None = None) -> int:
    """Starts a detached process (its own session) and records its PID."""
    if running(name):
        raise RuntimeError(f"{name} is already running (pid {pid_of(name)})")
    log.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        p = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **(env_vars or {}), MARKER: str(env.STATE)}, cwd=cwd, start_new_session=True,
        )
    _pid_file(name).write_text(f"{p.pid}\n{_start_time(p.pid) or ''}\n")
    return p.pid


def pid_of(name: str) -> int | None:
    try:
        pid_s, started = _pid_file(name).read_text().split("\n")[:2]
    except (OSError, ValueError):
        return None
    pid = int(pid_s)
    now = _start_time(pid)
    if now is None or (started and now != started):
        return None
    # A zombie (exited, not reaped because its parent is gone) counts as stopped.
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return None
    except OSError:
        return None
    return pid


def running(name: str) -> bool:
    return pid_of(name) is not None


def stop(name: str, timeout: float = 30.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`. Returns whether a process was stopped."""
    pid = pid_of(name)
    if pid is None:
        _pid_file(name).unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_of(name) is not None:
        time.sleep(0.2)
    if pid_of(name) is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.5)
    _pid_file(name).unlink(missing_ok=True)
    return True


def names() -> list[str]:
    d = env.STATE / "pids"
    return sorted(p.stem for p in d.glob("*.pid")) if d.exists() else []


def _ancestors() -> set[int]:
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def strays() -> list[tuple[int, str]]:
    """Processes of this sandbox (its marker in their environment) that no pid file records, with
    their command lines; never this process or its ancestors."""
    marker = f"{MARKER}={env.STATE}".encode()
    known = {pid_of(n) for n in names()}
    skip = _ancestors()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        pid = int(d.name)
        if pid in known or pid in skip:
            continue
        try:
            if marker not in (d / "environ").read_bytes().split(b"\0"):
                continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out.append((pid, cmd))
    return sorted(out)


def kill_strays() -> list[tuple[int, str]]:
    """SIGKILL to every stray (what `down` does last). Returns what was killed."""
    found = strays()
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return found
