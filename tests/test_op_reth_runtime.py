"""op-reth's side of the execution scripts, on the host: the entry point
(docker/op-reth/entrypoint.sh) with a stand-in op-reth that records how it was started
and knows a list of chains, and the shared restore (docker/execution/snapshot-restore.sh)
in its op-reth layout, against a local HTTP server that honours Range requests.

The op-reth image runs these under busybox sh (Wolfi); the Nethermind image under dash.
Tests that matter to both run under both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, need, need_tools
from tests.test_scripts import (
    HEX64,
    RangeServer,
    Restore,
    _busybox,
    _clean_env,
    _files,
    _stop_mid_download,
    pack,
)

OP_RETH = ROOT / "docker" / "op-reth"
EXECUTION = ROOT / "docker" / "execution"
NODE_UID = 10001

# Chain names the stand-in knows (a few of what op-reth's chain_value_parser accepts:
# rust/op-reth/crates/chainspec/src/superchain/chain_spec_macro.rs and chain_specs.rs,
# ethereum-optimism/optimism@399b85e3a3a1 / @12529c1474cf): `dump-genesis --chain X`
# prints a genesis for those and for a readable genesis file, and fails otherwise.
KNOWN_CHAINS = ("optimism", "op", "optimism-sepolia", "op-sepolia", "unichain",
                "unichain-sepolia", "ink", "ink-sepolia", "soneium", "soneium-minato-sepolia")
FAKE_OP_RETH = f"""#!/bin/sh
if [ "$1" = dump-genesis ]; then
  [ "$2" = --chain ] || exit 2
  case "$3" in
    {"|".join(KNOWN_CHAINS)}) echo '{{"config": {{}}}}'; exit 0 ;;
  esac
  if [ -f "$3" ] && [ -r "$3" ]; then cat "$3"; exit 0; fi
  echo "error: invalid value '$3' for '--chain <CHAIN_OR_PATH>'" >&2
  exit 2
fi
for a in "$@"; do echo "ARG $a"; done
"""


def _shell(name: str) -> list[str]:
    """argv that runs a script under SHELL: the host's sh (dash), or busybox's."""
    if name == "sh":
        return ["sh"]
    found = _busybox()
    if found is None:
        need("busybox is not installed (apt-get install busybox-static)")
    return [found, "sh"]


def _fake_op_reth(path: Path) -> Path:
    path.write_text(FAKE_OP_RETH)
    path.chmod(0o755)
    return path


def _entrypoint(tmp_path: Path, *args: str, shell: str = "sh", **env: str):
    """The op-reth entry point with the stand-in, a data dir and a secret in TMP_PATH."""
    settings = {"NETWORK": "op-sepolia", "OP_RETH_BIN": str(_fake_op_reth(tmp_path / "op-reth")),
                "JWT_FILE": str(tmp_path / "secrets" / "jwt.hex"),
                "DATA_DIR": str(tmp_path / "data" / "op-reth"), **env}
    return subprocess.run([*_shell(shell), str(OP_RETH / "entrypoint.sh"), *args],
                          env=_clean_env(**settings), capture_output=True, text=True,
                          timeout=120)


def _args(done: subprocess.CompletedProcess) -> list[str]:
    return [line[4:] for line in done.stdout.splitlines() if line.startswith("ARG ")]


def _one_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("op-reth-entrypoint: "), lines[0]
    return lines[0]


# --------------------------------------------------------------- the command line
@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_op_reth_runs_with_a_minimal_command_line_for_the_network(tmp_path, shell):
    """What op-reth defaults wrongly for a container, set explicitly, and nothing else
    (flags as in op-reth's CLI surface snapshot, rust/op-reth/crates/cli/tests/snapshots/
    cli.snap, ethereum-optimism/optimism@29289555fa67: --chain defaults to optimism, the
    RPC addresses to 127.0.0.1, --metrics to off, discv5 to UDP 9200 and discv4 is off
    unless --rollup.discovery.v4). Then EXTRA_OP_RETH_FLAGS, word-split, and the
    arguments."""
    done = _entrypoint(tmp_path, "--max-peers=50", shell=shell,
                       OP_SEQUENCER_URL="https://sequencer.example.invalid",
                       EXTRA_OP_RETH_FLAGS="--full  --rollup.disable-tx-pool-gossip")
    assert done.returncode == 0, done.stderr
    jwt = tmp_path / "secrets" / "jwt.hex"
    data = tmp_path / "data" / "op-reth"
    assert _args(done) == [
        "node", "--chain=optimism-sepolia", f"--datadir={data}",
        "--authrpc.addr=0.0.0.0", "--authrpc.port=8551", f"--authrpc.jwtsecret={jwt}",
        "--http", "--http.addr=0.0.0.0", "--http.port=8545", "--http.api=eth,net,web3,txpool",
        "--ws", "--ws.addr=0.0.0.0", "--ws.port=8546", "--ws.api=eth,net,web3,txpool",
        "--metrics=0.0.0.0:9001", "--port=30303", "--discovery.v5.port=30303",
        "--log.file.max-files=0",
        "--rollup.sequencer=https://sequencer.example.invalid",
        "--max-peers=50", "--full", "--rollup.disable-tx-pool-gossip"]
    assert HEX64.fullmatch(jwt.read_text())
    assert jwt.read_text() not in done.stdout + done.stderr
    assert data.is_dir()


def test_without_a_sequencer_url_op_reth_gets_no_sequencer_flag(tmp_path):
    done = _entrypoint(tmp_path)
    assert done.returncode == 0, done.stderr
    assert not [a for a in _args(done) if a.startswith("--rollup.sequencer")]


@pytest.mark.parametrize("network, chain", [
    ("op-mainnet", "optimism"), ("op-sepolia", "optimism-sepolia"),
    ("unichain-mainnet", "unichain"), ("unichain-sepolia", "unichain-sepolia"),
    ("ink-mainnet", "ink"), ("ink-sepolia", "ink-sepolia"), ("soneium-mainnet", "soneium"),
    ("soneium-minato-sepolia", "soneium-minato-sepolia"),
])
def test_op_node_network_names_map_to_op_reths_chain_names(tmp_path, network, chain):
    """op-node's name (op-node/chaincfg: <chain>-<superchain>) against op-reth's
    (chain_spec_macro.rs: optimism, optimism-sepolia, then `<name>` for mainnet and
    `<name>-<env>` otherwise)."""
    (tmp_path / "data" / "op-reth" / "db").mkdir(parents=True)  # OP Mainnet needs state
    done = _entrypoint(tmp_path, NETWORK=network)
    assert done.returncode == 0, done.stderr
    assert f"--chain={chain}" in _args(done)


@pytest.mark.parametrize("setting", ["unichain", "genesis"])
def test_op_reth_chain_replaces_the_mapped_name(tmp_path, setting):
    genesis = tmp_path / "chain-config" / "genesis.json"
    genesis.parent.mkdir()
    genesis.write_text('{"config": {"chainId": 4242}}\n')
    value = str(genesis) if setting == "genesis" else setting
    done = _entrypoint(tmp_path, NETWORK="op-sepolia", OP_RETH_CHAIN=value)
    assert done.returncode == 0, done.stderr
    assert f"--chain={value}" in _args(done)
    assert _args(done).count(f"--chain={value}") == 1


@pytest.mark.parametrize("mode", ["node", "init"])
@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_a_chain_op_reth_does_not_know_is_refused_in_one_line_before_anything(
        tmp_path, mode, shell):
    done = _entrypoint(tmp_path, *(["init"] if mode == "init" else []), shell=shell,
                       NETWORK="zora-sepolia", SNAPSHOT_URL="http://127.0.0.1:9/x.tar.zst")
    assert done.returncode == 64, done.stderr
    line = _one_line(done)
    assert "NETWORK is 'zora-sepolia' (op-reth's chain 'zora-sepolia')" in line
    assert "op-sepolia" in line and "OP_RETH_CHAIN" in line
    assert _args(done) == []
    assert not (tmp_path / "secrets" / "jwt.hex").exists()  # nothing done
    assert not (tmp_path / "data" / ".snapshot").exists()


def test_an_op_reth_chain_op_reth_cannot_read_is_refused_in_one_line(tmp_path):
    done = _entrypoint(tmp_path, OP_RETH_CHAIN="/chain-config/genesis.json")
    assert done.returncode == 64
    line = _one_line(done)
    assert "OP_RETH_CHAIN is '/chain-config/genesis.json'" in line
    assert "genesis file in /chain-config" in line
    assert _args(done) == []


@pytest.mark.parametrize("mode", ["node", "init"])
def test_op_mainnet_without_state_or_snapshot_is_refused_before_start(tmp_path, mode):
    """OP docs (ethereum-optimism/optimism@12176f7cd039, docs/public-docs/node-operators/
    tutorials/node-from-docker.mdx): a fresh op-reth datadir on OP Mainnet fails at
    startup ("launched without importing the pre-Bedrock state"); it needs a
    datadirs.optimism.io snapshot or `op-reth init-state --without-ovm`. One line, before
    any start; an existing db/ (a snapshot or an import made by hand) lets it run."""
    args = ["init"] if mode == "init" else []
    done = _entrypoint(tmp_path, *args, NETWORK="op-mainnet")
    assert done.returncode == 64, done.stderr
    line = _one_line(done)
    assert "OP Mainnet needs its pre-Bedrock state" in line
    assert "SNAPSHOT_URL" in line and "init-state --without-ovm" in line
    assert _args(done) == [] and not (tmp_path / "secrets" / "jwt.hex").exists()

    same = _entrypoint(tmp_path, *args, NETWORK="op-sepolia", OP_RETH_CHAIN="optimism")
    assert same.returncode == 64 and "pre-Bedrock" in same.stderr

    (tmp_path / "data" / "op-reth" / "db").mkdir(parents=True)
    done = _entrypoint(tmp_path, *args, NETWORK="op-mainnet")
    assert done.returncode == 0, done.stderr
    assert ("--chain=optimism" in _args(done)) == (mode == "node")


def test_op_mainnet_with_a_snapshot_url_goes_on_to_the_restore(tmp_path):
    done = _entrypoint(tmp_path, "init", NETWORK="op-mainnet",
                       SNAPSHOT_URL="http://127.0.0.1:9/op-mainnet.tar.zst",
                       SNAPSHOT_SHA256="0" * 64, SNAPSHOT_MAX_TRIES="1")
    assert "pre-Bedrock" not in done.stderr
    assert "snapshot-restore: " in done.stderr  # the restore ran (and failed: no server)


@pytest.mark.parametrize("mode", ["node", "init"])
@pytest.mark.parametrize("setting", ["NETWORK", "L1_RPC_URL", "L1_BEACON_URL"])
def test_a_missing_required_setting_is_named_in_one_line(tmp_path, mode, setting):
    env = {"NETWORK": "op-sepolia", "OPKIT_L1_RPC_URL_SET": "yes",
           "OPKIT_L1_BEACON_URL_SET": "yes",
           {"NETWORK": "NETWORK", "L1_RPC_URL": "OPKIT_L1_RPC_URL_SET",
            "L1_BEACON_URL": "OPKIT_L1_BEACON_URL_SET"}[setting]: ""}
    done = _entrypoint(tmp_path, *(["init"] if mode == "init" else []), **env)
    assert done.returncode == 64, done.stderr
    line = _one_line(done)
    assert line.startswith(f"op-reth-entrypoint: {setting} is not set: set it in .env beside "
                           "compose.yml (or in Portainer's stack environment) to ")
    assert _args(done) == [] and not (tmp_path / "secrets" / "jwt.hex").exists()


def test_base_is_refused(tmp_path):
    done = _entrypoint(tmp_path, NETWORK="base-mainnet")
    assert done.returncode == 64 and "Azul" in _one_line(done)


@pytest.mark.parametrize("port, expected", [("30313", "30313"), ("", "30303")])
def test_the_p2p_port_is_rlpx_and_discv5_alike(tmp_path, port, expected):
    """compose.yml publishes EXECUTION_P2P_PORT on TCP and UDP under the same number:
    RLPx (--port, TCP) and discv5 (--discovery.v5.port, UDP; op-reth's default 9200)."""
    done = _entrypoint(tmp_path, EXECUTION_P2P_PORT=port)
    assert done.returncode == 0, done.stderr
    assert f"--port={expected}" in _args(done)
    assert f"--discovery.v5.port={expected}" in _args(done)


def test_a_p2p_port_that_is_no_port_is_refused(tmp_path):
    done = _entrypoint(tmp_path, EXECUTION_P2P_PORT="70000")
    assert done.returncode == 64 and "EXECUTION_P2P_PORT" in done.stderr
    assert _args(done) == []


def test_op_reth_commands_run_through_the_entry_point(tmp_path):
    """`docker compose run --rm base-execution op-reth init-state ...`: any op-reth
    command as the node user, with the data dir checked, without the node's settings."""
    done = _entrypoint(tmp_path, "op-reth", "init-state", "--without-ovm", "/data/state.jsonl",
                       NETWORK="")
    assert done.returncode == 0, done.stderr
    assert _args(done) == ["init-state", "--without-ovm", "/data/state.jsonl"]


@pytest.fixture
def shared_dir():
    """A folder another uid can reach (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        need("runs the scripts as uid 10001, which needs root")
    path = Path(tempfile.mkdtemp(prefix="opkit-test-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_a_data_dir_the_node_user_cannot_write_stops_it_first(shared_dir, shell):
    data = shared_dir / "data"
    data.mkdir()  # owned by root
    secrets = shared_dir / "secrets"
    secrets.mkdir()
    os.chown(secrets, NODE_UID, NODE_UID)
    fake = _fake_op_reth(shared_dir / "op-reth")
    env = _clean_env(NETWORK="op-sepolia", OP_RETH_BIN=str(fake),
                     DATA_DIR=str(data / "op-reth"), JWT_FILE=str(secrets / "jwt.hex"))
    argv = [*_shell(shell), str(OP_RETH / "entrypoint.sh")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          user=NODE_UID, group=NODE_UID, extra_groups=[])
    assert done.returncode == 1, done.stderr
    line = _one_line(done)
    assert f"{data} is not writable by uid {NODE_UID}" in line
    assert f"chown -R {NODE_UID}:{NODE_UID}" in line
    assert _args(done) == [] and not (secrets / "jwt.hex").exists()

    os.chown(data, NODE_UID, NODE_UID)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          user=NODE_UID, group=NODE_UID, extra_groups=[])
    assert done.returncode == 0, done.stderr
    assert "node" in _args(done)


# ------------------------------------------------------ the restore, op-reth layout
@pytest.fixture
def http_files():
    server = RangeServer()
    yield server
    server.close()


def _datadir_tree(root: Path) -> Path:
    """What an op-reth data dir holds (dirs.rs in paradigmxyz/reth@063c90355161 and
    rocksdb/ for storage v2): db/ (MDBX), static_files/, rocksdb/, reth.toml."""
    tree = root / f"tree-{os.urandom(3).hex()}"
    (tree / "db").mkdir(parents=True)
    (tree / "db" / "mdbx.dat").write_bytes(os.urandom(512 * 1024))
    (tree / "db" / "database.version").write_text("2")
    (tree / "static_files").mkdir()
    (tree / "static_files" / "static_file_headers_0_499999").write_bytes(os.urandom(64 * 1024))
    (tree / "rocksdb").mkdir()
    (tree / "rocksdb" / "CURRENT").write_text("MANIFEST-000001\n")
    (tree / "reth.toml").write_text("[prune]\nblock_interval = 5\n")
    return tree


class RethRestore(Restore):
    """snapshot-restore.sh in the op-reth layout: DATA_DIR = VOLUME/op-reth. (Restore's
    aria2c() and kill_aria2c() find its downloads.)"""

    name = "op-sepolia-reth.tar.zst"

    def __init__(self, volume: Path, server: RangeServer) -> None:
        # not Restore's: it serves a Nethermind snapshot
        self.volume = volume
        self.data_dir = volume / "op-reth"
        self.state_dir = volume / ".snapshot"
        self.server = server
        self.path = f"/snapshots/{self.name}"
        self.tree: Path | None = None

    def serve(self, tree: Path, prefix: str = "") -> dict:
        snapshot = pack(tree, self.volume.parent / f"{os.urandom(3).hex()}.tar.zst", prefix)
        self.server.files[self.path] = snapshot["data"]
        self.server.files[self.path + ".sha256"] = f"{snapshot['sha256']}  {self.name}\n".encode()
        self.tree = tree
        return snapshot

    @property
    def url(self) -> str:
        return self.server.url + self.path

    @property
    def archive(self) -> Path:
        return self.state_dir / self.name

    def env(self, **env: str) -> dict[str, str]:
        return {"SNAPSHOT_URL": self.url, "DATA_DIR": str(self.data_dir),
                "SNAPSHOT_LAYOUT": "op-reth", "SNAPSHOT_CONNECTIONS": "2", **env}

    def run(self, shell: str = "sh", **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([*_shell(shell), str(EXECUTION / "snapshot-restore.sh")],
                              env=_clean_env(**self.env(**env)), capture_output=True,
                              text=True, timeout=120)


@pytest.fixture
def reth_restore(tmp_path, http_files):
    need_tools("aria2c", "zstd", "sha256sum", "curl", hint="apt-get install aria2 zstd curl")
    volume = tmp_path / "volume"
    volume.mkdir()
    return RethRestore(volume, http_files)


@pytest.mark.parametrize("shell", ["sh", "busybox"])
@pytest.mark.parametrize("prefix", ["", "op-sepolia-reth-2026-12-01/"])
def test_an_op_reth_data_dir_lands_directly_under_datadir(reth_restore, tmp_path, shell,
                                                          prefix):
    """op-reth opens db/, static_files/ and rocksdb/ directly under --datadir (reth
    dirs.rs: an explicit --datadir has no chain suffix). The archive's top holds them,
    or one folder does (OP docs: `tar -I zstd -xvf <file> -C reth-data
    --strip-components=1`). Under dash and under busybox (the op-reth image's shell,
    whose tar has no --use-compress-program)."""
    snapshot = reth_restore.serve(_datadir_tree(tmp_path), prefix)
    done = reth_restore.run(shell=shell)
    assert done.returncode == 0, done.stderr
    assert _files(reth_restore.data_dir) == _files(reth_restore.tree)
    marker = (reth_restore.state_dir / "RESTORED").read_text()
    assert snapshot["sha256"] in marker and f"target={reth_restore.data_dir} " in marker
    assert not reth_restore.archive.exists()
    assert not [p for p in reth_restore.state_dir.iterdir() if p.name.startswith("extract.")]
    if prefix:
        assert f"the archive holds a data dir in {prefix}: restoring it" in done.stderr


def test_an_archive_without_db_is_refused_in_one_line(reth_restore, tmp_path):
    tree = tmp_path / "not-reth"
    (tree / "nethermind_db" / "op-sepolia").mkdir(parents=True)
    (tree / "nethermind_db" / "op-sepolia" / "CURRENT").write_text("x\n")
    (tree / "keystore").mkdir()
    reth_restore.serve(tree)
    done = reth_restore.run()
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == (
        "snapshot-restore: the archive holds no op-reth data dir: no db/ at its top or in a "
        "folder one down (it has: keystore nethermind_db); op-reth opens db/, static_files/ "
        "and rocksdb/ directly under its data dir"), lines
    assert not reth_restore.data_dir.exists() or not any(reth_restore.data_dir.iterdir())
    assert not (reth_restore.state_dir / "RESTORED").exists()
    assert reth_restore.archive.exists()  # verified: fixing a setting needs no new download


@pytest.mark.parametrize("part", ["db", "static_files", "rocksdb"])
def test_a_data_dir_holding_a_database_is_never_touched(reth_restore, tmp_path, part):
    reth_restore.serve(_datadir_tree(tmp_path))
    (reth_restore.data_dir / part).mkdir(parents=True)
    (reth_restore.data_dir / part / "existing").write_text("chain data")
    done = reth_restore.run()
    assert done.returncode == 0, done.stderr
    assert "is not empty (it holds op-reth's db/, static_files/ or rocksdb/)" in done.stderr
    assert _files(reth_restore.data_dir) == {f"{part}/existing": b"chain data"}
    assert reth_restore.server.requests == []


def test_what_op_reth_writes_beside_its_database_stays(reth_restore, tmp_path):
    """A data dir without db/ counts as empty: op-reth's own files there (an earlier
    start's reth.toml and discovery-secret, an empty db/) do not stop the restore. The
    archive's reth.toml (its prune settings match its data) wins; the one there is kept
    beside it."""
    reth_restore.serve(_datadir_tree(tmp_path))
    (reth_restore.data_dir / "db").mkdir(parents=True)
    (reth_restore.data_dir / "reth.toml").write_text("# the operator's\n")
    (reth_restore.data_dir / "discovery-secret").write_text("ab" * 32)
    done = reth_restore.run()
    assert done.returncode == 0, done.stderr
    files = _files(reth_restore.data_dir)
    assert {k: v for k, v in files.items() if k not in ("reth.toml.before-restore",
                                                          "discovery-secret")} == \
        _files(reth_restore.tree)
    assert files["reth.toml.before-restore"] == b"# the operator's\n"
    assert files["discovery-secret"] == b"ab" * 32
    assert "kept the reth.toml that was in" in done.stderr


def test_an_unknown_layout_is_refused(reth_restore, tmp_path):
    reth_restore.serve(_datadir_tree(tmp_path))
    done = reth_restore.run(SNAPSHOT_LAYOUT="geth")
    assert done.returncode == 1
    assert "SNAPSHOT_LAYOUT is 'geth', but the restore knows nethermind and op-reth" in \
        done.stderr
    assert reth_restore.server.requests == []


@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_the_init_mode_restores_and_the_node_finds_it_done(reth_restore, tmp_path, shell):
    reth_restore.serve(_datadir_tree(tmp_path))
    env = {k: v for k, v in reth_restore.env().items() if k != "SNAPSHOT_LAYOUT"}
    init = _entrypoint(tmp_path, "init", shell=shell, NETWORK="op-mainnet", **env)
    assert init.returncode == 0, init.stderr
    assert _files(reth_restore.data_dir) == _files(reth_restore.tree)
    node = _entrypoint(tmp_path, shell=shell, NETWORK="op-mainnet", **env)
    assert node.returncode == 0, node.stderr
    assert "already restored" in node.stderr
    assert "--chain=optimism" in _args(node)


def test_a_stop_reaches_the_restore_through_the_entry_point(reth_restore, tmp_path):
    """The node's start runs the restore too (a no-op after the init service), with the
    entry point as PID 1: a stop reaches aria2c, which saves its progress, and op-reth is
    never started."""
    tree = _datadir_tree(tmp_path)
    (tree / "db" / "mdbx.dat").write_bytes(os.urandom(2 * 1024 * 1024))
    reth_restore.serve(tree)
    env = {**{k: v for k, v in reth_restore.env(SNAPSHOT_CONNECTIONS="1").items()
              if k != "SNAPSHOT_LAYOUT"},
           "NETWORK": "op-sepolia", "OP_RETH_BIN": str(_fake_op_reth(tmp_path / "op-reth")),
           "JWT_FILE": str(tmp_path / "jwt.hex")}
    log = reth_restore.volume / "entrypoint.log"
    proc = _stop_mid_download(reth_restore, ["sh", str(OP_RETH / "entrypoint.sh")], env, log)
    assert proc.returncode == 143, log.read_text()
    assert "ARG" not in proc.stdout.read()
    assert (reth_restore.state_dir / f"{reth_restore.name}.aria2").exists()
    assert reth_restore.archive.stat().st_size >= 64 * 1024
