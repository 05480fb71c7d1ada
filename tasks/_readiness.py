"""Fork readiness, the logic: the registry's schedule for a network against what each
pinned client release carries, fork by fork.

`assess(network, pins)` returns a `Report`: one row per fork (the registry's schedule, and
forks a client carries that the registry does not schedule), each with a verdict per
component: `ready` (carries the fork at the same time), `not-ready` (lacks it or carries
another time; `diverges_at` is when the client leaves the chain) or `unknown` (with the
reason). Requests stay bounded: the registry head, chainList.json and the chain's file; per
component one tag listing, the pinned release's schedule, and the newest stable release's
only when the pinned one is not ready. Commit-addressed reads are cached for good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import _components, _embedded, _registry, _versions
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
    """What one client release carries for the network."""

    component: str
    version: str
    times: dict[str, int] | None = None  # None: the release ships nothing for the network
    source: str = ""
    problem: str | None = None  # set: the schedule could not be told (status unknown)


@dataclass
class Verdict:
    status: str  # ready | not-ready | unknown
    reason: str
    version: str
    carries: int | None = None
    diverges_at: int | None = None
    carried_by: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Report:
    network: str
    registry: str
    now: float
    views: dict[str, View]
    rows: list[dict] = field(default_factory=list)

    def blocking(self, within_days: float) -> list[tuple[dict, str, Verdict]]:
        """(row, component, verdict) not ready before now + within_days, soonest first."""
        limit = self.now + within_days * DAY
        found = [(row, name, row[name]) for row in self.rows for name in self.views
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
    if scheduled is None and not carried:
        return None
    if view.component in EXECUTION_CLIENTS and carried is None \
            and fork in _embedded.CONSENSUS_ONLY:
        return Verdict("ready", _embedded.CONSENSUS_ONLY[fork], view.version)
    if scheduled is None:
        return Verdict("not-ready", f"{name} carries {fork} at {utc(carried)} "
                       f"({relative(carried, now)}), which the registry does not schedule",
                       view.version, carried, carried)
    if carried == scheduled:
        return Verdict("ready", f"{name} carries {fork} at the same time ({view.source})",
                       view.version, carried)
    if carried is None:
        return Verdict("not-ready", f"{name} lacks {fork} ({view.source}); it diverges at "
                       f"{utc(scheduled)} ({relative(scheduled, now)})", view.version, None,
                       scheduled)
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
        from .source import list_releases

        return list_releases(component, self.github, self.repos[component])

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
            READERS[component](self, view, repo, release, commit, chain)
        except _embedded.Unknowable as exc:
            view.problem = exc.reason
        return view


def _read_op_node(assessor: Assessor, view: View, repo, release, commit, chain) -> None:
    """op-node follows the superchain-registry revision its release embeds."""
    sha, how = _embedded.op_node_registry_commit(assessor.github, repo, release, commit,
                                                 assessor.registry.repo)
    view.times = assessor.registry.schedule_at(sha, chain)
    view.source = f"registry @ {sha[:12]}, from {how}"
    if view.times is None:
        view.source = f"the registry @ {sha[:12]} it embeds has no {chain.path}"


def _read_nethermind(assessor: Assessor, view: View, repo, release, commit, chain) -> None:
    """Nethermind follows the chain spec its release ships for the network."""
    view.times, path = _embedded.nethermind_times(assessor.github, repo, release.version,
                                                  commit, chain.network)
    view.source = f"{path} at {release.version}"


# How a release's fork schedule is read, per component of the table (facts about these
# two clients, so they name them); a component without a reader is not assessed.
READERS = {"op-node": _read_op_node, "execution": _read_nethermind}
# Execution clients: a fork with nothing for the execution layer to carry is ready for them.
EXECUTION_CLIENTS = {"execution"}


def readable(components=None) -> tuple[str, ...]:
    """The components (all in the table, or those given) whose schedule can be read."""
    names = [e.name for e in _components.all_components()] if components is None \
        else list(components)
    return tuple(name for name in names if name in READERS)


def check_supported(network: str, op_node_version: str | None) -> None:
    """One-line errors for networks this stack cannot follow (Base, dropped chains)."""
    from . import doctor

    if doctor.is_base_network(network):
        raise KitError(f"{network}: Base runs its own clients since its Azul upgrade (Sepolia "
                       "2026-04-20, mainnet 2026-05-28); op-node and Nethermind no longer "
                       "follow it, so there is no fork readiness to check here")
    since = doctor.dropped_network(network, op_node_version)
    if since:
        raise KitError(f"{network}: op-node {since} and newer (pinned: {op_node_version or '?'}) "
                       "no longer embed this chain's config; it needs an explicit rollup config "
                       "(OP_NODE_ROLLUP_CONFIG), so op-node's fork schedule comes from that file")


def assess(network: str, pins: dict[str, str], github=None, repos: dict | None = None,
           now: float | None = None, components=None) -> Report:
    """The fork readiness report for NETWORK with the pinned versions in PINS, for
    COMPONENTS (default: every component of the table that has a reader)."""
    from ._github import GitHub

    check_supported(network, pins.get(_components.get("op-node").version_var))
    github = github or GitHub()
    upstream = {entry.name: entry.upstream for entry in _components.all_components()}
    assessor = Assessor(github, {**upstream, **(repos or {})})
    chain = assessor.registry.locate(network)
    scheduled = assessor.registry.schedule_at(assessor.registry.head(), chain) or {}
    now = time.time() if now is None else now
    report = Report(network, assessor.registry.head(), now, {})
    verdicts: dict[str, dict[str, Verdict]] = {}
    for component in readable(components):
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
        judged = {f: judge(f, scheduled.get(f), view, network, now)
                  for f in set(scheduled) | set(view.times or {})}
        verdicts[component] = {f: v for f, v in judged.items() if v is not None}
        if any(v.status == "not-ready" for v in verdicts[component].values()):
            _name_carriers(assessor, component, available, refs, chain, scheduled,
                           verdicts[component], view)
    every = set(scheduled).union(*(set(v) for v in verdicts.values()))
    for fork in sorted(every, key=lambda f: (scheduled.get(f) is None, scheduled.get(f, 0), f)):
        row = {"fork": fork, "activation": scheduled.get(fork)}
        row.update({name: verdicts[name][fork] for name in verdicts if fork in verdicts[name]})
        report.rows.append(row)
    return report


def _check_commit_pin(assessor, component, release, refs, view: View, pins) -> View:
    """A commit pin (OP_NODE_COMMIT) must still be the tag's commit, or the build refuses
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
