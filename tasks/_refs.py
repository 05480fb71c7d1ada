"""Image references, pure: `name:tag` as the engine lists it, and image listings
matched by tag (no engine: the listings are handed in)."""

from __future__ import annotations

# The label on the rehearsal's stand-in base images (tests/rehearsal_kit.py makes them):
# under a real name such as alpine:3.23, such an image is a test leftover, never a base.
STANDIN_LABEL = "opstack-image-kit.rehearsal-standin"


# ------------------------------------------------------------------ image references
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


def index_by_tag(images: list[dict]) -> dict[str, dict]:
    """`name:tag` -> image summary, for matching service images locally."""
    index: dict[str, dict] = {}
    for image in images:
        for tag in image.get("RepoTags") or []:
            if tag != "<none>:<none>":
                index[normalize_ref(tag)] = image
    return index


def standin_tags(images: list[dict]) -> set[str]:
    """`name:tag` of every image in a listing (IMAGES) that carries STANDIN_LABEL."""
    return {normalize_ref(tag) for image in images
            if STANDIN_LABEL in (image.get("Labels") or {})
            for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"}
