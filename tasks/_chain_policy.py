"""The chain policy, read from its one home: docker/lib/chain-policy.

The same file goes into every image (/usr/local/lib/opkit/chain-policy), where the
entry points decide with docker/lib/opkit.sh; the rules are written once, at the top of
the file, and tests/test_chain_policy.py holds both languages to one table of cases.
Pure: the file is read on first use and kept (nothing is read at import time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ._errors import KitError

PATH = Path(__file__).resolve().parent.parent / "docker" / "lib" / "chain-policy"
# [v|V]X.Y.Z (1 to 9 digits each: the shell compares them as integers), then "-" and
# anything (a pre-release or an odd suffix counts as its X.Y.Z).
_VERSION = re.compile(r"[vV]?([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})(?:-.*)?", re.S)
_WORD = re.compile(r"[a-z]+")
_SPLIT = re.compile(r"[ \t]+")  # what the shell's `read` splits on


@dataclass(frozen=True)
class Policy:
    """The facts of one policy file (see its header for the kinds)."""

    base_words: frozenset[str] = frozenset()
    dropped: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    interop: tuple[tuple[str, ...], ...] = ()
    chain_names: dict[tuple[str, str], str] = field(default_factory=dict)
    chain_suffixes: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _lower(name: str) -> str:
    """NAME with ASCII letters lower-cased (what `tr A-Z a-z` does)."""
    return name.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _release(numbers: tuple[int, int, int]) -> str:
    return "v" + ".".join(map(str, numbers))


def version_numbers(version: str | None) -> tuple[int, int, int] | None:
    """(X, Y, Z) of an op-node version as the policy reads it; None when unknown."""
    match = _VERSION.fullmatch(version or "")
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch)


def parse(text: str, where: str = "chain-policy") -> Policy:
    """The facts in TEXT; a KitError naming the line for anything malformed."""
    base, dropped, interop = set(), {}, []
    names: dict[tuple[str, str], str] = {}
    suffixes: dict[str, list[str]] = {}
    for number, line in enumerate(text.split("\n"), 1):
        words = [w for w in _SPLIT.split(line) if w]
        if not words or words[0].startswith("#"):
            continue
        kind, rest = words[0], words[1:]
        # Network names and releases are written as compared (lower case, vX.Y.Z): the
        # shell compares the words as they stand.
        release = version_numbers(rest[0]) if kind == "dropped" and rest else None
        if kind == "base-word" and len(rest) == 1 and _WORD.fullmatch(rest[0]):
            base.add(rest[0])
        elif (kind == "dropped" and len(rest) == 2 and release
              and rest[0] == _release(release) and rest[1] == _lower(rest[1])
              and rest[1] not in dropped):
            dropped[rest[1]] = release
        elif kind == "interop" and len(rest) >= 2 and all(w == _lower(w) for w in rest):
            interop.append(tuple(rest))
        elif kind == "chain-name" and len(rest) == 3:
            names[(rest[0], rest[1])] = rest[2]
        elif kind == "chain-suffix" and len(rest) == 2:
            suffixes.setdefault(rest[0], []).append(rest[1])
        else:
            raise KitError(f"{where} line {number}: {line.strip()!r} is no fact; a line is "
                           "base-word WORD, dropped vX.Y.Z NETWORK, interop NETWORK NETWORK..., "
                           "chain-name CLIENT NETWORK NAME or chain-suffix CLIENT SUFFIX")
    return Policy(frozenset(base), dropped, tuple(interop), names,
                  {k: tuple(v) for k, v in suffixes.items()})


@cache
def policy(path: Path = PATH) -> Policy:
    """The policy file at PATH, read once."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KitError(f"cannot read the chain policy {path}: {exc.strerror or exc}") from None
    return parse(text, str(path))


def is_base_network(network: str | None, facts: Policy | None = None) -> bool:
    """Whether NETWORK names Base (which left op-node and Nethermind at its Azul upgrade)."""
    words = re.split(r"[^a-z]+", _lower(network or ""))
    return bool((facts or policy()).base_words.intersection(words))


def dropped_network(network: str | None, op_node_version: str | None,
                    facts: Policy | None = None) -> str | None:
    """The op-node release that no longer embeds NETWORK (vX.Y.Z), when the given op-node version is
    that or newer (or unknown); None otherwise."""
    release = (facts or policy()).dropped.get(_lower(network or ""))
    if release is None:
        return None
    pinned = version_numbers(op_node_version)
    if pinned is not None and pinned < release:
        return None
    return _release(release)


def dropped_networks(facts: Policy | None = None) -> dict[str, str]:
    """{network: the op-node release that dropped it}."""
    return {name: _release(release) for name, release in (facts or policy()).dropped.items()}


def interop_peers(network: str | None, facts: Policy | None = None) -> tuple[str, ...]:
    """The other members of NETWORK's interop dependency set (empty: none)."""
    name = _lower(network or "")
    for members in (facts or policy()).interop:
        if name in members:
            return tuple(m for m in members if m != name)
    return ()


def chain_name(client: str, network: str, facts: Policy | None = None) -> str:
    """NETWORK (as op-node spells it) as CLIENT names it."""
    facts = facts or policy()
    renamed = facts.chain_names.get((client, network))
    if renamed is not None:
        return renamed
    for suffix in facts.chain_suffixes.get(client, ()):
        if network.endswith(suffix) and len(network) > len(suffix):
            return network[:-len(suffix)]
    return network
