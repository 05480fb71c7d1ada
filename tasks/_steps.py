"""The steps several tasks share and that print as they go: resolve and prepare a build
(its resolution line and fork warning on stderr), build and audit it (the summary and
the size report), and push what passed. `inv build.*` and `inv release` run them; the
logic is in the services below (tasks/_building.py, tasks/_audit.py, tasks/_upstream.py,
tasks/_forks.py).
"""

from __future__ import annotations

import json as jsonlib
import sys
from dataclasses import asdict

from invoke.exceptions import Exit

from . import (
    _audit,
    _build_flags,
    _building,
    _components,
    _compose,
    _config,
    _forks,
    _push,
    _upstream,
)
from ._errors import KitError
from ._units import format_bytes


def resolve(c, component: str, version: str | None, pre: bool) -> dict[str, str]:
    """Compose environment for COMPONENT at VERSION (nothing when building the pin),
    resolved in the upstream repository C's config names (`source.<name>_repo`)."""
    if version is None:
        return {}
    if not version.strip():  # `--version=` would otherwise build the pin without a word
        raise KitError("--version is empty: give latest, vX.Y, vX.Y.Z or a pre-release, "
                       "or leave --version out to build the pin")
    resolution = _upstream.resolve_version(component, version, pre=pre,
                                        repo=_upstream.upstream_repo(c, component))
    commit = f" @ {resolution.commit[:12]}" if resolution.commit else ""
    go = f" (Go {resolution.go_version})" if resolution.go_version else ""
    print(f"resolved {component} {version} -> {resolution.tag}{commit}{go}", file=sys.stderr)
    return resolution.build_env()


def prepare(c, components=None, version: str | None = None, pre: bool = False,
            ) -> tuple[dict[str, str], dict]:
    """(compose environment, compose config) to build COMPONENTS (names; None: the
    components the stack runs, `Settings.in_use`): at VERSION resolved upstream, else at
    the pins compose resolves with a short commit made the full one; with the clone URL
    (`_upstream.build_env`); the fork warning printed. A client component is built with
    CLIENT_SETTING set to it in compose's environment, whatever .env says. The engine is
    checked before compose is asked (and it is asked once: the build reuses its config;
    what the environment adds after it, a commit and a URL, names no image)."""
    chosen = [_components.get(name) for name in components or ()]
    resolved = {entry.name: resolve(c, entry.name, version, pre) for entry in chosen}
    _building.builder_engine(c)  # an unreachable engine is said first, before GitHub is asked
    env = {k: v for pins in resolved.values() for k, v in pins.items()}
    env.update(_building.client_env(chosen))
    config = _compose.compose_config(c, env)
    settings = _config.settings(config)
    for entry in (e for e in chosen if e.client and e.client != settings.client):
        raise KitError(f"{_components.CLIENT_SETTING}={entry.client} selects "
                       f"{settings.client} in the compose project "
                       f"({', '.join(_compose.compose_files())}): its {entry.service} does "
                       f"not extend docker/{entry.client}.yml, so there is no {entry.label} "
                       "to build there")
    if components is None:
        chosen = settings.in_use()
        resolved = {entry.name: {} for entry in chosen}
    for name, pins in resolved.items():
        notes: list[str] = []
        env.update(_upstream.build_env(c, name, settings, pins or None, notes=notes))
        for note in notes:
            print(note, file=sys.stderr)
    warn_forks(c, list(resolved), env, settings)
    return env, config


def print_summary(built: list[_building.Built]) -> None:
    from ._units import format_bytes

    print("\nbuilt:")
    width = max(len(b.image) for b in built)
    for b in built:
        size = format_bytes(b.size) if b.size is not None else "not in the local engine"
        cache = "fully from cache" if b.cached else "rebuilt"
        print(f"  {b.image:<{width}}  {size:>10}  {b.seconds:6.1f}s  {cache}")


def build_and_audit(c, services: list[str], flags: _build_flags.BuildFlags, env=None,
                    config: dict | None = None) -> _building.Builds:
    """The chain: build, summarise, audit what was built (exit 1 when over budget, and
    nothing is pushed); with --push, then push and print the digests the registry holds."""
    built = _building.run_builds(c, services, flags, env, config)
    print_summary(built)
    code = check_sizes(c, services=services, env=env, config=built.config,
                             images=built.images,
                             note="nothing was pushed" if flags.push else "")
    if code:  # the audit printed its own one-line error
        raise Exit(code=code)
    if flags.push:
        print_pushed(_push.push_built(c, built, flags, env))
    return built


def warn_forks(c, components, env: dict[str, str] | None = None,
               settings: _config.Settings | None = None) -> None:
    """One line on stderr when a version about to be built lacks a fork NETWORK schedules
    (nothing, and no request, when NETWORK is unset). SETTINGS: what compose resolves, when
    the caller has read it already."""
    line = _forks.build_warning(components, env, c, settings)
    if line:
        print(line, file=sys.stderr)


BAR_WIDTH = 24


def _bar(row: _audit.ImageSize) -> str:
    if row.size_bytes is None or not row.budget_bytes:
        return " " * (BAR_WIDTH + 2)
    filled = min(BAR_WIDTH, round(BAR_WIDTH * row.size_bytes / row.budget_bytes))
    filled = max(filled, 1 if row.size_bytes else 0)  # a built image never shows empty
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def _status(row: _audit.ImageSize) -> str:
    if not row.built:
        return "not built"
    if row.budget_bytes is None:
        return "no budget"
    percent = 100 * row.size_bytes / row.budget_bytes if row.budget_bytes else float("inf")
    return f"{percent:.0f}%" + ("  OVER BUDGET" if row.over_budget else "")


def print_report(rows: list[_audit.ImageSize], as_json: bool = False, out=None) -> None:
    """The table a person reads at a glance, or a JSON list with `--json`."""
    out = out or sys.stdout
    if as_json:
        print(jsonlib.dumps([asdict(r) for r in rows], indent=2), file=out)
        return
    width_s = max([len("SERVICE")] + [len(r.shown) for r in rows])
    width_i = max([len("IMAGE")] + [len(r.image) for r in rows])
    print(f"{'SERVICE':<{width_s}}  {'IMAGE':<{width_i}}  {'SIZE':>9}  {'BUDGET':>9}", file=out)
    for r in rows:
        size = format_bytes(r.size_bytes) if r.built else "-"
        print(f"{r.shown:<{width_s}}  {r.image:<{width_i}}  {size:>9}  "
              f"{format_bytes(r.budget_bytes):>9}  {_bar(r)} {_status(r)}", file=out)


def check_sizes(c, services=None, budgets=None, strict=False, as_json=False, env=None,
                out=None, err=None, config=None, images=None, note: str = "") -> int:
    """Print the size report and return the exit code: 1 over budget (or unbuilt with
    STRICT), else 0. For the build task to call after a build, with the build's ENV (and
    the CONFIG and IMAGES listing it already has); NOTE ends the error line."""
    rows = _audit.size_report(c, budgets=budgets, services=services, env=env, config=config,
                       images=images)
    print_report(rows, as_json=as_json, out=out)
    found = _audit.problems(rows, strict=strict)
    if found:
        hint = next((f"; see `inv audit.layers --service {r.service}`"
                     for r in rows if r.over_budget), "")
        note = f"; {note}" if note else ""
        print(f"error: {'; '.join(found)}{hint}{note}", file=err or sys.stderr)
        return 1
    return 0


def print_pushed(digests: dict[str, str | None]) -> None:
    """What a push left in the registry: each image (version tag and :latest) and its
    digest, {image: REPO@digest}."""
    print("\npushed:")
    for ref, digest in digests.items():
        print(f"  {ref} and :latest -> {digest or 'no digest recorded by the engine'}")
