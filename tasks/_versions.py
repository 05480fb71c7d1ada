"""Version logic, pure: which upstream tags are releases, how they order, what a spec picks.

Which tags are a component's releases comes from its entry in tasks/_components.py:
its tag prefix (`op-node/v` in the optimism monorepo, none for Nethermind) followed by
`X.Y.Z` or a pre-release `X.Y.Z-rc.N`. Other components' tags (op-batcher/...,
op-contracts/...) and odd suffixes (`-synctest.N`, `-hotfix`, `-dev.0`, ...) are not
releases and are ignored.

Specs: `latest`, `vX.Y` / `X.Y` (newest patch of that minor), `vX.Y.Z` / `X.Y.Z`, or an
explicit pre-release such as `v1.20.0-rc.1`; `pre=True` lets `latest` and partial specs
choose pre-releases. `packaging` is imported lazily so `inv --list` stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _components
from ._errors import KitError

if TYPE_CHECKING:  # for the hints only: packaging is imported when a version is compared
    from packaging.version import Version

ACCEPTED_SPECS = "latest, vX.Y, vX.Y.Z (the v is optional) or a pre-release like v1.20.0-rc.1"

_SPEC = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+)(?:-rc\.(\d+))?)?")
# A commit pin: the full 40-hex SHA, or a prefix of at least 7 hex digits (what release
# pages show) until a host that reaches GitHub writes the full one with `inv source.pin`.
COMMIT_PIN = re.compile(r"[0-9a-f]{7,40}")
FULL_COMMIT = 40


@dataclass(frozen=True)
class Release:
    """One upstream release tag. `version` is the build-arg form (`v1.19.5`, `1.38.1`)."""

    component: str
    tag: str
    version: str
    numbers: tuple[int, int, int]
    rc: int | None = None

    @property
    def prerelease(self) -> bool:
        return self.rc is not None

    @property
    def key(self) -> Version:
        """A `packaging.version.Version`: numeric order, rc before its release."""
        from packaging.version import Version

        suffix = f"rc{self.rc}" if self.rc is not None else ""
        return Version(".".join(map(str, self.numbers)) + suffix)


@dataclass(frozen=True)
class Spec:
    """A parsed version spec; `numbers` has 0 (latest), 2 (minor) or 3 parts."""

    text: str
    numbers: tuple[int, ...] = ()
    rc: int | None = None


def parse_tag(component: str, tag: str) -> Release | None:
    """The release a tag names, or None when the tag is not a release of `component`."""
    entry = _components.get(component)
    match = entry.tag_pattern.fullmatch(tag)
    if match is None:
        return None
    major, minor, patch, rc = match.groups()
    numbers = (int(major), int(minor), int(patch))
    rc_number = None if rc is None else int(rc)
    core = ".".join(map(str, numbers)) + (f"-rc.{rc_number}" if rc is not None else "")
    return Release(component, tag, entry.version_text(core), numbers, rc_number)


def releases(component: str, tags: Iterable[str]) -> list[Release]:
    """The releases among `tags` (any order, duplicates allowed), newest first."""
    found = {r.tag: r for r in (parse_tag(component, t) for t in tags) if r is not None}
    return sorted(found.values(), key=lambda r: r.key, reverse=True)


def pinned(component: str, available: list[Release], pin: str | None) -> Release | None:
    """The release a pin names exactly (`v1.21.0`, `1.39.3`, or the whole tag), or None
    when the pin is unset or no such release exists. A pin is no spec: empty is not
    `latest`, and `v1.19` names no release."""
    namespace = _components.get(component).tag_namespace
    text = (pin or "").strip()
    if not text:
        return None
    wanted = text if namespace and text.startswith(namespace) else namespace + text
    return next((r for r in available if r.tag == wanted), None)


def parse_spec(component: str, spec: str) -> Spec:
    """Parse a version spec; a KitError saying what is accepted when malformed."""
    namespace = _components.get(component).tag_namespace
    text = (spec or "latest").strip()
    if text.lower() == "latest":
        return Spec("latest")
    candidate = text
    if namespace and candidate.startswith(namespace):  # the whole tag, e.g. op-node/v1.2.3
        candidate = candidate[len(namespace):]
    match = _SPEC.fullmatch(candidate)
    if match is None:
        raise KitError(f"malformed {component} version {text!r}: use {ACCEPTED_SPECS}")
    major, minor, patch, rc = match.groups()
    numbers = tuple(int(n) for n in (major, minor, patch) if n is not None)
    return Spec(text, numbers, None if rc is None else int(rc))


def select(component: str, available: list[Release], spec: str = "latest",
           pre: bool = False) -> Release:
    """The release `spec` names among `available`, or a KitError naming the nearest."""
    wanted = parse_spec(component, spec)
    if not available:
        raise KitError(f"no {component} releases found upstream")
    if wanted.rc is not None:  # an explicit pre-release: exactly that one
        matches = [r for r in available if r.numbers == wanted.numbers and r.rc == wanted.rc]
    else:
        matches = [
            r for r in available
            if (pre or not r.prerelease) and r.numbers[: len(wanted.numbers)] == wanted.numbers
        ]
    if matches:
        return max(matches, key=lambda r: r.key)
    raise KitError(
        f"{component} {wanted.text} does not exist upstream; nearest: "
        f"{', '.join(r.version for r in nearest(wanted, available, pre))} "
        f"(`inv source.tags --component {component}` lists them)"
    )


def nearest(wanted: Spec, available: list[Release], pre: bool = False,
            each_side: int = 2) -> list[Release]:
    """Up to `each_side` releases just above and just below `wanted`, newest first."""
    from packaging.version import Version

    pool = [r for r in available if pre or wanted.rc is not None or not r.prerelease]
    pool = pool or available
    padded = tuple(wanted.numbers) + (0,) * (3 - len(wanted.numbers))
    rc = f"rc{wanted.rc}" if wanted.rc is not None else ""
    target = Version(".".join(map(str, padded)) + rc)
    ordered = sorted(pool, key=lambda r: r.key, reverse=True)
    above = [r for r in ordered if r.key > target][-each_side:]
    below = [r for r in ordered if r.key < target][:each_side]
    return above + below


_GO_LINE = re.compile(r"^\s*go\s+(\d+\.\d+(?:\.\d+)?(?:(?:rc|beta)\d+)?)\s*(?://.*)?$", re.M)
_TOOLCHAIN_LINE = re.compile(
    r"^\s*toolchain\s+go(\d+\.\d+(?:\.\d+)?(?:(?:rc|beta)\d+)?)\S*\s*(?://.*)?$", re.M)


def go_version(gomod: str) -> str | None:
    """The golang image version a go.mod asks for, as `X.Y` (or a Go pre-release as is).

    The newer of the `go` directive and the `toolchain` line decides. The result is the
    minor version on purpose: `golang:1.26-alpine` is always published, always carries
    the newest patch (the standard library's security fixes end up in the binary), and
    is never older than the patch go.mod names. Go pre-releases (`1.26rc1`) stay exact,
    since the golang image has no minor tag for them yet. None without a `go` directive.
    """
    from packaging.version import Version

    found = [m.group(1) for m in (_GO_LINE.search(gomod), _TOOLCHAIN_LINE.search(gomod)) if m]
    if not _GO_LINE.search(gomod):
        return None
    newest = max(found, key=Version)
    if Version(newest).is_prerelease:
        return newest
    return ".".join(newest.split(".")[:2])


def is_commit_pin(text: str) -> bool:
    """A usable commit pin: 7 to 40 lower-case hex digits."""
    return bool(COMMIT_PIN.fullmatch(text or ""))


def commit_matches(pinned: str, actual: str) -> bool:
    """Whether ACTUAL (a full SHA) is the commit PINNED names (full SHA or prefix)."""
    return is_commit_pin(pinned) and actual.startswith(pinned)
