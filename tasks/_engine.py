"""The engine side of Docker: images, disk usage, prune and probes on a client.

Thin wrappers over the Docker SDK's low-level API: one engine call each, plain dicts
back, engine errors turned into one-line errors named after what happened
(tasks/_errors.py). The client is always passed in (tasks/_connect.py makes it); nothing
here is global. The SDK's error types are imported only when a call fails, so a build on
the local socket (a `_connect.SocketClient`) never imports the SDK or `requests`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import _sizes
from ._connect import EngineClient, engine_call
from ._errors import (
    EngineError,
    KitError,
    ProbeFailed,
)

# Docker Engine 20.10: the oldest engine whose built-in Dockerfile frontend runs the
# Dockerfiles here (`RUN --mount=type=cache`, `COPY --chmod`); 18.09's BuildKit lacks them.
MIN_BUILDKIT_API = (1, 41)
MIN_ENGINE = "Docker Engine 20.10"


def buildkit_missing(version: dict) -> tuple[str, str] | None:
    """(why, fix) when the engine `GET /version` describes cannot run BuildKit builds."""
    if version.get("Os", "linux") != "linux":
        return (f"the engine runs {version.get('Os')} containers",
                "BuildKit builds need a Linux engine: switch to Linux containers")
    api = tuple(int(p) for p in str(version.get("ApiVersion", "0.0")).split(".")[:2])
    if api < MIN_BUILDKIT_API:
        return (f"Docker Engine {version.get('Version', '?')} (API {version.get('ApiVersion')})"
                f" is older than {MIN_ENGINE} (API {'.'.join(map(str, MIN_BUILDKIT_API))}), "
                "whose BuildKit runs these Dockerfiles (RUN --mount, COPY --chmod)",
                f"upgrade to {MIN_ENGINE} or newer")
    return None


def require_buildkit(client: EngineClient) -> str:
    """The engine version, or a one-line error when the engine cannot run BuildKit."""
    version = engine_version(client)
    missing = buildkit_missing(version)
    if missing:
        raise KitError(f"BuildKit is unavailable: {missing[0]}; {missing[1]}")
    return str(version.get("Version", "?"))


# ------------------------------------------------------------------ engine calls
def _sdk_get(api: Any, path: str, params: dict) -> Any:
    """`GET PATH?PARAMS` through the SDK's API client (for query parameters its own
    methods do not take)."""
    return api._result(api._get(api._url(path), params=params), True)


def list_images(client: EngineClient, manifests: bool = False) -> list[dict]:
    """Every image the engine has, as `GET /images/json` lists it: ONE engine call. With
    MANIFESTS, an engine of API 1.47 or later on the containerd store adds each image's
    platform manifests (`cache_key`); other engines ignore the parameter."""
    api = client.api
    if not manifests:
        return engine_call("listing images", api.images)
    if hasattr(api, "_url"):  # the SDK
        return engine_call("listing images", _sdk_get, api, "/images/json", {"manifests": 1})
    return engine_call("listing images", api.images, manifests=True)


def inspect_images(client: EngineClient, refs: Iterable[str]) -> list[dict]:
    """The images REFS name that the engine has, in the listing's shape (Id, RepoTags,
    RepoDigests, Size, Created), Size being what `_sizes.image_size` measures (the same
    on every store), plus Key (`cache_key`): one `GET /images/{ref}/json` each, cheaper
    than listing every image."""
    api = client.api

    def inspect(ref: str) -> dict | None:
        from urllib.parse import quote

        try:  # a SocketClient answers None for an image it does not have
            if hasattr(api, "_url"):  # the SDK: with the platform manifests (`cache_key`)
                return _sdk_get(api, f"/images/{quote(ref, safe='/:@')}/json",
                                {"manifests": 1})
            return api.inspect_image(ref, manifests=True)
        except Exception as exc:
            if isinstance(exc, KitError):
                raise
            from docker.errors import NotFound

            if isinstance(exc, NotFound):  # not built: absent from the result, not an error
                return None
            raise

    found = []
    for ref in refs:
        image = engine_call(f"inspecting {ref}", inspect, ref)
        if image:
            entry = {key: image.get(key)
                     for key in ("Id", "RepoTags", "RepoDigests", "Size", "Created")}
            entry["Size"] = _sizes.image_size(client, image)
            entry["Key"] = cache_key(image)
            found.append(entry)
    return found


def image_history(client: EngineClient, ref: str) -> list[dict]:
    """The layers of an image, newest first (`GET /images/{ref}/history`)."""
    return engine_call(f"reading the history of {ref}", client.api.history, ref)


# ------------------------------------------------------------------ what an image is
def cache_key(image: dict) -> tuple:
    """What stays the same across a fully cached rebuild, on every store, of IMAGE (a
    listing or inspect answer asked `with manifests`): on the containerd store, the
    digests of its platform manifests (each names the configuration and the layers); on
    the classic store, its ID (the configuration's digest). Not the containerd store's
    ID: with buildx, that is an index's digest, and the index's provenance attestation
    records the build's own times, so it changes on every build."""
    manifests = sorted(m["ID"] for m in image.get("Manifests") or []
                       if m.get("Kind") == "image" and m.get("ID"))
    return tuple(manifests) if manifests else (image.get("Id"),)


def images_in_use(client: EngineClient) -> set[str]:
    """IDs of images any container (running or stopped) was created from: one call."""
    containers = engine_call("listing containers", client.api.containers, all=True)
    return {c.get("ImageID") for c in containers if c.get("ImageID")}


def remove_image(client: EngineClient, ref: str) -> list[dict]:
    """Untag/remove REF without force: a container's image is refused (`ImageInUse`),
    never removed; other refusals are `EngineConflict` or `EngineError`."""
    return engine_call(f"removing {ref}", client.api.remove_image, ref, force=False,
                        noprune=False)


def build_cache_records(client: EngineClient, tries: int = 3) -> list[dict]:
    """The BuildKit cache records (`GET /system/df?type=build-cache`, its BuildCache
    list; an engine before API 1.42 ignores `type` and answers everything). The
    containerd image store can fail the call with "NotFound: snapshot ... does not exist"
    when a snapshot goes while it counts (a removal, a prune, another build): asked again,
    up to TRIES times."""
    def usage() -> Any:
        if hasattr(client.api, "_url"):  # the SDK: only the build cache
            return _sdk_get(client.api, "/system/df", {"type": "build-cache"})
        return client.df()

    for attempt in range(1, tries + 1):
        try:
            answer = engine_call("reading the build cache's disk usage", usage)
            break
        except EngineError as exc:
            if attempt == tries or "does not exist" not in exc.reason:
                raise
    return list(answer.get("BuildCache") or [])


def cache_parents(record: dict) -> list[str]:
    """The records a build-cache RECORD is built on: `Parent` (API 1.41) or `Parents`
    (API 1.42 and later; Docker 28 still spells the JSON key " Parents", with a space)."""
    parents = record.get("Parents") or record.get(" Parents") or []
    if record.get("Parent"):
        parents = [*parents, record["Parent"]]
    return [p for p in parents if p]


def prune_build_cache(client: EngineClient, keep_storage: int | None = None,
                      unused_for: int | None = None, all: bool = False) -> int:
    """`POST /build/prune`; bytes the engine reports reclaimed.

    UNUSED_FOR (seconds) goes in the `until` filter as a Go duration, which is how
    engine 20.10 (API 1.41) reads it (`unused-for` is its deprecated synonym).
    """
    filters = {"until": f"{int(unused_for)}s"} if unused_for else None
    result = engine_call(
        "pruning the build cache", client.api.prune_builds, filters=filters,
        keep_storage=keep_storage if keep_storage else None, all=True if all else None,
    )
    return int((result or {}).get("SpaceReclaimed") or 0)


def engine_version(client: EngineClient) -> dict:
    """`GET /version`."""
    return engine_call("reading the engine version", client.version)


def image_store(info: dict | None) -> str | None:
    """`containerd` or `classic` for the engine that `GET /info` (INFO) describes: the
    containerd image store names its snapshotter in the driver status (`driver-type
    io.containerd.snapshotter.v1`; Docker 29's default for fresh installs,
    `{"features": {"containerd-snapshotter": true}}` before); None without INFO."""
    if not info:
        return None
    status = info.get("DriverStatus") or []
    return "containerd" if any("io.containerd.snapshotter" in str(pair) for pair in status) \
        else "classic"


def engine_info(client: EngineClient) -> dict:
    """`GET /info`."""
    return engine_call("reading engine info", client.info)


def remove_container(client: EngineClient, cid: str) -> None:
    """Remove container CID, forced, WITH its anonymous volumes (`docker rm -fv`): every
    container of an image gets a fresh volume for each VOLUME the image declares (the
    Nethermind base declares three), and a removal without `v` leaves them all dangling.
    Best effort: what the container was for matters more than its cleanup."""
    try:
        client.api.remove_container(cid, v=True, force=True)
    except Exception:
        pass


def run_probe(client: EngineClient, image: str, argv: list[str],
              entrypoint: list[str] | None = None, workdir: str | None = None, timeout: int = 60,
              labels: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ARGV in a throwaway container of IMAGE: (exit code, output).

    No network, removed afterwards whatever happens, with its anonymous volumes.
    `ProbeFailed` when the command cannot even start (the executable is missing from the
    image).
    """
    import requests
    from docker.errors import APIError

    container = engine_call(
        f"creating a container of {image}", client.api.create_container, image,
        command=argv, entrypoint=entrypoint, working_dir=workdir, labels=labels or {},
        host_config=client.api.create_host_config(network_mode="none"),
    )
    cid = container["Id"]
    shown = " ".join((entrypoint or []) + argv)
    try:
        try:
            client.api.start(cid)
        except APIError as exc:
            reason = (exc.explanation or str(exc)).strip().splitlines()
            raise ProbeFailed(f"{shown} cannot start in {image}: "
                              f"{reason[0] if reason else exc.status_code}") from None
        try:
            code = client.api.wait(cid, timeout=timeout).get("StatusCode", -1)
        except requests.RequestException:
            raise ProbeFailed(f"{shown} in {image} did not finish within {timeout}s") from None
        output = client.api.logs(cid, stdout=True, stderr=True).decode(errors="replace")
        return int(code), output
    finally:
        remove_container(client, cid)


def folder_names(client: EngineClient, image: str, path: str,
                 labels: dict[str, str] | None = None) -> list[str] | None:
    """The names in folder PATH of IMAGE (its direct entries), or None when the image
    has no such folder. Read from a container that is created and never started
    (`GET /containers/{id}/archive`), so nothing in the image runs and it needs no shell."""
    import io
    import tarfile

    container = engine_call(
        f"creating a container of {image}", client.api.create_container, image,
        entrypoint=["/opkit-never-started"], command=[], labels=labels or {},
        host_config=client.api.create_host_config(network_mode="none"),
    )
    cid = container["Id"]

    def archive() -> Any:
        try:
            stream, _ = client.api.get_archive(cid, path)
        except Exception as exc:
            from docker.errors import NotFound

            if isinstance(exc, NotFound):  # no such folder in the image
                return None
            raise
        return b"".join(stream)

    try:
        data = engine_call(f"reading {path} in {image}", archive)
    finally:
        remove_container(client, cid)
    if data is None:
        return None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:  # members: <folder>/<name>...
        return sorted({m.name.split("/")[1] for m in tar.getmembers()
                       if m.name.count("/") >= 1 and m.name.split("/")[1]})


def project_containers(client: EngineClient, project: str) -> list[dict]:
    """The containers (any state) compose made for the compose project PROJECT, as
    `GET /containers/{id}/json` describes them; one-off `compose run` containers are
    left out. One listing call, one inspect each."""
    listed = engine_call("listing containers", client.api.containers, all=True,
                          filters={"label": f"com.docker.compose.project={project}"})
    found = []
    for entry in listed:
        if (entry.get("Labels") or {}).get("com.docker.compose.oneoff") == "True":
            continue
        try:
            found.append(engine_call("inspecting a container", client.api.inspect_container,
                                      entry["Id"]))
        except EngineError:  # removed since the listing
            continue
    return found
