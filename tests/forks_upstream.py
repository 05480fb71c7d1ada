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

The activation times are the public ones: OP Sepolia's as the registry lists them through
Karst, and Lagoon at 1796918401 (2026-12-10 16:00:01 UTC) as op-node v1.21.0's release
notes announce it.
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
NOW = 1796054400  # 2026-11-30 16:00:00 UTC: Lagoon is 10 days and 1 second away
NOW_ISO = "2026-11-30T16:00:00Z"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


SEPOLIA_TIMES = {
    "canyon": 1699981200, "delta": 1703203200, "ecotone": 1708534800, "fjord": 1716998400,
    "granite": 1723478400, "holocene": 1732633200, "pectra_blob_schedule": 1742486400,
    "isthmus": 1744905600, "jovian": 1763568001, "karst": 1781712001,
}
MAINNET_OP_TIMES = {"canyon": 1704992401, "delta": 1708560000, "ecotone": 1710374401,
                    "karst": 1783526401, "lagoon": 1799683201}

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
NM_TAGS = {"2.2.1": sha("nm 2.2.1"), "1.39.3": sha("nm 1.39.3"), "1.38.0": sha("nm 1.38.0"),
           "2.3.0-rc.1": sha("nm 2.3.0-rc.1")}


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
               "sepolia/soneium-minato", "mainnet/xterio-eth"]


def serve_registry(fake) -> None:
    fake.serve_branch(REGISTRY, "main", REG_MAIN)
    fake.serve_file(REGISTRY, "chainList.json", REG_MAIN, chain_list(IDENTIFIERS))
    op_sepolia = "superchain/configs/sepolia/op.toml"
    fake.serve_file(REGISTRY, op_sepolia, REG_MAIN, hardforks_toml(
        "OP Sepolia Testnet", 11155420, {**SEPOLIA_TIMES, "lagoon": LAGOON}))
    fake.serve_file(REGISTRY, op_sepolia, REG_AUG,
                    hardforks_toml("OP Sepolia Testnet", 11155420, SEPOLIA_TIMES))
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
    fake.add_repo(OPTIMISM, OP_NODE_TAGS, annotated=OP_NODE_ANNOTATED, gomod=gomods)
    fake.serve_submodule(OPTIMISM, "superchain-registry", OP_NODE_TAGS["op-node/v1.21.0"],
                         REG_MAIN)
    fake.serve_submodule(OPTIMISM, "superchain-registry", OP_NODE_TAGS["op-node/v1.19.5"],
                         REG_AUG)
    fake.serve_submodule(OPTIMISM, "superchain-registry",
                         OP_NODE_TAGS["op-node/v1.22.0-rc.1"], REG_MAIN)
    fake.serve_file(OPTIMISM, "op-core/superchain/superchain-registry-commit.txt",
                    OP_NODE_TAGS["op-node/v1.18.2"], REG_AUG + "\n")
    fake.serve_file(OP_GETH, "superchain-registry-commit.txt", "v1.101503.4", REG_2025 + "\n")


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


def serve_nethermind(fake) -> None:
    fake.add_repo(NETHERMIND, NM_TAGS, annotated={"2.2.1"}, prefixes=("",))
    dictionary = zstd_dictionary()
    chains = "src/Nethermind/Chains"
    specs = {"1.39.3": SEPOLIA_TIMES, "2.2.1": {**SEPOLIA_TIMES, "lagoon": LAGOON},
             "1.38.0": {k: v for k, v in SEPOLIA_TIMES.items() if k != "karst"}}
    for version, times in specs.items():
        commit = NM_TAGS[version]
        fake.serve_file(NETHERMIND, f"{chains}/dictionary", commit, dictionary)
        fake.serve_file(NETHERMIND, f"{chains}/op-sepolia.json.zst", commit,
                        compress(chainspec(times), dictionary))


def serve_all(fake) -> None:
    serve_registry(fake)
    serve_op_node(fake)
    serve_nethermind(fake)
