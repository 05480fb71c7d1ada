"""Which chain the stack follows, and whether its clients can follow it.

Pure parts (read from the compose config): the network settings, Base (which left
op-node and Nethermind at its Azul upgrade) and the chains op-node dropped from its
embedded registry (both from the chain policy, tasks/_chain_policy.py, which the
images' entry points share), and the custom-chain escape hatch (each client given a config file
instead of a name). Which names a built image knows is asked in tasks/_chain_checks.py.
"""

from __future__ import annotations

import difflib
import re

from . import _components, _config
from ._chain_policy import dropped_network, is_base_network  # noqa: F401 (callers' names)

_NETWORK_KEYS = re.compile(r"(^|_)(NETWORK|CHAIN|CHAIN_NAME)$", re.I)


def network_settings(config: dict) -> dict[str, str]:
    """Network-looking settings in the compose config: env, build args, --network flags.
    (NETHERMIND_CONFIG is a file, the escape hatch: `custom_configs`.)"""
    found = {}
    for name, service in (config.get("services") or {}).items():
        env = _config.service_environment(config, name)
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


def custom_config(config: dict, entry: _components.Component) -> str:
    """The config file ENTRY's service is given instead of a network name (its
    `networks.custom` variable), or "" when none is set."""
    if entry.networks is None or not entry.networks.custom:
        return ""
    env = _config.service_environment(config, entry.service)
    return str(env.get(entry.networks.custom) or "").strip()


def custom_configs(config: dict) -> dict[str, str]:
    """{variable: value} of the escape-hatch variable of every client the stack runs
    (empty when unset)."""
    return {e.networks.custom: custom_config(config, e) for e in _config.in_use(config)
            if e.networks is not None and e.networks.custom}


def custom_chain(config: dict) -> bool:
    """Whether every client the stack runs has a config file of its own (e.g.
    OP_NODE_ROLLUP_CONFIG and NETHERMIND_CONFIG both set): then the network name is
    looked up by neither."""
    hatch = custom_configs(config)
    return bool(hatch) and all(hatch.values())


def nearest(name: str, known: list[str], count: int = 3) -> list[str]:
    """The names in KNOWN closest to NAME (difflib; case does not count)."""
    lowered = {k.lower(): k for k in known}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered),
                                                          n=count, cutoff=0.6)]
