"""`inv status` (tasks/status.py over tasks/_status.py over tasks/_rpc.py) against
stand-in servers on 127.0.0.1 that answer as the real clients do (tests/status_standins.py
says where each shape and body comes from). Every degraded or down case has a test that
names it; none needs a Docker engine."""

from __future__ import annotations

import json
import os
import time

import pytest

from tasks import _live, _rpc, _status, status
from tasks._errors import KitError
from tests import status_standins as si


@pytest.fixture
def stack():
    made = []

    def make(**kwargs) -> si.Stack:
        made.append(si.Stack(**kwargs))
        return made[-1]

    yield make
    for s in made:
        s.close()


def by_name(report) -> dict:
    return {p.name: p for p in report.probes}


# ------------------------------------------------------------------ healthy
@pytest.mark.parametrize("client", ["nethermind", "op-reth"])
def test_a_healthy_stack_is_ok_on_every_probe_and_exits_0(stack, tmp_path, client):
    s = stack(client=client)
    report = _status.assess(s.target(tmp_path))
    probes = by_name(report)
    assert [p.name for p in report.probes] == ["sync", "progress", "execution", "engine",
                                               "chain id", "l1", "beacon", "versions"]
    assert {n: p.status for n, p in probes.items() if n != "progress"} == dict.fromkeys(
        ["sync", "execution", "engine", "chain id", "l1", "beacon", "versions"], "ok")
    assert probes["progress"].status == "skip"  # one reading: no rate yet
    assert "run `inv status` again in a minute" in probes["progress"].detail
    assert report.level == 0 and report.overall == "healthy"
    assert probes["engine"].detail == "answers eth_chainId (11155420) signed with op-node's JWT"
    assert probes["chain id"].detail == "op-node and the execution client both on 11155420"
    assert probes["l1"].detail == "L1 RPC on Sepolia (11155111)"
    assert "serves blob sidecars (3 at slot 9999998)" in probes["beacon"].detail
    running = "1.39.3" if client == "nethermind" else "2.10.0"
    label = "Nethermind" if client == "nethermind" else "op-reth"
    assert probes["versions"].detail == f"op-node 1.21.0, {label} {running} (the pins)"
    # each RPC method asked once, however many probes read it
    assert s.op_node.calls.count("optimism_syncStatus") == 1
    assert s.execution.calls.count("eth_chainId") == 1


def test_the_json_shape_is_the_documented_one(stack, tmp_path):
    """docs/status.md documents these keys; scripts rely on them (schema 1)."""
    report = _status.assess(stack().target(tmp_path))
    shape = json.loads(json.dumps(report.as_json()))
    assert set(shape) == {"schema", "time", "time_utc", "project", "network", "client",
                          "overall", "exit_code", "seconds", "routes", "probes"}
    assert shape["schema"] == 1 and shape["overall"] == "healthy" and shape["exit_code"] == 0
    for probe in shape["probes"]:
        assert set(probe) == {"name", "status", "detail", "fix", "seconds", "data"}
    sync = next(p for p in shape["probes"] if p["name"] == "sync")["data"]
    assert set(sync) == {"heads", "lag_seconds", "l1", "cross", "el_sync"}
    assert set(sync["heads"]) == {"unsafe", "safe", "finalized"}
    assert set(sync["heads"]["unsafe"]) == {"number", "timestamp", "hash"}


# ------------------------------------------------------------------ sync shapes
def test_sync_status_after_pr_22555_has_no_cross_fields_and_integer_numbers(stack, tmp_path):
    """optimism PR #22555 (merged 2026-08-20) removed `cross_unsafe_l2` from
    optimism_syncStatus; op-service/eth/id.go gives Number and Time as Go uint64, so
    JSON integers. The new shape parses, and `cross` is empty."""
    s = stack(chain=si.Chain(shape="new"))
    status_ = s.chain.sync_status()
    assert "cross_unsafe_l2" not in status_ and isinstance(status_["unsafe_l2"]["number"], int)
    probe = by_name(_status.assess(s.target(tmp_path)))["sync"]
    assert probe.status == "ok" and probe.data["cross"] == {}
    unsafe = probe.data["heads"]["unsafe"]["number"]
    assert probe.detail.startswith(f"unsafe #{unsafe} (")
    assert f"safe #{unsafe - 60} (2 min)" in probe.detail


def test_sync_status_before_pr_22555_with_cross_fields_still_parses(stack, tmp_path):
    """ethereum-optimism/optimism op-service/eth/sync_status.go at op-node/v1.9.4 has
    `cross_unsafe_l2` and `local_safe_l2` beside unsafe/safe/finalized_l2: read, kept
    under `cross`, and the verdict is the same."""
    s = stack(chain=si.Chain(shape="old"))
    probe = by_name(_status.assess(s.target(tmp_path)))["sync"]
    assert probe.status == "ok"
    assert set(probe.data["cross"]) == {"cross_unsafe_l2", "local_safe_l2"}


def test_sync_status_with_hex_numbers_parses_too(stack, tmp_path):
    """A reader that sends quantities as hex strings (JSON-RPC's usual form) is read the
    same way: the numbers are the same."""
    s = stack(chain=si.Chain(hex_numbers=True))
    assert s.chain.sync_status()["unsafe_l2"]["number"].startswith("0x")
    probe = by_name(_status.assess(s.target(tmp_path)))["sync"]
    assert probe.status == "ok"
    assert isinstance(probe.data["heads"]["safe"]["number"], int)


def test_sync_status_without_heads_is_named():
    with pytest.raises(ValueError, match="has no safe_l2, finalized_l2"):
        _status.sync_status({"unsafe_l2": {"number": 1, "timestamp": 2}})


# ------------------------------------------------------------------ degraded / down
def test_el_sync_is_expected_not_a_failure(stack, tmp_path):
    """In execution-layer sync op-node's safe and finalized heads stay 0 while unsafe
    moves: status says so, as a warning with nothing to fix."""
    report = _status.assess(stack(chain=si.Chain(el_sync=True, lag=5000)).target(tmp_path))
    probe = by_name(report)["sync"]
    assert probe.status == "warn" and probe.data["el_sync"] is True
    assert probe.detail.startswith("EL sync in progress (expected): unsafe #")
    assert "safe and finalized stay 0" in probe.detail
    assert probe.fix.startswith("nothing to fix")
    assert report.overall == "degraded" and report.level == 1


def test_a_node_behind_is_degraded(stack, tmp_path):
    probe = by_name(_status.assess(stack(chain=si.Chain(lag=7200)).target(tmp_path)))["sync"]
    assert probe.status == "warn" and probe.detail.startswith("behind: unsafe #")
    assert "(2.0 h)" in probe.detail


def test_rate_and_eta_come_from_the_reading_a_minute_ago(stack, tmp_path):
    """The state file keeps readings across runs: against the one from a minute ago the
    node made 3 blocks/s (6 chain seconds per second), 1 h behind: at the tip in 12 min."""
    s = stack(chain=si.Chain(lag=3600))
    target = s.target(tmp_path)
    now = time.time()
    number = s.chain.unsafe_number()
    stamp = s.chain.genesis + 2 * number
    _status.save_samples(target.state_file, [
        {"t": now - 60, "number": number - 180, "timestamp": stamp - 360}])
    probe = by_name(_status.assess(target, now=now))["progress"]
    assert probe.status == "ok", probe
    assert probe.data["rate_blocks_per_second"] == pytest.approx(3.0, abs=0.1)
    assert probe.data["eta_seconds"] == pytest.approx(720, abs=30)
    assert "3 blocks/s over the last 60 s; 60 min behind, at the tip in about 12 min" \
        in probe.detail
    kept = json.loads(target.state_file.read_text())["samples"]
    assert len(kept) == 2 and kept[-1]["number"] >= number


def test_a_node_not_catching_up_is_named(stack, tmp_path):
    s = stack(chain=si.Chain(lag=3600))
    target = s.target(tmp_path)
    now = time.time()
    number = s.chain.unsafe_number()
    stamp = s.chain.genesis + 2 * number
    _status.save_samples(target.state_file, [
        {"t": now - 60, "number": number - 15, "timestamp": stamp - 30}])  # half speed
    probe = by_name(_status.assess(target, now=now))["progress"]
    assert probe.status == "warn" and "not catching up (60 min behind)" in probe.detail


@pytest.mark.parametrize("client, said", [
    ("op-reth", "op-reth: the token is signed with another secret"),
    ("nethermind", "Nethermind refused the token"),
])
def test_a_401_from_the_engine_api_is_a_jwt_mismatch_with_the_fix(stack, tmp_path, client,
                                                                   said):
    """The engine API answers 401 with the real clients' bodies (op-reth: plain text
    "provided signature is invalid", alloy jwt.rs @014ea2bf; Nethermind: JSON-RPC error
    -32600 "Authentication error", Startup.cs @038cdbf6): one line naming a JWT
    mismatch and which client refused, the fix naming the jwt volume."""
    s = stack(client=client)
    s.secret = "cd" * 32  # the execution client has another secret than op-node
    report = _status.assess(s.target(tmp_path))
    probe = by_name(report)["engine"]
    assert probe.status == "fail"
    assert probe.detail == f"JWT mismatch: the engine API answered 401 ({said})"
    assert "jwt:/secrets" in probe.fix and "--force-recreate" in probe.fix
    assert report.overall == "down" and report.level == 2


def test_the_token_is_hs256_with_an_iat_the_server_accepts():
    """The stand-in verifies the token as op-reth does (HS256 over the 32-byte secret,
    `iat` within +-60 s); a token from 2 minutes ago is refused."""
    token = _rpc.jwt_token(si.SECRET)
    assert si.jwt_ok(f"Bearer {token}", si.SECRET) is None
    head = json.loads(_b64(token.split(".")[0]))
    assert head == {"alg": "HS256", "typ": "JWT"}
    assert abs(json.loads(_b64(token.split(".")[1]))["iat"] - time.time()) <= 2
    old = _rpc.jwt_token(si.SECRET, now=time.time() - 120)
    assert "IAT" in si.jwt_ok(f"Bearer {old}", si.SECRET)
    assert si.jwt_ok(f"Bearer {token}", "cd" * 32) == si.OP_RETH_401
    with pytest.raises(_rpc.RpcError, match="is 3 bytes, not 32"):
        _rpc.jwt_token("0xabcdef")


def _b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_an_l1_on_the_wrong_chain_is_named(stack, tmp_path):
    report = _status.assess(stack(l1_chain_id=1).target(tmp_path))
    probe = by_name(report)["l1"]
    assert probe.status == "fail"
    assert probe.detail == "L1 RPC is on chain 1 (Ethereum mainnet), op-sepolia needs " \
                           "11155111 (Sepolia, from op-node's rollup config)"
    assert probe.fix == "set L1_RPC_URL (and L1_BEACON_URL) to Sepolia endpoints"


def test_without_op_nodes_l1_chain_id_the_network_name_says_which_l1(stack, tmp_path):
    """op-node's rollup config names its L1 (`l1_chain_id`, op-node/rollup/types.go at
    op-node/v1.9.4); without it, the network's name does."""
    s = stack(l1_chain_id=1)
    s.op_node.methods["optimism_rollupConfig"] = lambda: {"l2_chain_id": 11155420}
    probe = by_name(_status.assess(s.target(tmp_path)))["l1"]
    assert probe.status == "fail" and probe.detail.endswith("(Sepolia, from its name)")


def test_the_l1_each_network_needs_comes_from_its_name():
    assert _status.expected_l1("op-mainnet") == 1
    assert _status.expected_l1("soneium-minato-sepolia") == 11155111
    assert _status.expected_l1("my-devnet") is None


def test_a_beacon_that_pruned_the_blobs_is_named(stack, tmp_path):
    s = stack()
    s.blobs = "pruned"
    probe = by_name(_status.assess(s.target(tmp_path)))["beacon"]
    assert probe.status == "fail"
    assert probe.detail == "beacon has no blob sidecars for recent slot 9999998 (404: pruned " \
                           "or never kept)"
    assert "keeps blob sidecars" in probe.fix
    assert "/eth/v1/beacon/blob_sidecars/9999998" in s.beacon.calls


def test_a_beacon_with_an_empty_blob_answer_is_named(stack, tmp_path):
    s = stack()
    s.blobs = "empty"
    probe = by_name(_status.assess(s.target(tmp_path)))["beacon"]
    assert probe.status == "warn" and "answered an empty list" in probe.detail


def test_a_server_that_never_answers_times_out_fast_in_one_line(stack, tmp_path,
                                                                 silent_server):
    """An L1 endpoint that accepts the connection and never answers: the probe gives up
    after its own timeout (0.3 s here), in one line, and the others still run."""
    s = stack()
    url = f"http://127.0.0.1:{silent_server.port}"
    target = s.target(tmp_path, l1=url, timeout=0.3)
    start = time.perf_counter()
    report = _status.assess(target)
    took = time.perf_counter() - start
    probe = by_name(report)["l1"]
    assert probe.status == "fail"
    assert probe.detail == f"L1 RPC: no answer from {url} within 0.3 s"
    assert "\n" not in probe.detail and 0.25 < probe.seconds < 1.0
    assert took < 2.0
    assert by_name(report)["sync"].status == "ok"


def test_nothing_listening_is_one_line(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(_rpc.RpcError) as caught:
        _rpc.call(f"http://user:key@127.0.0.1:{port}/v2/KEY?x=1", "eth_chainId", timeout=0.5)
    assert caught.value.reason.startswith(f"cannot reach http://127.0.0.1:{port}/v2/KEY: ")
    assert "key@" not in caught.value.reason and "x=1" not in caught.value.reason


@pytest.mark.parametrize("client, running, said", [
    ("nethermind", "Nethermind/v1.39.2+aa/linux-x64/dotnet9", "Nethermind runs 1.39.2, "
     "NETHERMIND_VERSION pins 1.39.3"),
    ("op-reth", "reth/v2.9.0-abc/x86_64-unknown-linux-gnu", "op-reth runs 2.9.0, "
     "OP_RETH_VERSION pins v2.10.0"),
])
def test_versions_not_matching_the_pins_are_named(stack, tmp_path, client, running, said):
    report = _status.assess(stack(client=client, versions={
        client: running, "op-node": "v1.20.1-stable"}).target(tmp_path))
    probe = by_name(report)["versions"]
    assert probe.status == "warn"
    assert probe.detail == f"op-node runs 1.20.1, OP_NODE_VERSION pins v1.21.0; {said}"
    assert "docker compose up -d" in probe.fix
    assert report.overall == "degraded"


def test_chain_ids_that_differ_are_named(stack, tmp_path):
    s = stack()
    s.execution.methods["eth_chainId"] = lambda: hex(10)
    probe = by_name(_status.assess(s.target(tmp_path)))["chain id"]
    assert probe.status == "fail"
    assert probe.detail == "op-node follows L2 chain 11155420, the execution client runs " \
                           "chain 10"


def test_no_peers_is_named(stack, tmp_path):
    probe = by_name(_status.assess(stack(peers=0).target(tmp_path)))["execution"]
    assert probe.status == "warn" and probe.detail.endswith(": no peers")
    assert "EXECUTION_P2P_PORT" in probe.fix


def test_op_node_down_is_down(stack, tmp_path):
    s = stack()
    s.op_node.close()
    report = _status.assess(s.target(tmp_path))
    probe = by_name(report)["sync"]
    assert probe.status == "fail" and probe.detail.startswith("op-node: cannot reach ")
    assert report.level == 2 and report.overall == "down"


def test_a_stack_that_is_not_running_is_down_in_one_line():
    target = _status.Target(network="op-sepolia", client="nethermind", project="p")
    target.problems["stack"] = "not running (no running containers of compose project p)"
    report = _status.assess(target)
    assert [(p.name, p.status) for p in report.probes] == [("stack", "fail")]
    assert report.level == 2


def test_probes_that_cannot_run_say_why(stack, tmp_path):
    s = stack()
    target = s.target(tmp_path, jwt_secret=None, beacon=None)
    target.problems.update(jwt="cannot read /secrets/jwt.hex from the container: 404",
                           beacon="L1_BEACON_URL is not set")
    probes = by_name(_status.assess(target))
    assert probes["engine"].status == "skip"
    assert probes["engine"].detail == "cannot sign a request: cannot read /secrets/jwt.hex " \
                                      "from the container: 404"
    assert (probes["beacon"].status, probes["beacon"].detail) == \
        ("skip", "L1_BEACON_URL is not set")


# ------------------------------------------------------------------ forks
def test_forks_answer_from_the_cache_only_never_asking_github(stack, tmp_path, monkeypatch,
                                                               silent_server):
    """The fork line is `inv source.forks`'s answer without a request: GitHub (here a
    server that never answers) is not asked; with nothing cached the known-forks file
    answers. On 2026-12-06 the next op-sepolia fork is Lagoon (2026-12-10 16:00:01 UTC,
    tasks/forks-known.json), which Nethermind 1.39.3 lacks and op-reth v2.10.0 carries."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{silent_server.port}")
    now = 1796594400  # 2026-12-06 22:00 UTC
    for client, status_, words in (("nethermind", "warn", "Nethermind 1.39.3 does not carry "
                                    "it (known-forks file)"),
                                   ("op-reth", "ok", "the running versions carry it "
                                    "(known-forks file)")):
        s = stack(client=client)
        start = time.perf_counter()
        probe = by_name(_status.assess(s.target(tmp_path, forks=True), now=now))["forks"]
        assert time.perf_counter() - start < 3
        assert probe.status == status_, probe
        assert probe.detail == f"next: lagoon in 3 days (2026-12-10 16:00:01 UTC); {words}"
        assert probe.data["next"] == "lagoon"
    assert silent_server.accepted == []


# ------------------------------------------------------------------ output
def test_the_table_has_colour_only_when_asked(stack, tmp_path, capsys):
    s = stack()
    s.blobs = "pruned"
    report = _status.assess(s.target(tmp_path))
    plain = status.table(report)
    assert "\x1b[" not in plain
    lines = plain.splitlines()
    assert lines[0].startswith("op-sepolia (nethermind; project standin), ")
    assert any(line.startswith("fail  beacon     beacon has no blob sidecars") for line in lines)
    assert any(line.strip().startswith("fix: use a beacon endpoint") for line in lines)
    assert lines[-1].startswith("down (exit 2; ")
    assert "\x1b[31mfail\x1b[0m" in status.table(report, colour=True)
    status.show(report, json=False, textfile=None)  # stdout is no terminal here
    assert "\x1b[" not in capsys.readouterr().out


def test_the_textfile_is_prometheus_text_written_atomically(stack, tmp_path):
    report = _status.assess(stack().target(tmp_path))
    out = tmp_path / "prom" / "opkit.prom"
    out.parent.mkdir()
    status.write_textfile(str(out), status.prometheus(report))
    text = out.read_text()
    assert os.listdir(out.parent) == ["opkit.prom"]  # no temporary file left
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert '# TYPE opkit_status gauge' in text
    assert 'opkit_status{network="op-sepolia",client="nethermind"} 0' in text
    assert 'opkit_status_probe{network="op-sepolia",client="nethermind",probe="engine"} 0' \
        in text
    assert 'opkit_l2_head{network="op-sepolia",client="nethermind",head="unsafe"} ' in text
    assert 'opkit_execution_peers{network="op-sepolia",client="nethermind"} 12' in text
    for line in text.splitlines():  # every sample line: name{labels} value
        if not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            float(value)
            assert name.endswith("}") and "{" in name


def test_an_unwritable_textfile_is_one_line(tmp_path):
    with pytest.raises(KitError) as caught:
        status.write_textfile(str(tmp_path / "missing" / "x.prom"), "x 1\n")
    assert caught.value.reason.startswith(f"--textfile '{tmp_path}/missing/x.prom': cannot "
                                          "write it (")


def test_ports_come_from_compose_config():
    config = {"services": {"base-op-node": {"ports": [
        {"mode": "ingress", "host_ip": "0.0.0.0", "target": 9545, "published": "19545",
         "protocol": "tcp"},
        {"target": 9222, "published": "9222", "protocol": "udp"}]}}}
    assert _live.published(config, "base-op-node", 9545) == "http://127.0.0.1:19545"
    assert _live.published(config, "base-op-node", 8551) is None


def test_a_negative_watch_is_one_line():
    from tests.helpers import assert_one_line_error, inv

    line = assert_one_line_error(inv("status", "--watch", "-1"))
    assert line == "error: --watch -1 is negative: give seconds between runs, e.g. " \
                   "--watch 10 (0: once)"


def test_doctors_live_checks_skip_without_the_engine():
    """doctor's live wiring lines need the running stack; without the engine they skip
    in one line (the rehearsal runs them against a running stack)."""
    from tasks import _chain_checks
    from tasks._check import EngineProbe

    checks = _chain_checks.check_live(EngineProbe(config={"name": "p"}), None)
    assert [(ch.name, ch.status, ch.detail) for ch in checks] == [
        ("live", "skip", "needs the engine and the compose config")]
