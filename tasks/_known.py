"""The known-forks file: the last known schedule and each pinned release's verdict, for a
host that cannot reach GitHub (`tasks/forks-known.json`; OPKIT_FORKS_KNOWN names another).

Written only when asked, by `inv source.forks --refresh` on a host that reaches GitHub,
atomically (a temporary file beside it, then a rename). A plain run never rewrites it:
the file is tracked, so an operator's checkout stays clean for `git pull`, and a host
that reached GitHub once answers later runs from its HTTP cache anyway. The file is for
the host that never did.

Shape (JSON): `written` (UTC date), `basis` (where the facts came from), `registry` (the
superchain-registry main commit read), `networks` ({network: {fork: Unix seconds}}) and
`releases` ({component: {version: {network: {"view": what the release carries (times its
code reads, times its data has under a key the code does not read, the code and data
sources), "verdicts": {fork: "ready", or status, reason and carried_by}}}}}). Offline,
the verdicts are judged again from the views against the file's schedule and today's
clock (the stored reasons keep the wording of the day they were written).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ._errors import KitError

PATH = Path(__file__).resolve().parent / "forks-known.json"
# The networks a refresh always writes: the Lagoon chains (optimism op-reth/v2.10.0 notes).
NETWORKS = ("op-sepolia", "ink-sepolia", "soneium-minato-sepolia", "unichain-sepolia",
            "op-mainnet", "ink-mainnet", "soneium-mainnet", "unichain-mainnet")


def path() -> Path:
    return Path(os.environ.get("OPKIT_FORKS_KNOWN") or PATH)


def load() -> dict | None:
    """The file's content; None when there is none. A file that is no such record: one
    line naming it."""
    where = path()
    try:
        data = json.loads(where.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise KitError(f"{where} is unreadable ({type(exc).__name__}): restore it from git "
                       "or run `inv source.forks --refresh` on a host that reaches GitHub") \
            from None
    if not isinstance(data, dict) or not isinstance(data.get("networks"), dict):
        raise KitError(f"{where} is no known-forks file (no networks): restore it from git")
    return data


def describe(known: dict) -> str:
    return f"{path().name}, written {known.get('written') or '?'}"


def record(known: dict | None, report: Any) -> dict:
    """KNOWN with REPORT's schedule, views and verdicts in it (a new record when None)."""
    known = dict(known or {})
    known.setdefault("networks", {})
    known.setdefault("releases", {})
    known["registry"] = report.registry
    known["networks"][report.network] = {row["fork"]: row["activation"] for row in report.rows
                                         if row["activation"] is not None}
    for name, view in report.views.items():
        if view.problem:  # nothing known: keep what the file had
            continue
        verdicts = {row["fork"]: "ready" if row[name].status == "ready" else
                    {key: getattr(row[name], key) for key in ("status", "reason", "carried_by")}
                    for row in report.rows if name in row}
        releases = known["releases"].setdefault(name, {}).setdefault(view.version, {})
        releases[report.network] = {"view": view.as_dict(), "verdicts": verdicts}
    return known


def write(known: dict, now: float) -> Path:
    """Write KNOWN, dated NOW (UTC), atomically; the path written."""
    where = path()
    known = {**known, "written": time.strftime("%Y-%m-%d", time.gmtime(now)),
             "basis": f"`inv source.forks --refresh` against {os.environ.get('GITHUB_API_URL') or 'https://api.github.com'}"}
    text = json.dumps(known, indent=1, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=where.parent, prefix=".forks-known-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, where)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise KitError(f"cannot write {where}: {exc.strerror or exc}") from None
    return where
