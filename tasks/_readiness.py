"""Fork readiness, the logic: the registry's schedule for a network against what each
pinned client release carries, fork by fork.

A release carries a fork when its data schedules it (the registry revision op-node and
op-reth build from, the chain spec Nethermind ships) under a key its code reads (see
tasks/_embedded.py); a time under a key the code does not read activates nothing.

`assess(network, pins)` returns a `Report`: one row per fork (the registry's schedule, and
forks a client carries that the registry does not schedule), each with a verdict per
component: `ready` (carries the fork at the same time), `not-ready` (lacks it, saying
whether the code, the data or both lack it, or carries another time; `diverges_at` is
when the client leaves the chain) or `unknown` (with the reason). The components in use
are judged; other execution clients are assessed for comparison, and an execution client
in use that lacks a fork is pointed at one that carries it (the switch). Requests stay
bounded: the registry head, chainList.json and the chain's file; per component one tag
listing, the pinned release's schedule and code file, and the newest stable release's
only when the pinned one is not ready. Commit-addressed reads are cached for good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import _chains, _components, _embedded, _known, _registry, _upstream, _versions
from ._errors import KitError

DAY = 86400


def label(component: str) -> str:
    """How people call a component (`Nethermind`), from the component table."""
    return _components.get(component).label


def utc(when: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))


def relative(when: int | None, now: float) -> str:
    """"in 10 days", "in 5 hours", "active since 2026-07-08", "active since genesis"."""
    if when is None:
        return "not scheduled"
    if when == 0:
        return "active since genesis"
    ahead = when - now
    if ahead <= 0:
        return f"active since {time.strftime('%Y-%m-%d', time.gmtime(when))}"
    for unit, seconds in (("day", DAY), ("hour", 3600), ("minute", 60)):
        if ahead >= 2 * seconds or unit == "minute":
            count = max(1, int(ahead // seconds))
            return f"in {count} {unit}{'s' if count != 1 else ''}"
    return "soon"  # unreachable


@dataclass
class View:
    """What one client release carries for the network: what its data schedules (TIMES,
    each fork under its data key in KEYS) that its code reads (CODE: {fork: keys}, None
    when not read); forks its data schedules under a key the code does not read are in
    UNREAD instead of TIMES: they activate nothing."""

    component: str
    version: str
    times: dict[str, int] | None = None  # None: the release ships nothing for the network
    source: str = ""
    problem: str | None = None  # set: the schedule could not be told (status unknown)
    keys: dict[str, str] = field(default_factory=dict)
    code: dict[str, set[str]] | None = None
    code_source: str = ""
    unread: dict[str, int] = field(default_factory=dict)

    def take(self, carried: _embedded.Carried) -> None:
        """Fill in what a reader found, keeping only the times the code reads."""
        self.times, self.keys, self.source = carried.times, carried.keys, carried.source
        self.code, self.code_source = carried.code, carried.code_source
        if self.times is None or self.code is None:
            return
        for fork, key in self.keys.items():
            if fork in self.times and key not in self.code.get(fork, set()):
                self.unread[fork] = self.times.pop(fork)

    def missing(self, fork: str) -> tuple[str, str]:
        """(which half lacks FORK: code, data or both; the sentence saying so)."""
        where = f"({self.code_source})" if self.code_source else ""
        if fork in self.unread:
            return "code", (f"its data ({self.source}) schedules it at {utc(self.unread[fork])}, "
                            f"but its code {where} does not read {self.keys[fork]}")
        if self.code is None:
            note = f"; code not read: {self.code_source}" if self.code_source else ""
            return "data", f"its data ({self.source}) does not schedule it{note}"
        if self.code.get(fork):
            return "data", (f"its data ({self.source}) does not schedule it (its code {where} "
                            f"reads {', '.join(sorted(self.code[fork]))})")
        return "both", (f"neither its data ({self.source}) schedules it nor its code {where} "
                        "reads a key for it")

    def as_dict(self) -> dict:
        """What the known-forks file keeps of a view (sets as sorted lists)."""
        out = dict(self.__dict__)
        if self.code is not None:
            out["code"] = {fork: sorted(keys) for fork, keys in self.code.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> View:
        view = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        if view.code is not None:
            view.code = {fork: set(keys) for fork, keys in view.code.items()}
        return view


@dataclass
class Verdict:
    status: str  # ready | not-ready | unknown
    reason: str
    version: str
    carries: int | None = None
    diverges_at: int | None = None
    carried_by: str | None = None
    missing: str | None = None  # not-ready for lack of it: code, data or both
    switch: str | None = None  # another execution client that carries it (its component)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Report:
    network: str
    registry: str
    now: float
    views: dict[str, View]
    rows: list[dict] = field(default_factory=list)
    in_use: tuple[str, ...] = ()  # judged; the other views are for comparison
    offline: str | None = None  # set: answered from the known-forks file, which says so

    @property
    def judged(self) -> tuple[str, ...]:
        return self.in_use or tuple(self.views)

    @property
    def compared(self) -> tuple[str, ...]:
        return tuple(name for name in self.views if name not in self.judged)

    def blocking(self, within_days: float) -> list[tuple[dict, str, Verdict]]:
        """(row, component, verdict) not ready before now + within_days, soonest first,
        for the components in use."""
        limit = self.now + within_days * DAY
        found = [(row, name, row[name]) for row in self.rows for name in self.judged
                 if name in row and row[name].status == "not-ready"
                 and (row[name].diverges_at or 0) <= limit]
        return sorted(found, key=lambda item: item[2].diverges_at or 0)


def judge(fork: str, scheduled: int | None, view: View, network: str,
          now: float) -> Verdict | None:
    """The verdict on one fork for one client release; None for a fork the client has
    from genesis that the registry does not list (e.g. Regolith: part of the base rules)."""
    name = f"{label(view.component)} {view.version}"
    if view.problem:
        return Verdict("unknown", view.problem, view.version)
    if view.times is None:
        return Verdict("not-ready", f"{name} ships no config for {network} "
                       f"({view.source}): it cannot follow it at all", view.version,
                       diverges_at=0)
    carried = view.times.get(fork)
    if scheduled is None and not carried and fork not in view.unread:
        return None
    if view.component in execution_clients() and carried is None \
            and fork in _embedded.CONSENSUS_ONLY:
        return Verdict("ready", _embedded.CONSENSUS_ONLY[fork], view.version)
    if scheduled is None and carried is None:  # the data has it, the code reads it not
        return None
    if scheduled is None:
        return Verdict("not-ready", f"{name} carries {fork} at {utc(carried)} "
                       f"({relative(carried, now)}), which the registry does not schedule",
                       view.version, carried, carried)
    if carried == scheduled:
        return Verdict("ready", f"{name} carries {fork} at the same time ({view.source})",
                       view.version, carried)
    if carried is None:
        half, why = view.missing(fork)
        return Verdict("not-ready", f"{name} lacks {fork}: {why}; it diverges at "
                       f"{utc(scheduled)} ({relative(scheduled, now)})", view.version, None,
                       scheduled, missing=half)
    first = min(carried, scheduled)
    return Verdict("not-ready", f"{name} carries {fork} at {utc(carried)}, the registry "
                   f"schedules {utc(scheduled)}; it diverges at {utc(first)} "
                   f"({relative(first, now)})", view.version, carried, first)


class Assessor:
    """One run's reads, shared by the components (one GitHub client, one registry)."""

    def __init__(self, github, repos: dict[str, str]) -> None:
        self.github, self.repos = github, repos
        self.registry = _registry.Registry(github)
        self._views: dict[tuple[str, str], View] = {}

    def releases(self, component: str):
        return _upstream.list_releases(component, self.github, self.repos[component])

    def view(self, component: str, release, refs, chain) -> View:
        key = (component, release.tag)
        if key not in self._views:
            self._views[key] = self._read(component, release, refs, chain)
        return self._views[key]

    def _read(self, component: str, release, refs, chain) -> View:
        view = View(component, release.version)
        repo = self.repos[component]
        try:
            commit = self.github.commit_of(repo, refs[release.tag])
            READERS[_components.get(component).fork_reader or ""](
                self, view, repo, release, commit, chain)
        except _embedded.Unknowable as exc:
            view.problem = exc.reason
        return view


def _read_op_node(assessor: Assessor, view: View, repo, release, commit, chain) -> None:
    """op-node follows the superchain-registry revision its release embeds, through the
    keys op-core's HardforkConfig maps (op-core/superchain/types.go, from v1.18.0)."""
    sha, how = _embedded.op_node_registry_commit(assessor.github, repo, release, commit,
                                                 assessor.registry.repo)
    carried = _registry_carried(assessor, sha, how, chain)
    carried.code, carried.code_source = _embedded.code_keys(
        assessor.github, repo, _embedded.OP_NODE_FORK_CODE, commit, release.tag,
        _embedded.go_toml_fork_keys, absent=f"no {_embedded.OP_NODE_FORK_CODE} at "
        f"{release.tag} (its keys were mapped in op-geth or the registry module then)")
    view.take(carried)


def _read_op_reth(assessor: Assessor, view: View, repo, release, commit, chain) -> None:
    """op-reth builds its chain configs from the registry gitlink at its tag
    (rust/op-reth/crates/chainspec/build.rs) and reads the fields of chain_metadata.rs."""
    sha, how = _embedded.op_reth_registry_commit(assessor.github, repo, release, commit)
    carried = _registry_carried(assessor, sha, how, chain)
    carried.code, carried.code_source = _embedded.code_keys(
        assessor.github, repo, _embedded.OP_RETH_FORK_CODE, commit, release.tag,
        _embedded.rust_fork_keys)
    view.take(carried)


def _registry_carried(assessor: Assessor, sha: str, how: str, chain) -> _embedded.Carried:
    found = assessor.registry.schedule_keys_at(sha, chain)
    if found is None:
        return _embedded.Carried(None, source=f"the registry @ {sha[:12]} it embeds has no "
                                 f"{chain.path}")
    return _embedded.Carried(found[0], found[1], f"registry @ {sha[:12]}, from {how}")


def _read_nethermind(assessor: Assessor, view: View, repo, release, commit, chain) -> None:
    """Nethermind follows the chain spec its release ships for the network, through the
    properties of its Optimism spec provider."""
    carried = _embedded.nethermind_carried(assessor.github, repo, release.version, commit,
                                           chain.network)
    carried.source = f"{carried.source} at {release.version}"
    if carried.times is not None:
        carried.code, carried.code_source = _embedded.code_keys(
            assessor.github, repo, _embedded.NM_FORK_CODE, commit, release.tag,
            _embedded.cs_fork_keys, absent=f"no {_embedded.NM_FORK_CODE} at "
            f"{release.version}")
    view.take(carried)


# How a release's fork schedule is read, by the component table's `fork_reader`; a
# component without one is not assessed.
READERS = {"op-node": _read_op_node, "nethermind": _read_nethermind, "op-reth": _read_op_reth}
CLIENT_SETTING = _components.CLIENT_SETTING


def execution_clients() -> set[str]:
    """The execution clients of the table (a fork with nothing for the execution layer to
    carry is ready for them, and one can stand in for another)."""
    return set(_components.clients_names())


def readable(components=None) -> tuple[str, ...]:
    """The components (all in the table, or those given) whose schedule can be read."""
    names = [e.name for e in _components.all_components()] if components is None \
        else list(components)
    return tuple(name for name in names if name in _components.COMPONENTS
                 and _components.COMPONENTS[name].fork_reader in READERS)


def client_value(component: str) -> str | None:
    """The EXECUTION_CLIENT value that selects COMPONENT (the table's `client`; None:
    always in use)."""
    return _components.get(component).client


def switch_command(component: str, version: str | None = None) -> str:
    """How to switch the stack to execution client COMPONENT (pinning VERSION first)."""
    entry = _components.get(component)
    pin = f"`{_components.pin_command(entry, version)}`, " if version else ""
    return (f"put {CLIENT_SETTING}={client_value(component) or entry.name} in .env (or "
            f"Portainer's env editor), {pin}then run `inv build`")


def check_supported(network: str, op_node_version: str | None) -> None:
    """One-line errors for networks this stack cannot follow (Base, dropped chains)."""
    if _chains.is_base_network(network):
        raise KitError(f"{network}: Base runs its own clients since its Azul upgrade (Sepolia "
                       "2026-04-20, mainnet 2026-05-28); op-node and Nethermind no longer "
                       "follow it, so there is no fork readiness to check here")
    since = _chains.dropped_network(network, op_node_version)
    if since:
        raise KitError(f"{network}: op-node {since} and newer (pinned: {op_node_version or '?'}) "
                       "no longer embed this chain's config; it needs an explicit rollup config "
                       "(OP_NODE_ROLLUP_CONFIG), so op-node's fork schedule comes from that file")


def assess(network: str, pins: dict[str, str], github=None, repos: dict | None = None,
           now: float | None = None, components=None, others=(),
           more_pins=None, compare_always: bool = True) -> Report:
    """The fork readiness report for NETWORK with the pinned versions in PINS, for
    COMPONENTS (default: every component of the table that has a reader), plus OTHERS
    (execution clients not in use), assessed for comparison only: always, or with
    COMPARE_ALWAYS false only when an execution client in use lacks a fork no newer
    release of it carries. MORE_PINS (a callable) gives the others' pins when needed."""
    from ._github import GitHub

    check_supported(network, pins.get(_components.node().version_var))
    github = github or GitHub()
    upstream = {entry.name: entry.upstream for entry in _components.all_components()}
    assessor = Assessor(github, {**upstream, **(repos or {})})
    chain = assessor.registry.locate(network)
    scheduled = assessor.registry.schedule_at(assessor.registry.head(), chain) or {}
    now = time.time() if now is None else now
    in_use = readable(components)
    report = Report(network, assessor.registry.head(), now, {}, in_use=in_use)
    verdicts: dict[str, dict[str, Verdict]] = {}
    for component in in_use:
        _assess_one(assessor, report, verdicts, component, pins, chain, scheduled)
    others = [name for name in readable(others) if name not in in_use]
    if others and (compare_always or _needs_switch(verdicts)):
        pins = {**(more_pins() if more_pins else {}), **pins}
        for component in others:
            _assess_one(assessor, report, verdicts, component, pins, chain, scheduled)
    return build_rows(report, scheduled, verdicts)


def _assess_one(assessor, report, verdicts, component, pins, chain, scheduled) -> None:
    available, refs = assessor.releases(component)
    entry = _components.get(component)
    pinned = (pins.get(entry.version_var) or "").strip()
    release = _versions.pinned(component, available, pinned)
    if not pinned:
        view = View(component, "?", problem=f"no {label(component)} pin: "
                    f"{entry.version_var} is unset (compose.yml has no default for it)")
    elif release is None:
        view = View(component, pinned, problem=f"pinned {label(component)} "
                    f"{pinned} is not an upstream release")
    else:
        view = assessor.view(component, release, refs, chain)
        view = _check_commit_pin(assessor, component, release, refs, view, pins)
    report.views[component] = view
    verdicts[component] = judge_all(view, scheduled, report.network, report.now)
    if any(v.status == "not-ready" for v in verdicts[component].values()):
        _name_carriers(assessor, component, available, refs, chain, scheduled,
                       verdicts[component], view)


def judge_all(view: View, scheduled: dict[str, int], network: str,
              now: float) -> dict[str, Verdict]:
    judged = {f: judge(f, scheduled.get(f), view, network, now)
              for f in set(scheduled) | set(view.times or {}) | set(view.unread)}
    return {f: v for f, v in judged.items() if v is not None}


def _needs_switch(verdicts: dict[str, dict[str, Verdict]]) -> bool:
    return any(v.status == "not-ready" and not v.carried_by
               for name in execution_clients() & set(verdicts) for v in verdicts[name].values())


def build_rows(report: Report, scheduled: dict[str, int],
               verdicts: dict[str, dict[str, Verdict]]) -> Report:
    """REPORT's rows, one per fork (scheduled first, by time), and the switch each
    execution client in use could make for a fork it lacks."""
    every = set(scheduled).union(*(set(v) for v in verdicts.values()))
    for fork in sorted(every, key=lambda f: (scheduled.get(f) is None, scheduled.get(f, 0), f)):
        row = {"fork": fork, "activation": scheduled.get(fork)}
        row.update({name: verdicts[name][fork] for name in verdicts if fork in verdicts[name]})
        report.rows.append(row)
    _name_switches(report)
    return report


def _name_switches(report: Report) -> None:
    """Point a not-ready execution client in use, for a fork no newer release of it
    carries, at another execution client that carries it (at its pin, or newest)."""
    for row in report.rows:
        for name in execution_clients() & set(report.judged):
            verdict = row.get(name)
            if verdict is None or verdict.status != "not-ready" or verdict.carried_by:
                continue
            for other in (o for o in report.compared if o in execution_clients()):
                theirs = row.get(other)
                if theirs is None or not (theirs.status == "ready" or theirs.carried_by):
                    continue
                version = theirs.carried_by or theirs.version
                verdict.switch = other
                verdict.reason += (f"; {label(other)} {version} carries it: "
                                   f"{switch_command(other, theirs.carried_by)}")
                break


def _check_commit_pin(assessor, component, release, refs, view: View, pins) -> View:
    """A commit pin (the table's `commit_var`) must still be the tag's commit, or the build refuses
    it: unknown."""
    commit_var = _components.get(component).commit_var
    pinned = pins.get(commit_var) if commit_var else None
    if not pinned or view.problem:
        return view
    actual = assessor.github.commit_of(assessor.repos[component], refs[release.tag])
    if _versions.commit_matches(pinned, actual):
        return view
    return View(component, view.version, problem=f"tag moved: {release.tag} is now "
                f"{actual[:12]}, but {commit_var} pins {pinned[:12]} (the build refuses it)")


def _name_carriers(assessor, component, available, refs, chain, scheduled, verdicts, view):
    """Point each not-ready verdict at the newest stable release, if that one carries it."""
    stable = [r for r in available if not r.prerelease]
    if not stable:
        return
    newest = assessor.view(component, stable[0], refs, chain)
    entry = _components.get(component)
    for fork, verdict in verdicts.items():
        if verdict.status != "not-ready":
            continue
        if newest.version == view.version:
            verdict.reason += f"; no newer {entry.label} release"
        elif newest.problem:
            verdict.reason += (f"; whether {entry.label} {newest.version} (newest) carries "
                               f"it is unknown: {newest.problem}")
        elif newest.times is not None and fork in scheduled \
                and newest.times.get(fork) == scheduled[fork]:
            verdict.carried_by = newest.version
            verdict.reason += (f"; {entry.label} {newest.version} (newest) carries it: "
                               f"{_components.pin_command(entry, newest.version)}")
        else:
            verdict.reason += (f"; the newest release, {entry.label} {newest.version}, "
                               f"does not carry it either")


def answer_known(network: str, pins: dict[str, str], in_use, others, now: float, why: str,
           more_pins=None):
    """The report for NETWORK from the file (GitHub unreachable: WHY), or one line
    saying the file cannot answer."""
    known = _known.load()
    if known is None:
        raise KitError(f"{why}; and there is no {_known.path()} to answer from")
    schedule = known["networks"].get(network)
    if not isinstance(schedule, dict):
        raise KitError(f"{why}; and {_known.describe(known)} has no schedule for {network} "
                       f"(it has {', '.join(sorted(known['networks'])) or 'none'})")
    in_use = readable(in_use)
    others = [name for name in readable(others) if name not in in_use]
    if others and more_pins:
        pins = {**more_pins(), **pins}
    report = Report(network, str(known.get("registry") or "?"), now, {},
                               in_use=in_use, offline=f"{why}; answering from "
                               f"{_known.describe(known)}")
    verdicts = {}
    for name in (*in_use, *others):
        entry = _components.get(name)
        version = (pins.get(entry.version_var) or "").strip()
        record = (((known.get("releases") or {}).get(name) or {}).get(version) or {}).get(
            network)
        if record:
            view = View.from_dict(record["view"])
        else:
            view = View(name, version or "?", problem=f"{_known.describe(known)} has no "
                                   f"verdict for {entry.label} {version or '(no pin)'} on "
                                   f"{network}")
        report.views[name] = view
        verdicts[name] = judge_all(view, schedule, network, now)
        for fork, verdict in verdicts[name].items():
            stored = ((record or {}).get("verdicts") or {}).get(fork)
            stored = stored if isinstance(stored, dict) else {}
            if verdict.status == "not-ready" and stored.get("carried_by"):
                verdict.carried_by = stored["carried_by"]
                verdict.reason += f"; {entry.label} {stored['carried_by']} carries it " \
                                  f"(as of {known.get('written')})"
    return build_rows(report, schedule, verdicts)
