"""What an image measures, the same on every engine and image store.

A budget measures the bytes of the files in an image's layers, uncompressed: the sum of
the sizes of the regular files in each layer's tar, which is what the classic store
(overlay2) has always counted as an image's `Size` (`docker images`, `docker history`).

The containerd image store (Docker 29's default for fresh installs) reports otherwise:
its listing adds the compressed blobs it also keeps to the unpacked layers (about twice
the figure), its inspect gives the compressed size, and its history (like its unpacked
size) counts disk blocks, 4 KiB for every small file and folder: 186 MB for a Debian
minbase root file system that holds 164 MB of files. So on that store the layers are
read from the image's own export (`GET /images/{ref}/get`) and their files' sizes
summed; each layer's figure is kept under its DiffID (content addressed, so it never
goes stale) in `$XDG_CACHE_HOME/opstack-image-kit/layers/`, and an image whose layers
are all known costs no export: a no-op build's summary reads the cache.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._connect import EngineClient, engine_call
from ._errors import EngineError, KitError

# Snapshotter names that no classic graph driver has: the containerd store's image
# inspect (before API 1.48, which adds `Descriptor`) is known by these.
_SNAPSHOTTERS = {"overlayfs", "native", "stargz"}


def containerd_store(image: dict) -> bool:
    """Whether IMAGE (an inspect answer) lives in the containerd image store."""
    if image.get("Descriptor"):
        return True
    return ((image.get("GraphDriver") or {}).get("Name") or "") in _SNAPSHOTTERS


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opstack-image-kit" / "layers"


def _cached(diff_id: str) -> int | None:
    try:
        return int((cache_root() / diff_id.replace(":", "-")).read_text())
    except (OSError, ValueError):
        return None


def _store(diff_id: str, size: int) -> None:
    """Atomic (a temp file beside it, then os.replace); best effort."""
    folder = cache_root()
    tmp = folder / f".tmp-{os.getpid()}-{diff_id[-12:]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(str(size))
        os.replace(tmp, folder / diff_id.replace(":", "-"))
    except OSError:
        tmp.unlink(missing_ok=True)


class _Chunks(io.RawIOBase):
    """A file over an iterator of byte chunks (the engine's streamed export)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks, self._left = iter(chunks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            try:
                self._left = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._left))
        buffer[:n], self._left = self._left[:n], self._left[n:]
        return n


class _Hashing(io.RawIOBase):
    """Reads through FILE, hashing what passes (a layer's DiffID is its tar's sha256)."""

    def __init__(self, file: Any) -> None:
        import hashlib

        self._file, self.digest = file, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._file.read(len(buffer))
        self.digest.update(data)
        buffer[:len(data)] = data
        return len(data)


def _layer(blob: Any) -> tuple[str, int] | None:
    """(DiffID, bytes of its regular files) of a layer BLOB (a gzip or plain tar), or None
    for a blob that is no layer (a config, a manifest, an index, an attestation)."""
    import gzip
    import tarfile

    head = blob.read(512)
    rest = io.BufferedReader(_Chunks([head, *iter(lambda: blob.read(1 << 20), b"")]))
    stream: Any
    if head[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=rest)
    elif head[257:262] == b"ustar":
        stream = rest
    else:  # JSON, or a compression this reader lacks (zstd): not counted here
        return None
    hashing = _Hashing(stream)
    reader = io.BufferedReader(hashing, 1 << 20)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            size = sum(member.size for member in tar if member.isreg())
        while reader.read(1 << 20):  # the tar's end blocks count in its digest
            pass
    except (tarfile.TarError, OSError, EOFError):
        return None
    return f"sha256:{hashing.digest.hexdigest()}", size


def export_layer_sizes(chunks: Iterable[bytes]) -> dict[str, int]:
    """DiffID -> bytes of its regular files, for every layer in an image export (CHUNKS:
    the streamed tar of `GET /images/{ref}/get`, OCI layout or docker's). The modules
    that read it are imported here: a build whose layers are known never needs them."""
    import tarfile

    sizes = {}
    with tarfile.open(fileobj=io.BufferedReader(_Chunks(chunks), 1 << 20), mode="r|") as tar:
        for member in tar:
            if member.isreg() and member.size:
                found = _layer(tar.extractfile(member))
                if found:
                    sizes[found[0]] = found[1]
    return sizes


def layer_sizes(client: EngineClient, ref: str,
                diff_ids: Iterable[str]) -> dict[str, int | None]:
    """DiffID -> bytes of its regular files, for DIFF_IDS of image REF: from the cache,
    else from one export of REF (whose figures are then cached)."""
    sizes = {d: _cached(d) for d in diff_ids}
    if all(v is not None for v in sizes.values()):
        return sizes
    read = engine_call(f"exporting {ref} to measure its layers",
                        lambda: export_layer_sizes(client.api.get_image(ref)))
    for diff_id, size in read.items():
        _store(diff_id, size)
    return {d: sizes[d] if sizes[d] is not None else read.get(d) for d in diff_ids}


def image_size(client: EngineClient, image: dict) -> int | None:
    """What IMAGE (an inspect answer) measures: see the module's docstring. The classic
    store's own `Size`; on the containerd store, the sum over its layers (the engine's
    own figure only when the layers cannot be read, say an image of another platform)."""
    if not containerd_store(image):
        return image.get("Size")
    diff_ids = (image.get("RootFS") or {}).get("Layers") or []
    try:
        sizes = layer_sizes(client, image["Id"], diff_ids)
    except (EngineError, KitError):
        return image.get("Size")
    if any(v is None for v in sizes.values()):
        return image.get("Size")
    return sum(sizes[d] or 0 for d in diff_ids)  # none is None (above)


def history_sizes(client: EngineClient, image: dict, history: list[dict]) -> list[int]:
    """The size of each HISTORY entry (newest first, as the engine lists them) of IMAGE,
    measured as `image_size` measures: on the containerd store, the entries that made a
    layer get that layer's files' bytes (entries and layers pair up oldest first)."""
    sizes = [int(h.get("Size") or 0) for h in history]
    if not containerd_store(image):
        return sizes
    diff_ids = (image.get("RootFS") or {}).get("Layers") or []
    try:
        measured = layer_sizes(client, image["Id"], diff_ids)
    except (EngineError, KitError):
        return sizes
    # the entries with a layer (the store counts at least a block for each), oldest
    # first: as many as the layers, or the engine's own figures stay
    layered = [i for i in reversed(range(len(history))) if sizes[i]]
    if len(layered) != len(diff_ids) or any(measured.get(d) is None for d in diff_ids):
        return sizes
    for index, diff_id in zip(layered, diff_ids, strict=True):
        sizes[index] = measured[diff_id] or 0  # none is None (above)
    return sizes
