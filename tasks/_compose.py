"""The compose side of Docker: which compose files are in force, the command lines, the
environment builds get, the resolved config, and which image each service makes.

Builds go through the `docker compose` command line, because only compose (or buildx)
drives BuildKit. Commands run through the Invoke context, so MockContext can check the
exact command line. Honours what compose honours: COMPOSE_FILE, COMPOSE_PATH_SEPARATOR
and COMPOSE_PROJECT_NAME, and compose.override.yml and .env beside compose.yml.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ._components import ROOT
from ._config import Settings, settings
from ._errors import ComposeFailed, ComposeUnavailable, KitError

if TYPE_CHECKING:  # for the hints only: nothing more is imported at run time
    from invoke import Context
    from invoke.runners import Result

BUILDKIT_ENV = {"DOCKER_BUILDKIT": "1", "COMPOSE_DOCKER_CLI_BUILD": "1"}
NO_DOCKER_CLI = ("the docker CLI is not on PATH; install Docker "
                 "(docs.docker.com/engine/install)")
NO_COMPOSE_V2 = ("docker compose v2 is missing; install the compose plugin (Debian/Ubuntu: "
                 "apt-get install docker-compose-plugin; or place the docker-compose v2 binary "
                 "in ~/.docker/cli-plugins/)")
# How compose.yml puts IMAGE_REGISTRY in front of an image name: nothing at all when it
# is empty or unset (no leading slash), `REGISTRY/` otherwise.
REGISTRY_PREFIX = "${IMAGE_REGISTRY:-}${IMAGE_REGISTRY:+/}"


def registry_cache_from(name: str) -> str:
    """compose.yml's `cache_from` entry for image NAME: `REGISTRY/NAME:latest`, or an
    empty entry (which compose and BuildKit skip) when IMAGE_REGISTRY is empty, so a
    build without a registry never asks Docker Hub for `library/NAME`."""
    return f"${{IMAGE_REGISTRY:-}}${{IMAGE_REGISTRY:+/{name}:latest}}"


# ------------------------------------------------------------------ files in force
def compose_files() -> list[str]:
    """The compose files in force: COMPOSE_FILE's entries (resolved from the current
    directory, as compose does), else this checkout's compose.yml. The first one is where
    pins live (`inv source.pin` edits it)."""
    listed = os.environ.get("COMPOSE_FILE")
    separator = os.environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
    files = [os.path.abspath(f.strip()) for f in (listed or "").split(separator) if f.strip()]
    return files or [str(ROOT / "compose.yml")]


def compose_argv(*args: str) -> list[str]:
    """`docker compose ...`; the project's compose.yml unless COMPOSE_FILE says otherwise.

    `--project-directory` (never `-f`) points compose at this checkout, so compose's own
    rules still apply: compose.override.yml and .env beside compose.yml, and a user's
    COMPOSE_FILE (resolved from the current directory) when set.
    """
    argv = ["docker", "compose"]
    if not os.environ.get("COMPOSE_FILE"):
        argv += ["--project-directory", str(ROOT)]
    return argv + list(args)


# ------------------------------------------------------------------ environment
def compose_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Environment additions for compose: BuildKit on, plus resolved versions."""
    env = dict(BUILDKIT_ENV)
    env.update({k: str(v) for k, v in (overrides or {}).items()})
    return env


# ------------------------------------------------------------------ the CLI
def require_compose(c: Context) -> str:
    """The compose v2 version string, or `ComposeUnavailable` naming the fix."""
    if shutil.which("docker") is None:
        raise ComposeUnavailable(NO_DOCKER_CLI)
    result = c.run("docker compose version --short", hide=True, warn=True, in_stream=False)
    version = (result.stdout or "").strip()
    if result.exited != 0 or not version:
        from . import _connect

        # Debian's docker CLI 20.10 fails every plugin when DOCKER_CONTEXT (or the current
        # context) does not exist: that, not compose, is then what is missing
        _connect.endpoint()
        raise ComposeUnavailable(NO_COMPOSE_V2)
    return version.lstrip("v")


def run_cli(c: Context, argv: list[str], env: dict[str, str] | None = None,
            hide: bool | str | None = None) -> Result:
    """Run a docker command line through the Invoke context; `ComposeFailed` on non-zero,
    `ComposeUnavailable` when the docker CLI or the compose plugin is missing. Whether
    compose is there is asked only after a compose command failed (what a CLI without
    the plugin says differs between versions), so a good run pays nothing for it."""
    if argv[1:3] == ["buildx", "bake"]:  # bake reads build contexts from where it runs;
        with c.cd(os.path.dirname(compose_files()[0])):  # compose, from the compose file's
            result = c.run(shlex.join(argv), env=compose_env(env), hide=hide, warn=True,
                           in_stream=False)
    else:
        result = c.run(shlex.join(argv), env=compose_env(env), hide=hide, warn=True,
                       in_stream=False)
    if result.exited != 0:
        if result.exited == 127:  # the shell found no such command
            raise ComposeUnavailable(NO_DOCKER_CLI)
        if argv[1:2] == ["compose"]:
            require_compose(c)
        detail = (result.stderr or "").strip().splitlines()
        reason = detail[-1] if detail else f"exit code {result.exited}"
        if argv[1:2] == ["compose"]:
            refuse_unknown_client(f"{result.stdout or ''}\n{result.stderr or ''}")
        failed = ComposeFailed(f"`{_display(argv)}` failed: {reason}", result.exited)
        failed.output = f"{result.stdout or ''}\n{result.stderr or ''}"
        raise failed
    return result


def _display(argv: list[str]) -> str:
    """A command line as the user would type it: without the kit's --project-directory."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--project-directory":
            skip = True
        else:
            shown.append(arg)
    return shlex.join(shown)


def run_compose(c: Context, *args: str, env: dict[str, str] | None = None,
                hide: bool | str | None = None) -> Result:
    """Run `docker compose ARGS` (BuildKit on, ENV added) through the Invoke context."""
    return run_cli(c, compose_argv(*args), env=env, hide=hide)


def buildx_version(c: Context) -> str | None:
    """`docker buildx version`'s first line, or None when the CLI lacks the plugin."""
    result = c.run("docker buildx version", hide=True, warn=True, in_stream=False)
    lines = (result.stdout or "").strip().splitlines()
    return (lines[0] if lines else "buildx") if result.exited == 0 else None


def buildx_builder(c: Context, name: str | None = None) -> tuple[str, str] | None:
    """(name, driver) of the buildx builder NAME, or of the one the CLI builds with; None
    without buildx (or without such a builder)."""
    argv = ["docker", "buildx", "inspect"] + ([name] if name else [])
    result = c.run(shlex.join(argv), hide=True, warn=True, in_stream=False)
    if result.exited != 0:
        return None
    fields: dict[str, str] = {}
    for line in (result.stdout or "").splitlines():  # the builder's, before its nodes'
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    found = fields.get("Name") or ""
    return (found, fields.get("Driver") or "") if found else None


def has_buildx(c: Context) -> bool:
    """Whether the docker CLI has the buildx plugin (needed for builders, multi-platform)."""
    return buildx_version(c) is not None


# compose's words for an `extends: file:` that does not exist (compose 2.40: `open
# /path/docker/bogus.yml: no such file or directory`).
_MISSING_FILE = re.compile(r"open (\S+?\.ya?ml): no such file or directory")


def refuse_unknown_client(output: str) -> None:
    """When compose failed (OUTPUT) because the client file compose.yml extends,
    docker/${EXECUTION_CLIENT}.yml, does not exist, the one line naming the clients: a
    missing file beside a known client's file is a client that is not."""
    from . import _components

    for found in _MISSING_FILE.finditer(output or ""):
        path = Path(found.group(1))
        beside = [path.with_name(f"{client}{path.suffix}") for client in _components.clients()]
        if path.stem not in _components.clients() and any(p.is_file() for p in beside):
            _components.check_client(path.stem)  # raises the one line


# ------------------------------------------------------------------ the project
def compose_config(c: Context, env: dict[str, str] | None = None) -> dict:
    """The fully interpolated compose project (`docker compose config --format json`)."""
    result = run_compose(c, "config", "--format", "json", env=env, hide=True)
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise KitError("`docker compose config` printed no JSON; is compose v2 installed?") \
            from None


def read_settings(c: Context, env: dict[str, str] | None = None) -> Settings:
    """`settings` of the compose config with ENV in force (one `docker compose config`)."""
    return settings(compose_config(c, env))


