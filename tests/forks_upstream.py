"""A stand-in upstream for fork-readiness tests, written for these tests in their own words.

It reproduces the *structure* of the real sources (read 2026-11-30), not their files:

- ethereum-optimism/superchain-registry: `chainList.json` entries with
  `"identifier": "<superchain>/<chain>"` (as at commit 8336d2aedd19, 2026-08-04);
  `superchain/configs/sepolia/op.toml` with a `[hardforks]` table (8336d2aedd19) or, in the
  pre-2.0 layout, inline `<fork>_time` keys plus `superchain_time` and a `[genesis]` table
  with `l2_time`, and an inline `superchain.toml` (8a45400fa7a7, 2025-01-18).
- ethereum-optimism/optimism (op-node tags): the `superchain-registry` submodule at the
  root (v1.19.1 on), `op-core/superchain/superchain-registry-commit.txt` (v1.18.x), go.mod
  replacing go-ethereum with an op-geth version (registry 2.0 era), and go.mod requiring
  `github.com/ethereum-optimism/superchain-registry/superchain` at a pseudo-version (older).
- ethereum-optimism/op-geth: `superchain-registry-commit.txt` at the repo root.
- NethermindEth/nethermind: `src/Nethermind/Chains/op-sepolia.json.zst`, zstd with the
  dictionary `src/Nethermind/Chains/dictionary` (one streamed frame, so no content size
  in its header), laid out as the generator `scripts/superchain.py` @898d9a27 writes it:
  `name`, `dataDir`, `engine.Optimism.params` with `regolithTimestamp` "0x0",
  `bedrockBlockNumber` and one `<fork>Timestamp` hex string per fork the chain's own
  registry file sets, canyon through isthmus, `deltaTimestamp` included, next to
  non-time keys (`canyonBaseFeeChangeDenominator`, `l1FeeRecipient`, ...);
  `engine.OptimismCL`; top-level `params` repeating the times as EIP transitions
  (`eip4844TransitionTimestamp`, `rip7212TransitionTimestamp`, ...) and
  `op{Granite,Holocene,Isthmus}TransitionTimestamp`; `genesis`, `nodes`, `accounts`.
  `jovianTimestamp` and `karstTimestamp` follow the same rule (the properties
  JovianTimestamp and KarstTimestamp of OptimismChainSpecEngineParameters, @01dd031e).
  No Nethermind source names a Lagoon key; the fixture's one Nethermind release that
  carries Lagoon (the invented 2.2.1) spells it `interopTimestamp`, the name
  NethermindEth/core-scripts gen2spec.jq gives geth's `interopTime` (the registry's old
  name for lagoon_time), so the reader must map it to lagoon.

- ethereum-optimism/optimism (op-reth tags `op-reth/vX.Y.Z`): the same root gitlink
  (optimism PR #21474 on; op-reth's chainspec build.rs builds from it), and before it the
  pin file `rust/op-reth/crates/chainspec/res/superchain_registry_commit` (@4f3298990a6e).

The code that reads each fork key, era by era (our own text, the upstream *shape*):

- op-node: `op-core/superchain/types.go`, `type HardforkConfig struct` with one
  `*uint64` field per fork tagged `toml:"<fork>_time"` (@03794207: karst_time, then
  lagoon_time; the registry's old name interop_time before its rename of June 2026).
- op-reth: `rust/op-reth/crates/chainspec/src/superchain/chain_metadata.rs`,
  `#[serde(rename_all = "snake_case")] pub(crate) struct HardforkConfig` with one
  `pub <fork>_time: Option<u64>` per fork, stopping at karst_time in every stored version
  (@0b879adf, up to September 2026). The fixture's op-reth v2.10.0 adds `lagoon_time` (as
  its release notes imply; the tag's file is UNVERIFIED), and the invented v2.9.1 builds
  from a gitlink that schedules lagoon_time while its struct stops at karst_time: the trap
  the issue names (data schedules it, code activates nothing).
- Nethermind: `src/Nethermind/Nethermind.Optimism/OptimismChainSpecEngineParameters.cs`,
  `public ulong? <Fork>Timestamp { get; set; }` per fork (@01dd031e: Regolith through
  Jovian; KarstTimestamp added for 1.38.1). No release has a Lagoon property, so the
  fixture's newest Nethermind (2.2.1) lacks Lagoon in code and data, as upstream does up
  to 2.3.0. Tests that need a Nethermind carrying Lagoon serve one of their own
  (`serve_nethermind_lagoon`), with the key `interopTimestamp`.

The activation times are the public ones: the registry's through Karst (superchain-registry
8336d2aedd19, the eight Lagoon chains' [hardforks]), and Lagoon at 1796918401 (2026-12-10
16:00:01 UTC) on the testnets and 1799683201 (2027-01-11 16:00:01 UTC) on the mainnets, as
op-node v1.21.0's and op-reth v2.10.0's release notes announce them.
"""

from __future__ import annotations

import hashlib
import io
import json

OPTIMISM = "ethereum-optimism/optimism"
NETHERMIND = "NethermindEth/nethermind"
REGISTRY = "ethereum-optimism/superchain-registry"
OP_GETH = "ethereum-optimism/op-geth"
LAGOON = 1796918401  # 2026-12-10 16:00:01 UTC
LAGOON_MAINNET = 1799683201  # 2027-01-11 16:00:01 UTC
NOW = 1796054400  # 2026-11-30 16:00:00 UTC: Lagoon is 10 days and 1 second away
NOW_ISO = "2026-11-30T16:00:00Z"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


SEPOLIA_TIMES = {
    "canyon": 1699981200, "delta": 1703203200, "ecotone": 1708534800, "fjord": 1716998400,
    "granite": 1723478400, "holocene": 1732633200, "pectra_blob_schedule": 1742486400,
    "isthmus": 1744905600, "jovian": 1763568001, "karst": 1781712001,
}
# The other Lagoon chains at superchain-registry 8336d2aedd19 ([hardforks], times only).
_G = {"canyon": 0, "delta": 0, "ecotone": 0}
LAGOON_CHAINS = {
    "sepolia/op": (11155420, SEPOLIA_TIMES),
    "sepolia/ink": (763373, SEPOLIA_TIMES),
    "sepolia/soneium-minato": (1946, {**_G, "fjord": 1730106000, "granite": 1730106000,
                                      "holocene": 1734685200, "pectra_blob_schedule":
                                      1742486400, "isthmus": 1744905600,
                                      "jovian": 1763568001, "karst": 1781712001}),
    "sepolia/unichain": (1301, {**_G, "fjord": 0, "granite": 0, "holocene": 1734559200,
                                "pectra_blob_schedule": 1742486400, "isthmus": 1744905600,
                                "jovian": 1763568001, "karst": 1781712001}),
    "mainnet/op": (10, {"canyon": 1704992401, "delta": 1708560000, "ecotone": 1710374401,
                        "fjord": 1720627201, "granite": 1726070401, "holocene": 1736445601,
                        "isthmus": 1746806401, "jovian": 1764691201, "karst": 1783526401}),
    "mainnet/ink": (57073, {**_G, "fjord": 0, "granite": 0, "holocene": 1742396400,
                            "isthmus": 1746806401, "jovian": 1764691201,
                            "karst": 1783526401}),
    "mainnet/soneium": (1868, {**_G, "fjord": 0, "granite": 0, "holocene": 1738573200,
                               "isthmus": 1746806401, "jovian": 1764691201,
                               "karst": 1783526401}),
    "mainnet/unichain": (130, {**_G, "fjord": 0, "granite": 0, "holocene": 1736445601,
                               "isthmus": 1746806401, "jovian": 1764691201,
                               "karst": 1783526401}),
}


def network_of(identifier: str) -> str:
    superchain, name = identifier.split("/")
    return f"{name}-{superchain}"


def lagoon_of(identifier: str) -> int:
    return LAGOON if identifier.startswith("sepolia/") else LAGOON_MAINNET

REG_MAIN = sha("registry main, late November 2026")
REG_AUG = sha("registry, August 2026: Karst, no Lagoon yet")
REG_2025 = sha("registry, mid 2025: through Isthmus")
REG_2024 = sha("registry, October 2024: inline layout")

GOMOD = "module github.com/ethereum-optimism/optimism\n\ngo 1.26.0\n"
GOMOD_OP_GETH = ("module github.com/ethereum-optimism/optimism\n\ngo 1.23.0\n\nrequire (\n"
                 "\tgithub.com/ethereum/go-ethereum v1.15.3\n)\n\n"
                 "replace github.com/ethereum/go-ethereum v1.15.3 => "
                 "github.com/ethereum-optimism/op-geth v1.101503.4\n")
GOMOD_REGISTRY_MODULE = (
    "module github.com/ethereum-optimism/optimism\n\ngo 1.22\n\nrequire (\n"
    f"\tgithub.com/ethereum-optimism/superchain-registry/superchain "
    f"v0.0.0-20241010120000-{REG_2024[:12]}\n\tgithub.com/ethereum/go-ethereum v1.14.11\n)\n\n"
    "replace github.com/ethereum/go-ethereum v1.14.11 => "
    "github.com/ethereum-optimism/op-geth v1.101411.0\n")

OP_NODE_TAGS = {
    # v1.21.0's tag commit starts 2ad3799 upstream (compose.yml pins that prefix)
    "op-node/v1.21.0": "2ad3799" + sha("op-node 1.21.0")[7:],
    "op-node/v1.19.5": sha("op-node 1.19.5"),
    "op-node/v1.18.2": sha("op-node 1.18.2"), "op-node/v1.13.2": sha("op-node 1.13.2"),
    "op-node/v1.9.0": sha("op-node 1.9.0"), "op-node/v1.22.0-rc.1": sha("op-node 1.22.0-rc.1"),
    "op-batcher/v1.21.0": sha("op-batcher"),
}
OP_NODE_ANNOTATED = {"op-node/v1.19.5", "op-node/v1.21.0"}
OP_RETH_TAGS = {
    "op-reth/v2.10.0": "65e8033" + sha("op-reth 2.10.0")[7:],  # 65e8033 upstream
    "op-reth/v2.9.1": sha("op-reth 2.9.1, invented: lagoon in data, not in code"),
    "op-reth/v2.3.3": sha("op-reth 2.3.3"),  # first release on the root gitlink
    "op-reth/v2.3.1": sha("op-reth 2.3.1"),  # the pin-file era
    "op-reth/v2.11.0-rc.1": sha("op-reth 2.11.0-rc.1"),
}
NM_TAGS = {"2.2.1": sha("nm 2.2.1"), "1.39.3": sha("nm 1.39.3"), "1.38.0": sha("nm 1.38.0"),
           "2.3.0-rc.1": sha("nm 2.3.0-rc.1")}
OP_NODE_FORK_CODE = "op-core/superchain/types.go"
OP_RETH_FORK_CODE = "rust/op-reth/crates/chainspec/src/superchain/chain_metadata.rs"
NM_FORK_CODE = "src/Nethermind/Nethermind.Optimism/OptimismChainSpecEngineParameters.cs"
THROUGH_KARST = ("canyon", "delta", "ecotone", "fjord", "granite", "holocene", "isthmus",
                 "jovian", "karst")


def go_hardforks(keys) -> str:
    """op-core's types.go, as far as forks go: one tagged *uint64 per registry key."""
    fields = "".join(f"\t{k.title().replace('_', '')} *uint64 `toml:\"{k}\"`\n" for k in keys)
    return ("package superchain\n\ntype ChainConfig struct {\n\tName string `toml:\"name\"`\n"
            "\tSuperchainTime *uint64 `toml:\"superchain_time\"`\n"
            "\tHardforks HardforkConfig `toml:\"hardforks\"`\n}\n\n"
            f"type HardforkConfig struct {{\n{fields}"
            "\tPectraBlobScheduleTime *uint64 `toml:\"pectra_blob_schedule_time,omitempty\"`\n"
            "}\n")


def rust_hardforks(forks) -> str:
    """op-reth's chain_metadata.rs, as far as forks go: the serde struct of fork times
    and the extra-fields struct that repeats them (camelCase) for the genesis config."""
    fields = "".join(f"    pub {f}_time: Option<u64>,\n" for f in forks)
    return ("use serde::{Deserialize, Serialize};\n\n"
            "#[derive(Clone, Debug, Deserialize)]\n#[serde(rename_all = \"snake_case\")]\n"
            "pub(crate) struct ChainMetadata {\n    pub chain_id: u64,\n"
            "    pub hardforks: HardforkConfig,\n}\n\n"
            "#[derive(Clone, Debug, Deserialize)]\n#[serde(rename_all = \"snake_case\")]\n"
            "pub(crate) struct HardforkConfig {\n    pub regolith_time: Option<u64>,\n"
            f"{fields}}}\n\n"
            "impl HardforkConfig {\n    const fn op_fork_time(&self) -> Option<u64> { None }\n}\n\n"
            "#[derive(Clone, Debug, Serialize)]\n#[serde(rename_all = \"camelCase\")]\n"
            f"pub(crate) struct ChainConfigExtraFields {{\n{fields}}}\n")


def cs_engine_parameters(forks) -> str:
    """Nethermind's Optimism spec provider parameters: one nullable property per fork."""
    props = "".join(f"    public ulong? {f.title()}Timestamp {{ get; set; }}\n\n" for f in forks)
    return ("namespace Nethermind.Optimism;\n\n"
            "public class OptimismChainSpecEngineParameters : IChainSpecEngineParameters\n{\n"
            "    public ulong? RegolithTimestamp { get; set; }\n\n"
            "    public long? BedrockBlockNumber { get; set; }\n\n"
            f"{props}    public Address? L1FeeRecipient {{ get; set; }}\n}}\n")


# ------------------------------------------------------------------- registry files
def hardforks_toml(name: str, chain_id: int, times: dict[str, int]) -> str:
    lines = [f'name = "{name}"', "governed_by_optimism = true", "superchain_time = 0",
             f"chain_id = {chain_id}", "block_time = 2", "", "[hardforks]"]
    lines += [f"  {fork}_time = {when}" for fork, when in times.items()]
    if "karst" in times:
        lines.append("  keep_karst_upgrade_gas = true")  # a flag among the times
    lines += ["", "[genesis]", "  l2_time = 1691802540", "  [genesis.l2]", "    number = 0", ""]
    return "\n".join(lines)


def inline_toml(name: str, chain_id: int, times: dict[str, int], superchain_time=0) -> str:
    lines = [f'name = "{name}"', f"chain_id = {chain_id}"]
    if superchain_time is not None:
        lines.append(f"superchain_time = {superchain_time} # missing times come from "
                     "superchain.toml")
    lines += [f"{fork}_time = {when}" for fork, when in times.items()]
    lines += ["block_time = 2", "", "[genesis]", "  l2_time = 1691802540", ""]
    return "\n".join(lines)


def chain_list(identifiers) -> str:
    return json.dumps([{"name": ident, "identifier": ident, "chainId": number,
                        "parent": {"type": "L2", "chain": ident.split("/")[0]}}
                       for number, ident in enumerate(identifiers, start=1)], indent=2)


# Base is not here: the registry removed mainnet/base and sepolia/base (0d9aefc4, 2026-04-27).
IDENTIFIERS = ["mainnet/op", "sepolia/op", "sepolia/lisk", "mainnet/lisk",
               "sepolia/soneium-minato", "mainnet/xterio-eth", "sepolia/ink",
               "sepolia/unichain", "mainnet/ink", "mainnet/soneium", "mainnet/unichain"]


def serve_registry(fake) -> None:
    fake.serve_branch(REGISTRY, "main", REG_MAIN)
    fake.serve_file(REGISTRY, "chainList.json", REG_MAIN, chain_list(IDENTIFIERS))
    op_sepolia = "superchain/configs/sepolia/op.toml"
    for ident, (chain_id, times) in LAGOON_CHAINS.items():
        path = f"superchain/configs/{ident}.toml"
        fake.serve_file(REGISTRY, path, REG_MAIN, hardforks_toml(
            ident, chain_id, {**times, "lagoon": lagoon_of(ident)}))
        fake.serve_file(REGISTRY, path, REG_AUG, hardforks_toml(ident, chain_id, times))
    through_isthmus = {k: v for k, v in SEPOLIA_TIMES.items()
                       if k not in ("jovian", "karst")}
    fake.serve_file(REGISTRY, op_sepolia, REG_2025,
                    hardforks_toml("OP Sepolia Testnet", 11155420, through_isthmus))
    fake.serve_file(REGISTRY, op_sepolia, REG_2024, inline_toml("OP Sepolia Testnet", 11155420, {
        k: SEPOLIA_TIMES[k] for k in ("canyon", "delta", "ecotone", "fjord")}))
    fake.serve_file(REGISTRY, "superchain/configs/sepolia/superchain.toml", REG_2024,
                    'name = "Sepolia"\n' + "".join(
                        f"{k}_time = {SEPOLIA_TIMES[k]}\n"
                        for k in ("canyon", "delta", "ecotone", "fjord", "granite")))
    fake.serve_commit(REGISTRY, REG_2024[:12], REG_2024)
    lisk = "superchain/configs/sepolia/lisk.toml"
    fake.serve_file(REGISTRY, lisk, REG_MAIN, hardforks_toml("Lisk Sepolia", 4202,
                                                            SEPOLIA_TIMES))
    fake.serve_file(REGISTRY, lisk, REG_AUG, hardforks_toml("Lisk Sepolia", 4202,
                                                           SEPOLIA_TIMES))


# --------------------------------------------------------------------- op-node tags
def serve_op_node(fake) -> None:
    gomods = {commit: GOMOD for commit in OP_NODE_TAGS.values()}
    gomods[OP_NODE_TAGS["op-node/v1.13.2"]] = GOMOD_OP_GETH
    gomods[OP_NODE_TAGS["op-node/v1.9.0"]] = GOMOD_REGISTRY_MODULE
    fake.add_repo(OPTIMISM, {**OP_NODE_TAGS, **OP_RETH_TAGS}, annotated=OP_NODE_ANNOTATED,
                  gomod=gomods, prefixes=("", "op-node/v", "op-reth/v"))
    lagoon_keys = [f"{f}_time" for f in (*THROUGH_KARST, "lagoon")]
    for tag in ("op-node/v1.21.0", "op-node/v1.19.5", "op-node/v1.22.0-rc.1"):
        fake.serve_file(OPTIMISM, OP_NODE_FORK_CODE, OP_NODE_TAGS[tag], go_hardforks(lagoon_keys))
    fake.serve_file(OPTIMISM, OP_NODE_FORK_CODE, OP_NODE_TAGS["op-node/v1.18.2"], go_hardforks(
        [f"{f}_time" for f in (*THROUGH_KARST[:-1], "interop")]))
    fake.serve_submodule(OPTIMISM, "superchain-registry", OP_NODE_TAGS["op-node/v1.21.0"],
                         REG_MAIN)
    fake.serve_submodule(OPTIMISM, "superchain-registry", OP_NODE_TAGS["op-node/v1.19.5"],
                         REG_AUG)
    fake.serve_submodule(OPTIMISM, "superchain-registry",
                         OP_NODE_TAGS["op-node/v1.22.0-rc.1"], REG_MAIN)
    fake.serve_file(OPTIMISM, "op-core/superchain/superchain-registry-commit.txt",
                    OP_NODE_TAGS["op-node/v1.18.2"], REG_AUG + "\n")
    fake.serve_file(OP_GETH, "superchain-registry-commit.txt", "v1.101503.4", REG_2025 + "\n")


# --------------------------------------------------------------------- op-reth tags
def serve_op_reth(fake) -> None:
    """op-reth tags (listed with op-node's, same repository): gitlink and struct per era."""
    eras = {"op-reth/v2.10.0": (REG_MAIN, (*THROUGH_KARST, "lagoon")),
            "op-reth/v2.11.0-rc.1": (REG_MAIN, (*THROUGH_KARST, "lagoon")),
            "op-reth/v2.9.1": (REG_MAIN, THROUGH_KARST),
            "op-reth/v2.3.3": (REG_AUG, THROUGH_KARST)}
    for tag, (registry, forks) in eras.items():
        fake.serve_submodule(OPTIMISM, "superchain-registry", OP_RETH_TAGS[tag], registry)
        fake.serve_file(OPTIMISM, OP_RETH_FORK_CODE, OP_RETH_TAGS[tag], rust_hardforks(forks))
    old = OP_RETH_TAGS["op-reth/v2.3.1"]
    fake.serve_file(OPTIMISM, "rust/op-reth/crates/chainspec/res/superchain_registry_commit",
                    old, REG_2025 + "\n")
    fake.serve_file(OPTIMISM, OP_RETH_FORK_CODE, old, rust_hardforks(THROUGH_KARST[:-2]))


# ------------------------------------------------------------------ Nethermind tags
# Registry fork -> the engine.Optimism.params key superchain.py writes for it (none for
# pectra_blob_schedule: a rollup-node setting); lagoon's key is the assumed one above.
ENGINE_KEYS = {"canyon": "canyonTimestamp", "delta": "deltaTimestamp",
               "ecotone": "ecotoneTimestamp", "fjord": "fjordTimestamp",
               "granite": "graniteTimestamp", "holocene": "holoceneTimestamp",
               "isthmus": "isthmusTimestamp", "jovian": "jovianTimestamp",
               "karst": "karstTimestamp", "lagoon": "interopTimestamp"}
# The EIP transitions superchain.py sets from a fork's time, in params.
PARAM_KEYS = {
    "canyon": ["eip4895TransitionTimestamp", "eip3651TransitionTimestamp",
               "eip3855TransitionTimestamp", "eip3860TransitionTimestamp"],
    "ecotone": ["eip1153TransitionTimestamp", "eip4788TransitionTimestamp",
                "eip4844TransitionTimestamp", "eip5656TransitionTimestamp",
                "eip6780TransitionTimestamp"],
    "fjord": ["rip7212TransitionTimestamp"],
    "granite": ["opGraniteTransitionTimestamp"],
    "holocene": ["opHoloceneTransitionTimestamp"],
    "isthmus": ["opIsthmusTransitionTimestamp", "eip7702TransitionTimestamp",
                "eip2537TransitionTimestamp", "eip2935TransitionTimestamp",
                "eip7623TransitionTimestamp", "eip6110TransitionTimestamp",
                "eip7685TransitionTimestamp"],
}


def chainspec(times: dict[str, int], name: str = "OP Sepolia Testnet",
              data_dir: str = "op-sepolia", chain_id: int = 11155420) -> dict:
    """A chain spec laid out as superchain.py writes one (see the module docstring)."""
    engine = {"regolithTimestamp": "0x0", "bedrockBlockNumber": "0x0"}
    engine.update({ENGINE_KEYS[fork]: hex(when) for fork, when in times.items()
                   if fork in ENGINE_KEYS})
    engine.update({"canyonBaseFeeChangeDenominator": "250",
                   "l1FeeRecipient": "0x420000000000000000000000000000000000001A",
                   "l1BlockAddress": "0x4200000000000000000000000000000000000015",
                   "create2DeployerAddress": "0x13b0D85CcB8bf860b6b79AF3029fCA081AE9beF2",
                   "create2DeployerCode": "6080"})
    params = {"chainId": hex(chain_id), "gasLimitBoundDivisor": "0x400", "maxCodeSize": "0x6000",
              "maxCodeSizeTransition": "0x0", "eip150Transition": "0x0",
              "eip1559Transition": "0x0", "eip1559ElasticityMultiplier": "0x6",
              "eip1559BaseFeeMaxChangeDenominator": "0x32"}
    for fork, keys in PARAM_KEYS.items():
        if fork in times:
            params.update({key: hex(times[fork]) for key in keys})
    params.update({"depositContractAddress": "0x7f02c3e3c98b133055b8b348b2ac625669ed295d",
                   "terminalTotalDifficulty": "0x0"})
    return {"name": name, "dataDir": data_dir,
            "engine": {"Optimism": {"params": engine},
                       "OptimismCL": {"L1ChainId": 11155111, "L2BlockTime": 2,
                                      "GenesisSystemConfig": {"GasLimit": 30000000}}},
            "params": params,
            "genesis": {"seal": {"ethereum": {"nonce": "0x0000000000000000"}},
                        "number": "0x0", "timestamp": "0x64d6dbac", "gasLimit": "0x1c9c380"},
            "nodes": ["enode://" + "ab" * 64 + "@192.0.2.1:30303"],
            "accounts": {"0x4200000000000000000000000000000000000015": {"balance": "0x0"}}}


def zstd_dictionary() -> bytes:
    import zstandard

    samples = [json.dumps(chainspec({**SEPOLIA_TIMES, "lagoon": LAGOON + n})).encode() * 4
               for n in range(200)]
    return zstandard.train_dictionary(2048, samples).as_bytes()


def compress(spec: dict, dictionary: bytes) -> bytes:
    """As superchain.py compresses: `copy_stream` with the dictionary, one frame that does
    not state its size (a reader that needs the size in the header fails on it)."""
    import zstandard

    dict_data = zstandard.ZstdCompressionDict(dictionary)
    out = io.BytesIO()
    zstandard.ZstdCompressor(dict_data=dict_data).copy_stream(
        io.BytesIO(json.dumps(spec).encode()), out)
    return out.getvalue()


_DICTIONARY: list[bytes] = []


def serve_nethermind(fake, extra: dict[str, tuple[bool, bool]] | None = None) -> None:
    """Nethermind tags: 1.38.0 (through Jovian), 1.39.3 and 2.2.1 (through Karst, every
    Lagoon chain's spec), 2.3.0-rc.1. EXTRA: {version: (code has Lagoon, spec has it)},
    releases a test adds (through Karst otherwise)."""
    extra = extra or {}
    tags = {**NM_TAGS, **{v: sha(f"nm {v} {flags}") for v, flags in extra.items()}}
    fake.add_repo(NETHERMIND, tags, annotated={"2.2.1"}, prefixes=("",))
    if not _DICTIONARY:
        _DICTIONARY.append(zstd_dictionary())
    dictionary = _DICTIONARY[0]
    chains = "src/Nethermind/Chains"
    releases = {"1.38.0": (THROUGH_KARST[:-1], False), "1.39.3": (THROUGH_KARST, False),
                "2.2.1": (THROUGH_KARST, False)}
    releases.update({v: ((*THROUGH_KARST, "interop") if code else THROUGH_KARST, data)
                     for v, (code, data) in extra.items()})
    for version, (forks, lagoon) in releases.items():
        commit = tags[version]
        fake.serve_file(NETHERMIND, NM_FORK_CODE, commit, cs_engine_parameters(forks))
        fake.serve_file(NETHERMIND, f"{chains}/dictionary", commit, dictionary)
        for ident, (chain_id, times) in LAGOON_CHAINS.items():
            if version == "1.38.0" and ident != "sepolia/op":
                continue
            times = {k: v for k, v in times.items() if k in forks}
            if lagoon:
                times["lagoon"] = lagoon_of(ident)
            network = network_of(ident)
            fake.serve_file(NETHERMIND, f"{chains}/{network}.json.zst", commit, compress(
                chainspec(times, ident, network, chain_id), dictionary))


def serve_nethermind_lagoon(fake, version: str = "2.4.0", code: bool = True,
                            data: bool = True) -> None:
    """A Nethermind release of the test's own (none upstream carries Lagoon): its spec
    provider has InteropTimestamp when CODE, its chain specs interopTimestamp when DATA."""
    serve_nethermind(fake, {version: (code, data)})


# ----------------------------------------------------- a compose project, CONTRACTS-17
# compose.yml's base-execution extends docker/${EXECUTION_CLIENT:-nethermind}.yml, each
# client's file carrying its own pin and EXECUTION_CLIENT (CONTRACTS-17 §2, checked with
# compose 2.40); op-node gets NETWORK and OP_NODE_L2_FOLLOW_SOURCE (§3).
CLIENT_COMPOSE = """services:
  base-op-node:
    build:
      context: ./op-node
      args:
        OP_NODE_VERSION: ${{OP_NODE_VERSION:-{op_node}}}
        OP_NODE_COMMIT: ${{OP_NODE_COMMIT:-{commit}}}
    environment:
      OP_NODE_NETWORK: ${{NETWORK:-}}
      EXECUTION_CLIENT: ${{EXECUTION_CLIENT:-nethermind}}
      OP_NODE_L2_FOLLOW_SOURCE: ${{OP_NODE_L2_FOLLOW_SOURCE:-}}
  base-execution:
    extends:
      file: ./docker/${{EXECUTION_CLIENT:-nethermind}}.yml
      service: base-execution
    environment:
      NETWORK: ${{NETWORK:-}}
"""
CLIENT_FILE = """services:
  base-execution:
    build:
      context: {context}
      args:
        {var}: ${{{var}:-{version}}}
    environment:
      EXECUTION_CLIENT: {client}
"""


def write_client_stack(root, op_node="v1.21.0", nethermind="1.39.3", op_reth="v2.10.0",
                       env: str = ""):
    """Write that project under ROOT (a pathlib.Path) with these pins; ENV is its .env."""
    (root / "docker").mkdir(parents=True, exist_ok=True)
    (root / "compose.yml").write_text(CLIENT_COMPOSE.format(
        op_node=op_node, commit=OP_NODE_TAGS[f"op-node/{op_node}"]))
    for client, var, version, context in (
            ("nethermind", "NETHERMIND_VERSION", nethermind, "./execution"),
            ("op-reth", "OP_RETH_VERSION", op_reth, ".")):
        (root / "docker" / f"{client}.yml").write_text(CLIENT_FILE.format(
            context=context, var=var, version=version, client=client))
    (root / ".env").write_text(env)
    return root


def serve_all(fake) -> None:
    serve_registry(fake)
    serve_op_node(fake)
    serve_op_reth(fake)
    serve_nethermind(fake)
