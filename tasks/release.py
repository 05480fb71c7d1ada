"""Release: build, audit and push the images, then pin them by digest for node hosts.

`inv release` builds every component's image at the pinned versions (as `inv build`
does), stops when the audit finds one over budget, pushes each image's version tag and
`latest` to the registry IMAGE_REGISTRY names (`docker compose push`, with the
credentials of `docker login`), and writes compose.release.yml beside compose.yml: a
compose override giving every service its image by digest. Commit it; a node host then
pulls and runs exactly those images without building (see tasks/_release.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import task

from . import _components, _compose, _connect, _engine, _release, audit, build
from ._errors import KitError


def push(c, service: str, image: str, tries: int = 2) -> None:
    """`docker compose push SERVICE`; a registry's passing 5xx gets one more try, and a
    refusal becomes one line naming the registry and the fix."""
    for attempt in range(1, tries + 1):
        try:
            _compose.run_compose(c, "push", service)
            return
        except KitError as exc:
            if attempt < tries and _release.transient(exc):
                print(f"note: the registry failed the push of {image} ({exc.reason}); "
                      "pushing again", file=sys.stderr)
                continue
            raise _release.push_failure(exc, image) from None


def release_images(c, flags, output: str | None = None) -> dict[str, str]:
    """Build, audit, push; write the release file. {image: REPO@digest} of what was pushed."""
    services = _components.services()
    config = _compose.compose_config(c)
    images = audit.service_images(config, services)
    _release.require_registry(images.values())  # before a build that could not be pushed
    build.warn_forks(c, [entry.name for entry in _components.all_components()])
    build.build_and_audit(c, services, flags)  # exits 1 when an image is over budget
    for service, image in images.items():  # one at a time: concurrent pushes that mount
        push(c, service, image)              # each other's blobs can fail ("blob unknown")
    client = _connect.build_client(connect=_connect.connect_timeout(c))
    by_ref = {_engine.normalize_ref(tag): image
              for image in _engine.inspect_images(client, images.values())
              for tag in image.get("RepoTags") or []}
    digests = {}
    for ref in images.values():
        digest = _release.pushed_digest(by_ref.get(ref), ref)
        if digest is None:
            raise KitError(f"the engine recorded no digest for {ref} after pushing it; "
                           "push again with `inv build --push`")
        digests[ref] = digest
    path = (Path(output).resolve() if output
            else _release.release_path(_compose.compose_files()[0]))
    _release.write_release(path, _release.release_text(config, digests))
    _release.print_pushed(digests)
    print(f"\nwrote {path}: commit it; a node host runs these images with\n"
          f"  docker compose -f compose.yml -f {path.name} pull\n"
          f"  docker compose -f compose.yml -f {path.name} up -d --no-build")
    return digests


@task(help={
    "output": f"where to write the release override (default: {_release.RELEASE_FILE} "
              "beside compose.yml)",
    "no_cache": build.FLAG_HELP["no_cache"],
    "pull": build.FLAG_HELP["pull"],
    "progress": build.FLAG_HELP["progress"],
})
def release(c, output=None, no_cache=False, pull=False, progress=None):
    """Build, audit and push every image, then pin the pushed digests in compose.release.yml."""
    flags = build.flags_from(c, {"no_cache": no_cache, "pull": pull, "progress": progress})
    release_images(c, flags, output)
