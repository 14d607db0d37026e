"""Starting and stopping the sandbox's processes by PID, never by name.

A pid file holds the PID and the process start time from /proc, so a PID reused by an unrelated
process after a crash is never signalled.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

from . import env


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
            env={**os.environ, **(env_vars or {})}, cwd=cwd, start_new_session=True,
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
