"""Build the node images with BuildKit through `docker compose build`.

`inv build` builds both services at the versions compose.yml pins (or the
environment overrides); `inv build.op-node --version SPEC` resolves SPEC upstream
first and hands the exact tag, commit and Go version to compose through its
environment, so image tag, labels and build args agree. Every build ends with the
size audit of what it built and a summary: tag, size, build time, cache. When NETWORK is
set, a build first prints one warning line if the version it builds lacks a hard fork the
network has scheduled (`inv source.forks` gives the whole picture).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass

from invoke import task
from invoke.exceptions import Exit

from . import _docker, audit, forks, source
from ._errors import KitError

SERVICES = {"op-node": "base-op-node", "execution": "base-execution"}
PROGRESS_MODES = ("auto", "plain", "quiet", "tty")
PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")

FLAG_HELP = {
    "no_cache": "build without the BuildKit cache (rarely needed: it recompiles everything)",
    "pull": "pull newer versions of the base images before building",
    "push": "push the built images to the registry their names point at",
    "platform": "target platform(s), comma separated, e.g. linux/arm64 (several need buildx)",
    "builder": "a buildx/remote BuildKit builder to build with instead of the engine's own",
    "progress": "build output: auto (default), plain, quiet or tty",
}
VERSION_HELP = {
    "version": "version to build: latest, vX.Y (newest patch), vX.Y.Z or a pre-release; "
    "default: the pin in compose.yml",
    "pre": "let latest and vX.Y choose pre-releases",
}


@dataclass(frozen=True)
class BuildFlags:
    """The build flags shared by all build tasks, validated before anything runs."""

    no_cache: bool = False
    pull: bool = False
    push: bool = False
    platform: str | None = None
    builder: str | None = None
    progress: str = "auto"

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

    def compose_args(self, service: str) -> list[str]:
        """`docker compose` arguments that build SERVICE with these flags."""
        args = ["--progress", self.progress, "build"]
        args += ["--no-cache"] * self.no_cache + ["--pull"] * self.pull + ["--push"] * self.push
        if self.builder:
            args += ["--builder", self.builder]
        return args + [service]

    def bake_argv(self, service: str) -> list[str]:
        """`docker buildx bake` on the compose files: the multi-platform path."""
        argv = ["docker", "buildx", "bake", "--progress", self.progress]
        for compose_file in _docker.compose_files():
            argv += ["--file", compose_file]
        argv += ["--set", f"{service}.platform={','.join(self.platforms())}"]
        argv += ["--no-cache"] * self.no_cache + ["--pull"] * self.pull + ["--push"] * self.push
        if self.builder:
            argv += ["--builder", self.builder]
        return argv + [service]

    def env(self) -> dict[str, str]:
        platforms = self.platforms()
        return {"DOCKER_DEFAULT_PLATFORM": platforms[0]} if len(platforms) == 1 else {}


@dataclass
class Built:
    """What one service's build produced."""

    service: str
    image: str
    size: int | None
    seconds: float
    cached: bool


class Builds(list):
    """The `Built` records of one run, with the compose config and the image listing taken
    after the last build, so the audit that follows asks neither again."""

    def __init__(self, built, config: dict, images: list[dict]) -> None:
        super().__init__(built)
        self.config = config
        self.images = images


def resolve(component: str, version: str | None, pre: bool) -> dict[str, str]:
    """Compose environment for COMPONENT at VERSION (nothing when building the pin)."""
    if not version:
        return {}
    resolution = source.resolve_version(component, version, pre=pre)
    commit = f" @ {resolution.commit[:12]}" if resolution.commit else ""
    go = f" (Go {resolution.go_version})" if resolution.go_version else ""
    print(f"resolved {component} {version} -> {resolution.tag}{commit}{go}", file=sys.stderr)
    return resolution.build_env()


def run_builds(c, services: list[str], flags: BuildFlags, env: dict[str, str] | None = None,
               ) -> Builds:
    """Build SERVICES one after the other (each timed); stop at the first failure."""
    flags.validate()
    client = _docker.engine_client()
    _docker.require_buildkit(client)
    _docker.require_compose(c)
    if flags.needs_buildx and not _docker.has_buildx(c):
        need = "--builder" if flags.builder else f"several platforms ({flags.platform})"
        raise KitError(
            f"{need} needs docker buildx, which this host lacks; install the buildx plugin "
            "or build for one platform with the engine's own BuildKit"
        )
    env = {**(env or {}), **flags.env()}
    config = _docker.compose_config(c, env=env)
    for service in services:
        if service not in config.get("services", {}):
            raise KitError(
                f"service {service!r} is not in the compose project "
                f"({', '.join(_docker.compose_files())}); keep the service names "
                f"{' and '.join(SERVICES.values())}"
            )
    images = audit.service_images(config, services)
    listing = _docker.list_images(client)
    before = _docker.index_by_tag(listing)
    built = []
    for service in services:
        started = time.monotonic()
        if len(flags.platforms()) > 1:
            _docker.run_cli(c, flags.bake_argv(service), env=env)
        else:
            _docker.run_compose(c, *flags.compose_args(service), env=env)
        seconds = time.monotonic() - started
        listing = _docker.list_images(client)
        after = _docker.index_by_tag(listing).get(images[service])
        old = before.get(images[service])
        built.append(Built(service, images[service], after and after["Size"], seconds,
                           cached=bool(after and old and after["Id"] == old["Id"])))
    return Builds(built, config, listing)


def print_summary(built: list[Built]) -> None:
    from ._units import format_bytes

    print("\nbuilt:")
    width = max(len(b.image) for b in built)
    for b in built:
        size = format_bytes(b.size) if b.size is not None else "not in the local engine"
        cache = "fully from cache" if b.cached else "rebuilt"
        print(f"  {b.image:<{width}}  {size:>10}  {b.seconds:6.1f}s  {cache}")


def build_and_audit(c, services: list[str], flags: BuildFlags, env=None) -> None:
    """The chain: build, summarise, audit what was built (exit 1 when over budget)."""
    built = run_builds(c, services, flags, env)
    print_summary(built)
    code = audit.check_sizes(c, services=services, env=env, config=built.config,
                             images=built.images)
    if code:  # the audit printed its own one-line error
        raise Exit(code=code)


def warn_forks(c, components, env: dict[str, str] | None = None) -> None:
    """One line on stderr when a version about to be built lacks a fork NETWORK schedules
    (nothing, and no request, when NETWORK is unset)."""
    line = forks.build_warning(components, env, c)
    if line:
        print(line, file=sys.stderr)


def _flags(no_cache, pull, push, platform, builder, progress) -> BuildFlags:
    return BuildFlags(no_cache, pull, push, platform, builder, progress)


@task(name="all", default=True, help=FLAG_HELP)
def all_(c, no_cache=False, pull=False, push=False, platform=None, builder=None,
         progress="auto"):
    """Build base-op-node and base-execution at the pinned versions, then audit them."""
    flags = _flags(no_cache, pull, push, platform, builder, progress)
    flags.validate()
    warn_forks(c, tuple(SERVICES))
    build_and_audit(c, list(SERVICES.values()), flags)


@task(name="op-node", help={**VERSION_HELP, **FLAG_HELP})
def op_node(c, version=None, pre=False, no_cache=False, pull=False, push=False, platform=None,
            builder=None, progress="auto"):
    """Build base-op-node (resolving --version upstream first), then audit it."""
    flags = _flags(no_cache, pull, push, platform, builder, progress)
    flags.validate()
    env = resolve("op-node", version, pre)
    warn_forks(c, ("op-node",), env)
    build_and_audit(c, [SERVICES["op-node"]], flags, env)


@task(help={**VERSION_HELP, **FLAG_HELP})
def execution(c, version=None, pre=False, no_cache=False, pull=False, push=False, platform=None,
              builder=None, progress="auto"):
    """Build base-execution (resolving --version upstream first), then audit it."""
    flags = _flags(no_cache, pull, push, platform, builder, progress)
    flags.validate()
    env = resolve("execution", version, pre)
    warn_forks(c, ("execution",), env)
    build_and_audit(c, [SERVICES["execution"]], flags, env)
