"""`inv source.forks`: will the pinned clients follow the chain through its next hard forks?

Settings are what compose resolves (`docker compose config`, tasks/_compose.py's
`read_settings`): the network compose.yml hands the services (NETWORK) and the pins
(OP_NODE_VERSION, OP_NODE_COMMIT, NETHERMIND_VERSION), each from the shell environment,
else a .env file compose reads, else compose.yml's `${VAR:-default}`. OPKIT_NOW (Unix
seconds or an ISO date) fixes "now", for tests and for asking "what will it say on that
day".

The same assessment backs doctor's forks check and the one-line warning builds print.
"""

from __future__ import annotations

import json as jsonlib
import os
import time

from invoke import task

from . import _components, _compose
from ._errors import KitError

DEFAULT_WITHIN = 30
LABEL = {"ready": "ready", "not-ready": "NOT READY", "unknown": "unknown"}


# ------------------------------------------------------------------------ settings
def pin_names() -> list[str]:
    """The pins readiness reads: each component's version and commit pin (the table's)."""
    return [var for entry in _components.all_components()
            for var in (entry.version_var, entry.commit_var) if var]


def now() -> float:
    """OPKIT_NOW (Unix seconds, or an ISO 8601 date/time taken as UTC), else the clock."""
    text = os.environ.get("OPKIT_NOW", "").strip()
    if not text:
        return time.time()
    if text.lstrip("-").isdigit():
        return float(text)
    from datetime import datetime, timezone

    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise KitError(f"OPKIT_NOW={text!r} is neither Unix seconds nor an ISO date") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def parse_within(text) -> float:
    if text is None or str(text).strip() == "":
        return float(DEFAULT_WITHIN)
    try:
        days = float(str(text).strip())
    except ValueError:
        days = -1.0
    if not days >= 0 or days == float("inf"):
        raise KitError(f"malformed --within {text!r}: give a number of days, e.g. 30")
    return days


def repos(c=None) -> dict[str, str]:
    """{component: owner/name}: `source.<name>_repo` in C's config, else the table's."""
    from .source import upstream_repo

    return {entry.name: upstream_repo(c, entry.name) for entry in _components.all_components()}


# ------------------------------------------------------------------------- output
def rows_json(report) -> list[dict]:
    from ._readiness import utc

    out = []
    for row in report.rows:
        when = row["activation"]
        entry = {"fork": row["fork"], "activation": when,
                 "activation_utc": utc(when) if when is not None else None}
        for name in report.views:
            if name in row:
                entry[name] = row[name].as_dict()
        out.append(entry)
    return out


def print_report(report) -> None:
    from ._readiness import label, relative

    print(f"{report.network}: schedule from superchain-registry main @ {report.registry[:12]}, "
          f"now {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(report.now))}")
    for name, view in report.views.items():
        print(f"  {label(name)} {view.version}: {view.problem or view.source or 'no schedule'}")
    names = list(report.views)
    header = f"{'fork':<22}{'activation (UTC)':<22}{'when':<27}" + "".join(
        f"{n:<11}" for n in names)
    print("\n" + header.rstrip())
    for row in report.rows:
        when = row["activation"]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when)) if when is not None \
            else "-"
        cells = "".join(f"{LABEL[row[n].status] if n in row else '-':<11}" for n in names)
        print(f"{row['fork']:<22}{stamp:<22}{relative(when, report.now):<27}{cells}".rstrip())
    notes = [(row, n) for row in report.rows for n in names
             if n in row and row[n].status != "ready"]
    if notes:
        print()
    for row, name in notes:
        verdict = row[name]
        print(f"{LABEL[verdict.status]}: {name} for {row['fork']}: {verdict.reason}")


def headline(report, row: dict, name: str, fix: bool = True) -> str:
    """One line on one not-ready verdict: what is wrong, when it bites, what carries it."""
    from ._readiness import relative, utc

    entry = _components.get(name)
    verdict, fork, when = row[name], row["fork"], row["activation"]
    who = f"{entry.label} {verdict.version}"
    if report.views[name].times is None:
        text = f"{who} ships no config for {report.network}: it cannot follow it at all"
    elif when is None:
        text = f"{who} carries {fork} at {utc(verdict.carries)}, which the registry does not " \
               f"schedule for {report.network}"
    elif verdict.carries is None:
        text = f"{who} lacks {fork}, which {report.network} activates at {utc(when)} " \
               f"({relative(when, report.now)})"
    else:
        text = f"{who} carries {fork} at {utc(verdict.carries)}, but {report.network} " \
               f"activates it at {utc(when)} ({relative(when, report.now)})"
    if verdict.carried_by and fix:
        text += f"; {entry.label} {verdict.carried_by} carries it " \
                f"({_components.pin_command(entry, verdict.carried_by)})"
    return text


def blocking_message(report, within: float) -> str | None:
    blocking = report.blocking(within)
    if not blocking:
        return None
    row, name, _ = blocking[0]
    more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
    return f"not ready: {headline(report, row, name)}{more}"


# -------------------------------------------------------------------------- task
@task(help={
    "network": "the chain to check, as op-node names it (e.g. op-sepolia); default: NETWORK "
               "as compose resolves it (the shell, else .env)",
    "within": f"exit 1 when a client is not ready for a fork active now or within this many "
              f"days (default {DEFAULT_WITHIN})",
    "json": "print a JSON list, one object per fork: fork, activation (Unix seconds) and "
            "per component (op-node, execution) status, reason and details",
})
def forks(c, network=None, within=None, json=False):
    """Fork readiness: the network's hard forks and whether the pinned clients carry them."""
    from ._readiness import assess

    days = parse_within(within)
    resolved = _compose.read_settings(c)
    network = (network or resolved.network or "").strip()
    if not network:
        raise KitError("no network: pass --network (e.g. op-sepolia) or set NETWORK in the "
                       "environment or in the .env file beside compose.yml")
    report = assess(network, resolved.args, repos=repos(c), now=now())
    if json:
        print(jsonlib.dumps(rows_json(report), indent=2))
    else:
        print_report(report)
    message = blocking_message(report, days)
    if message:
        raise KitError(message)


# ------------------------------------------------------------- doctor and build
def build_warning(components, overrides: dict[str, str] | None = None, c=None,
                  settings: _compose.Settings | None = None) -> str | None:
    """One line when a version about to be built lacks a fork the network schedules, or
    when whether it follows them cannot be told; None (and no request at all) when no
    network is set. SETTINGS: what compose resolves (asked when not given), with
    OVERRIDES (what the build hands compose) in force."""
    from invoke import Context

    from ._readiness import assess

    settings = (settings or _compose.read_settings(c or Context())).overridden(overrides)
    network = settings.network
    if not network:
        return None
    try:
        report = assess(network, settings.args, repos=repos(c), now=now(),
                        components=components)
    except KitError as exc:
        return f"note: fork check for {network} skipped: {exc.reason}"
    lacking = [(row, name) for row in report.rows for name in components
               if name in row and row[name].status == "not-ready"]
    if not lacking:
        unknown = [name for name in components
                   if name in report.views and report.views[name].problem]
        if unknown:
            view = report.views[unknown[0]]
            return (f"note: whether {_components.get(view.component).label} {view.version} "
                    f"follows {network}'s forks is unknown: {view.problem} "
                    "(inv source.forks)")
        return None
    lacking.sort(key=lambda item: item[0][item[1]].diverges_at or 0)
    more = f" (+{len(lacking) - 1} more: inv source.forks)" if len(lacking) > 1 else ""
    return f"warning: {headline(report, *lacking[0])}{more}"
