"""`inv source.forks`: will the pinned clients follow the chain through its next hard forks?

Settings are what compose resolves (`docker compose config`, tasks/_compose.py's
`read_settings`): the network compose.yml hands the services (NETWORK), the pins (each
component's version and commit pin, from the component table) and the execution client
in use (EXECUTION_CLIENT, as the execution service's environment carries it), each from
the shell environment, else a .env file compose reads, else compose's `${VAR:-default}`.
OPKIT_NOW (Unix seconds or an ISO date) fixes "now", for tests and for asking "what will
it say on that day".

The components in use (op-node and the selected execution client) are judged; the other
execution client is read too, so the report says in one line what switching would give.
A host that cannot reach GitHub answers from the known-forks file (tasks/_known.py). On
the interop chains the report also says what the node verifies without an op-supernode.

The same assessment backs doctor's forks check and the one-line warning builds print.
"""

from __future__ import annotations

import json as jsonlib
import sys
import time

from invoke import task

from . import _forks, _known
from ._errors import KitError

LABEL = {"ready": "ready", "not-ready": "NOT READY", "unknown": "unknown"}


def print_report(report) -> None:
    from ._readiness import label, relative

    where = report.offline.rsplit("answering from ", 1)[-1] if report.offline else \
        "superchain-registry main"
    print(f"{report.network}: schedule from {where} @ {report.registry[:12]}, "
          f"now {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(report.now))}")
    names = report.judged
    for name in names:
        view = report.views[name]
        code = f"; code: {view.code_source}" if view.code_source and not view.problem else ""
        print(f"  {label(name)} {view.version}: "
              f"{view.problem or view.source or 'no schedule'}{code}")
    header = f"{'fork':<22}{'activation (UTC)':<22}{'when':<27}" + "".join(
        f"{n:<11}" for n in names)
    print("\n" + header.rstrip())
    for row in report.rows:
        if not any(n in row for n in names):
            continue
        when = row["activation"]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when)) if when is not None \
            else "-"
        cells = "".join(f"{LABEL[row[n].status] if n in row else '-':<11}" for n in names)
        print(f"{row['fork']:<22}{stamp:<22}{relative(when, report.now):<27}{cells}".rstrip())
    notes = [(row, n) for row in report.rows for n in names
             if n in row and row[n].status != "ready"]
    if notes or report.compared:
        print()
    for row, name in notes:
        verdict = row[name]
        print(f"{LABEL[verdict.status]}: {name} for {row['fork']}: {verdict.reason}")
    for name in report.compared:
        print(_forks.comparison(report, name))


# -------------------------------------------------------------------------- task
@task(help={
    "network": "the chain to check, as op-node names it (e.g. op-sepolia); default: NETWORK "
               "as compose resolves it (the shell, else .env)",
    "within": f"exit 1 when a client in use is not ready for a fork active now or within "
              f"this many days (default {_forks.DEFAULT_WITHIN})",
    "json": "print a JSON list, one object per fork: fork, activation (Unix seconds) and "
            "per component (op-node, execution, op-reth) status, reason, in_use and details",
    "refresh": "also rewrite the known-forks file (tasks/forks-known.json), which hosts "
               "that cannot reach GitHub answer from: the schedule of the Lagoon networks "
               "and this one, and the verdicts of the pinned releases; needs GitHub",
})
def forks(c, network=None, within=None, json=False, refresh=False):
    """Fork readiness: the network's hard forks and whether the clients in use carry them."""
    from . import _compose, _config

    days = _forks.parse_within(within)
    config = _compose.compose_config(c)
    resolved = _config.settings(config)
    network = (network or resolved.network or "").strip()
    if not network:
        raise KitError("no network: pass --network (e.g. op-sepolia) or set NETWORK in the "
                       "environment or in the .env file beside compose.yml")
    sel = _forks.selection(config)
    report = _forks.assess_or_known(network, resolved.args, sel, c)
    if refresh:
        refresh_known(c, report, resolved.args, sel)
    if report.offline:
        print(f"note: {report.offline}", file=sys.stderr)
    if json:
        print(jsonlib.dumps(_forks.rows_json(report), indent=2))
    else:
        print_report(report)
        note = _forks.interop_note(report, _forks.follow_source(config))
        if note:
            print(f"\ninterop: {note[1]}")
    message = _forks.blocking_message(report, days)
    if message:
        raise KitError(message)


def refresh_known(c, report, pins: dict[str, str], sel: _forks.Selection) -> None:
    """Rewrite the known-forks file from GitHub: REPORT's network and the Lagoon networks
    (a network the registry or this stack cannot follow is left out, with a note)."""
    from ._readiness import assess

    if report.offline:  # what the file says is no refresh of it
        why = report.offline.split("; answering from ")[0]
        raise KitError(f"cannot refresh {_known.path().name}: {why}")
    known = _known.load()
    pins = {**_forks.other_pins(c, sel.others)(), **pins}
    names = (*sel.in_use, *sel.others)
    known = _known.record(known, report)
    for network in _known.NETWORKS:
        if network == report.network:
            continue
        try:
            more = assess(network, pins, repos=_forks.repos(c), now=report.now, components=names)
        except KitError as exc:
            print(f"note: {network} left out of {_known.path().name}: {exc.reason}",
                  file=sys.stderr)
            continue
        known = _known.record(known, more)
    where = _known.write(known, report.now)
    print(f"wrote {where} ({len(known['networks'])} networks)", file=sys.stderr)


