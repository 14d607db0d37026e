"""`sandbox timing [--journal J] -- COMMAND...`: runs a command against the sandbox (an expansion,
or the runbook scripted with kubectl) and reports what it cost there: the wall time, every
`kubectl exec` each region's API server received while it ran (from the audit logs, so complete:
by pod and nodetool verb), every other API request by verb, and, with `--journal`, the step
durations the tool's journal recorded. Nothing else may use the sandbox meanwhile: every request
in the window is counted."""
import json
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from . import controlplane, env


def _verb(commands: list[str]) -> str:
    """The nodetool verb of an exec's command line (the tool's password wrapper or plain
    `nodetool -u U -pwf F VERB`), else the program."""
    for i, c in enumerate(commands):
        if 'nodetool -u "$u"' in c and i + 3 < len(commands):
            return commands[i + 3]  # script, `sh` ($0), the user, then the verb
    if commands and commands[0] == "nodetool":
        rest = [c for c in commands[1:]]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in ("-u", "-pwf", "-pw", "-h", "-p") else rest[1:]
        return rest[0] if rest else "nodetool"
    return Path(commands[0]).name if commands else "?"


def _new_requests(region: int, start: int) -> list[dict]:
    path = controlplane.audit_log(region)
    if not path.exists():
        return []
    with path.open("rb") as f:
        f.seek(start if path.stat().st_size >= start else 0)
        lines = f.read().decode(errors="replace").splitlines()
    seen, out = set(), []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("auditID") in seen:
            continue
        seen.add(e.get("auditID"))
        out.append(e)
    return out


def report(argv: list[str], journal: Path | None) -> int:
    logs = {r: controlplane.audit_log(r) for r in env.REGIONS}
    start = {r: (p.stat().st_size if p.exists() else 0) for r, p in logs.items()}
    t0 = time.monotonic()
    rc = subprocess.call(argv)
    wall = time.monotonic() - t0
    print(f"\n== sandbox timing: exit {rc}, {wall:.1f} s wall", file=sys.stderr)
    total_execs = 0
    for r in env.REGIONS:
        reqs = _new_requests(r, start[r])
        execs = Counter()
        other = Counter()
        for e in reqs:
            uri = e.get("requestURI", "")
            if "/exec?" in uri:
                q = urllib.parse.parse_qs(uri.split("?", 1)[1])
                execs[_verb(q.get("command", []))] += 1
            else:
                other[e.get("verb", "?")] += 1
        n = sum(execs.values())
        total_execs += n
        verbs = ", ".join(f"{v} {c}" for v, c in execs.most_common())
        print(f"region-{r}: {n} kubectl exec ({verbs or 'none'}); other audited requests (secrets, attach, port-forward): "
              f"{', '.join(f'{v} {c}' for v, c in other.most_common()) or 'none'}", file=sys.stderr)
    print(f"kubectl exec in all: {total_execs}", file=sys.stderr)
    if journal is not None and journal.exists():
        steps = json.loads(journal.read_text()).get("steps", {})
        for step, s in steps.items():
            if s.get("duration_ms") is not None:
                print(f"  {step:<20} {s['duration_ms'] / 1000:7.1f} s  {s.get('state')}", file=sys.stderr)
    return rc
