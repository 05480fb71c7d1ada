"""Upstream versions: list release tags, resolve a version spec, pin, check and clone.

Components, their upstream repositories and tag forms come from tasks/_components.py
(`op-node`: tags op-node/vX.Y.Z of ethereum-optimism/optimism; `execution`: Nethermind
tags X.Y.Z). All GitHub traffic goes through tasks/_github.py (GITHUB_API_URL,
GITHUB_TOKEN, cached, ETag-revalidated).

Build tasks call `resolve_version(component, spec, pre)`, which returns a `Resolution`,
and hand `build_env()` to compose: the exact version, commit and Go version, and the git
URL to clone. One setting drives resolution, clone and build: `source.<name>_repo`
(owner/name) on the GitHub server GITHUB_API_URL names, whose clone URL `_github.clone_url`
derives; OP_NODE_REPO (shell, .env, Portainer) set to another URL overrides the clone URL
alone. Pins live as `${VAR:-value}` defaults in compose.yml, or, for an execution
client's own pins (NETHERMIND_VERSION, OP_RETH_VERSION), in the client file compose.yml
extends, docker/<client>.yml (`pin_files()` finds which; `read_pins()` reads, `pin`
rewrites them); what a build uses (shell, then .env, then those defaults) is asked of
compose itself (`_compose.read_settings`, with the client selected for a client's pins).
"""

from __future__ import annotations

import json as jsonlib
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from invoke import Collection, task

from . import _components, _compose, _github, _versions, forks
from ._components import ROOT
from ._errors import ComposeUnavailable, KitError


def _component_help() -> str:
    names = [f"{c.name} ({c.title})" if c.title and c.title != c.name else c.name
             for c in _components.all_components()]
    names[0] += ", the default"
    return "the component: " + "; ".join(names)


VERSION_HELP = ("latest (default), vX.Y or X.Y (newest patch), vX.Y.Z or X.Y.Z, "
                "or an explicit pre-release like v1.20.0-rc.1")
PRE_HELP = "let latest and partial specs choose pre-releases (-rc.N)"
_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}")
_PIN_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*")


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


def clone_url(c, component: str, settings: _compose.Settings | None = None) -> str:
    """The git URL COMPONENT's source is cloned from.

    Its clone URL build arg (OP_NODE_REPO) as compose resolves it in SETTINGS, when that
    is set to anything but upstream's own github.com URL: an operator's explicit choice
    (a mirror without a GitHub API). Otherwise `source.<name>_repo` on the GitHub server
    GITHUB_API_URL names, so the clone comes from where tags and commits were resolved.
    """
    entry = _components.get(component)
    explicit = settings.pin(entry.repo_var) if settings is not None else None
    if explicit and explicit != _github.clone_url(entry.upstream, _github.DEFAULT_API_URL):
        return explicit
    return _github.clone_url(upstream_repo(c, component))


def build_env(c, component: str, settings: _compose.Settings,
              resolved: dict[str, str] | None = None, github=None) -> dict[str, str]:
    """What compose must be handed to build COMPONENT: RESOLVED (a --version's
    `Resolution.build_env()`), else the pin SETTINGS holds with a short commit made the
    tag's full one (`full_commit`); and the clone URL (`clone_url`) when a version was
    resolved or it differs from what compose would use."""
    entry = _components.get(component)
    env = dict(resolved) if resolved else full_commit(c, component, settings, github)
    if entry.repo_var:
        url = clone_url(c, component, settings)
        if resolved or url != settings.pin(entry.repo_var):
            env[entry.repo_var] = url
    return env


def full_commit(c, component: str, settings: _compose.Settings, github=None) -> dict:
    """{commit var: the full 40-hex commit} when the pin in SETTINGS names its commit by
    a prefix (compose.yml pins the 7 hex digits a release page shows), so the image's
    revision label, its version ldflags and the Dockerfile's check get the whole commit.
    The tag's commit, from the GitHub API (cached like every request). Nothing, and one
    line on stderr, when it cannot be had (offline with nothing cached, no such release);
    a KitError when the tag's commit does not start with the prefix."""
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
        print(f"note: building {entry.label} {version} with the commit prefix "
              f"{entry.commit_var}={prefix} (its revision label too): the full commit is "
              f"unknown: {exc.reason}", file=sys.stderr)
        return {}
    if not _versions.commit_matches(prefix, commit):
        raise KitError(f"{release.tag} in {repo} is commit {commit[:12]}, but "
                       f"{entry.commit_var} pins {prefix}: the tag moved or the pin is wrong "
                       f"(`{_components.pin_command(entry, version)}` pins the tag's commit)")
    return {entry.commit_var: commit}


# ------------------------------------------------------------------------ pins
def compose_path() -> Path:
    """The compose file pins live in: the first compose file in force (COMPOSE_FILE's
    first entry, else this checkout's compose.yml), so `pin` edits the file builds read."""
    return Path(_compose.compose_files()[0])


def candidate_files() -> list[Path]:
    """Where `${VAR:-default}` pins may live: the compose files in force, then the
    execution clients' files beside the first one (docker/*.yml, which compose.yml's
    base-execution extends)."""
    first = compose_path()
    files = [Path(f) for f in _compose.compose_files()]
    files += sorted((first.parent / "docker").glob("*.yml"))
    return list(dict.fromkeys(files))


def pin_files(names) -> dict[Path, list[str]]:
    """{file: the NAMES whose `${NAME:-default}` it holds}, over `candidate_files`; a
    one-line KitError naming the files searched when a name is in none of them."""
    found: dict[Path, list[str]] = {}
    searched = [p for p in candidate_files() if p.is_file()]
    for path in searched:
        held = set(read_pins(path))
        for name in names:
            if name in held:
                found.setdefault(path, []).append(name)
    missing = [n for n in names if not any(n in held for held in found.values())]
    if missing:
        where = ", ".join(str(p) for p in searched) or str(compose_path())
        raise KitError(f"no ${{{missing[0]}:-...}} default to pin in {where}; add one first")
    return found


def _read_text(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except OSError as exc:
        raise KitError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_pins(path: Path | str | None = None) -> dict[str, str]:
    """{VAR: default} for every `${VAR:-default}` in the compose file (first one wins)."""
    pins: dict[str, str] = {}
    for name, value in _DEFAULT.findall(_read_text(Path(path) if path else compose_path())):
        pins.setdefault(name, value)
    return pins


def write_pins(path: Path | str, values: dict[str, str]) -> dict[str, str]:
    """Set the `${VAR:-...}` defaults of `values` everywhere in the file, atomically.

    Returns the old values. Every variable must already be there and every value must be
    a plain version/commit string; otherwise nothing is written.
    """
    path = Path(os.path.realpath(path))  # replace the target of a symlink, not the link
    text = _read_text(path)
    old = {}
    for name, value in values.items():
        found = [v for n, v in _DEFAULT.findall(text) if n == name]
        if not found:
            raise KitError(f"{path} has no ${{{name}:-...}} default to pin; add one first")
        if not _PIN_VALUE.fullmatch(value or ""):
            raise KitError(f"refusing to pin {name} to {value!r}: not a version or commit")
        old[name] = found[0]
    new_text = _DEFAULT.sub(
        lambda m: f"${{{m.group(1)}:-{values[m.group(1)]}}}" if m.group(1) in values
        else m.group(0), text)
    if new_text != text:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(new_text)
                handle.flush()
                os.fsync(handle.fileno())
            shutil.copymode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return old


# ----------------------------------------------------------------------- tasks
def _component(component: str | None) -> str:
    return _components.get(component).name if component else _components.default().name


@task(help={"component": _component_help(), "pre": "include pre-releases (-rc.N)",
            "json": "print a JSON list of {tag, version, prerelease}"})
def tags(c, component=None, pre=False, json=False):
    """List upstream releases of a component, newest first."""
    component = _component(component)
    available, _ = list_releases(component, repo=upstream_repo(c, component))
    shown = [r for r in available if pre or not r.prerelease]
    if json:
        print(jsonlib.dumps([{"tag": r.tag, "version": r.version, "prerelease": r.prerelease}
                             for r in shown], indent=2))
        return
    for r in shown:
        print(r.version + ("  (pre-release)" if r.prerelease else ""))


@task(help={"component": _component_help(), "version": VERSION_HELP, "pre": PRE_HELP,
            "json": "print one JSON object (component, tag, version, commit, go_version)"})
def resolve(c, component=None, version="latest", pre=False, json=False):
    """Resolve a version spec to the exact tag, commit and Go version."""
    component = _component(component)
    found = resolve_version(component, version, pre, repo=upstream_repo(c, component))
    if json:
        print(jsonlib.dumps(asdict(found), indent=2))
        return
    for key, value in asdict(found).items():
        print(f"{key:<11} {value if value is not None else '-'}")


@task(help={"component": _component_help(), "version": VERSION_HELP, "pre": PRE_HELP})
def pin(c, component=None, version="latest", pre=False):
    """Pin a component's version (and commit, Go version) where compose.yml or its client
    file (docker/<client>.yml) holds it; prints old -> new."""
    component = _component(component)
    entry = _components.get(component)
    files = pin_files(entry.pin_vars)  # an unreadable or pinless file fails before a request
    found = resolve_version(component, version, pre, repo=upstream_repo(c, component))
    new = found.build_env()
    old = {}
    for path, names in files.items():
        old.update(write_pins(path, {n: new[n] for n in names if n in new}))
    for name, value in new.items():
        change = f"{old[name]} -> {value}" if old[name] != value else f"{value} (unchanged)"
        print(f"{name}: {change}")
    print(f"pinned {component} {found.version} in {', '.join(str(p) for p in files)}")
    for line in pin_overrides(c, new, entry):
        print(line)


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


@task(help={"json": "print a JSON list of {component, pinned, newest, outdated, note}",
            "component": "one component, e.g. op-reth (default: op-node and the execution "
                         "client in use, EXECUTION_CLIENT)"})
def outdated(c, json=False, component=None):
    """Show the versions builds use (shell, .env, compose.yml, the client's file) vs the
    newest releases (exit 0 either way; notes moved tags)."""
    if component:
        entries = [_components.get(component)]
        settings = _compose.read_settings(c, client_env(entries[0]))
    else:
        settings = _compose.read_settings(c)
        entries = settings.in_use()
    repos = {entry.name: upstream_repo(c, entry.name) for entry in entries}
    report = outdated_report(settings.args, repos=repos, components=entries)
    if json:
        print(jsonlib.dumps(report, indent=2))
        return
    for row in report:
        state = "outdated" if row["outdated"] else "up to date"
        print(f"{row['component']:<10} pinned {row['pinned'] or '-':<10} "
              f"newest {row['newest'] or '-':<10} {state}")
        if row["note"]:
            print(f"  note: {row['note']}")


@task(help={"component": _component_help(), "version": VERSION_HELP, "pre": PRE_HELP,
            "dest": "directory to clone into (default: build/<repository>-<version> in the "
                    "project, e.g. build/optimism-v1.21.0)",
            "repo": "git URL to clone (default: what builds clone: OP_NODE_REPO when set to "
                    "another URL, else source.<name>_repo on the server GITHUB_API_URL names, "
                    "e.g. https://github.com/ethereum-optimism/optimism.git; file:// works)"})
def clone(c, component=None, version="latest", pre=False, dest=None, repo=None):
    """Shallow-clone a resolved release tag (op-node's by default) and verify its commit."""
    component = _component(component)
    upstream = upstream_repo(c, component)
    found = resolve_version(component, version, pre, repo=upstream, go=False)
    url = repo or _clone_source(c, component)
    folder = f"{upstream.rsplit('/', 1)[-1]}-{found.version}"
    target = Path(dest) if dest else ROOT / "build" / folder
    if target.exists() and any(target.iterdir()):
        raise KitError(f"{target} exists and is not empty; remove it or pass --dest")
    created = not target.exists()
    command = shlex.join(["git", "-c", "advice.detachedHead=false", "clone", "--quiet",
                          "--depth", "1", "--branch", found.tag, url, str(target)])
    result = c.run(command, hide=True, warn=True, in_stream=False)
    if result.exited != 0:
        _remove(target, created)
        detail = (result.stderr or "").strip().splitlines()
        raise KitError(f"git clone of {found.tag} from {url} failed: "
                       f"{detail[-1] if detail else f'exit {result.exited}'}")
    head = c.run(shlex.join(["git", "-C", str(target), "rev-parse", "HEAD"]), hide=True,
                 warn=True, in_stream=False)
    actual = (head.stdout or "").strip()
    if actual != found.commit:
        _remove(target, created)
        raise KitError(f"tag moved: {found.tag} in {url} is {actual[:12] or '?'} but GitHub "
                       f"says {found.commit[:12]}; removed the clone, check upstream first")
    print(f"cloned {found.tag} ({found.commit}) from {url} into {target}")


def _clone_source(c, component: str) -> str:
    """What a build of COMPONENT clones (`clone_url`). Compose is asked for an
    OP_NODE_REPO override only when the component has one; without compose on this
    host, the derived URL."""
    settings = None
    if _components.get(component).repo_var:
        try:
            settings = _compose.read_settings(c)
        except ComposeUnavailable:
            pass
    return clone_url(c, component, settings)


def _remove(target: Path, created: bool) -> None:
    """Remove a half clone; an empty directory the user made stays, emptied."""
    if not target.exists():
        return
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for child in target.iterdir():
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()


def config_defaults() -> dict:
    """`source.*` defaults for the root namespace: each component's upstream repository."""
    return {entry.config_key: entry.upstream for entry in _components.all_components()}


ns = Collection("source", tags, resolve, pin, outdated, clone, forks.forks)
