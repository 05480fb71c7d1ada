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

op-reth (monorepo tags `op-reth/vX.Y.Z`) builds its chain configs from the same root
`superchain-registry` gitlink (`rust/op-reth/crates/chainspec/build.rs`, optimism PR
#21482; only a `.sha256` of the bundle is committed); before the gitlink (PR #21474, June
2026) it pinned `rust/op-reth/crates/chainspec/res/superchain_registry_commit`.

Nethermind ships a chain spec per OP network at `src/Nethermind/Chains/<network>.json.zst`
(zstd with the dictionary `src/Nethermind/Chains/dictionary`), generated from the same
registry: `engine.Optimism.params.<fork>Timestamp`, and for some forks also
`params.op<Fork>TransitionTimestamp`, hex or decimal.

Data is half of it: a time counts only when the client's code at the tag reads its key
(`code_keys`). Where each client maps the keys (read upstream, 2026-12-06):

- op-node: `op-core/superchain/types.go`, struct `HardforkConfig`, one
  `toml:"<fork>_time"` tag per fork (`lagoon_time` @03794207); op-node/rollup's
  `applyHardforks` copies every field of it into the rollup config by name, so the tag
  list is the whole mapping. Before op-core (op-node < v1.18.0) the struct lived in
  op-geth or the registry's Go module: not read (the registry revisions those releases
  embed predate every fork whose key could be missing).
- op-reth: `rust/op-reth/crates/chainspec/src/superchain/chain_metadata.rs`, struct
  `HardforkConfig` (serde snake_case), one `pub <fork>_time: Option<u64>` per fork; every
  stored version up to September 2026 stops at `karst_time`, and its `op_fork_time` says
  Lagoon has no field, so a registry `lagoon_time` activates nothing there.
- Nethermind: `src/Nethermind/Nethermind.Optimism/OptimismChainSpecEngineParameters.cs`,
  one `public ulong? <Fork>Timestamp { get; set; }` per fork; the chain spec's
  `engine.Optimism.params` is bound to it by name, case-insensitively. No stored version
  has a Lagoon or Interop property (Karst is the newest).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import KitError
from ._registry import ALIASES, NOT_FORKS, fork_name

if TYPE_CHECKING:  # for the hints only: nothing more is imported at run time
    from ._github import GitHub
    from ._versions import Release

SUBMODULE = "superchain-registry"
OP_CORE_PIN = "op-core/superchain/superchain-registry-commit.txt"
OP_GETH = "ethereum-optimism/op-geth"
OP_GETH_PIN = "superchain-registry-commit.txt"
SUBMODULE_FROM = "1.19.1"
OP_CORE_FROM = "1.18.0"
NM_CHAINS = "src/Nethermind/Chains"
OP_RETH_PIN = "rust/op-reth/crates/chainspec/res/superchain_registry_commit"
# Where each client's code maps fork keys to its rules (see the module docstring).
OP_NODE_FORK_CODE = "op-core/superchain/types.go"
OP_RETH_FORK_CODE = "rust/op-reth/crates/chainspec/src/superchain/chain_metadata.rs"
NM_FORK_CODE = "src/Nethermind/Nethermind.Optimism/OptimismChainSpecEngineParameters.cs"
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


@dataclass
class Carried:
    """What a release's data schedules for a network, and what its code reads.

    TIMES: {fork: Unix seconds} (None: the release ships nothing for the network);
    KEYS: {fork: the data's key for it, lower case}; CODE: {fork: the keys its code
    reads, lower case} or None when the code was not read (CODE_SOURCE says why)."""

    times: dict[str, int] | None
    keys: dict[str, str] = field(default_factory=dict)
    source: str = ""
    code: dict[str, set[str]] | None = None
    code_source: str = ""


# ----------------------------------------------------------------- code: fork keys
def _block(text: str, opener: str) -> str:
    """The body of the first `opener ... {` block in TEXT, up to its closing brace."""
    found = re.search(opener + r"[^{;]*\{", text)
    if not found:
        return ""
    depth, start = 1, found.end()
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    return text[start:]


def _by_fork(keys: Iterable[str], name: Callable[[str], str | None]) -> dict[str, set[str]]:
    forks: dict[str, set[str]] = {}
    for key in keys:
        fork = name(key.lower())
        if fork:
            forks.setdefault(fork, set()).add(key.lower())
    return forks


def _registry_fork(key: str) -> str | None:
    if not key.endswith("_time"):
        return None
    fork = fork_name(key)
    return None if fork in NOT_FORKS else fork


def _timestamp_fork(key: str) -> str | None:
    match = re.fullmatch(r"([a-z]+)timestamp", key)
    return ALIASES.get(match.group(1), match.group(1)) if match else None


def go_toml_fork_keys(text: str) -> dict[str, set[str]]:
    """{fork: keys} from the `toml:"<fork>_time"` tags of a Go `HardforkConfig` struct."""
    body = _block(text, r"type\s+HardforkConfig\s+struct")
    return _by_fork(re.findall(r'toml:"([A-Za-z0-9_]+)[",]', body), _registry_fork)


def rust_fork_keys(text: str) -> dict[str, set[str]]:
    """{fork: keys} from the `<fork>_time` fields of a Rust `HardforkConfig` struct
    (serde snake_case), counting `#[serde(rename = ...)]` and `alias = ...` names too."""
    body = _block(text, r"struct\s+HardforkConfig")
    keys = re.findall(r"pub(?:\([^)]*\))?\s+([a-z0-9_]+)\s*:", body)
    keys += re.findall(r'(?:rename|alias)\s*=\s*"([a-z0-9_]+)"', body)
    return _by_fork(keys, _registry_fork)


def cs_fork_keys(text: str) -> dict[str, set[str]]:
    """{fork: keys} from the `public ulong? <Fork>Timestamp { get; set; }` properties
    of a C# class (a chain spec's engine params bind to them case-insensitively)."""
    names = re.findall(r"public\s+u?long\??\s+([A-Za-z]+Timestamp)\s*\{\s*get", text)
    return _by_fork(names, _timestamp_fork)


def code_keys(github: GitHub, repo: str, path: str, commit: str, tag: str,
              parse: Callable[[str], dict[str, set[str]]],
              absent: str | None = None) -> tuple[dict[str, set[str]] | None, str]:
    """(the fork keys the code at PATH reads, where they came from). A missing file is
    Unknowable, or not read (None) with ABSENT as the reason when that is given."""
    text = github.file_at(repo, path, commit, missing_ok=True)
    if text is None:
        if absent is None:
            raise Unknowable(f"{path} is missing at {tag}: cannot tell which fork keys its "
                             "code reads")
        return None, absent
    return parse(text), f"{path} at {tag}"


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


def op_node_registry_commit(github: GitHub, repo: str, release: Release, commit: str,
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


# -------------------------------------------------------------------------- op-reth
def op_reth_registry_commit(github: GitHub, repo: str, release: Release,
                            commit: str) -> tuple[str, str]:
    """(registry commit, how it was found) for an op-reth release at `commit`: the root
    gitlink (optimism PR #21474 on), else the pin file op-reth kept before it."""
    tag = release.tag
    sha = github.submodule_at(repo, SUBMODULE, commit)
    if sha:
        return sha, f"the {SUBMODULE} gitlink at {tag}"
    sha = _pinned_commit(github.file_at(repo, OP_RETH_PIN, commit, missing_ok=True))
    if sha:
        return sha, f"{OP_RETH_PIN} at {tag}"
    raise Unknowable(f"cannot tell which superchain-registry revision op-reth "
                     f"{release.version} builds from: no {SUBMODULE} gitlink and no "
                     f"{OP_RETH_PIN} at {tag}")


# ------------------------------------------------------------------------ Nethermind
def _as_time(value: Any) -> int | None:
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


def _lower_keys(table: Any) -> dict:
    return {str(k).lower(): v for k, v in table.items()} if isinstance(table, dict) else {}


def chainspec_times(spec: dict) -> dict[str, int]:
    """{fork: Unix seconds} from a Nethermind chain spec (OP engine params first)."""
    return chainspec_keys(spec)[0]


def chainspec_keys(spec: dict) -> tuple[dict[str, int], dict[str, str]]:
    """`chainspec_times`, and the engine params key of each fork that has one (the key
    the spec provider binds; `params.op<Fork>TransitionTimestamp` alone names none)."""
    times: dict[str, int] = {}
    keys: dict[str, str] = {}
    params = _lower_keys(spec.get("params"))
    for key, value in params.items():
        match = re.fullmatch(r"op([a-z]+)transitiontimestamp", key)
        when = _as_time(value)
        if match and when is not None:
            times[ALIASES.get(match.group(1), match.group(1))] = when
    engine = _lower_keys(_lower_keys(spec.get("engine")).get("optimism"))
    for key, value in _lower_keys(engine.get("params")).items():
        fork = _timestamp_fork(key)
        when = _as_time(value)
        if fork and when is not None:
            times[fork], keys[fork] = when, key
    return times, keys


def decompress(data: bytes, dictionary: bytes | None, where: str) -> bytes:
    """A zstd frame, with the chain-spec dictionary when there is one."""
    try:
        import zstandard
    except ModuleNotFoundError:
        raise Unknowable("reading Nethermind's .json.zst chain specs needs the zstandard "
                         "package (pip install zstandard)") from None
    try:
        kwargs = {"dict_data": zstandard.ZstdCompressionDict(dictionary)} if dictionary else {}
        reader = zstandard.ZstdDecompressor(**kwargs).stream_reader(data)  # type: ignore[arg-type]
        return reader.read()
    except zstandard.ZstdError as exc:
        raise Unknowable(f"cannot decompress {where}: {exc}") from None


def nethermind_times(github: GitHub, repo: str, version: str, commit: str,
                     network: str) -> tuple[dict[str, int] | None, str]:
    """(fork times or None when the release ships no chain spec for NETWORK, source path)."""
    found = nethermind_carried(github, repo, version, commit, network)
    return found.times, found.source


def nethermind_carried(github: GitHub, repo: str, version: str, commit: str,
                       network: str) -> Carried:
    """The chain spec NETWORK's release ships (times None when it ships none), with keys."""
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
            return Carried(None, source=f"{NM_CHAINS}/{network}.json(.zst)")
    try:
        spec = json.loads(data)
    except ValueError:
        raise Unknowable(f"{path} at Nethermind {version} is not JSON") from None
    times, keys = chainspec_keys(spec if isinstance(spec, dict) else {})
    return Carried(times, keys, path)
