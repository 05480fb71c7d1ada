"""Registries: which one an image name points at, what its refusals mean, the digests a
push produced, and the release file that pins them.

Nothing here talks to a registry itself: the engine pushes and pulls (with the
credentials of docker's own store, `docker login`), compose drives it, and this module
reads what they say. IMAGE_REGISTRY (compose.yml) puts the registry into the image
names; the kit reads it back from the names in the compose config.

The release file (compose.release.yml beside compose.yml, or where --output says) is a
compose override that `inv release` writes: every service's `image:` by digest, so a
node host runs exactly what was built, audited and pushed, without building:

    docker compose -f compose.yml -f compose.release.yml pull
    docker compose -f compose.yml -f compose.release.yml up -d --no-build

Every release file written is recorded in RELEASE_RECORD beside compose.yml (one path
a line, this host only, not committed): `inv clean.images` keeps what any of them pins,
wherever --output put it, plus the default file and any `--release-file` it is given.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path

from ._errors import (
    KitError,
    RegistryAuthFailed,
    RegistryError,
    RegistryNotFound,
    RegistryUnreachable,
)
from ._refs import normalize_ref, split_ref

RELEASE_FILE = "compose.release.yml"
RELEASE_RECORD = ".release-files"
DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})\b")
DEFAULT_REGISTRY = "docker.io"
# What the engine, compose and registries say, by kind (distribution 2.8, Docker Hub,
# Harbor, GitLab, GHCR). Checked in this order: a 401 also mentions the repository.
_AUTH = ("no basic auth credentials", "unauthorized", "authentication required",
         "requested access to the resource is denied", "denied:", "insufficient_scope",
         "401 unauthorized", "403 forbidden")
_MISSING = ("name unknown", "manifest unknown", "repository name not known",
            "repository does not exist", "404 not found", "project not found",
            # the containerd store's resolver: `failed to resolve reference "R": R: not found`
            re.compile(r"failed to resolve reference .*: not found$"))
_OFFLINE = ("connection refused", "no such host", "i/o timeout", "network is unreachable",
            "server gave http response to https client", "x509:", "no route to host",
            "connection reset by peer", "tls: ")
_NOISE = re.compile(r"^(#\d+\s+)?(error:?\s*)?(failed to solve:\s*)?", re.I)


def registry_of(ref: str) -> str:
    """The registry host an image reference points at, as docker reads it: the first
    path component when it has a dot or a port or is `localhost`, else Docker Hub."""
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DEFAULT_REGISTRY


def registry_path(ref: str) -> str:
    """What IMAGE_REGISTRY must have been for REF: everything before the image's own
    name (`registry.example.com/ops` of `registry.example.com/ops/app:v1`)."""
    repo, _ = split_ref(ref)
    return repo.rpartition("/")[0]


def push_target(ref: str) -> tuple[str, str] | None:
    """(registry host, full IMAGE_REGISTRY) a push of REF goes to, or None for a bare
    name (`app:v1`: IMAGE_REGISTRY empty), which stays on the host. A name
    without a registry host is a Docker Hub namespace, as docker reads it: `acme/x` and
    `docker.io/acme/x` both give ("docker.io", "docker.io/acme")."""
    repo, _ = split_ref(ref)
    path = repo.rpartition("/")[0]
    if not path:
        return None
    registry = registry_of(repo)
    return registry, path if registry != DEFAULT_REGISTRY else f"{DEFAULT_REGISTRY}/{path}"


def has_registry(ref: str) -> bool:
    """Whether REF goes somewhere when pushed (IMAGE_REGISTRY was set: a registry, or a
    Docker Hub namespace)."""
    return push_target(ref) is not None


def explain(output: str, ref: str, doing: str) -> RegistryError | None:
    """The one-line error for a registry's refusal in a command's OUTPUT while DOING
    (e.g. `pushing app:v1`) with image REF, or None when the output shows no
    registry trouble (then the command's own error stands)."""
    registry = registry_of(ref)
    setting = registry_path(ref) or "(empty)"
    lines = [_NOISE.sub("", line.strip()) for line in (output or "").splitlines()]
    for kinds, build in ((_AUTH, _auth), (_MISSING, _missing), (_OFFLINE, _offline)):
        said = next((line for line in lines if _names(line, kinds)), None)
        if said:
            said = _specific(said, kinds)
            said = said if len(said) <= 160 else said[:157] + "..."
            return build(registry, setting, doing, said)
    return None


def _specific(line: str, kinds: Iterable[str | re.Pattern]) -> str:
    """The most specific part of LINE, an error that wraps errors (`a: b: c`): from the
    last part naming the trouble on. The containerd store's pushes say `failed to do
    request: Head "URL": dial tcp ADDRESS: connect: connection refused` and `push access
    denied, ...: authorization failed: no basic auth credentials`."""
    parts = line.split(": ")
    named = [i for i, part in enumerate(parts) if _names(part, kinds)
             or _names(part + ":", kinds)]  # `x509` of `x509: certificate ...`
    return ": ".join(parts[named[-1]:]) if named else line


def _names(text: str, kinds: Iterable[str | re.Pattern]) -> bool:
    """Whether TEXT says one of KINDS (phrases, lower case, or patterns)."""
    lower = text.lower()
    return any(k.search(lower) if isinstance(k, re.Pattern) else k in lower for k in kinds)


# A registry's own trouble, not a refusal: a push is idempotent (layers already there are
# skipped), so one more try is cheap. Seen here: distribution 2.8 answering 500 while a
# second repository mounts blobs the first push just wrote.
_SERVER_SIDE = ("500 internal server error", "502 bad gateway", "503 service unavailable",
                "504 gateway", "blob unknown")


def transient(exc: KitError) -> bool:
    """Whether a failed push looks like the registry's passing trouble (worth one retry)."""
    output = (getattr(exc, "output", "") or str(exc)).lower()
    return any(sign in output for sign in _SERVER_SIDE)


def push_failure(exc: KitError, ref: str) -> KitError:
    """What to raise when pushing REF failed with EXC (a ComposeFailed keeps what compose
    printed): the registry's refusal in one line, or EXC itself."""
    return explain(getattr(exc, "output", ""), ref, f"the push of {ref}") or exc


def _auth(registry: str, setting: str, doing: str, said: str) -> RegistryError:
    return RegistryAuthFailed(
        f"registry {registry} refused {doing}: {said} (not logged in, or not allowed); "
        f"run `docker login {registry}` on the host that pushes (docker keeps the "
        f"credentials), or check IMAGE_REGISTRY={setting}")


def _missing(registry: str, setting: str, doing: str, said: str) -> RegistryError:
    return RegistryNotFound(
        f"registry {registry} has no such repository for {doing}: {said}; check "
        f"IMAGE_REGISTRY={setting} (the registry and the path under it), or create the "
        "repository (project) there")


def _offline(registry: str, setting: str, doing: str, said: str) -> RegistryError:
    return RegistryUnreachable(
        f"cannot reach registry {registry} for {doing}: {said}; check IMAGE_REGISTRY="
        f"{setting} and that the registry runs (plain HTTP only on 127.0.0.0/8 or with "
        "the engine's insecure-registries)")


# ------------------------------------------------------------------ digests
def pushed_digest(image: dict | None, ref: str) -> str | None:
    """`REPO@sha256:...` of REF's repository among the engine's RepoDigests of IMAGE (an
    inspect answer): what a push of REF recorded. None when it was never pushed there."""
    if not image:
        return None
    repo, _ = split_ref(ref)
    for entry in image.get("RepoDigests") or []:
        name, _, digest = entry.partition("@")
        if normalize_ref(name + ":x").rpartition(":")[0] == repo and digest:
            return f"{repo}@{digest}"
    return None


def require_registry(refs: Iterable[str]) -> None:
    """A push needs image names a registry accepts: `app:v1` alone would go to
    Docker Hub's official-image namespace. One line naming IMAGE_REGISTRY if so."""
    bare = sorted({ref for ref in refs if push_target(ref) is None})
    if bare:
        raise KitError(f"{', '.join(bare)} names no registry to push to: set IMAGE_REGISTRY "
                       "(e.g. registry.example.com/ops, in .env or the environment) and "
                       "`docker login` to that registry")


def stored_login(registry: str) -> str | None:
    """How docker's own store (DOCKER_CONFIG or ~/.docker/config.json) holds a login for
    REGISTRY: `auths`, `credHelper NAME` or `credsStore NAME`; None when it has none.
    Only the presence is read, never the credentials."""
    import json
    import os

    from ._connect import docker_config_dir

    folder = docker_config_dir()
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return None
    hosts = {registry}
    if registry == DEFAULT_REGISTRY:  # the CLI keys Docker Hub's login by its index URL
        hosts |= {"index.docker.io", "registry-1.docker.io"}
    names = hosts | {f"{scheme}://{h}" for h in hosts for scheme in ("https", "http")}
    if registry == DEFAULT_REGISTRY:
        names |= {"https://index.docker.io/v1/", "https://index.docker.io/v1"}
    helpers = config.get("credHelpers") or {}
    helper = next((helpers[n] for n in sorted(names) if helpers.get(n)), None)
    if helper:
        return f"credHelper {helper}"
    if names & set(config.get("auths") or {}):
        return (f"credsStore {config['credsStore']}" if config.get("credsStore")
                else "auths")
    return None


# ------------------------------------------------------------------ the release file
def release_path(compose_file: str | Path) -> Path:
    """The release file beside the compose file in force."""
    return Path(compose_file).resolve().parent / RELEASE_FILE


def shown_path(path: Path, folder: Path) -> str:
    """PATH as a `-f` argument for someone in FOLDER (where compose.yml is): relative
    when it lies below FOLDER, else absolute."""
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path.resolve())


def client_prefix(client: str | None) -> str:
    """`EXECUTION_CLIENT=op-reth ` before a command line run for a non-default CLIENT."""
    from . import _components

    if not client or client == _components.default_client():
        return ""
    return f"{_components.CLIENT_SETTING}={client} "


# The top-level extension key of a release file naming the client its images were built
# for (compose ignores `x-` keys; a node host must run the same client).
CLIENT_KEY = "x-execution-client"
_CLIENT_LINE = re.compile(rf"^{CLIENT_KEY}:\s*(\S+)", re.M)


def release_text(config: dict, digests: dict[str, str], when: float | None = None,
                 compose: str = "compose.yml", release: str = RELEASE_FILE,
                 client: str | None = None) -> str:
    """The release file: every service of CONFIG whose image is one of DIGESTS' refs
    (the init service shares the execution image) gets that image by digest. COMPOSE and
    RELEASE: the `-f` arguments its comment gives (as `shown_path` spells them). CLIENT:
    the execution client the images were built for (CLIENT_KEY; the node host sets the
    same, since an override cannot change which client file compose.yml extends)."""
    from . import _components

    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
    setting = client_prefix(client)
    lines = [
        f"# Written by `inv release` on {stamp}: the images it built, audited and pushed,",
        f"# by digest. A node host runs exactly these, without building (in the folder of "
        f"{compose}):",
        f"#   {setting}docker compose -f {compose} -f {release} pull",
        f"#   {setting}docker compose -f {compose} -f {release} up -d --no-build",
        f"# Portainer: add {release} to the stack's additional paths. Commit this",
        "# file with the compose.yml it was made from; `inv clean.images` keeps its images.",
    ]
    if client:
        lines += [f"# Built for {_components.CLIENT_SETTING}={client}: set the same on the "
                  "node host (.env or Portainer's", "# env editor), or the other client's "
                  "service would get this client's image.", f"{CLIENT_KEY}: {client}"]
    lines.append("services:")
    for name, service in sorted((config.get("services") or {}).items()):
        ref = normalize_ref(service["image"]) if service.get("image") else None
        if ref in digests:
            lines += [f"  {name}:", f"    image: {digests[ref]}  # {ref}"]
    return "\n".join(lines) + "\n"


def release_client(path: Path) -> str | None:
    """The execution client the release file at PATH was built for (None: not said)."""
    try:
        found = _CLIENT_LINE.search(path.read_text())
    except OSError:
        return None
    return found.group(1) if found else None


def write_release(path: Path, text: str) -> None:
    """Replace PATH with TEXT atomically (a failure leaves the old file)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def pinned_digests(path: Path) -> set[str]:
    """The digests (`sha256:...`) the release file at PATH pins; none without one."""
    try:
        return set(DIGEST.findall(path.read_text()))
    except OSError:
        return set()


def record_release(compose_file: Path, path: Path) -> None:
    """Note in RELEASE_RECORD (beside COMPOSE_FILE) that a release file was written at
    PATH, once."""
    record = compose_file.parent / RELEASE_RECORD
    known = recorded_releases(compose_file)
    if path.resolve() not in known:
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(f"{path.resolve()}\n")


def recorded_releases(compose_file: Path) -> list[Path]:
    """The release files `inv release` wrote for COMPOSE_FILE's project (RELEASE_RECORD),
    in the order written."""
    try:
        lines = (compose_file.parent / RELEASE_RECORD).read_text().splitlines()
    except OSError:
        return []
    return list(dict.fromkeys(Path(line.strip()) for line in lines if line.strip()))


def release_pins(compose_file: Path, extra: Iterable[Path] = ()) -> dict[str, Path]:
    """{digest: the release file pinning it} over every release file of COMPOSE_FILE's
    project: the default one beside it, those RELEASE_RECORD lists, and EXTRA paths."""
    files = [release_path(compose_file), *recorded_releases(compose_file),
             *(Path(p).resolve() for p in extra)]
    pins: dict[str, Path] = {}
    for path in dict.fromkeys(files):
        for digest in sorted(pinned_digests(path)):
            pins.setdefault(digest, path)
    return pins
