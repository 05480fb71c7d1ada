"""The flags every build task takes (--no-cache, --pull, --push, --platform, --builder,
--progress): their help, their defaults (`build.<name>` in the Invoke config for the
configurable ones), and how `docker compose build` and `docker buildx bake` spell them.
Cheap to import: `inv --list` reads the help from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, make_dataclass, replace

from ._errors import KitError

PROGRESS_MODES = ("auto", "plain", "quiet", "tty")


PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")


# ------------------------------------------------------------------ the build flags
@dataclass(frozen=True)
class BuildFlag:
    """A flag every build task takes: its help, its value when nobody sets one, and how
    `docker compose [GLOBAL] build [OPTION]` and `docker buildx bake` spell it. A
    CONFIGURABLE flag's default is `build.<name>` in the Invoke config (invoke.yaml,
    INVOKE_BUILD_<NAME>); the command line wins. In a spelling, `{service}` and `{value}`
    are filled in; otherwise a true flag is the option alone, a value follows it."""

    name: str
    help: str
    default: bool | str | None
    compose: str | None = None
    compose_global: bool = False
    bake: str | None = None
    configurable: bool = False

    def spell(self, spelling: str | None, value, service: str) -> list[str]:
        if spelling is None or value in (None, False, ""):
            return []
        if value is True:
            return [spelling]
        if "{" in spelling:
            return spelling.format(service=service, value=value).split(" ", 1)
        return [spelling, str(value)]


# In this order in every build task's signature (it decides the short flags: -n, -l, -b).
BUILD_FLAGS = (
    BuildFlag("no_cache", "build without the BuildKit cache (rarely needed: it recompiles "
              "everything)", False, compose="--no-cache", bake="--no-cache"),
    BuildFlag("pull", "pull newer versions of the base images before building", False,
              compose="--pull", bake="--pull"),
    # compose builds never push: `docker compose push` follows the audit (tasks/_push.py);
    # bake pushes only in that step too, from the cache the audited build filled
    BuildFlag("push", "after the audit passes, push the built images to the registry "
              "their names point at", False, bake="--push"),
    # one platform goes to compose as DOCKER_DEFAULT_PLATFORM (BuildFlags.env)
    BuildFlag("platform", "target platform(s), comma separated, e.g. linux/arm64 (several "
              "need buildx; default: build.platform in invoke.yaml)", None,
              bake="--set {service}.platform={value}", configurable=True),
    BuildFlag("builder", "a buildx/remote BuildKit builder to build with instead of the "
              "engine's own (default: build.builder in invoke.yaml)", None,
              compose="--builder", bake="--builder", configurable=True),
    BuildFlag("progress", "build output: auto, plain, quiet or tty (default: build.progress "
              "in invoke.yaml, else auto)", "auto", compose="--progress", compose_global=True,
              bake="--progress", configurable=True),
)


FLAG_HELP = {flag.name: flag.help for flag in BUILD_FLAGS}


class _BuildFlagsBehaviour:
    """What BuildFlags does; its fields are the BUILD_FLAGS (see below)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "platform", ",".join(self.platforms()) or None)

    def platforms(self) -> list[str]:
        return [p.strip() for p in (self.platform or "").split(",") if p.strip()]

    def validate(self) -> None:
        if self.progress not in PROGRESS_MODES:
            raise KitError(
                f"unknown --progress {self.progress!r}; accepted: {', '.join(PROGRESS_MODES)}"
            )
        for platform in self.platforms():
            if not PLATFORM_RE.match(platform):
                raise KitError(
                    f"malformed --platform {platform!r}; expected os/arch[/variant], "
                    "e.g. linux/amd64 or linux/arm64"
                )

    @property
    def needs_buildx(self) -> bool:
        return len(self.platforms()) > 1 or bool(self.builder)

    def _spelled(self, which: str, service: str, compose_global: bool | None = None):
        return [arg for flag in BUILD_FLAGS
                if compose_global is None or flag.compose_global == compose_global
                for arg in flag.spell(getattr(flag, which), getattr(self, flag.name), service)]

    def compose_args(self, service: str) -> list[str]:
        """`docker compose` arguments that build SERVICE with these flags."""
        return (self._spelled("compose", service, compose_global=True) + ["build"]
                + self._spelled("compose", service, compose_global=False) + [service])

    def bake_argv(self, service: str, load: bool = False, extra=(),
                  image: str | None = None) -> list[str]:
        """`docker buildx bake` on the compose files: the multi-platform path. LOAD: build
        without pushing and load the result into the engine (one platform at a time),
        for the audit; EXTRA goes before the service. IMAGE: the service's `image:` name,
        added to its tags (bake 0.29 drops `image:` when `build.tags` is set, as
        compose.yml's :latest tag is)."""
        flags = replace(self, push=False) if load else self
        argv = ["docker", "buildx", "bake"]
        from . import _compose  # the compose files in force; only when a bake is spelled

        for compose_file in _compose.compose_files():
            argv += ["--file", compose_file]
        named = ["--set", f"{service}.tags+={image}"] if image else []
        return (argv + flags._spelled("bake", service) + named + (["--load"] if load else [])
                + list(extra) + [service])

    def env(self) -> dict[str, str]:
        platforms = self.platforms()
        return {"DOCKER_DEFAULT_PLATFORM": platforms[0]} if len(platforms) == 1 else {}


BuildFlags = make_dataclass(
    "BuildFlags",
    [(flag.name, bool if isinstance(flag.default, bool) else str | None,
      field(default=flag.default)) for flag in BUILD_FLAGS],
    bases=(_BuildFlagsBehaviour,), frozen=True, namespace={
        "__doc__": "The values of the shared build flags (fields: BUILD_FLAGS), validated "
                   "before anything runs.", "__module__": __name__})


def flags_from(c, given: dict):
    """BuildFlags from a task's flag values: what the command line GIVE wins, then
    `build.<name>` in C's config for a configurable flag, then the flag's default."""
    configured = c.config.get("build") or {}
    values = {}
    for flag in BUILD_FLAGS:
        value = given.get(flag.name)
        if value is None and flag.configurable:
            value = configured.get(flag.name)
        values[flag.name] = flag.default if value is None else value
    flags = BuildFlags(**values)
    flags.validate()
    return flags
