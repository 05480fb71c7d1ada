"""Keep the build host clean: prune the BuildKit cache, never volumes.

`clean.cache` prunes through the engine API (`POST /build/prune`), which only ever
deletes build-cache records: volumes, images and containers are out of its reach.
`clean.images` removes older version tags of this project's own images (op-node's and
every execution client's, whichever EXECUTION_CLIENT selects), keeping the newest ones,
the pinned one of each client (the one not in use too: switching back needs it), any
image a container uses, and any image whose digest a release file pins:
compose.release.yml beside compose.yml, every file `inv release --output` wrote
(recorded beside compose.yml, see tasks/_release.py), and any file given with
--release-file (one pulled from elsewhere).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from invoke import Collection, task

from . import _compose, _config, _connect, _engine, _errors, _refs, _release
from ._errors import KitError
from ._units import format_bytes, format_duration, parse_duration, parse_size

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


def prune_cache(c, keep_storage=None, older_than=None, all=False, dry_run=False,
                client=None) -> int:
    """Prune (or with DRY_RUN, plan to prune) the build cache; prints and returns bytes."""
    keep = (parse_size(keep_storage, what="--keep-storage", unit_required=True)
            if keep_storage else None)
    unused = parse_duration(older_than, what="--older-than") if older_than else None
    client = client or _connect.client_for(c)
    records = _engine.build_cache_records(client)
    scope = ", ".join(filter(None, [
        "all records" if all else "unused, unshared records",
        f"unused for {format_duration(unused)}" if unused else "",
        f"keeping {format_bytes(keep)}" if keep else "",
    ]))
    if dry_run:
        doomed = plan_prune(records, keep_storage=keep, unused_for=unused, all=all)
        freed = cache_size(doomed)
        print(f"dry run: would free {format_bytes(freed)} in {len(doomed)} of "
              f"{len(records)} cache records ({scope}); cache is "
              f"{format_bytes(cache_size(records))}. Nothing was removed.")
        return freed
    freed = _engine.prune_build_cache(client, keep_storage=keep, unused_for=unused, all=all)
    after = _engine.build_cache_records(client)
    print(f"freed {format_bytes(freed)} of build cache ({scope}); cache is now "
          f"{format_bytes(cache_size(after))} in {len(after)} records. "
          "Volumes, images and containers were not touched.")
    return freed


@task(
    help={
        "keep_storage": "keep this much cache (e.g. 10GB), prune the rest",
        "older_than": "prune only cache records unused for this long (e.g. 72h, 7d)",
        "all": "prune all cache records, not only dangling ones",
        "dry_run": "show what would be freed, free nothing",
    }
)
def cache(c, keep_storage=None, older_than=None, all=False, dry_run=False):
    """Prune the BuildKit build cache (never volumes, images or containers)."""
    prune_cache(c, keep_storage=keep_storage, older_than=older_than, all=all, dry_run=dry_run)


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


def clean_images(c, keep=2, dry_run=False, client=None, release_files=()) -> list[str]:
    """Remove (or with DRY_RUN, list) older version tags of the project's images; the tags
    removed (or that would be), never one the engine refused and kept. What any release
    file pins stays (the project's own, and RELEASE_FILES)."""
    keep = int(keep)
    if keep < 0:
        raise KitError(f"--keep {keep} must be 0 or more")
    for given in release_files:
        if not Path(given).is_file():
            raise KitError(f"--release-file {given!r} is no file; give a release file "
                           "`inv release` wrote (e.g. compose.release.yml)")
    compose_file = Path(_compose.compose_files()[0]).resolve()
    for gone in (p for p in _release.recorded_releases(compose_file) if not p.exists()):
        print(f"note: {gone} (a release file `inv release` wrote) is gone: what it pinned "
              "is no longer kept for it")
    pins = pinned_images(c)
    refs = set(pins)
    repos = {_refs.split_ref(r)[0] for r in refs}
    client = client or _connect.client_for(c)
    images = _engine.list_images(client)
    in_use = _engine.images_in_use(client)
    released = _release.release_pins(compose_file, release_files)
    planned, kept = plan_image_removal(images, repos, keep, in_use, pins, released)
    for tag, reason in kept:
        print(f"keep    {tag}  ({reason})")
    # the engine's own figure, not the audit's: what removing an image can free on disk
    # (on the containerd store that includes the compressed blobs it also keeps)
    sizes = {_refs.normalize_ref(t): i.get("Size") or 0 for i in images
             for t in i.get("RepoTags") or []}
    removed = []
    for tag in planned:
        if dry_run:
            print(f"would remove {tag}  ({format_bytes(sizes.get(tag))})")
            removed.append(tag)
            continue
        try:
            _engine.remove_image(client, tag)
        except _errors.EngineConflict as exc:  # e.g. a container appeared since we looked
            why = "in use" if isinstance(exc, _errors.ImageInUse) else "the engine refused"
            print(f"keep    {tag}  ({why}: {exc.reason})")
            continue
        print(f"removed {tag}")
        removed.append(tag)
    if not planned:
        print(f"nothing to remove in {', '.join(sorted(repos)) or 'no repositories'}")
    return removed


@task(iterable=["release_file"], help={
    "keep": "how many of the newest version tags to keep per image (default 2)",
    "dry_run": "list what would be removed, remove nothing",
    "release_file": "also keep what this release file pins (repeatable); those `inv "
                    f"release` wrote, and {_release.RELEASE_FILE} beside compose.yml, "
                    "are kept anyway",
})
def images(c, keep=2, dry_run=False, release_file=None):
    """Remove older version-tagged images of the project's services (keeps in-use ones)."""
    clean_images(c, keep=keep, dry_run=dry_run, release_files=release_file or ())


ns = Collection("clean", cache, images)
