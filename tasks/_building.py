"""Building the images: the shared build flags, what a build of the stack is handed, and
the builds themselves through `docker compose build` (or `docker buildx bake` for
several platforms), each timed and checked against the cache. `inv build.*` and `inv
release` run them (tasks/_steps.py chains them with the audit and the push); nothing
here prints.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, make_dataclass, replace

from . import _components, _compose, _config, _connect, _dockerfile, _engine, _refs, _release
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


@dataclass
class Built:
    """What one service's build produced."""

    service: str
    image: str
    size: int | None
    seconds: float
    cached: bool
    digest: str | None = None  # REPO@sha256:... when it was pushed


class Builds(list):
    """The `Built` records of one run, with the compose config and the built images as the
    engine has them after the build, so the audit that follows asks neither again."""

    def __init__(self, built, config: dict, images: list[dict]) -> None:
        super().__init__(built)
        self.config = config
        self.images = images


def client_env(entries) -> dict[str, str]:
    """{CLIENT_SETTING: client} when ENTRIES hold a client component (compose then
    extends that client's file), else nothing: the stack's own setting stands."""
    chosen = {entry.client for entry in entries if entry.client}
    if len(chosen) > 1:
        raise KitError(f"one build runs one execution client, not {' and '.join(chosen)}")
    return {_components.CLIENT_SETTING: chosen.pop()} if chosen else {}


def built_services(config: dict) -> list[str]:
    """The services of the components CONFIG's stack runs (its client's), once each."""
    return _components.services(_config.client_of(config))


def builder_engine(c):
    """An engine client, once the engine is known to run BuildKit builds (on the local
    socket, without importing the SDK: a no-op build is mostly start-up time). Its first
    contact waits `engine.connect_timeout`; the build itself has no such limit."""
    client = _connect.build_client(connect=_connect.connect_timeout(c))
    _engine.require_buildkit(client)
    return client


def _build_one(c, service: str, flags: BuildFlags, env: dict[str, str], image_of,
               client) -> dict | None:
    """Build SERVICE (never pushing); the engine's record of its image afterwards. Several
    platforms are built and loaded one at a time (bake), and the largest is kept: the
    audit judges the worst of them. Without --push they are then loaded together (the
    containerd store holds them all under the tag), from the cache."""
    platforms = flags.platforms()
    if len(platforms) <= 1:
        _compose.run_compose(c, *flags.compose_args(service), env=env)
        return next(iter(_engine.inspect_images(client, [image_of()])), None)
    worst = None
    for platform in platforms:
        one = replace(flags, platform=platform)
        _compose.run_cli(c, one.bake_argv(service, load=True, image=image_of()), env=env)
        found = next(iter(_engine.inspect_images(client, [image_of()])), None)
        if found and (worst is None or (found["Size"] or 0) > (worst["Size"] or 0)):
            worst = found
    if not flags.push:  # a containerd store (`refuse_lost_platforms`): all under the tag,
        _compose.run_cli(c, flags.bake_argv(service, load=True, image=image_of()),
                         env=env)  # from the cache
        whole = next(iter(_engine.inspect_images(client, [image_of()])), None)
        worst = worst and whole and {**whole, "Size": worst["Size"]}
    return worst


def refuse_lost_platforms(c, client, flags) -> None:
    """Several platforms are refused before anything is built where they would leave
    nothing usable. The containerd image store holds multi-platform images; the classic
    store holds one platform per image, so there each platform's load replaces the last
    (without --push nothing whole is left), and buildx's `docker` driver cannot build
    them for a push either (a builder of its own, e.g. docker-container, can)."""
    if len(flags.platforms()) < 2:
        return
    if _engine.image_store(_engine.engine_info(client)) == "containerd":
        return
    several = f"several platforms ({flags.platform})"
    if not flags.push:
        raise KitError(
            f"{several} without --push would leave one platform here: this engine's classic "
            "image store holds one platform per image; add --push (with IMAGE_REGISTRY), "
            "switch the engine to the containerd image store, or build one platform")
    builder = _compose.buildx_builder(c, flags.builder)
    if builder and builder[1] == "docker":
        raise KitError(
            f"{several} cannot be pushed by buildx builder {builder[0]} (driver docker) on "
            "this engine's classic image store; create a builder that can (`docker buildx "
            "create --driver docker-container --name multi`) and add --builder multi, or "
            "switch the engine to the containerd image store")


def run_builds(c, services: list[str], flags: BuildFlags, env: dict[str, str] | None = None,
               config: dict | None = None) -> Builds:
    """Build SERVICES one after the other (each timed); stop at the first failure. Nothing
    is pushed here: tasks/_push.py does that after the audit.

    Compose reads the config (which names each service's image) in the background while
    the first build runs: on a no-op build that read is a good part of the kit's cost.
    Whether a build was fully from cache compares the image each tag names before (one
    listing, taken before any build, which also shows stand-ins left behind) and after
    (one inspect per service), by `_engine.cache_key`. Sizes are `_sizes.image_size`.
    """
    flags.validate()
    env = {**(env or {}), **flags.env()}
    client = builder_engine(c)  # an unreachable engine is the first thing to fix: said first
    if flags.needs_buildx and not _compose.has_buildx(c):
        need = "--builder" if flags.builder else f"several platforms ({flags.platform})"
        raise KitError(
            f"{need} needs docker buildx, which this host lacks; install the buildx plugin "
            "or build for one platform with the engine's own BuildKit"
        )
    refuse_lost_platforms(c, client, flags)
    with ThreadPoolExecutor(max_workers=1) as pool:
        if config is None:
            reading = pool.submit(_compose.compose_config, c, env)
        else:  # the caller read it (`prepare`)
            reading = Future()
            reading.set_result(config)
        listing = _engine.list_images(client, manifests=True)
        _dockerfile.refuse_standins(listing, reading.result, services)
        before = _refs.index_by_tag(listing)
        built, found = [], []
        if flags.push:  # a name no registry takes is refused before anything is built
            _release.require_registry(_config.service_images(reading.result(),
                                                           services).values())
        for service in services:
            started = time.monotonic()

            def image_of(service=service):
                _known(reading.result(), service)
                return _config.service_images(reading.result(), [service])[service]

            try:
                after = _build_one(c, service, flags, env, image_of, client)
            except KitError:
                _known(reading.result(), service)  # compose's "no such service", in our words
                raise
            seconds = time.monotonic() - started
            config = reading.result()
            image = image_of()
            old = before.get(image)
            found += [after] if after else []
            built.append(Built(service, image, after and after["Size"], seconds, cached=bool(
                after and old and after["Key"] == _engine.cache_key(old))))
    return Builds(built, config, found)


def _known(config: dict, service: str) -> None:
    if service not in config.get("services", {}):
        raise KitError(
            f"service {service!r} is not in the compose project "
            f"({', '.join(_compose.compose_files())}); keep the service names "
            f"{' and '.join(_components.services())}"
        )
