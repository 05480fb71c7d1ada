"""What a service's Dockerfile builds FROM, read the way BuildKit reads it, and the
check every build makes on those base images before it starts: a rehearsal stand-in
left under a real name by an interrupted test run is refused.

The names come from the Dockerfile each service of the compose config builds: its FROM
lines, with the ARGs declared before the first FROM filled in from the service's build
args or their defaults (`FROM golang:${GO}-alpine`); earlier stages and
`scratch` are no images.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ._errors import KitError
from ._refs import STANDIN_LABEL, normalize_ref, standin_tags

_ARG = re.compile(r"ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", re.I)
_FROM = re.compile(r"FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.I)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VAR = re.compile(rf"\$(?:\{{({_NAME})(?::?([-+])([^}}]*))?\}}|({_NAME}))")


def _instructions(text: str) -> Iterator[str]:
    """TEXT's instructions, one per item: continuation lines joined, comments dropped."""
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        yield (current + stripped).strip()
        current = ""
    if current.strip():
        yield current.strip()


def _expand(word: str, values: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(4)
        value = values.get(name, "")
        if match.group(2) == "-":  # ${X:-default}
            return value or match.group(3)
        if match.group(2) == "+":  # ${X:+alternative}
            return match.group(3) if value else ""
        return value
    return _VAR.sub(one, word)


def base_images(text: str, args: dict[str, str] | None = None) -> list[str]:
    """The images the Dockerfile TEXT builds FROM, with build ARGS filled in."""
    args = {k: v for k, v in (args or {}).items() if v is not None}
    values: dict[str, str] = {}
    stages: set[str] = set()
    bases: list[str] = []
    seen_from = False
    for line in _instructions(text):
        arg = _ARG.fullmatch(line)
        if arg and not seen_from:  # only the global ARGs reach a FROM line
            name, default = arg.groups()
            values[name] = args.get(name, _expand(default or "", values))
            continue
        found = _FROM.match(line)
        if not found:
            continue
        seen_from = True
        image = _expand(found.group(1), values)
        if image.lower() != "scratch" and image not in stages and image not in bases:
            bases.append(image)
        if found.group(2):
            stages.add(found.group(2))
    return bases


def service_bases(config: dict, services: Iterable[str]) -> dict[str, list[str]]:
    """{service: its base images} for the SERVICES of a compose CONFIG that build (a
    Dockerfile that cannot be read has none: the build then says why)."""
    found = {}
    for name in services:
        build = ((config.get("services") or {}).get(name) or {}).get("build")
        if not isinstance(build, dict) or not build.get("context"):
            continue
        path = Path(build["context"]) / (build.get("dockerfile") or "Dockerfile")
        try:
            text = path.read_text()
        except OSError:
            continue
        found[name] = base_images(text, build.get("args") or {})
    return found


def refuse_standins(images: list[dict], config: Callable[[], dict],
                    services: list[str]) -> None:
    """One line when a base image the SERVICES' Dockerfiles build FROM is a rehearsal
    stand-in (tests/rehearsal_kit.py: label STANDIN_LABEL) that an interrupted test run
    left under its real name. IMAGES is the listing the build takes anyway; CONFIG (a
    callable giving the compose config) is asked only when some image carries the label,
    so a host that never ran the rehearsal pays nothing."""
    standins = standin_tags(images)
    if not standins:
        return
    for service, bases in service_bases(config(), services).items():
        for base in bases:
            if normalize_ref(base) in standins:
                raise KitError(
                    f"{base} (a base image of {service}) is a rehearsal stand-in left behind "
                    f"by an interrupted test run (label {STANDIN_LABEL}), not the "
                    f"real image: remove it with `docker rmi {base}` and build again")
