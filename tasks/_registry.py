"""Fork schedules from ethereum-optimism/superchain-registry, pure parsing plus the reads.

Where the schedule lives (read upstream, 2026-11-30):

- `chainList.json` at the repo root lists every chain as `"identifier": "<superchain>/<chain>"`;
  op-node and Nethermind name the network `<chain>-<superchain>` (e.g. `sepolia/op` is
  `op-sepolia`, `mainnet/xterio-eth` is `xterio-eth-mainnet`).
- `superchain/configs/<superchain>/<chain>.toml` holds `<fork>_time` Unix times: under a
  `[hardforks]` table since the registry's 2.0 layout (January 2025), where inherited times
  are written into each chain's file; inline at the top level before that, where a chain
  with `superchain_time` inherits the times of `superchain/configs/<superchain>/superchain.toml`
  that are at or after its `superchain_time` (0 when not after its genesis `l2_time`).
- The registry renamed `interop_time` to `lagoon_time` (June 2026): both mean Lagoon, but
  a client's code reads one name, so the schedule keeps which key each time came under.
- `keep_karst_upgrade_gas` sits among the times but is a flag, not a fork; in the inline
  layout `block_time` (seconds per block) and `superchain_time` share the top level with
  the fork times and are not forks either.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import KitError

if TYPE_CHECKING:  # for the hints only: nothing more is imported at run time
    from ._github import GitHub

REGISTRY = "ethereum-optimism/superchain-registry"
REGISTRY_BRANCH = "main"
CONFIGS = "superchain/configs"
ALIASES = {"interop": "lagoon"}
NOT_FORKS = {"superchain", "block"}  # when a chain joined; its block interval


@dataclass(frozen=True)
class Chain:
    """Where a network lives in the registry."""

    network: str
    superchain: str
    name: str

    @property
    def path(self) -> str:
        return f"{CONFIGS}/{self.superchain}/{self.name}.toml"

    @property
    def superchain_path(self) -> str:
        return f"{CONFIGS}/{self.superchain}/superchain.toml"


def parse_toml(text: str, where: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except ValueError as exc:
        raise KitError(f"{where} is not valid TOML: {str(exc).splitlines()[0]}") from None


def fork_name(key: str) -> str:
    name = key[: -len("_time")].lower()
    return ALIASES.get(name, name)


def fork_keys(table: dict) -> dict[str, str]:
    """{fork: the `<fork>_time` key that schedules it} for the integers directly in
    `table` (the key a client's code must read for the time to count)."""
    keys: dict[str, str] = {}
    for key, value in (table or {}).items():
        if not key.endswith("_time") or isinstance(value, bool) or not isinstance(value, int):
            continue
        name = fork_name(key)
        if name not in NOT_FORKS and (name not in keys or key.startswith(name)):
            keys[name] = key  # lagoon_time wins over its old name interop_time
    return keys


def fork_times(table: dict) -> dict[str, int]:
    """{fork: Unix seconds} for the `<fork>_time` integers directly in `table`."""
    return {fork: table[key] for fork, key in fork_keys(table).items()}


def chain_schedule(chain: dict, superchain: dict | None = None) -> dict[str, int]:
    """A chain's fork times from its parsed TOML (either layout), with inheritance applied
    for the inline layout when `superchain` (the parsed superchain.toml) is given."""
    return chain_schedule_keys(chain, superchain)[0]


def chain_schedule_keys(chain: dict, superchain: dict | None = None
                        ) -> tuple[dict[str, int], dict[str, str]]:
    """`chain_schedule`, and for each fork the registry key that schedules it."""
    if isinstance(chain.get("hardforks"), dict):  # 2.0 layout: what you see is what you get
        return fork_times(chain["hardforks"]), fork_keys(chain["hardforks"])
    own, keys = fork_times(chain), fork_keys(chain)
    joined = chain.get("superchain_time")
    if superchain is None or not isinstance(joined, int) or isinstance(joined, bool):
        return own, keys
    genesis = ((chain.get("genesis") or {}).get("l2_time")) or 0
    tables = (superchain, superchain.get("hardforks") or {})
    shared = {fork: (table[key], key) for table in tables
              for fork, key in fork_keys(table).items()}
    for fork, (when, key) in shared.items():
        if fork not in own and when >= joined:
            own[fork], keys[fork] = (when if when > genesis else 0), key
    return own, keys


def inherits(chain: dict) -> bool:
    """Whether the chain's schedule needs superchain.toml (inline layout, opted in)."""
    return not isinstance(chain.get("hardforks"), dict) and "superchain_time" in chain


def network_index(chain_list: Any) -> dict[str, Chain]:
    """{network name: Chain} from chainList.json's identifiers."""
    index = {}
    for entry in chain_list if isinstance(chain_list, list) else []:
        superchain, _, name = str((entry or {}).get("identifier", "")).partition("/")
        if superchain and name:
            network = f"{name}-{superchain}"
            index[network] = Chain(network, superchain, name)
    return index


class Registry:
    """The registry as GitHub serves it: the branch head, then reads pinned to commits."""

    def __init__(self, github: GitHub, repo: str = REGISTRY,
                 branch: str = REGISTRY_BRANCH) -> None:
        self.github, self.repo, self.branch = github, repo, branch
        self._head: str | None = None
        self._index: dict[str, Chain] | None = None

    def head(self) -> str:
        if self._head is None:
            self._head = self.github.branch_head(self.repo, self.branch)
        return self._head

    def networks(self) -> dict[str, Chain]:
        if self._index is None:
            text = self.github.file_at(self.repo, "chainList.json", self.head())
            import json

            try:
                self._index = network_index(json.loads(text or ""))
            except ValueError:
                raise KitError(f"chainList.json in {self.repo} at {self.head()[:12]} is not "
                               "JSON") from None
        return self._index

    def locate(self, network: str) -> Chain:
        """The registry entry for NETWORK, or a one-line error naming close names."""
        index = self.networks()
        if network in index:
            return index[network]
        close = difflib.get_close_matches(network, list(index), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KitError(f"network {network!r} is not in the superchain registry ({self.repo} "
                       f"{self.branch} @ {self.head()[:12]}, {len(index)} chains){hint} "
                       "Names are <chain>-<superchain>, e.g. op-mainnet, op-sepolia")

    def schedule_at(self, commit: str, chain: Chain) -> dict[str, int] | None:
        """The chain's fork times at a registry commit; None when its file is absent there."""
        found = self.schedule_keys_at(commit, chain)
        return None if found is None else found[0]

    def schedule_keys_at(self, commit: str, chain: Chain
                         ) -> tuple[dict[str, int], dict[str, str]] | None:
        """`schedule_at`, with the key that schedules each fork (`chain_schedule_keys`)."""
        text = self.github.file_at(self.repo, chain.path, commit, missing_ok=True)
        if text is None:
            return None
        parsed = parse_toml(text, f"{chain.path} at {commit[:12]}")
        superchain = None
        if inherits(parsed):
            shared = self.github.file_at(self.repo, chain.superchain_path, commit,
                                         missing_ok=True)
            superchain = parse_toml(shared, chain.superchain_path) if shared else None
        return chain_schedule_keys(parsed, superchain)
