"""Fork readiness for the stack as compose resolves it: which components it runs, their
pins, the network, and the report (tasks/_readiness.py) from GitHub or, unreachable,
from the known-forks file (tasks/_known.py); the sentences `inv source.forks`, doctor's
forks check and the build's one-line warning say about it. Nothing here prints.

OPKIT_NOW (Unix seconds or an ISO date) fixes "now", for tests and for asking "what will
it say on that day".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from . import _chain_policy, _components, _config
from ._errors import KitError

DEFAULT_WITHIN = 30


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
    from . import _upstream

    return {entry.name: _upstream.upstream_repo(c, entry.name)
            for entry in _components.all_components()}


# ------------------------------------------------------------- components in use
@dataclass(frozen=True)
class Selection:
    """The readable components in use (judged) and the other execution clients."""

    client: str
    in_use: tuple[str, ...]
    others: tuple[str, ...]


def selection(config: dict, components=None) -> Selection:
    """Which components CONFIG puts in use (of COMPONENTS, default all), and the other
    execution clients; a client value no component answers to: one line."""
    from ._readiness import readable

    client = _config.client_of(config)
    used = {entry.name for entry in _components.in_use(client)}
    in_use = tuple(n for n in readable(components) if n in used)
    others = tuple(n for n in readable() if n in _components.clients_names() and n not in used)
    return Selection(client, in_use, others)


def other_pins(c, others):
    """A callable giving the pins of the execution clients not in use: compose resolved
    once more with each one selected (their pins live in their own compose files)."""
    from . import _compose

    def read() -> dict[str, str]:
        from invoke import Context

        pins: dict[str, str] = {}
        for name in others:
            env = {_components.CLIENT_SETTING: _components.get(name).client}
            pins.update(_compose.read_settings(c or Context(), env).args)
        return pins

    return read


def follow_source(config: dict) -> str:
    """OP_NODE_L2_FOLLOW_SOURCE as op-node's service gets it (empty: unset)."""
    service = _components.node().service
    return str(_config.service_environment(config, service).get(FOLLOW_SETTING) or "").strip()


def assess_or_known(network, pins, sel: Selection, c=None, compare_always=True,
                    components=None):
    """The report for NETWORK: from GitHub, else (unreachable, nothing cached) from the
    known-forks file, whose note the report carries (`offline`)."""
    from . import _readiness
    from ._github import Unreachable
    more = other_pins(c, sel.others)
    in_use = sel.in_use if components is None else components
    try:
        return _readiness.assess(network, pins, repos=repos(c), now=now(), components=in_use,
                      others=sel.others, more_pins=more, compare_always=compare_always)
    except Unreachable as exc:
        return _readiness.answer_known(network, pins, in_use, sel.others, now(), exc.reason, more)


# ------------------------------------------------------------------------ interop
# The interop dependency sets are in the chain policy (docker/lib/chain-policy).


FOLLOW_SETTING = "OP_NODE_L2_FOLLOW_SOURCE"


NOTICE = ("OP's interop notice (docs.optimism.io/notices/interop-prep) requires it; its "
          "stored copy predates the December date (it still says July 2026), so whether it "
          "is still required is unconfirmed")


def interop_note(report, follow: str) -> tuple[str, str] | None:
    """(status, sentence) on what the node verifies on an interop chain from Lagoon on:
    ok when it follows an op-supernode, warn when it derives alone; None elsewhere."""
    from ._readiness import utc

    peer = " and ".join(_chain_policy.interop_peers(report.network)) or None
    lagoon = next((r["activation"] for r in report.rows if r["fork"] == "lagoon"), None)
    if peer is None or lagoon is None:
        return None
    since = f"from Lagoon ({utc(lagoon)}) {report.network} and {peer} form an interop " \
            "dependency set"
    if follow:
        return "ok", (f"{since}; op-node follows the op-supernode at {follow} "
                      f"({FOLLOW_SETTING}) for the safe chain, and that supernode "
                      f"cross-validates the messages between the two chains")
    return "warn", (f"{since}; without {FOLLOW_SETTING} this op-node follows the unsafe "
                    "chain over P2P and derives the safe chain from L1 itself, but does not "
                    f"cross-validate interop dependencies (messages from {peer}): do not use "
                    "it as a verifier or RPC source for cross-chain messages. For that, set "
                    f"{FOLLOW_SETTING} to an op-supernode's /<chainID> endpoint ({NOTICE})")


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
                entry[name] = {**row[name].as_dict(), "in_use": name in report.judged}
        out.append(entry)
    return out


def comparison(report, name: str) -> str:
    """One line: what execution client NAME (not in use) would give on this network."""
    from ._readiness import CLIENT_SETTING, client_value, label

    view = report.views[name]
    who = f"{label(name)} {view.version} (not in use; {CLIENT_SETTING}={client_value(name)})"
    if view.problem:
        return f"instead: {who}: unknown: {view.problem}"
    lacking = [row["fork"] for row in report.rows
               if name in row and row[name].status == "not-ready"]
    unknown = [row["fork"] for row in report.rows
               if name in row and row[name].status == "unknown"]
    if lacking:
        return f"instead: {who} would not be ready either: lacks {', '.join(lacking)}"
    if unknown:
        return f"instead: {who}: unknown for {', '.join(unknown)}"
    return f"instead: {who} carries every fork {report.network} schedules"


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
        half = {"code": f"its code does not read {view_key(report, name, fork)}",
                "data": "its data does not schedule it",
                "both": "neither its code nor its data has it"}.get(verdict.missing or "")
        text = f"{who} lacks {fork}{f' ({half})' if half else ''}, which {report.network} " \
               f"activates at {utc(when)} ({relative(when, report.now)})"
    else:
        text = f"{who} carries {fork} at {utc(verdict.carries)}, but {report.network} " \
               f"activates it at {utc(when)} ({relative(when, report.now)})"
    if verdict.carried_by and fix:
        text += f"; {entry.label} {verdict.carried_by} carries it " \
                f"({_components.pin_command(entry, verdict.carried_by)})"
    elif verdict.switch and fix:
        text += f"; switch to {switch_text(report, row, verdict)}"
    return text


def view_key(report, name: str, fork: str) -> str:
    return report.views[name].keys.get(fork, f"{fork}'s key")


def switch_text(report, row: dict, verdict) -> str:
    """`op-reth v2.10.0, which carries it: put EXECUTION_CLIENT=op-reth in .env ...`."""
    from ._readiness import label, switch_command

    theirs = row[verdict.switch]
    version = theirs.carried_by or theirs.version
    return (f"{label(verdict.switch)} {version}, which carries it: "
            f"{switch_command(verdict.switch, theirs.carried_by)}")


def fix_for(report, row: dict, name: str) -> str:
    """The fix for one not-ready verdict: the pin, the switch, or watching upstream."""
    verdict = row[name]
    if verdict.carried_by:
        return f"{_components.pin_command(_components.get(name), verdict.carried_by)}, " \
               "then inv build"
    if verdict.switch:
        return f"switch to {switch_text(report, row, verdict)}"
    return "no release carries it yet: watch upstream and `inv source.forks` daily"


def blocking_message(report, within: float) -> str | None:
    blocking = report.blocking(within)
    if not blocking:
        return None
    row, name, _ = blocking[0]
    more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
    return f"not ready: {headline(report, row, name)}{more}"


# ------------------------------------------------------------- doctor and build
def build_warning(components, overrides: dict[str, str] | None = None, c=None,
                  settings: _config.Settings | None = None,
                  config: dict | None = None) -> str | None:
    """One line when a version about to be built lacks a fork the network schedules, or
    when whether it follows them cannot be told; None (and no request at all) when no
    network is set. SETTINGS: what compose resolves (asked when not given), with
    OVERRIDES (what the build hands compose) in force; CONFIG, the resolved config, says
    which execution client is in use. Offline, the known-forks file answers."""
    from invoke import Context

    from . import _compose

    if settings is None:
        config = config or _compose.compose_config(c or Context(), overrides)
        settings = _config.settings(config)
    settings = settings.overridden(overrides)
    network = settings.network
    if not network:
        return None
    try:
        config = config or _compose.compose_config(c or Context(), overrides)
        sel = selection(config)
        report = assess_or_known(network, settings.args, sel, c, compare_always=False,
                                 components=components)
    except KitError as exc:
        return f"note: fork check for {network} skipped: {exc.reason}"
    judged = report.judged
    lacking = [(row, name) for row in report.rows for name in judged
               if name in row and row[name].status == "not-ready"]
    offline = f" ({report.offline.rsplit('answering from ', 1)[-1]})" if report.offline else ""
    if not lacking:
        unknown = [name for name in judged
                   if name in report.views and report.views[name].problem]
        if unknown:
            view = report.views[unknown[0]]
            return (f"note: whether {_components.get(view.component).label} {view.version} "
                    f"follows {network}'s forks is unknown: {view.problem} "
                    f"(inv source.forks){offline}")
        return None
    lacking.sort(key=lambda item: item[0][item[1]].diverges_at or 0)
    more = f" (+{len(lacking) - 1} more: inv source.forks)" if len(lacking) > 1 else ""
    return f"warning: {headline(report, *lacking[0])}{more}{offline}"
