"""Release: build, audit and push the images, then pin them by digest for node hosts.

`inv release` builds the images of the components the stack runs (op-node and the
execution client EXECUTION_CLIENT selects) at the pinned versions and pushes what
passed the audit exactly as `inv build --push` does (an image over budget stops it
before anything is pushed; each image's version tag and `latest` go to the registry
IMAGE_REGISTRY names, one at a time, with the credentials of `docker login`), then
writes compose.release.yml beside compose.yml (or --output): a compose override giving
every service its image by digest, and the client they were built for. Commit it; a
node host with the same EXECUTION_CLIENT then pulls and runs exactly those images
without building (see tasks/_release.py). Every release file written is
recorded beside compose.yml, so `inv clean.images` keeps the images each one pins.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from invoke import task

from . import _build_flags, _release
from ._errors import KitError


def release_images(c, flags, output: str | None = None) -> dict[str, str]:
    """Build, audit, push; write the release file. {image: REPO@digest} of what was pushed."""
    from . import _building, _compose, _config, _steps

    # the pins as builds take them (full commit, the configured repository), read once;
    # the components the stack runs: op-node and the execution client in use
    env, config = _steps.prepare(c)
    services = _building.built_services(config)
    client = _config.client_of(config)
    images = _config.service_images(config, services)
    _release.require_registry(images.values())  # before a build that could not be pushed
    # exits 1 when an image is over budget, before anything is pushed
    built = _steps.build_and_audit(c, services, dataclasses.replace(flags, push=True), env,
                                  config)
    digests = {entry.image: entry.digest for entry in built}
    for ref, digest in digests.items():
        if digest is None:
            raise KitError(f"the engine recorded no digest for {ref} after pushing it; "
                           "push again with `inv build --push`")
    compose_file = Path(_compose.compose_files()[0]).resolve()
    path = Path(output).resolve() if output else _release.release_path(compose_file)
    shown = _release.shown_path(path, compose_file.parent)
    _release.write_release(path, _release.release_text(
        config, digests, compose=compose_file.name, release=shown, client=client))
    _release.record_release(compose_file, path)
    setting = _release.client_prefix(client)
    print(f"\nwrote {path}: commit it; a node host runs these images with (in "
          f"{compose_file.parent})\n"
          f"  {setting}docker compose -f {compose_file.name} -f {shown} pull\n"
          f"  {setting}docker compose -f {compose_file.name} -f {shown} up -d --no-build")
    return digests


@task(help={
    "output": f"where to write the release override (default: {_release.RELEASE_FILE} "
              "beside compose.yml)",
    "no_cache": _build_flags.FLAG_HELP["no_cache"],
    "pull": _build_flags.FLAG_HELP["pull"],
    "progress": _build_flags.FLAG_HELP["progress"],
})
def release(c, output=None, no_cache=False, pull=False, progress=None):
    """Build, audit and push op-node and the client in use, then pin their digests in
    compose.release.yml."""
    flags = _build_flags.flags_from(c, {"no_cache": no_cache, "pull": pull, "progress": progress})
    release_images(c, flags, output)
