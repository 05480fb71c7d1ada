"""Where pins live, read and rewritten: the `${VAR:-default}` defaults of compose.yml
(or COMPOSE_FILE's first file) and of the execution clients' own files beside it
(docker/<client>.yml, which compose.yml's execution service extends). `inv source.pin`
rewrites them atomically; what a build actually uses is asked of compose
(tasks/_compose.py)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from . import _compose
from ._errors import KitError

_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}")


_PIN_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*")


# ------------------------------------------------------------------------ pins
def compose_path() -> Path:
    """The compose file pins live in: the first compose file in force (COMPOSE_FILE's
    first entry, else this checkout's compose.yml), so `pin` edits the file builds read."""
    return Path(_compose.compose_files()[0])


def candidate_files() -> list[Path]:
    """Where `${VAR:-default}` pins may live: the compose files in force, then the
    execution clients' files beside the first one (docker/*.yml, which compose.yml's
    execution service extends)."""
    first = compose_path()
    files = [Path(f) for f in _compose.compose_files()]
    files += sorted((first.parent / "docker").glob("*.yml"))
    return list(dict.fromkeys(files))


def pin_files(names: Iterable[str]) -> dict[Path, list[str]]:
    """{file: the NAMES whose `${NAME:-default}` it holds}, over `candidate_files`; a
    one-line KitError naming the files searched when a name is in none of them."""
    found: dict[Path, list[str]] = {}
    searched = [p for p in candidate_files() if p.is_file()]
    for path in searched:
        held = set(read_pins(path))
        for name in names:
            if name in held:
                found.setdefault(path, []).append(name)
    missing = [n for n in names if not any(n in held for held in found.values())]
    if missing:
        where = ", ".join(str(p) for p in searched) or str(compose_path())
        raise KitError(f"no ${{{missing[0]}:-...}} default to pin in {where}; add one first")
    return found


def read_text(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except OSError as exc:
        raise KitError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_pins(path: Path | str | None = None) -> dict[str, str]:
    """{VAR: default} for every `${VAR:-default}` in the compose file (first one wins)."""
    pins: dict[str, str] = {}
    for name, value in _DEFAULT.findall(read_text(Path(path) if path else compose_path())):
        pins.setdefault(name, value)
    return pins


def write_pins(path: Path | str, values: dict[str, str]) -> dict[str, str]:
    """Set the `${VAR:-...}` defaults of `values` everywhere in the file, atomically.

    Returns the old values. Every variable must already be there and every value must be
    a plain version/commit string; otherwise nothing is written.
    """
    path = Path(os.path.realpath(path))  # replace the target of a symlink, not the link
    text = read_text(path)
    old = {}
    for name, value in values.items():
        found = [v for n, v in _DEFAULT.findall(text) if n == name]
        if not found:
            raise KitError(f"{path} has no ${{{name}:-...}} default to pin; add one first")
        if not _PIN_VALUE.fullmatch(value or ""):
            raise KitError(f"refusing to pin {name} to {value!r}: not a version or commit")
        old[name] = found[0]
    new_text = _DEFAULT.sub(
        lambda m: f"${{{m.group(1)}:-{values[m.group(1)]}}}" if m.group(1) in values
        else m.group(0), text)
    if new_text != text:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(new_text)
                handle.flush()
                os.fsync(handle.fileno())
            shutil.copymode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return old
