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

from pathlib import Path

from invoke import Collection, task

from . import _errors, _release
from ._errors import KitError
from ._units import format_bytes, format_duration, parse_duration, parse_size


def prune_cache(c, keep_storage=None, older_than=None, all=False, dry_run=False,
                client=None) -> int:
    """Prune (or with DRY_RUN, plan to prune) the build cache; prints and returns bytes."""
    from . import _clean, _connect, _engine

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
        doomed = _clean.plan_prune(records, keep_storage=keep, unused_for=unused, all=all)
        freed = _clean.cache_size(doomed)
        print(f"dry run: would free {format_bytes(freed)} in {len(doomed)} of "
              f"{len(records)} cache records ({scope}); cache is "
              f"{format_bytes(_clean.cache_size(records))}. Nothing was removed.")
        return freed
    freed = _engine.prune_build_cache(client, keep_storage=keep, unused_for=unused, all=all)
    after = _engine.build_cache_records(client)
    print(f"freed {format_bytes(freed)} of build cache ({scope}); cache is now "
          f"{format_bytes(_clean.cache_size(after))} in {len(after)} records. "
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


def clean_images(c, keep=2, dry_run=False, client=None, release_files=()) -> list[str]:
    """Remove (or with DRY_RUN, list) older version tags of the project's images; the tags
    removed (or that would be), never one the engine refused and kept. What any release
    file pins stays (the project's own, and RELEASE_FILES)."""
    from . import _clean, _compose, _connect, _engine, _refs

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
    pins = _clean.pinned_images(c)
    refs = set(pins)
    repos = {_refs.split_ref(r)[0] for r in refs}
    client = client or _connect.client_for(c)
    images = _engine.list_images(client)
    in_use = _engine.images_in_use(client)
    released = _release.release_pins(compose_file, release_files)
    planned, kept = _clean.plan_image_removal(images, repos, keep, in_use, pins, released)
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
