"""Expand Apigee hybrid to a new region from Python, with a progress callback.

    python3 examples/python/expand.py examples/sandbox-plan.yaml [--dry-run]

On the sandbox (KUBECONFIG=$(sandbox/sandbox kubeconfig)) this is the same expansion as
`apigee-multiregion expand`. Run it again after an interruption: it resumes from the journal.
"""
from __future__ import annotations

import sys
import time

from apigee_multiregion import Event, ExpansionFailed, ExpansionPlan, PreflightRefused, expand


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    plan = ExpansionPlan.from_file(argv[0])
    started = time.monotonic()
    progress: dict[str, tuple[int, int]] = {}

    def on_event(e: Event) -> None:
        t = time.monotonic() - started
        if e.kind == "rebuild-progress" and e.pod is not None:
            progress[e.pod] = (e.received or 0, e.total or 0)
        elif e.kind in ("step-started", "step-finished", "step-skipped", "step-failed"):
            print(f"[{t:6.1f}s] {e.kind:<14} {e.step}" + (f": {e.message}" if e.message else ""))
        elif e.kind == "rebuild-node":
            print(f"[{t:6.1f}s] rebuild        {e.pod}: {e.state} (attempt {e.attempt})")
        elif e.kind == "action":
            print(f"[{t:6.1f}s] would          {e.step}: {e.raw.get('description')}")

    try:
        report = expand(plan, on_event=on_event, dry_run="--dry-run" in argv)
    except PreflightRefused as refused:
        for f in refused.findings:
            print(f"{f.severity}[{f.code}] {f.message}", file=sys.stderr)
        return 3
    except ExpansionFailed as failed:
        print(f"step {failed.step} failed; run again to resume (journal {failed.journal}):\n{failed}", file=sys.stderr)
        return 1
    for step in report.steps:
        print(f"  {step['outcome']:<8} {step['id']:<18} {step['duration_ms'] / 1000:7.1f}s")
    if report.verify:
        for check in report.verify["checks"]:
            print(f"  {'ok' if check['passed'] else 'FAIL'}  {check['name']}: {check['detail']}")
    print(f"seed host {report.seed_host}; total {report.total_ms / 1000:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
