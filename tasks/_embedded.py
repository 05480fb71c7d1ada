"""The fork schedule a client release carries for a network, read from its tag upstream.

op-node embeds a superchain-registry revision; which one depends on the release
(read upstream in the optimism monorepo, op-geth and superchain-registry):

- from v1.19.1: the monorepo's `superchain-registry` git submodule at the tag (the contents
  endpoint answers `"type": "submodule"` with the registry commit);
- v1.18.0 ... v1.19.1-rc.1: `op-core/superchain/superchain-registry-commit.txt` (upstream
  checks that it equals the commit op-geth bundles, which op-node still linked then);
- older releases, registry 2.0 era: op-geth's `superchain` package, so the commit in
  op-geth's `superchain-registry-commit.txt` at the op-geth version go.mod's
  `replace github.com/ethereum/go-ethereum => github.com/ethereum-optimism/op-geth vX`
  names (upstream's own check-prestate tool reads it the same way);
- before that: the registry Go module `github.com/ethereum-optimism/superchain-registry/superchain`
  in go.mod, whose pseudo-version ends in a 12-hex commit prefix.

Nethermind ships a chain spec per OP network at `src/Nethermind/Chains/<network>.json.zst`
(zstd with the dictionary `src/Nethermind/Chains/dictionary`), generated from the same
registry: `engine.Optimism.params.<fork>Timestamp`, and for some forks also
`params.op<Fork>TransitionTimestamp`, hex or decimal.
"""

from __future__ import annotations

import json
import re

from ._errors import KitError
from ._registry import ALIASES

SUBMODULE = "superchain-registry"
OP_CORE_PIN = "op-core/superchain/superchain-registry-commit.txt"
OP_GETH = "ethereum-optimism/op-geth"
OP_GETH_PIN = "superchain-registry-commit.txt"
SUBMODULE_FROM = "1.19.1"
OP_CORE_FROM = "1.18.0"
NM_CHAINS = "src/Nethermind/Chains"
_FULL_SHA = re.compile(r"^\s*([0-9a-f]{40})\s*$")
_REGISTRY_MODULE = re.compile(
    r"github\.com/ethereum-optimism/superchain-registry/superchain\s+v\S*?-([0-9a-f]{12})\b")
_OP_GETH_REPLACE = re.compile(
    r"github\.com/ethereum/go-ethereum(?:\s+v\S+)?\s+=>\s+"
    r"github\.com/ethereum-optimism/op-geth\s+(v\S+)")
_PSEUDO_COMMIT = re.compile(r"-(?:\d{14}-)?([0-9a-f]{12})$")
# Forks with nothing for an execution client to carry (the registry's and OP's own docs).
CONSENSUS_ONLY = {
    "delta": "Delta is a consensus-layer fork (span batches), set only in the rollup node",
    "pectra_blob_schedule": "pectra_blob_schedule is a derivation setting of the rollup node",
}


class Unknowable(KitError):
    """The schedule a release carries cannot be told; the message says why."""


# --------------------------------------------------------------------------- op-node
def registry_pin_from_gomod(gomod: str) -> tuple[str, str] | None:
    """("registry"|"op-geth", commit prefix or op-geth version) from go.mod text."""
    found = _REGISTRY_MODULE.search(gomod)
    if found:
        return "registry", found.group(1)
    found = _OP_GETH_REPLACE.search(gomod)
    if found:
        return "op-geth", found.group(1)
    return None


def _pinned_commit(text: str | None) -> str | None:
    match = _FULL_SHA.match(text or "")
    return match.group(1) if match else None


def op_node_registry_commit(github, repo: str, release, commit: str,
                            registry: str) -> tuple[str, str]:
    """(registry commit, how it was found) for an op-node release at `commit`."""
    from packaging.version import Version

    tag = release.tag
    if release.key >= Version(SUBMODULE_FROM):
        sha = github.submodule_at(repo, SUBMODULE, commit)
        if sha:
            return sha, f"the {SUBMODULE} submodule at {tag}"
    if release.key >= Version(OP_CORE_FROM):
        sha = _pinned_commit(github.file_at(repo, OP_CORE_PIN, commit, missing_ok=True))
        if sha:
            return sha, f"{OP_CORE_PIN} at {tag}"
    gomod = github.file_at(repo, "go.mod", commit, missing_ok=True) or ""
    pin = registry_pin_from_gomod(gomod)
    if pin and pin[0] == "registry":
        return github.commit_sha(registry, pin[1]), f"the registry Go module in go.mod at {tag}"
    if pin:
        version = pin[1]
        pseudo = _PSEUDO_COMMIT.search(version)
        ref = github.commit_sha(OP_GETH, pseudo.group(1)) if pseudo else version
        sha = _pinned_commit(github.file_at(OP_GETH, OP_GETH_PIN, ref, missing_ok=True))
        if sha:
            return sha, f"op-geth {version} ({OP_GETH_PIN}), which go.mod at {tag} uses"
        raise Unknowable(f"op-geth {version}, which op-node {release.version} uses, has no "
                         f"{OP_GETH_PIN}")
    raise Unknowable(f"cannot tell which superchain-registry revision op-node {release.version} "
                     f"embeds: no {SUBMODULE} submodule, no {OP_CORE_PIN}, and no registry "
                     "module or op-geth replace in its go.mod")


# ------------------------------------------------------------------------ Nethermind
def _as_time(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.lower().startswith("0x") else int(value)
        except ValueError:
            return None
    return None


def _lower_keys(table) -> dict:
    return {str(k).lower(): v for k, v in table.items()} if isinstance(table, dict) else {}


def chainspec_times(spec: dict) -> dict[str, int]:
    """{fork: Unix seconds} from a Nethermind chain spec (OP engine params first)."""
    times: dict[str, int] = {}
    params = _lower_keys(spec.get("params"))
    for key, value in params.items():
        match = re.fullmatch(r"op([a-z]+)transitiontimestamp", key)
        if match and _as_time(value) is not None:
            times[ALIASES.get(match.group(1), match.group(1))] = _as_time(value)
    engine = _lower_keys(_lower_keys(spec.get("engine")).get("optimism"))
    for key, value in _lower_keys(engine.get("params")).items():
        match = re.fullmatch(r"([a-z]+)timestamp", key)
        if match and _as_time(value) is not None:
            times[ALIASES.get(match.group(1), match.group(1))] = _as_time(value)
    return times


def decompress(data: bytes, dictionary: bytes | None, where: str) -> bytes:
    """A zstd frame, with the chain-spec dictionary when there is one."""
    try:
        import zstandard
    except ModuleNotFoundError:
        raise Unknowable("reading Nethermind's .json.zst chain specs needs the zstandard "
                         "package (pip install zstandard)") from None
    try:
        kwargs = {"dict_data": zstandard.ZstdCompressionDict(dictionary)} if dictionary else {}
        reader = zstandard.ZstdDecompressor(**kwargs).stream_reader(data)
        return reader.read()
    except zstandard.ZstdError as exc:
        raise Unknowable(f"cannot decompress {where}: {exc}") from None


def nethermind_times(github, repo: str, version: str, commit: str,
                     network: str) -> tuple[dict[str, int] | None, str]:
    """(fork times or None when the release ships no chain spec for NETWORK, source path)."""
    path = f"{NM_CHAINS}/{network}.json.zst"
    data = github.file_bytes_at(repo, path, commit, missing_ok=True)
    if data is not None:
        dictionary = github.file_bytes_at(repo, f"{NM_CHAINS}/dictionary", commit,
                                          missing_ok=True)
        data = decompress(data, dictionary, f"{path} at {version}")
    else:
        path = f"{NM_CHAINS}/{network}.json"
        data = github.file_bytes_at(repo, path, commit, missing_ok=True)
        if data is None:
            return None, f"{NM_CHAINS}/{network}.json(.zst)"
    try:
        spec = json.loads(data)
    except ValueError:
        raise Unknowable(f"{path} at Nethermind {version} is not JSON") from None
    return chainspec_times(spec if isinstance(spec, dict) else {}), path
