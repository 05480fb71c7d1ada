"""Build the node images with BuildKit through `docker compose build`.

`inv build` builds the services of the components the stack runs (op-node and the
execution client EXECUTION_CLIENT selects) at the versions compose.yml and the client's
docker/<client>.yml pin (or the environment overrides). `inv build.<component> --version
SPEC` (one task per entry of tasks/_components.py, e.g. `inv build.op-node`, `inv
build.op-reth`) resolves SPEC upstream first and hands the exact tag, commit and Go
version to compose through its environment, so image tag, labels and build args agree;
a client's task sets EXECUTION_CLIENT to that client there too. Every build ends with
the size audit of what it built and a summary: tag, size, build time, cache. With
--push, what passed the audit is pushed after it (an image over budget pushes nothing),
one image at a time, and the digests the registry holds are printed. Before anything
is built, a base image that is a rehearsal stand-in left behind by an interrupted test
run is refused. When NETWORK is set, a build first prints one warning line if the
version it builds lacks a hard fork the network has scheduled (`inv source.forks`
gives the whole picture).
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, make_dataclass, replace

from invoke import Collection, task
from invoke.exceptions import Exit

from . import (
    _components,
    _compose,
    _connect,
    _dockerfile,
    _engine,
    _push,
    _release,
    audit,
    forks,
    source,
)
from ._errors import KitError

PROGRESS_MODES = ("auto", "plain", "quiet", "tty")
PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
VERSION_HELP = {
    "version": "version to build: latest, vX.Y (newest patch), vX.Y.Z or a pre-release; "
    "default: the pin in compose.yml",
    "pre": "let latest and vX.Y choose pre-releases",
}


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


def config_defaults() -> dict:
    """`build.*` defaults for the root namespace: the configurable flags' defaults."""
    return {flag.name: flag.default for flag in BUILD_FLAGS if flag.configurable}


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


def with_build_flags(body):
    """Give the build task BODY(c, flags, **own) every BUILD_FLAGS flag as a parameter of
    its own (Invoke reads a task's flags from its signature), and call it with the
    BuildFlags they make (`flags_from`)."""
    own = list(inspect.signature(body).parameters.values())
    flag_params = [inspect.Parameter(flag.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                     default=None if flag.configurable else flag.default)
                   for flag in BUILD_FLAGS]
    signature = inspect.Signature([own[0], *own[2:], *flag_params])

    @functools.wraps(body)
    def with_flags(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        c = values.pop(own[0].name)
        given = {flag.name: values.pop(flag.name) for flag in BUILD_FLAGS}
        return body(c, flags_from(c, given), **values)

    with_flags.__signature__ = signature
    return with_flags


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


def resolve(c, component: str, version: str | None, pre: bool) -> dict[str, str]:
    """Compose environment for COMPONENT at VERSION (nothing when building the pin),
    resolved in the upstream repository C's config names (`source.<name>_repo`)."""
    if version is None:
        return {}
    if not version.strip():  # `--version=` would otherwise build the pin without a word
        raise KitError("--version is empty: give latest, vX.Y, vX.Y.Z or a pre-release, "
                       "or leave --version out to build the pin")
    resolution = source.resolve_version(component, version, pre=pre,
                                        repo=source.upstream_repo(c, component))
    commit = f" @ {resolution.commit[:12]}" if resolution.commit else ""
    go = f" (Go {resolution.go_version})" if resolution.go_version else ""
    print(f"resolved {component} {version} -> {resolution.tag}{commit}{go}", file=sys.stderr)
    return resolution.build_env()


def prepare(c, components=None, version: str | None = None, pre: bool = False,
            ) -> tuple[dict[str, str], dict]:
    """(compose environment, compose config) to build COMPONENTS (names; None: the
    components the stack runs, `Settings.in_use`): at VERSION resolved upstream, else at
    the pins compose resolves with a short commit made the full one; with the clone URL
    (`source.build_env`); the fork warning printed. A client component is built with
    CLIENT_SETTING set to it in compose's environment, whatever .env says. The engine is
    checked before compose is asked (and it is asked once: the build reuses its config;
    what the environment adds after it, a commit and a URL, names no image)."""
    chosen = [_components.get(name) for name in components or ()]
    resolved = {entry.name: resolve(c, entry.name, version, pre) for entry in chosen}
    _builder_engine(c)  # an unreachable engine is said first, before GitHub is asked
    env = {k: v for pins in resolved.values() for k, v in pins.items()}
    env.update(client_env(chosen))
    config = _compose.compose_config(c, env)
    settings = _compose.settings(config)
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
        env.update(source.build_env(c, name, settings, pins or None))
    warn_forks(c, list(resolved), env, settings)
    return env, config


def client_env(entries) -> dict[str, str]:
    """{CLIENT_SETTING: client} when ENTRIES hold a client component (compose then
    extends that client's file), else nothing: the stack's own setting stands."""
    chosen = {entry.client for entry in entries if entry.client}
    if len(chosen) > 1:
        raise KitError(f"one build runs one execution client, not {' and '.join(chosen)}")
    return {_components.CLIENT_SETTING: chosen.pop()} if chosen else {}


def built_services(config: dict) -> list[str]:
    """The services of the components CONFIG's stack runs (its client's), once each."""
    return _components.services(_compose.client_of(config))


def _builder_engine(c):
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
    client = _builder_engine(c)  # an unreachable engine is the first thing to fix: said first
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
        before = _engine.index_by_tag(listing)
        built, found = [], []
        if flags.push:  # a name no registry takes is refused before anything is built
            _release.require_registry(audit.service_images(reading.result(),
                                                           services).values())
        for service in services:
            started = time.monotonic()

            def image_of(service=service):
                _known(reading.result(), service)
                return audit.service_images(reading.result(), [service])[service]

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


def print_summary(built: list[Built]) -> None:
    from ._units import format_bytes

    print("\nbuilt:")
    width = max(len(b.image) for b in built)
    for b in built:
        size = format_bytes(b.size) if b.size is not None else "not in the local engine"
        cache = "fully from cache" if b.cached else "rebuilt"
        print(f"  {b.image:<{width}}  {size:>10}  {b.seconds:6.1f}s  {cache}")


def build_and_audit(c, services: list[str], flags: BuildFlags, env=None,
                    config: dict | None = None) -> Builds:
    """The chain: build, summarise, audit what was built (exit 1 when over budget, and
    nothing is pushed); with --push, then push and print the digests the registry holds."""
    built = run_builds(c, services, flags, env, config)
    print_summary(built)
    code = audit.check_sizes(c, services=services, env=env, config=built.config,
                             images=built.images,
                             note="nothing was pushed" if flags.push else "")
    if code:  # the audit printed its own one-line error
        raise Exit(code=code)
    if flags.push:
        _release.print_pushed(_push.push_built(c, built, flags, env))
    return built


def warn_forks(c, components, env: dict[str, str] | None = None,
               settings: _compose.Settings | None = None) -> None:
    """One line on stderr when a version about to be built lacks a fork NETWORK schedules
    (nothing, and no request, when NETWORK is unset). SETTINGS: what compose resolves, when
    the caller has read it already."""
    line = forks.build_warning(components, env, c, settings)
    if line:
        print(line, file=sys.stderr)


ALL_VERSION_HELP = ("not taken here (every component builds at its pin): build one "
                    "component at a version with build.<component> --version")


@task(name="all", default=True, help={"version": ALL_VERSION_HELP, **FLAG_HELP})
@with_build_flags
def all_(c, flags, version=None):
    """Build op-node and the execution client in use (EXECUTION_CLIENT) at their pins,
    then audit them."""
    if version is not None:  # else Invoke reads it as its own --version and says "No idea"
        raise KitError(version_elsewhere(version))
    env, config = prepare(c)
    build_and_audit(c, built_services(config), flags, env, config)


def version_elsewhere(version: str) -> str:
    """Where `inv build --version VERSION` belongs: the build.<component> task(s) whose
    version form (vX.Y.Z or X.Y.Z) VERSION has."""
    entries = _components.all_components()
    fitting = [e for e in entries if version.startswith("v") == e.v_prefix] or entries
    where = " or ".join(f"`inv build.{e.name} --version {version}`" for e in fitting)
    return (f"`inv build` builds every component at its pin and takes no --version; to "
            f"build one at {version!r}: {where}")


def component_task(component: _components.Component):
    """The `build.<name>` task of one component."""

    def build_one(c, flags, version=None, pre=False):
        env, config = prepare(c, (component.name,), version, pre)
        build_and_audit(c, [component.service], flags, env, config)

    build_one.__name__ = component.name.replace("-", "_")
    which = (f" with {_components.CLIENT_SETTING}={component.client}" if component.client
             else "")
    build_one.__doc__ = (f"Build {component.service}{which} (resolving --version upstream "
                         "first), then audit it.")
    return task(name=component.name, help={**VERSION_HELP, **FLAG_HELP})(
        with_build_flags(build_one))


def collection() -> Collection:
    """`build` (all, the default) and one `build.<name>` per component."""
    ns = Collection("build", all_, *(component_task(entry)
                                     for entry in _components.all_components()))
    ns.__doc__ = __doc__
    return ns


ns = collection()
