"""The one place that talks to Docker.

Engine queries (images, disk usage, build-cache prune) go through the Docker SDK;
builds go through the `docker compose` command line, because only compose (or
buildx) drives BuildKit. Both honour what docker and compose honour: DOCKER_HOST,
DOCKER_CONTEXT, COMPOSE_FILE and COMPOSE_PROJECT_NAME. Compose commands run through
the Invoke context, so MockContext can check the exact command line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

from ._components import ROOT
from ._errors import KitError

BUILDKIT_ENV = {"DOCKER_BUILDKIT": "1", "COMPOSE_DOCKER_CLI_BUILD": "1"}


class EngineUnavailable(KitError):
    """The Docker engine cannot be reached."""


class ComposeUnavailable(KitError):
    """The docker CLI or its compose v2 plugin is missing."""


class ComposeFailed(KitError):
    """A `docker compose` command exited non-zero; the exit code is kept."""


def _sdk():
    try:
        import docker
    except ImportError:
        docker = None
    if docker is None or not hasattr(docker, "DockerClient"):
        raise KitError(
            "the Docker SDK for Python is not installed (`import docker` found only the "
            "project's docker/ folder): run `pip install 'docker>=7.1'` or `pip install -e .`"
        )
    return docker


def engine_target() -> str:
    """Where the engine is expected, in the words a user configured it with."""
    if os.environ.get("DOCKER_HOST"):
        return f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
    if os.environ.get("DOCKER_CONTEXT"):
        return f"DOCKER_CONTEXT={os.environ['DOCKER_CONTEXT']}"
    return "unix:///var/run/docker.sock"


def engine_client(timeout: int = 120):
    """A pinged `docker.DockerClient`, or `EngineUnavailable` with a one-line reason."""
    docker = _sdk()
    import requests
    from docker.errors import DockerException

    try:
        context = None if os.environ.get("DOCKER_HOST") else _context()
        if context is None:
            client = docker.from_env(timeout=timeout)
        else:
            client = docker.DockerClient(
                base_url=context.Host, tls=context.TLSConfig or False, timeout=timeout
            )
        client.ping()
    except (DockerException, requests.RequestException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineUnavailable(
            f"cannot reach the Docker engine at {engine_target()} ({reason}); "
            "start the daemon or point DOCKER_HOST/DOCKER_CONTEXT at a running one"
        ) from None
    return client


def _context():
    """The non-default docker CLI context in force, if any (SDK's from_env ignores them)."""
    from docker.context import ContextAPI

    name = os.environ.get("DOCKER_CONTEXT")
    if not name:
        try:
            current = ContextAPI.get_current_context()
        except Exception:  # a broken ~/.docker/config.json: fall back to the default
            return None
        name = current.Name if current else None
    if not name or name == "default":
        return None
    context = ContextAPI.get_context(name)
    if context is None:
        raise KitError(
            f"Docker context {name!r} does not exist; `docker context ls` lists the known ones"
        )
    return context


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


REQUIRED_SETTING = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")
UNSET_PLACEHOLDER = "unset-at-build-time"


def _dotenv_names(path: Path) -> set[str]:
    """Names a compose `.env` file sets to a non-empty value."""
    names = set()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return names
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and not key.startswith("#") and value.strip().strip("'\""):
            names.add(key.strip())
    return names


def build_time_placeholders() -> dict[str, str]:
    """Placeholders for required run-time settings (`${NAME:?...}`) nobody has set.

    Building, auditing and cleaning read only the build definitions, so an L1 endpoint
    or network that matters at `up` time must not stop them; `docker compose up` (or
    Portainer) still refuses to start without the real values.
    """
    files = compose_files()
    names: set[str] = set()
    for compose_file in files:
        try:
            names.update(REQUIRED_SETTING.findall(Path(compose_file).read_text()))
        except OSError:
            continue
    known = set(os.environ) | _dotenv_names(Path(files[0]).parent / ".env")
    return {name: UNSET_PLACEHOLDER for name in sorted(names - known)}


def compose_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Environment additions for compose: BuildKit on, placeholders for run-time-only
    settings nobody set, plus resolved versions."""
    env = {**build_time_placeholders(), **BUILDKIT_ENV}
    env.update({k: str(v) for k, v in (overrides or {}).items()})
    return env


def require_compose(c) -> str:
    """The compose v2 version string, or `ComposeUnavailable` naming the fix."""
    if shutil.which("docker") is None:
        raise ComposeUnavailable(
            "the docker CLI is not on PATH; install Docker (docs.docker.com/engine/install)"
        )
    result = c.run("docker compose version --short", hide=True, warn=True, in_stream=False)
    version = (result.stdout or "").strip()
    if result.exited != 0 or not version:
        raise ComposeUnavailable(
            "docker compose v2 is missing; install the compose plugin "
            "(Debian/Ubuntu: apt-get install docker-compose-plugin; or place the docker-compose "
            "v2 binary in ~/.docker/cli-plugins/)"
        )
    return version.lstrip("v")


def run_cli(c, argv: list[str], env: dict[str, str] | None = None, hide=None):
    """Run a docker command line through the Invoke context; `ComposeFailed` on non-zero."""
    result = c.run(shlex.join(argv), env=compose_env(env), hide=hide, warn=True, in_stream=False)
    if result.exited != 0:
        detail = (result.stderr or "").strip().splitlines()
        reason = detail[-1] if detail else f"exit code {result.exited}"
        raise ComposeFailed(f"`{_display(argv)}` failed: {reason}", result.exited)
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


def run_compose(c, *args: str, env: dict[str, str] | None = None, hide=None):
    """Run `docker compose ARGS` (BuildKit on, ENV added) through the Invoke context."""
    return run_cli(c, compose_argv(*args), env=env, hide=hide)


def buildx_version(c) -> str | None:
    """`docker buildx version`'s first line, or None when the CLI lacks the plugin."""
    result = c.run("docker buildx version", hide=True, warn=True, in_stream=False)
    lines = (result.stdout or "").strip().splitlines()
    return (lines[0] if lines else "buildx") if result.exited == 0 else None


def has_buildx(c) -> bool:
    """Whether the docker CLI has the buildx plugin (needed for builders, multi-platform)."""
    return buildx_version(c) is not None


def compose_files() -> list[str]:
    """The compose files in force: COMPOSE_FILE's entries, else this checkout's compose.yml."""
    listed = os.environ.get("COMPOSE_FILE")
    if not listed:
        return [str(ROOT / "compose.yml")]
    separator = os.environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
    return [os.path.abspath(f) for f in listed.split(separator) if f]


MIN_BUILDKIT_API = (1, 39)  # Docker Engine 18.09, the first with BuildKit


def require_buildkit(client) -> str:
    """The engine version, or a one-line error when the engine predates BuildKit."""
    version = client.version()
    api = tuple(int(p) for p in str(version.get("ApiVersion", "0.0")).split(".")[:2])
    if api < MIN_BUILDKIT_API:
        raise KitError(
            f"BuildKit is unavailable: Docker Engine {version.get('Version', '?')} (API "
            f"{version.get('ApiVersion')}) predates it; upgrade to Docker Engine 18.09 or newer"
        )
    return str(version.get("Version", "?"))


def compose_config(c, env: dict[str, str] | None = None) -> dict:
    """The fully interpolated compose project (`docker compose config --format json`)."""
    result = run_compose(c, "config", "--format", "json", env=env, hide=True)
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise KitError("`docker compose config` printed no JSON; is compose v2 installed?") \
            from None


# ------------------------------------------------------------------ engine queries
# Thin wrappers over the SDK's low-level API: one engine call each, plain dicts back,
# engine errors turned into one-line KitErrors. The client is always passed in.


class EngineError(KitError):
    """The engine refused or failed a request."""


class ImageInUse(EngineError):
    """An image cannot be removed: a container uses it."""


class ProbeFailed(EngineError):
    """A command could not be started inside an image (e.g. the binary is missing)."""


def _engine_call(action: str, call, *args, **kwargs):
    import requests
    from docker.errors import APIError, DockerException

    try:
        return call(*args, **kwargs)
    except APIError as exc:
        reason = (exc.explanation or str(exc)).strip().splitlines()
        cls = ImageInUse if exc.status_code == 409 else EngineError
        raise cls(f"{action}: {reason[0] if reason else exc.status_code}") from None
    except (DockerException, requests.RequestException, OSError) as exc:
        raise EngineError(f"{action}: {str(exc).splitlines()[0] if str(exc) else exc!r}") \
            from None


def normalize_ref(ref: str) -> str:
    """`name:tag` as the engine lists it: default tag `latest`, no docker.io/library/."""
    ref = ref.split("@", 1)[0] if "@" in ref else ref
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        ref += ":latest"
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/",
                   "index.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if ref.startswith("library/"):
        ref = ref[len("library/"):]
    return ref


def split_ref(ref: str) -> tuple[str, str]:
    """(`repository`, `tag`) of a normalized reference."""
    repo, _, tag = normalize_ref(ref).rpartition(":")
    return repo, tag


def list_images(client) -> list[dict]:
    """Every image the engine has, as `GET /images/json` lists it: ONE engine call."""
    return _engine_call("listing images", client.api.images)


def index_by_tag(images: list[dict]) -> dict[str, dict]:
    """`name:tag` -> image summary, for matching service images locally."""
    index: dict[str, dict] = {}
    for image in images:
        for tag in image.get("RepoTags") or []:
            if tag != "<none>:<none>":
                index[normalize_ref(tag)] = image
    return index


def image_history(client, ref: str) -> list[dict]:
    """The layers of an image, newest first (`GET /images/{ref}/history`)."""
    return _engine_call(f"reading the history of {ref}", client.api.history, ref)


def images_in_use(client) -> set[str]:
    """IDs of images any container (running or stopped) was created from: one call."""
    containers = _engine_call("listing containers", client.api.containers, all=True)
    return {c.get("ImageID") for c in containers if c.get("ImageID")}


def remove_image(client, ref: str) -> list[dict]:
    """Untag/remove REF without force: a container's image is refused, never removed."""
    return _engine_call(f"removing {ref}", client.api.remove_image, ref, force=False,
                        noprune=False)


def build_cache_records(client) -> list[dict]:
    """The BuildKit cache records (`GET /system/df`, its BuildCache list)."""
    usage = _engine_call("reading disk usage", client.df)
    return list(usage.get("BuildCache") or [])


def prune_build_cache(client, keep_storage: int | None = None,
                      unused_for: int | None = None, all: bool = False) -> int:
    """`POST /build/prune`; bytes the engine reports reclaimed.

    UNUSED_FOR (seconds) goes in the `until` filter as a Go duration, which is how
    engine 20.10 (API 1.41) reads it (`unused-for` is its deprecated synonym).
    """
    filters = {"until": f"{int(unused_for)}s"} if unused_for else None
    result = _engine_call(
        "pruning the build cache", client.api.prune_builds, filters=filters,
        keep_storage=keep_storage if keep_storage else None, all=True if all else None,
    )
    return int((result or {}).get("SpaceReclaimed") or 0)


def engine_version(client) -> dict:
    """`GET /version`."""
    return _engine_call("reading the engine version", client.version)


def engine_info(client) -> dict:
    """`GET /info`."""
    return _engine_call("reading engine info", client.info)


def run_probe(client, image: str, argv: list[str], entrypoint: list[str] | None = None,
              workdir: str | None = None, timeout: int = 60,
              labels: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ARGV in a throwaway container of IMAGE: (exit code, output).

    No network, removed afterwards whatever happens. `ProbeFailed` when the command
    cannot even start (the executable is missing from the image).
    """
    import requests
    from docker.errors import APIError

    container = _engine_call(
        f"creating a container of {image}", client.api.create_container, image,
        command=argv, entrypoint=entrypoint, working_dir=workdir, labels=labels or {},
        host_config=client.api.create_host_config(network_mode="none"),
    )
    cid = container["Id"]
    try:
        try:
            client.api.start(cid)
        except APIError as exc:
            reason = (exc.explanation or str(exc)).strip().splitlines()
            raise ProbeFailed(f"{' '.join((entrypoint or []) + argv)} cannot start in {image}: "
                              f"{reason[0] if reason else exc.status_code}") from None
        try:
            code = client.api.wait(cid, timeout=timeout).get("StatusCode", -1)
        except requests.RequestException:
            raise ProbeFailed(f"{' '.join((entrypoint or []) + argv)} in {image} did not "
                              f"finish within {timeout}s") from None
        output = client.api.logs(cid, stdout=True, stderr=True).decode(errors="replace")
        return int(code), output
    finally:
        try:
            client.api.remove_container(cid, force=True)
        except Exception:  # best effort: the probe's result matters more than its cleanup
            pass
