"""Upstream releases, resolved: list a component's release tags, resolve a version spec
to the exact tag, commit and Go version, and derive what a build of it is handed (the
pins, the full commit, the clone URL). Components, their upstream repositories and tag
forms come from tasks/_components.py; all GitHub traffic goes through tasks/_github.py.

One setting drives resolution, clone and build: `source.<name>_repo` (owner/name) on the
GitHub server GITHUB_API_URL names, whose clone URL `_github.clone_url` derives;
the component's clone URL build arg (`repo_var`; shell, .env, Portainer) set to another
URL overrides the clone URL alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import _components, _compose, _config, _github, _versions
from ._errors import ComposeUnavailable, KitError


@dataclass(frozen=True)
class Resolution:
    """A version spec resolved upstream: exact tag, commit, and the Go version go.mod asks
    for at that commit (components with a Go pin)."""

    component: str
    tag: str
    version: str
    commit: str
    go_version: str | None

    def build_env(self) -> dict[str, str]:
        """The build args compose needs for this component's image."""
        return _components.get(self.component).pins(self.version, self.commit,
                                                     self.go_version)


# ------------------------------------------------------------------- resolution
def upstream_repo(c, component: str) -> str:
    """owner/name for a component: Invoke config `source.<name>_repo` (e.g.
    `source.op_node_repo` in invoke.yaml, or INVOKE_SOURCE_OP_NODE_REPO in the
    environment), else the component table's upstream."""
    entry = _components.get(component)
    configured = (c.config.get("source") or {}).get(entry.config_key) if c is not None else None
    return configured or entry.upstream


def list_releases(component: str, github=None, repo: str | None = None):
    """(releases newest first, {tag: ref object}) for a component; one listing request."""
    from ._github import GitHub

    entry = _components.get(component)
    github = github or GitHub()
    refs = github.matching_tags(repo or entry.upstream, entry.tag_prefix)
    return _versions.releases(component, refs), refs


def resolve_version(component: str, spec: str = "latest", pre: bool = False, *,
                    repo: str | None = None, github=None, go: bool = True) -> Resolution:
    """Resolve `spec` to a Resolution; KitError (one line) on bad input or upstream failure.

    Cold: the tag listing, one tag-object lookup when the tag is annotated, and go.mod at
    the commit (components with a Go pin). Warm: one conditional listing request (304).
    """
    from ._github import GitHub

    entry = _components.get(component)
    _versions.parse_spec(component, spec)  # fail before I/O
    github = github or GitHub()
    repo = repo or entry.upstream
    available, refs = list_releases(component, github, repo)
    release = _versions.select(component, available, spec, pre)
    commit = github.commit_of(repo, refs[release.tag])
    go_version = None
    if entry.go_var and go:
        go_version = _versions.go_version(github.file_at(repo, "go.mod", commit))
        if go_version is None:
            raise KitError(f"go.mod at {release.tag} ({commit[:12]}) has no go directive")
    return Resolution(component, release.tag, release.version, commit, go_version)


def clone_url(c, component: str, settings: _config.Settings | None = None) -> str:
    """The git URL COMPONENT's source is cloned from.

    Its clone URL build arg (the table's `repo_var`) as compose resolves it in SETTINGS, when that
    is set to anything but upstream's own github.com URL: an operator's explicit choice
    (a mirror without a GitHub API). Otherwise `source.<name>_repo` on the GitHub server
    GITHUB_API_URL names, so the clone comes from where tags and commits were resolved.
    """
    entry = _components.get(component)
    explicit = settings.pin(entry.repo_var) if settings is not None else None
    if explicit and explicit != _github.clone_url(entry.upstream, _github.DEFAULT_API_URL):
        return explicit
    return _github.clone_url(upstream_repo(c, component))


def build_env(c, component: str, settings: _config.Settings,
              resolved: dict[str, str] | None = None, github=None,
              notes: list[str] | None = None) -> dict[str, str]:
    """What compose must be handed to build COMPONENT: RESOLVED (a --version's
    `Resolution.build_env()`), else the pin SETTINGS holds with a short commit made the
    tag's full one (`full_commit`, whose note goes to NOTES); and the clone URL
    (`clone_url`) when a version was resolved or it differs from what compose would use."""
    entry = _components.get(component)
    env = dict(resolved) if resolved else full_commit(c, component, settings, github, notes)
    if entry.repo_var:
        url = clone_url(c, component, settings)
        if resolved or url != settings.pin(entry.repo_var):
            env[entry.repo_var] = url
    return env


def full_commit(c, component: str, settings: _config.Settings, github=None,
                notes: list[str] | None = None) -> dict:
    """{commit var: the full 40-hex commit} when the pin in SETTINGS names its commit by
    a prefix (compose.yml pins the 7 hex digits a release page shows), so the image's
    revision label, its version ldflags and the Dockerfile's check get the whole commit.
    The tag's commit, from the GitHub API (cached like every request). Nothing, and one
    line in NOTES (for the caller to print), when it cannot be had (offline with nothing
    cached, no such release); a KitError when the tag's commit does not start with the
    prefix."""
    from ._github import GitHub

    entry = _components.get(component)
    prefix, version = settings.pin(entry.commit_var), settings.pin(entry.version_var)
    if not (prefix and version and _versions.is_commit_pin(prefix)) or _github.is_sha(prefix):
        return {}
    repo = upstream_repo(c, component)
    github = github or GitHub()
    try:
        available, refs = list_releases(component, github, repo)
        release = _versions.pinned(component, available, version)
        if release is None:
            raise KitError(f"{repo} has no release {version}")
        commit = github.commit_of(repo, refs[release.tag])
    except KitError as exc:
        (notes if notes is not None else []).append(
            f"note: building {entry.label} {version} with the commit prefix "
            f"{entry.commit_var}={prefix} (its revision label too): the full commit is "
            f"unknown: {exc.reason}")
        return {}
    if not _versions.commit_matches(prefix, commit):
        raise KitError(f"{release.tag} in {repo} is commit {commit[:12]}, but "
                       f"{entry.commit_var} pins {prefix}: the tag moved or the pin is wrong "
                       f"(`{_components.pin_command(entry, version)}` pins the tag's commit)")
    return {entry.commit_var: commit}


def client_env(entry) -> dict[str, str]:
    """Compose's environment that selects ENTRY's client (nothing for op-node), so compose
    resolves that client's pins whichever client .env picks."""
    return {_components.CLIENT_SETTING: entry.client} if entry.client else {}


def pin_overrides(c, pins: dict[str, str], entry=None) -> list[str]:
    """A note per pin the next build would not use: compose resolves it otherwise (the
    shell environment, or a .env file compose reads, sets it). ENTRY: the component
    pinned (a client's pins are read with that client selected)."""
    try:
        resolved = _compose.read_settings(c, client_env(entry) if entry else None)
    except KitError as exc:
        return [f"note: could not ask compose whether the shell or .env overrides the pin: "
                f"{exc.reason}"]
    notes = []
    for name, value in pins.items():
        actual = resolved.args.get(name)
        if actual is not None and actual != value:
            where = "your environment" if os.environ.get(name) else "a .env file compose reads"
            notes.append(f"note: {name} is set to {actual or '(empty)'} in {where}, which "
                         f"overrides the pin: the next build uses that; remove it there")
    return notes


def outdated_report(pins: dict[str, str], github=None, repos: dict | None = None,
                    components=None) -> list[dict]:
    """Pinned vs newest release per component (COMPONENTS, default all), with a note when
    a pinned tag moved."""
    from ._github import GitHub

    github = github or GitHub()
    report = []
    for entry in components or _components.all_components():
        component = entry.name
        repo = (repos or {}).get(component) or entry.upstream
        available, refs = list_releases(component, github, repo)
        stable = [r for r in available if not r.prerelease]
        newest = (stable or available)[0].version if available else None
        pinned = pins.get(entry.version_var) or None
        row = {"component": component, "pinned": pinned, "newest": newest,
               "outdated": False, "note": None}
        current = _versions.pinned(component, available, pinned)
        if not pinned:
            row["note"] = f"no pin: {entry.version_var} is unset"
        elif current is None:
            row["note"] = f"pinned {pinned!r} is not an upstream release"
        if current is not None and newest is not None:
            row["outdated"] = current.key < stable[0].key if stable else False
            pinned_commit = pins.get(entry.commit_var) if entry.commit_var else None
            if pinned_commit:
                upstream = github.commit_of(repo, refs[current.tag])
                if not _versions.commit_matches(pinned_commit, upstream):
                    row["note"] = (f"tag moved: {current.tag} is now {upstream[:12]}, "
                                   f"pinned commit is {pinned_commit[:12]}")
        report.append(row)
    return report


def clone_source(c, component: str) -> str:
    """What a build of COMPONENT clones (`clone_url`). Compose is asked for an override
    of its clone URL build arg only when the component has one; without compose on this
    host, the derived URL."""
    settings = None
    if _components.get(component).repo_var:
        try:
            settings = _compose.read_settings(c)
        except ComposeUnavailable:
            pass
    return clone_url(c, component, settings)
