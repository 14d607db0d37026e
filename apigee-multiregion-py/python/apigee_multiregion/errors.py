"""Exceptions raised by apigee_multiregion. None of them carries a password in its message."""
from __future__ import annotations

import json


class ApigeeMultiregionError(Exception):
    """Base class of every error this package raises."""


class OverridesError(ApigeeMultiregionError):
    """An overrides file is invalid or cannot be edited as asked (`line`, `column` when known)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class SeedSelectionError(ApigeeMultiregionError):
    """No pod can be a seed host (the message names every pod and why)."""


class NodetoolError(ApigeeMultiregionError):
    """nodetool output that is not what was expected (`line` points at it)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class ClusterError(ApigeeMultiregionError):
    """A Kubernetes cluster could not be used (kubeconfig, context, API, lock)."""


class PlanError(ApigeeMultiregionError):
    """A plan file is invalid."""


class PreflightRefused(ApigeeMultiregionError):
    """Preflight found errors; nothing was changed. `findings` lists them all."""

    def __init__(self, message: str, findings_json: str = "[]") -> None:
        super().__init__(message)
        from .types import Finding

        self.findings: list[Finding] = [Finding.from_dict(f) for f in json.loads(findings_json)]


class ExpansionFailed(ApigeeMultiregionError):
    """A step failed. `step` names it; `journal` is where the run stopped (run again to resume)."""

    def __init__(self, message: str, step: str | None = None, journal: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.journal = journal


class ExpansionInterrupted(ApigeeMultiregionError, KeyboardInterrupt):
    """The run was interrupted; the journal holds every finished action and the lock was released."""

    def __init__(self, message: str, step: str | None = None, journal: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.journal = journal


__all__ = [
    "ApigeeMultiregionError",
    "ExpansionInterrupted",
    "ClusterError",
    "ExpansionFailed",
    "NodetoolError",
    "OverridesError",
    "PlanError",
    "PreflightRefused",
    "SeedSelectionError",
]
