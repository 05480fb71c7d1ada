"""Pushing what a build made, after its audit passed: the one push step of `inv build
--push`, `inv build.<component> --push` and `inv release`.

Images go one at a time (concurrent pushes that mount each other's blobs can fail with
"blob unknown"), each with `docker compose push SERVICE` (its version tag and :latest),
or, for several platforms, the same `docker buildx bake` that built them with --push
(from the cache the audited build filled). A registry's passing 5xx gets one more try;
a refusal is one line naming the registry and the fix (tasks/_release.py reads what
the registry said). The digests the registry now holds come back for printing and for
the release file.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from . import _compose, _connect, _engine, _refs, _release
from ._errors import KitError

if TYPE_CHECKING:  # for the hints only: nothing more is imported at run time
    from invoke import Context


def push(c: Context, service: str, image: str, env: dict[str, str] | None = None,
         argv: list[str] | None = None, tries: int = 2) -> None:
    """`docker compose push SERVICE` (its version tag and :latest), or ARGV (the bake
    that pushes several platforms); a registry's passing 5xx gets one more try, and a
    refusal becomes one line naming the registry and the fix."""
    for attempt in range(1, tries + 1):
        try:
            if argv:
                _compose.run_cli(c, argv, env=env)
            else:
                _compose.run_compose(c, "push", service, env=env)
            return
        except KitError as exc:
            if attempt < tries and _release.transient(exc):
                print(f"note: the registry failed the push of {image} ({exc.reason}); "
                      "pushing again", file=sys.stderr)
                continue
            raise _release.push_failure(exc, image) from None


def push_built(c: Context, built: Any, flags: Any,
               env: dict[str, str] | None = None) -> dict[str, str | None]:
    """Push BUILT (_building.Builds: what was built and audited) with FLAGS
    (_build_flags.BuildFlags) and ENV as it was built, one image at a time, and record
    each digest in BUILT. {image: REPO@digest, or None when the engine recorded none}."""
    env = {**(env or {}), **flags.env()}
    several = len(flags.platforms()) > 1
    if several:  # from the cache the audited build filled: nothing is pulled or rebuilt
        flags = dataclasses.replace(flags, no_cache=False, pull=False)
    for entry in built:
        if not several:
            push(c, entry.service, entry.image, env)
            continue
        with tempfile.TemporaryDirectory(prefix="opkit-bake-") as folder:
            metadata = f"{folder}/metadata.json"
            push(c, entry.service, entry.image, env,
                 argv=flags.bake_argv(entry.service, extra=["--metadata-file", metadata],
                                      image=entry.image))
            digest = _bake_digest(metadata, entry.service)
        entry.digest = digest and f"{_refs.split_ref(entry.image)[0]}@{digest}"
    if not several:
        client = _connect.build_client(connect=_connect.connect_timeout(c))
        by_ref = {_refs.normalize_ref(tag): image
                  for image in _engine.inspect_images(client, [b.image for b in built])
                  for tag in image.get("RepoTags") or []}
        for entry in built:
            entry.digest = _release.pushed_digest(by_ref.get(entry.image), entry.image)
    return {entry.image: entry.digest for entry in built}


def _bake_digest(path: str, service: str) -> str | None:
    """The manifest (list) digest bake's --metadata-file recorded for SERVICE."""
    try:
        with open(path, encoding="utf-8") as handle:
            return (json.load(handle).get(service) or {}).get("containerimage.digest")
    except (OSError, ValueError, AttributeError):
        return None


