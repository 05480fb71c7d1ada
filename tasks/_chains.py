"""Which chain the stack follows, and whether its clients can follow it.

Pure parts (read from the compose config): the network settings, Base (which left
op-node and Nethermind at its Azul upgrade) and the chains op-node dropped from its
embedded registry (both from the chain policy, tasks/_chain_policy.py, which the
images' entry points share), and the custom-chain escape hatch (each client given a
config file instead of a name). One engine part: the names a built image knows, read
where the component table (tasks/_components.py, `Component.networks`) says its client
keeps them.
"""

from __future__ import annotations

import difflib
import re

from . import _components, _engine
from ._chain_policy import dropped_network, is_base_network  # noqa: F401 (callers' names)

_NETWORK_KEYS = re.compile(r"(^|_)(NETWORK|CHAIN|CHAIN_NAME)$", re.I)


def build_args(config: dict, service: str) -> dict:
    """A service's build args."""
    return (((config.get("services") or {}).get(service) or {}).get("build") or {}).get(
        "args") or {}


def environment(config: dict, service: str) -> dict:
    """A service's environment as a dict (compose may give it as KEY=VALUE lines)."""
    env = ((config.get("services") or {}).get(service) or {}).get("environment") or {}
    return dict(e.partition("=")[::2] for e in env) if isinstance(env, list) else env


def network_settings(config: dict) -> dict[str, str]:
    """Network-looking settings in the compose config: env, build args, --network flags.
    (NETHERMIND_CONFIG is a file, the escape hatch: `custom_configs`.)"""
    found = {}
    for name, service in (config.get("services") or {}).items():
        env = environment(config, name)
        args = (service.get("build") or {}).get("args") or {}
        for key, value in {**args, **env}.items():
            if value and _NETWORK_KEYS.search(key):
                found[f"{name} {key}"] = str(value)
        command = service.get("command") or []
        command = command.split() if isinstance(command, str) else command
        for i, word in enumerate(command):
            for flag in ("--network", "--chain"):
                if word.startswith(flag + "="):
                    found[f"{name} {flag}"] = word.split("=", 1)[1]
                elif word == flag and i + 1 < len(command):
                    found[f"{name} {flag}"] = command[i + 1]
    return found


def custom_config(config: dict, entry) -> str:
    """The config file ENTRY's service is given instead of a network name (its
    `networks.custom` variable), or "" when none is set."""
    if entry.networks is None or not entry.networks.custom:
        return ""
    return str(environment(config, entry.service).get(entry.networks.custom) or "").strip()


def in_use(config: dict) -> list:
    """The components CONFIG's stack runs (op-node and the execution client it selects)."""
    from . import _compose

    return _components.in_use(_compose.client_of(config))


def custom_configs(config: dict) -> dict[str, str]:
    """{variable: value} of the escape-hatch variable of every client the stack runs
    (empty when unset)."""
    return {e.networks.custom: custom_config(config, e) for e in in_use(config)
            if e.networks is not None and e.networks.custom}


def custom_chain(config: dict) -> bool:
    """Whether every client the stack runs has a config file of its own (e.g.
    OP_NODE_ROLLUP_CONFIG and NETHERMIND_CONFIG both set): then the network name is
    looked up by neither."""
    hatch = custom_configs(config)
    return bool(hatch) and all(hatch.values())


def knows_network(client, entry, image: str, network: str, labels: dict[str, str],
                  mapped: bool = True) -> tuple[bool, str]:
    """(whether the built IMAGE of ENTRY knows NETWORK, the last line it printed), asked
    with the table's `networks.check` command; MAPPED: NETWORK is the kit's name, turned
    into the client's first (else it is the client's own, e.g. OP_RETH_CHAIN)."""
    where = entry.networks
    name = where.client_name(network) if mapped else network
    command = [part.replace("{name}", name) for part in where.check]
    code, output = _engine.run_probe(client, image, command[1:], entrypoint=[command[0]],
                                     timeout=60, labels=labels)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return code == 0, (lines[-1] if lines else f"exit {code}")


def known_networks(client, entry, image: str, labels: dict[str, str]) -> list[str] | None:
    """The network names the built IMAGE of ENTRY knows, read where the table says its
    client lists them; None when the list is not where it should be."""
    where = entry.networks
    if where.folder:
        files = _engine.folder_names(client, image, where.folder, labels=labels)
        return None if files is None else where.names(files)
    _, output = _engine.run_probe(client, image, list(where.command[1:]),
                                  entrypoint=[where.command[0]], timeout=60, labels=labels)
    return where.parse(output)


def nearest(name: str, known: list[str], count: int = 3) -> list[str]:
    """The names in KNOWN closest to NAME (difflib; case does not count)."""
    lowered = {k.lower(): k for k in known}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered),
                                                          n=count, cutoff=0.6)]
