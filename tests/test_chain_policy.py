"""The chain policy's one home (docker/lib/chain-policy) and its two readers: the kit's
Python (tasks/_chain_policy.py) and the entry points' shell library (docker/lib/opkit.sh),
run here under every shell the images use: dash (Nethermind's Ubuntu /bin/sh), busybox
sh (op-node's Alpine, op-reth's Wolfi) and bash. One table of cases, one verdict: each
case's expected value, and Python's and each shell's equal to it. No engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import _chain_policy, _chains, _components
from tasks._errors import KitError
from tests.helpers import ROOT, need

LIB = ROOT / "docker" / "lib"
SHELLS = {"dash": ["dash"], "busybox": ["busybox", "sh"], "bash": ["bash", "--posix"]}
DROPPED = ("automata-mainnet", "lisk-mainnet", "lisk-sepolia", "mint-mainnet",
           "polynomial-mainnet", "redstone-mainnet", "sseed-mainnet", "superseed-mainnet",
           "xterio-eth-mainnet")
CUT = "v1.21.0"

# (network, op-node version or None for unset, is Base, the release that dropped it for
# that version or None). The rule: names ignore ASCII case; Base is a word of the name
# (cut at every non-letter) that is a base-word; dropped needs the exact name and a
# version at or after the cut-off, a pre-release counting as its X.Y.Z and an unknown
# version as the newest.
CASES = [
    ("Base", None, True, None),
    ("base", CUT, True, None),
    ("base-mainnet", CUT, True, None),
    ("BASE_SEPOLIA", None, True, None),
    ("Base-Sepolia", "v1.19.5", True, None),
    ("base-goerli", None, True, None),
    ("Base Mainnet", None, True, None),
    ("basemainnet", None, True, None),
    ("BaseSepolia", None, True, None),
    ("op-base", None, True, None),
    ("base2", None, True, None),
    ("/chain-config/base.json", None, True, None),
    ("basecamp", None, False, None),
    ("database", None, False, None),
    ("based-mainnet", None, False, None),
    ("op-mainnet", CUT, False, None),
    ("op-sepolia", None, False, None),
    ("unichain-mainnet", None, False, None),
    ("", None, False, None),
    *((name, CUT, False, CUT) for name in DROPPED),
    ("lisk-sepolia", None, False, CUT),  # unset: taken as the newest
    ("lisk-sepolia", "", False, CUT),
    ("lisk-sepolia", "latest", False, CUT),
    ("lisk-sepolia", "v1.21", False, CUT),
    ("lisk-sepolia", "op-node/v1.19.5", False, CUT),  # the tag, not the version: unknown
    ("lisk-sepolia", "v1.20.0.1", False, CUT),
    ("lisk-sepolia", "v1.9999999999.0", False, CUT),  # 10 digits: unknown
    ("lisk-sepolia", "v1.21.0-rc.1", False, CUT),
    ("lisk-sepolia", "v1.21.0-", False, CUT),
    ("lisk-sepolia", "v1.21.1", False, CUT),
    ("lisk-sepolia", "v1.22.3", False, CUT),
    ("lisk-sepolia", "v2.0.0", False, CUT),
    ("lisk-sepolia", "1.21.0", False, CUT),
    ("lisk-sepolia", "v1.20.9", False, None),
    ("lisk-sepolia", "v1.20.0-rc.3", False, None),
    ("lisk-sepolia", "v1.20.5-synctest.1", False, None),
    ("lisk-sepolia", "1.19.5", False, None),
    ("lisk-sepolia", "V1.19.5", False, None),
    ("lisk-sepolia", "v1.020.0", False, None),  # 020 is twenty, not octal
    ("lisk-sepolia", "v0.9.0", False, None),
    ("LISK-SEPOLIA", CUT, False, CUT),
    ("Lisk-Mainnet", "v1.19.5", False, None),
    ("Xterio-ETH-Mainnet", "v1.21.0-rc.2", False, CUT),
    ("lisk_sepolia", CUT, False, None),  # not the name
    ("lisk-sepolia-2", CUT, False, None),
]
# NETWORK -> op-reth's --chain name (case kept: op-reth judges the name).
OP_RETH_NAMES = {"op-mainnet": "optimism", "op-sepolia": "optimism-sepolia",
                 "ink-mainnet": "ink", "unichain-sepolia": "unichain-sepolia",
                 "OP-Mainnet": "OP-Mainnet", "-mainnet": "-mainnet", "lisk-mainnet": "lisk"}

SHELL_VERDICTS = """\
. "$OPKIT_LIB_DIR/opkit.sh"
while [ $# -gt 0 ]; do
  if opkit_is_base "$1"; then base=yes; else base=no; fi
  dropped="$(opkit_dropped "$1" "$2")" || dropped=-
  printf '%s|%s|%s\\n' "$base" "$dropped" "$(opkit_chain_name op-reth "$1")"
  shift 2
done
"""


def _shell(name: str) -> list[str]:
    argv = SHELLS[name]
    if shutil.which(argv[0]) is None:
        need(f"{argv[0]} is not installed (apt-get install {argv[0]}"
             f"{'-static' if name == 'busybox' else ''})")
    return argv


def shell_verdicts(shell: str, pairs: list[tuple[str, str | None]],
                   lib: Path = LIB) -> list[tuple[bool, str | None, str]]:
    """(Base?, dropped since, op-reth's name) for each (network, version), as the shell
    library decides them under SHELL with the policy in LIB."""
    args = [a for name, version in pairs for a in (name, version or "")]
    done = subprocess.run([*_shell(shell), "-euc", SHELL_VERDICTS, "sh", *args],
                          env={"OPKIT_LIB_DIR": str(lib), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")[:-1]
    assert len(lines) == len(pairs), done.stdout
    return [(b == "yes", None if d == "-" else d, c)
            for b, d, c in (line.split("|", 2) for line in lines)]


def python_verdicts(pairs, facts=None) -> list[tuple[bool, str | None, str]]:
    return [(_chain_policy.is_base_network(n, facts), _chain_policy.dropped_network(n, v, facts),
             _chain_policy.chain_name("op-reth", n, facts)) for n, v in pairs]


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_python_and_the_shell_library_give_the_tables_verdicts(shell):
    pairs = [(n, v) for n, v, _, _ in CASES] + [(n, CUT) for n in OP_RETH_NAMES]
    expected = [(b, d) for _, _, b, d in CASES]
    python = python_verdicts(pairs)
    assert [v[:2] for v in python[:len(CASES)]] == expected
    assert [v[2] for v in python[len(CASES):]] == list(OP_RETH_NAMES.values())
    assert shell_verdicts(shell, pairs) == python


def test_a_changed_policy_changes_both_verdicts(tmp_path):
    """Control: the table above can fail. A policy whose cut-off moved to v1.22.0 and
    that forgot one base-word gives other verdicts, in Python and in the shell alike."""
    text = (LIB / "chain-policy").read_text()
    changed = text.replace("dropped v1.21.0 ", "dropped v1.22.0 ").replace(
        "base-word basesepolia\n", "")
    assert changed != text
    (tmp_path / "chain-policy").write_text(changed)
    shutil.copy2(LIB / "opkit.sh", tmp_path / "opkit.sh")
    pairs = [(n, v) for n, v, _, _ in CASES]
    python = python_verdicts(pairs, _chain_policy.parse(changed))
    assert shell_verdicts("dash", pairs, tmp_path) == python
    wrong = [case for case, got in zip(CASES, python, strict=True) if got[:2] != case[2:]]
    assert ("BaseSepolia", None, True, None) in wrong
    assert ("lisk-sepolia", "v1.21.1", False, CUT) in wrong


def test_the_policy_holds_the_checked_facts():
    """op-node v1.21.0's release notes (Automata, Lisk, Lisk Sepolia, Mint, Polynomial,
    Redstone, Superseed, Xterio; names from the superchain registry's
    superchain/configs/<superchain>/<chain>.toml), the interop sets of OP's notice, and
    op-reth's chain names (optimism rust/op-reth/crates/chainspec/src/superchain/
    chain_spec_macro.rs @399b85e3)."""
    assert _chain_policy.dropped_networks() == dict.fromkeys(DROPPED, CUT)
    assert _chain_policy.interop_peers("op-sepolia") == ("unichain-sepolia",)
    assert _chain_policy.interop_peers("Unichain-Mainnet") == ("op-mainnet",)
    assert _chain_policy.interop_peers("ink-sepolia") == ()
    assert _chains.dropped_network is _chain_policy.dropped_network  # callers keep their names
    assert _chains.is_base_network is _chain_policy.is_base_network
    assert _components.get("op-reth").networks.client_name("op-mainnet") == "optimism"


@pytest.mark.parametrize("line", ["dropped 1.21.0 lisk-sepolia", "dropped v1.21.0 Lisk-Sepolia",
                                  "base-word Base", "chain-name op-reth op-mainnet",
                                  "interop op-sepolia", "drop v1.21.0 lisk-sepolia",
                                  "dropped v01.21.0 lisk-sepolia"])
def test_a_malformed_line_is_named(line):
    """The shell compares words as they stand: the file holds them as compared."""
    with pytest.raises(KitError, match=r"line 2: .* is no fact"):
        _chain_policy.parse(f"# ok\n{line}\n")


def test_the_policy_is_read_on_first_use_only():
    """Importing the kit reads no file (`inv --list` stays fast); the first verdict
    reads it once."""
    done = subprocess.run(
        [sys.executable, "-c", "import tasks, tasks._chain_policy as p; "
         "print(p.policy.cache_info().currsize); p.is_base_network('x'); "
         "p.dropped_network('x', None); print(p.policy.cache_info().currsize)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1"]


@pytest.mark.parametrize("script", ["op-node/entrypoint.sh", "execution/entrypoint.sh",
                                    "op-reth/entrypoint.sh", "execution/jwt-init.sh",
                                    "execution/snapshot-restore.sh"])
def test_the_scripts_keep_no_copy_of_the_policy(script):
    """The facts are in the policy file only: no dropped chain, no Base name, no op-reth
    chain name, engine port, secret or data path written into a script the images run;
    each sources the library."""
    text = (ROOT / "docker" / script).read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for fact in (*DROPPED, "base-mainnet", "base-sepolia", "=optimism", "8551",
                 "/secrets/jwt.hex", "/data/"):
        assert fact not in code, (script, fact)
    assert '. "$OPKIT_LIB_DIR/opkit.sh"' in code
    assert "OPKIT_LIB_DIR=/usr/local/lib/opkit" in code
