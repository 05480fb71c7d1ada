"""What a clean would remove: the build-cache records a prune frees (BuildKit's own
rules, so a dry run says what the engine will do), and the older version tags of the
project's images that may go (never a pinned, released or in-use one). `inv clean.*`
asks the engine and prints; nothing here prints.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from . import _compose, _config, _engine, _refs
from ._errors import KitError

# Record types BuildKit keeps unless --all (engine 20.10 / BuildKit 0.8 prune rules).
_KEPT_WITHOUT_ALL = {"internal", "frontend"}


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.rstrip("Z")
    head, _, frac = text.partition(".")
    try:
        parsed = datetime.fromisoformat(head + ("." + frac[:6] if frac else ""))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc)


def plan_prune(records: list[dict], keep_storage: int | None = None,
               unused_for: int | None = None, all: bool = False,
               now: datetime | None = None) -> list[dict]:
    """The cache records a prune with these options would delete (pure: no engine).

    Mirrors the engine's rules: records in use are kept; without ALL so are internal and
    frontend records and records shared with images; with UNUSED_FOR, records used more
    recently than that; a record goes only after every record built on it; with
    KEEP_STORAGE, least recently used first until the cache is below that size.
    """
    now = now or datetime.now(timezone.utc)
    by_id = {r["ID"]: r for r in records}
    children: dict[str, set[str]] = {}
    for r in records:
        for parent in _engine.cache_parents(r):
            children.setdefault(parent, set()).add(r["ID"])

    def eligible(r: dict) -> bool:
        if r.get("InUse"):
            return False
        if not all and (r.get("Type") in _KEPT_WITHOUT_ALL or r.get("Shared")):
            return False
        if unused_for:
            last = _time(r.get("LastUsedAt"))
            if last is not None and (now - last).total_seconds() < unused_for:
                return False
        return True

    candidates = {i for i, r in by_id.items() if eligible(r)}
    doomed: list[str] = []
    if keep_storage:
        total = sum(int(r.get("Size") or 0) for r in records if not r.get("Shared"))
        while total >= keep_storage:
            free = [i for i in candidates - set(doomed)
                    if children.get(i, set()) <= set(doomed)]
            if not free:
                break
            oldest = min(free, key=lambda i: (_time(by_id[i].get("LastUsedAt")) or now,
                                              by_id[i].get("UsageCount") or 0))
            doomed.append(oldest)
            total -= int(by_id[oldest].get("Size") or 0)
    else:
        changed = True
        while changed:
            changed = False
            for i in sorted(candidates - set(doomed)):
                if children.get(i, set()) <= set(doomed):
                    doomed.append(i)
                    changed = True
    return [by_id[i] for i in doomed]


def cache_size(records: list[dict]) -> int:
    """Bytes the build cache holds, as `docker system df` counts them."""
    return sum(int(r.get("Size") or 0) for r in records)


def _version_key(tag: str):
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(tag.lstrip("v")))
    except InvalidVersion:
        return (0, tag)


def plan_image_removal(images: list[dict], repos: set[str], keep: int,
                       in_use: set[str], pinned: set[str],
                       released=frozenset()) -> tuple[list[str], list[tuple]]:
    """(tags to remove, [(tag, reason) kept]) for the project's REPOS (pure: no engine).

    Per repository, version tags (anything but `latest`) ordered newest first by the
    image's creation time (then version); the KEEP newest stay, as do PINNED tags (what
    compose.yml runs now), tags of images in IN_USE (container image IDs) and of images
    whose digest is in RELEASED (`sha256:...`, what a release file pins; a mapping
    {digest: release file} names the file in the reason).
    """
    per_repo: dict[str, list[tuple[str, dict]]] = {}
    for image in images:
        for tag in image.get("RepoTags") or []:
            if tag == "<none>:<none>":
                continue
            repo, version = _refs.split_ref(tag)
            if repo in repos and version != "latest":
                per_repo.setdefault(repo, []).append((_refs.normalize_ref(tag), image))
    remove, kept = [], []
    for repo in sorted(per_repo):
        tags = sorted(per_repo[repo], key=lambda t: (t[1].get("Created") or 0,
                                                     _version_key(t[0].rpartition(":")[2])),
                      reverse=True)
        for rank, (tag, image) in enumerate(tags):
            if rank < keep:
                kept.append((tag, f"one of the {keep} newest"))
            elif tag in pinned:
                kept.append((tag, pinned[tag] if isinstance(pinned, dict)
                             else "pinned in the compose config"))
            elif image.get("Id") in in_use:
                kept.append((tag, "used by a container"))
            elif released_in := [d for d in (d.partition("@")[2] for d in
                                             image.get("RepoDigests") or []) if d in released]:
                where = (Path(released[released_in[0]]).name if isinstance(released, dict)
                         else "a release file")
                kept.append((tag, f"pinned by digest in {where}"))
            else:
                remove.append(tag)
    return remove, kept


def pinned_images(c) -> dict[str, str]:
    """{image: why it is pinned} of every image the project builds: the services of the
    stack as configured (one compose config), and each other execution client's image as
    compose resolves it with that client selected (one more config per client; a
    project without that client's file has nothing to add)."""
    from . import _components

    config = _compose.compose_config(c)
    current = _config.client_of(config)
    pins = {_config.service_image(config, name): "pinned in the compose config"
            for name in _config.built_services(config)}
    for other in (name for name in _components.clients() if name != current):
        try:
            theirs = _compose.compose_config(c, {_components.CLIENT_SETTING: other})
        except KitError:
            continue
        if _config.client_of(theirs) != other:
            continue  # the project does not switch clients: nothing of theirs to keep
        for service in _config.built_services(theirs):
            pins.setdefault(_config.service_image(theirs, service),
                            f"pinned for {_components.CLIENT_SETTING}={other}, not in use")
    return pins
