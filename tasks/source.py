"""Upstream versions: list release tags, resolve a version spec, pin, check and clone.

Components, their upstream repositories and tag forms come from tasks/_components.py
(op-node: tags op-node/vX.Y.Z of the optimism monorepo; Nethermind: tags X.Y.Z). All
GitHub traffic goes through tasks/_github.py (GITHUB_API_URL,
GITHUB_TOKEN, cached, ETag-revalidated).

Resolution (`resolve_version`, `Resolution.build_env()`) is in tasks/_upstream.py, which
the build tasks call too. One setting drives resolution, clone and build:
`source.<name>_repo` (owner/name) on the GitHub server GITHUB_API_URL names, whose clone
URL `_github.clone_url` derives; the component's clone URL build arg (the table's
`repo_var`; shell, .env, Portainer) set to another URL overrides the clone URL alone.
Pins live as `${VAR:-value}` defaults in compose.yml, or, for an execution client's own
pins, in the client file compose.yml extends, docker/<client>.yml (tasks/_pins.py finds,
reads and rewrites them); what a build uses (shell, then .env, then those defaults) is
asked of compose itself (`_compose.read_settings`, with the client selected for a
client's pins).
`inv source.forks` (tasks/forks.py) is mounted here by tasks/__init__.py.
"""

from __future__ import annotations

import json as jsonlib
import shlex
import shutil
from dataclasses import asdict
from pathlib import Path

from invoke import Collection, task

from . import _components
from ._components import ROOT
from ._errors import KitError


def _component_help() -> str:
    names = [f"{c.name} ({c.title})" if c.title and c.title != c.name else c.name
             for c in _components.all_components()]
    names[0] += ", the default"
    return "the component: " + "; ".join(names)


def _repo_help() -> str:
    first = _components.default()
    return (f"git URL to clone (default: what builds clone: {first.repo_var} when set to "
            "another URL, else source.<name>_repo on the server GITHUB_API_URL names, "
            f"e.g. https://github.com/{first.upstream}.git; file:// works)")


VERSION_HELP = ("latest (default), vX.Y or X.Y (newest patch), vX.Y.Z or X.Y.Z, "
                "or an explicit pre-release like v1.20.0-rc.1")
PRE_HELP = "let latest and partial specs choose pre-releases (-rc.N)"


# ----------------------------------------------------------------------- tasks
def _component(component: str | None) -> str:
    return _components.get(component).name if component else _components.default().name


@task(help={"component": _component_help(), "pre": "include pre-releases (-rc.N)",
            "json": "print a JSON list of {tag, version, prerelease}"})
def tags(c, component=None, pre=False, json=False):
    """List upstream releases of a component, newest first."""
    from . import _upstream

    component = _component(component)
    available, _ = _upstream.list_releases(component, repo=_upstream.upstream_repo(c, component))
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
    from . import _upstream

    component = _component(component)
    found = _upstream.resolve_version(component, version, pre,
                                      repo=_upstream.upstream_repo(c, component))
    if json:
        print(jsonlib.dumps(asdict(found), indent=2))
        return
    for key, value in asdict(found).items():
        print(f"{key:<11} {value if value is not None else '-'}")


@task(help={"component": _component_help(), "version": VERSION_HELP, "pre": PRE_HELP})
def pin(c, component=None, version="latest", pre=False):
    """Pin a component's version (and commit, Go version) where compose.yml or its client
    file (docker/<client>.yml) holds it; prints old -> new."""
    from . import _pins, _upstream

    component = _component(component)
    entry = _components.get(component)
    files = _pins.pin_files(entry.pin_vars)  # an unreadable or pinless file fails before a request
    found = _upstream.resolve_version(component, version, pre,
                                      repo=_upstream.upstream_repo(c, component))
    new = found.build_env()
    old = {}
    for path, names in files.items():
        old.update(_pins.write_pins(path, {n: new[n] for n in names if n in new}))
    for name, value in new.items():
        change = f"{old[name]} -> {value}" if old[name] != value else f"{value} (unchanged)"
        print(f"{name}: {change}")
    print(f"pinned {component} {found.version} in {', '.join(str(p) for p in files)}")
    for line in _upstream.pin_overrides(c, new, entry):
        print(line)


@task(help={"json": "print a JSON list of {component, pinned, newest, outdated, note}",
            "component": "one component, e.g. op-reth (default: op-node and the execution "
                         "client in use, EXECUTION_CLIENT)"})
def outdated(c, json=False, component=None):
    """Show the versions builds use (shell, .env, compose.yml, the client's file) vs the
    newest releases (exit 0 either way; notes moved tags)."""
    from . import _compose, _upstream

    if component:
        entries = [_components.get(component)]
        settings = _compose.read_settings(c, _upstream.client_env(entries[0]))
    else:
        settings = _compose.read_settings(c)
        entries = settings.in_use()
    repos = {entry.name: _upstream.upstream_repo(c, entry.name) for entry in entries}
    report = _upstream.outdated_report(settings.args, repos=repos, components=entries)
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
            "repo": _repo_help()})
def clone(c, component=None, version="latest", pre=False, dest=None, repo=None):
    """Shallow-clone a resolved release tag (op-node's by default) and verify its commit."""
    from . import _upstream

    component = _component(component)
    upstream = _upstream.upstream_repo(c, component)
    found = _upstream.resolve_version(component, version, pre, repo=upstream, go=False)
    url = repo or _upstream.clone_source(c, component)
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


def _remove(target: Path, created: bool) -> None:
    """Remove a half clone; an empty directory the user made stays, emptied."""
    if not target.exists():
        return
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for child in target.iterdir():
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()


ns = Collection("source", tags, resolve, pin, outdated, clone)


def config_defaults() -> dict:
    """`source.*` defaults for the root namespace: each component's upstream repository."""
    return {entry.config_key: entry.upstream for entry in _components.all_components()}
