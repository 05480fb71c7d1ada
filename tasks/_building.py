"""Building the images: what a build of the stack is handed, and the builds themselves
through `docker compose build` (or `docker buildx bake` for several platforms), with
the flags of tasks/_build_flags.py, each timed and checked against the cache. `inv build.*` and `inv
release` run them (tasks/_steps.py chains them with the audit and the push); nothing
here prints.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from . import (
    _build_flags,
    _components,
    _compose,
    _config,
    _connect,
    _dockerfile,
    _engine,
    _refs,
    _release,
)
from ._errors import KitError


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


def _build_one(c, service: str, flags: _build_flags.BuildFlags, env: dict[str, str], image_of,
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


def run_builds(c, services: list[str], flags: _build_flags.BuildFlags,
               env: dict[str, str] | None = None, config: dict | None = None) -> Builds:
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
