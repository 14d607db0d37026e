"""The sandbox's process bookkeeping: `down` must leave nothing behind, also a process that no pid
file records any more (restarted by hand, or orphaned by a crash), which would hold its ports
against the next sandbox. Needs no running sandbox."""
import subprocess
import sys
import time

from sbx import env, proc


def test_a_process_the_pid_files_lost_is_found_and_killed_as_a_stray():
    name = "test-stray-probe"
    pid = proc.start(name, [sys.executable, "-c", "import time; time.sleep(300)"], env.STATE / "logs" / "test-stray.log")
    try:
        assert pid not in dict(proc.strays()), "a process its pid file records is not a stray"
        # Its pid file is lost, as when a process is restarted by hand outside the controllers.
        (env.STATE / "pids" / f"{name}.pid").unlink()
        # Another process started without the sandbox's marker is never taken for one.
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        try:
            found = dict(proc.strays())
            assert pid in found and "time.sleep(300)" in found[pid], found
            assert other.pid not in found
            killed = dict(proc.kill_strays())
            assert pid in killed and other.pid not in killed
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pid in dict(proc.strays()):
                time.sleep(0.1)
            assert pid not in dict(proc.strays()), "killed"
            assert other.poll() is None, "the unmarked process still runs"
        finally:
            other.kill()
    finally:
        proc.stop(name, timeout=1)
        try:
            import os
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
