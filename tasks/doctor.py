"""The troubleshooting checklist, automated: `inv doctor` runs doctor's checks
(tasks/_doctor.py) and prints one line each, with the fix for a warn or a fail. Nothing
here raises past `doctor`: a crashing check is reported as a failure, so the command
never ends in a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import task
from invoke.exceptions import Exit

if TYPE_CHECKING:  # the hint only: the checks are imported when doctor runs
    from ._check import Check


def print_checks(checks: list[Check]) -> None:
    width = max(len(ch.name) for ch in checks)
    for ch in checks:
        print(f"{ch.status:<5} {ch.name:<{width}}  {ch.detail}")
        if ch.fix and ch.status in ("warn", "fail"):
            print(f"{'':<5} {'':<{width}}  fix: {ch.fix}")


@task
def doctor(c):
    """Check engine, compose, BuildKit, the execution client in use, pins and built images
    (and, while the stack runs, its live wiring); exit 1 on any failure."""
    from . import _doctor

    checks = _doctor.run_checks(c)
    print_checks(checks)
    failed = [ch.name for ch in checks if ch.status == "fail"]
    if failed:
        raise Exit(f"error: {len(failed)} check(s) failed: {', '.join(failed)}", code=1)
