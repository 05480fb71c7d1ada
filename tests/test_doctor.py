"""doctor: the checks' pure parts, a dead daemon through `inv`, and fixture images on the
real engine (one whose binary is missing)."""

import dataclasses

import pytest
from invoke import Context, MockContext, Result

from tasks import _chain_checks, _chain_policy, _chains, _check, _doctor, _engine, _ignore
from tests.helpers import ROOT, TEST_LABEL, engine_store, inv, inv_process

NO_BINARY_OP_NODE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG OP_NODE_VERSION
ARG OP_NODE_COMMIT
ARG GO_VERSION
RUN echo "forgot to copy op-node from the build stage" > /README
"""

BROKEN_EXECUTION = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG NETHERMIND_VERSION
RUN mkdir -p /nethermind && printf '#!/bin/sh\\necho "./nethermind: error while loading \
shared libraries: libicuuc.so.74: cannot open shared object file" >&2\\nexit 127\\n' \
> /nethermind/nethermind && chmod 755 /nethermind/nethermind
"""


# ------------------------------------------------------------------------ pure
@pytest.mark.parametrize("path, ignored", [
    (".env", True), ("deploy/.env.sepolia", True), ("op-node/op-node.log", True),
    ("data/chaindata/000001.ldb", True), ("jwt.hex", True), ("tls/x.key", True),
    ("docker/op-node/Dockerfile", False), ("keep.log", False), ("tasks/x.py", False),
])
def test_ignore_matching_follows_dockers_rules(path, ignored):
    rules = _ignore.read_ignore("# comment\n**/.env\n**/.env.*\n**/*.log\n!keep.log\n"
                               "/data\n**/jwt*\ntls/*.key\n")
    assert _ignore.is_ignored(rules, path) is ignored


def test_repo_dockerignore_keeps_sensitive_paths_out():
    rules = _ignore.read_ignore((ROOT / ".dockerignore").read_text())
    assert _ignore.leaks(rules) == {}
    assert set(_ignore.leaks(_ignore.read_ignore("*.log\n"))) == {"logs", "env files", "data",
                                                                "secrets"}


def test_missing_pins_names_each():
    config = {"services": {
        "base-op-node": {"build": {"args": {"OP_NODE_VERSION": "v1.19.5", "OP_NODE_COMMIT": "",
                                            "GO_VERSION": "1.26"}}},
        "base-execution": {"build": {"args": {}}}}}
    assert _doctor.missing_pins(config) == ["base-op-node OP_NODE_COMMIT",
                                           "base-execution NETHERMIND_VERSION"]
    args = config["services"]["base-op-node"]["build"]["args"]
    args["OP_NODE_COMMIT"] = "abc123"  # six digits: too short to mean anything
    assert "not a commit: 'abc123'" in _doctor.missing_pins(config)[0]
    args["OP_NODE_COMMIT"] = "2AD3799"  # not lower-case hex as git prints it
    assert "not a commit" in _doctor.missing_pins(config)[0]
    args["OP_NODE_COMMIT"] = "2ad3799"  # a release page's 7-hex prefix is a pin
    assert _doctor.missing_pins(config) == ["base-execution NETHERMIND_VERSION"]


def _pins_probe(commit: str) -> _check.EngineProbe:
    return _check.EngineProbe(config={"services": {
        "base-op-node": {"build": {"args": {"OP_NODE_VERSION": "v1.21.0",
                                            "OP_NODE_COMMIT": commit, "GO_VERSION": "1.26"}}},
        "base-execution": {"build": {"args": {"NETHERMIND_VERSION": "1.39.3"}}}}})


def test_pins_check_flags_a_short_commit_pin_with_the_fix():
    short = _doctor.check_pins(_pins_probe("2ad3799"), None)
    assert short.status == "warn"
    assert "short pin (7 of 40 hex digits)" in short.detail
    assert short.fix.startswith("on a host that reaches GitHub")
    assert "inv source.pin --version v1.21.0" in short.fix
    full = _doctor.check_pins(_pins_probe("2ad3799" + "0" * 33), None)
    assert full.status == "ok" and "op-node v1.21.0 @ 2ad37990000" in full.detail


@pytest.mark.parametrize("network, pinned, status", [
    ("lisk-sepolia", "v1.21.0", "fail"),
    ("xterio-eth-mainnet", "v1.22.1", "fail"),
    ("sseed-mainnet", "v1.21.0-rc.2", "fail"),  # its release candidates dropped it too
    ("sseed-mainnet", "v1.20.4", "ok"),
    ("lisk-mainnet", "v1.19.5", "ok"),
    ("op-sepolia", "v1.21.0", "ok"),
])
def test_network_check_fails_for_chains_op_node_v1_21_dropped(network, pinned, status):
    """op-node v1.21.0 release notes (2026-11-25): Automata, Lisk, Lisk Sepolia, Mint,
    Polynomial, Redstone, Superseed, Xterio left its embedded registry; their names come
    from superchain-registry superchain/configs/{mainnet,sepolia}/<chain>.toml. Both entry
    points refuse them (exit 64), so doctor must fail, not warn."""
    config = {"services": {
        "base-op-node": {"build": {"args": {"OP_NODE_VERSION": pinned}},
                         "environment": {"OP_NODE_NETWORK": network}}}}
    check = _chain_checks.check_network(_check.EngineProbe(config=config), None)
    assert check.status == status, check
    if status == "fail":
        assert "v1.21.0" in check.detail and network in check.detail
        # the escape hatch as it works (CONTRACTS #1): both files, in CHAIN_CONFIG_DIR
        assert "OP_NODE_ROLLUP_CONFIG=/chain-config/" in check.fix
        assert "NETHERMIND_CONFIG=/chain-config/" in check.fix
        assert "CHAIN_CONFIG_DIR" in check.fix


def _hatch_config(network: str, rollup: str, nethermind: str) -> dict:
    """compose.yml's shape: OP_NODE_ROLLUP_CONFIG in op-node's environment, NETHERMIND_CONFIG
    in the execution service's (empty when unset, as `${X:-}` gives)."""
    return {"services": {
        "base-op-node": {"build": {"args": {"OP_NODE_VERSION": "v1.21.0"}},
                         "environment": {"OP_NODE_NETWORK": network,
                                         "OP_NODE_ROLLUP_CONFIG": rollup}},
        "base-execution": {"build": {"args": {"NETHERMIND_VERSION": "1.39.3"}},
                           "environment": {"NETWORK": network,
                                           "NETHERMIND_CONFIG": nethermind}}}}


@pytest.mark.parametrize("rollup, nethermind, status, missing", [
    ("/chain-config/rollup.json", "/chain-config/nethermind.json", "ok", ""),
    ("/chain-config/rollup.json", "", "fail", "NETHERMIND_CONFIG is not set"),
    ("", "/chain-config/nethermind.json", "fail", "OP_NODE_ROLLUP_CONFIG is not set"),
    ("", "", "fail", "OP_NODE_ROLLUP_CONFIG and NETHERMIND_CONFIG are not set"),
])
def test_a_dropped_chain_passes_only_with_both_config_files(rollup, nethermind, status,
                                                            missing):
    """CONTRACTS #1: a dropped chain runs only when BOTH OP_NODE_ROLLUP_CONFIG and
    NETHERMIND_CONFIG are set in the services' environment."""
    check = _chain_checks.check_network(
        _check.EngineProbe(config=_hatch_config("lisk-sepolia", rollup, nethermind)), None)
    assert check.status == status, check
    if status == "ok":
        assert "custom chain" in check.detail and rollup in check.detail
    else:
        assert check.detail.endswith(missing), check.detail


def test_base_fails_even_with_both_config_files():
    check = _chain_checks.check_network(_check.EngineProbe(config=_hatch_config(
        "base-mainnet", "/chain-config/rollup.json", "/chain-config/nethermind.json")), None)
    assert check.status == "fail" and "Azul" in check.detail


def test_networks_are_read_from_op_nodes_help_text():
    """The --network line as op-node prints it: ethereum-optimism/optimism at tag
    op-node/v1.9.4, op-service/flags/flags.go (CLINetworkFlag, which op-node/flags/flags.go
    adds through opflags.CLIFlags): `Predefined network selection. Available networks: `
    + chaincfg.AvailableNetworks() joined by ", "; urfave/cli v2 (v2.27.4 in go.mod) then
    shows the variable as ` [$OP_NODE_NETWORK]`."""
    from tasks import _components

    where = _components.get("op-node").networks
    text = ("GLOBAL OPTIONS:\n   --network value   Predefined network selection. Available "
            "networks: ink-mainnet, op-mainnet, op-sepolia [$OP_NODE_NETWORK]\n"
            "   --rollup.config value  Rollup chain parameters [$OP_NODE_ROLLUP_CONFIG]\n")
    assert where.parse(text) == ["ink-mainnet", "op-mainnet", "op-sepolia"]
    assert where.parse("op-node version v1.0.0\n") is None
    files = _components.get("execution").networks.names(
        ["op-mainnet.json", "op-sepolia.json", "README.md", ".json"])
    assert files == ["op-mainnet", "op-sepolia"]


def test_doctor_and_op_node_entrypoint_drop_the_same_chains():
    """One list for both languages: the entry point keeps none of its own and asks the
    chain policy (docker/lib/chain-policy) that doctor reads; tests/test_chain_policy.py
    holds both to one table of verdicts."""
    text = (ROOT / "docker" / "op-node" / "entrypoint.sh").read_text()
    assert "dropped-networks-begin" not in text and "lisk-sepolia" not in text
    assert 'since="$(opkit_dropped "$OP_NODE_NETWORK" "$built")"' in text
    names = set(_chain_policy.dropped_networks())
    assert names == {"automata-mainnet", "lisk-mainnet", "lisk-sepolia", "mint-mainnet",
                     "polynomial-mainnet", "redstone-mainnet", "sseed-mainnet",
                     "superseed-mainnet", "xterio-eth-mainnet"}
    assert {_chains.dropped_network(n, "v1.21.0") for n in names} == {"v1.21.0"}


@pytest.mark.parametrize("settings, status", [
    ({"environment": {"OP_NODE_NETWORK": "base-mainnet"}}, "fail"),
    ({"environment": ["NETWORK=base-sepolia"]}, "fail"),
    ({"command": ["op-node", "--network=base"]}, "fail"),
    ({"environment": {"OP_NODE_NETWORK": "op-mainnet"}}, "ok"),
    ({"environment": {"NETHERMIND_CONFIG": "op-sepolia"}}, "ok"),
    ({"environment": {"OTHER": "base-mainnet"}}, "ok"),  # not a network setting
    ({}, "ok"),
])
def test_network_check_fails_for_base_after_azul(settings, status):
    """Both entry points refuse Base with exit 64: doctor fails too."""
    check = _chain_checks.check_network(
        _check.EngineProbe(config={"services": {"base-op-node": settings}}), None)
    assert check.status == status
    if status == "fail":
        assert "Azul" in check.detail and check.fix


def test_required_settings_left_empty_are_named():
    """compose.yml passes NETWORK, L1_RPC_URL and L1_BEACON_URL as `${X:-}` (so `docker
    compose down` works without .env) and op-node's entry point refuses an empty one:
    doctor names each empty one, and says a build host does not need them."""
    env = {"OP_NODE_NETWORK": "", "OP_NODE_L1_ETH_RPC": "", "OP_NODE_L1_BEACON": "http://b"}
    check = _chain_checks.check_network(
        _check.EngineProbe(config={"services": {"base-op-node": {"environment": env}}}), None)
    assert check.status == "warn", check
    assert "NETWORK, L1_RPC_URL not set" in check.detail and "L1_BEACON_URL" not in check.detail
    assert "fine for building" in check.detail and ".env" in check.fix
    env.update(OP_NODE_NETWORK="op-sepolia", OP_NODE_L1_ETH_RPC="http://l1")
    check = _chain_checks.check_network(
        _check.EngineProbe(config={"services": {"base-op-node": {"environment": env}}}), None)
    assert check.status == "ok", check
    probe = _check.EngineProbe(errors={"config": "x"})
    assert _chain_checks.check_network(probe, None).status == "skip"


def test_buildx_absence_is_a_warning_that_says_what_it_means():
    c = MockContext(run={"docker buildx version": Result(exited=1, stderr="unknown command")})
    check = _doctor.check_buildx(_check.EngineProbe(), c)
    assert check.status == "warn" and "internal BuildKit" in check.detail
    assert "multi-platform" in check.detail and "buildx-plugin" in check.fix


def test_buildx_present_reports_its_version():
    c = MockContext(run={"docker buildx version": Result("github.com/docker/buildx v0.29.1\n")})
    check = _doctor.check_buildx(_check.EngineProbe(), c)
    assert (check.status, check.detail) == ("ok", "github.com/docker/buildx v0.29.1")


CLASSIC_INFO = {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"],
                                                       ["Supports d_type", "true"]]}
# Docker 28.5.2 with {"features": {"containerd-snapshotter": true}}, as `GET /info` says it
CONTAINERD_INFO = {"Driver": "overlayfs",
                   "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}
INSPECT_DOCKER = "Name:          default\nDriver:        docker\n\nNodes:\nName: default\n"
INSPECT_CONTAINER = "Name:   multi\nDriver: docker-container\nNodes:\nName:   multi0\n"


@pytest.mark.parametrize("info, store, says", [
    (CLASSIC_INFO, "classic", "must --push"),
    (CONTAINERD_INFO, "containerd", "can stay local"),
])
def test_doctor_says_which_store_and_what_it_means(info, store, says):
    assert _engine.image_store(info) == store
    check = _doctor.check_store(_check.EngineProbe(version={"Version": "28.5.2"}, info=info),
                               None)
    assert check.status == "ok" and check.detail.startswith(f"{store} image store")
    assert says in check.detail and "uncompressed" in check.detail
    assert _doctor.check_store(_check.EngineProbe(), None).status == "skip"


@pytest.mark.parametrize("inspect, info, says", [
    (Result(INSPECT_DOCKER), CONTAINERD_INFO, "buildx builder default (driver docker)"),
    (Result(INSPECT_DOCKER), CLASSIC_INFO, "one platform at a time"),
    (Result(INSPECT_CONTAINER), CLASSIC_INFO, "builder multi (driver docker-container)"),
    (Result(exited=1, stderr="unknown command"), CLASSIC_INFO, "the engine's own BuildKit"),
])
def test_doctor_says_which_builder_and_where_its_results_go(inspect, info, says):
    c = MockContext(run={"docker buildx inspect": inspect})
    check = _doctor.check_builder(_check.EngineProbe(version={"Version": "28.5.2"}, info=info),
                                 c)
    assert check.status == "ok" and says in check.detail, check.detail


def test_dead_daemon_fails_cleanly_through_inv(tmp_path):
    done = inv_process("doctor", env={"DOCKER_HOST": f"unix://{tmp_path}/missing.sock"})
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    engine = next(line for line in lines if line.split()[1:2] == ["engine"])
    assert engine.startswith("fail") and "missing.sock" in engine
    assert any(line.startswith("skip") and "images" in line for line in lines)
    assert done.stderr.strip() == "error: 1 check(s) failed: engine"


def test_every_check_has_the_one_signature():
    import inspect

    for check in _doctor.CHECKS:
        assert list(inspect.signature(check).parameters) == ["probe", "c"], check.__name__
    with pytest.raises(ValueError, match="'bad'"):
        _check.Check("x", "bad", "detail")


def test_one_more_check_is_one_more_entry_and_a_crash_is_a_failure(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    seen = []

    def check_extra(probe, c):
        seen.append(probe)
        return [_check.Check("extra", "warn", "looked twice", "do it"),
                _check.Check("extra 2", "ok", "fine")]

    def check_broken(probe, c):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(_doctor, "CHECKS", [_doctor.check_engine, check_extra, check_broken])
    checks = _doctor.run_checks(Context())
    assert [(ch.name, ch.status) for ch in checks] == [
        ("engine", "fail"), ("extra", "warn"), ("extra 2", "ok"), ("broken", "fail")]
    assert checks[-1].detail == "check crashed: boom"
    probe = seen[0]  # one probe, taken before the checks, that no check can change
    assert probe.client is None and "missing.sock" in probe.errors["engine"]
    assert probe.config is not None and "base-op-node" in probe.contexts
    with pytest.raises(dataclasses.FrozenInstanceError):
        probe.config = {}


# ---------------------------------------------------------------- real engine
def _by_name(checks):
    return {ch.name: ch for ch in checks}


def test_healthy_fixture_images_run_their_binaries(engine, fixture_project):
    project = fixture_project()
    from tasks import _compose
    _compose.run_compose(Context(), "build", hide=True)
    checks = _by_name(_doctor.run_checks(Context(), probe_labels={TEST_LABEL: "1"}))
    assert checks["engine"].status == "ok" and "API" in checks["engine"].detail
    assert checks["store"].detail.startswith(f"{engine_store(engine)} image store")
    assert checks["builder"].status == "ok"
    assert checks["pins"].status == "ok" and "v1.0.0" in checks["pins"].detail
    op = checks["image base-op-node"]
    assert op.status == "ok" and "op-node version v1.0.0" in op.detail
    ex = checks["image base-execution"]
    assert ex.status == "ok" and "execution version 1.0.0" in ex.detail
    assert project.image("base-execution") in ex.detail
    assert not engine.containers.list(all=True, filters={"label": "opstack-image-kit.probe"})


def test_missing_binary_and_missing_library_are_reported(engine, fixture_project):
    fixture_project(dockerfiles={"op-node": NO_BINARY_OP_NODE,
                                 "execution": BROKEN_EXECUTION})
    from tasks import _compose
    _compose.run_compose(Context(), "build", hide=True)
    checks = _by_name(_doctor.run_checks(Context(), probe_labels={TEST_LABEL: "1"}))
    op = checks["image base-op-node"]
    assert op.status == "fail" and "op-node is missing or cannot run" in op.detail
    assert op.fix
    ex = checks["image base-execution"]
    assert ex.status == "fail" and "libicuuc.so.74" in ex.detail and "library" in ex.fix
    assert not engine.containers.list(all=True, filters={"label": "opstack-image-kit.probe"})


def test_unbuilt_images_warn_and_doctor_output_is_one_line_per_check(engine, fixture_project):
    fixture_project()
    done = inv("doctor")
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    image_lines = [line for line in lines if "image base-" in line]
    assert len(image_lines) == 2 and all(line.startswith("warn") for line in image_lines)
    assert all(line.split()[0] in {"ok", "warn", "fail", "skip", "fix:"} for line in lines)


# ------------------------------------------------------------------ the execution client
def _client_config(client: str | None, **env: str) -> dict:
    """A resolved config as compose gives it with docker/<client>.yml extended: the
    client's pins only, and EXECUTION_CLIENT in base-execution's environment."""
    args = {"op-reth": {"OP_RETH_VERSION": "v2.10.0"}}.get(client, {"NETHERMIND_VERSION":
                                                                    "1.39.3"})
    environment = {**({"EXECUTION_CLIENT": client} if client else {}), **env}
    return {"services": {
        "base-op-node": {"build": {"args": {"OP_NODE_VERSION": "v1.21.0",
                                            "OP_NODE_COMMIT": "2ad3799" + "0" * 33,
                                            "GO_VERSION": "1.26"}},
                         "environment": {"OP_NODE_NETWORK": env.get("NETWORK", "")}},
        "base-execution": {"build": {"args": args}, "environment": environment}}}


@pytest.mark.parametrize("client, label, pinned", [
    ("op-reth", "op-reth", "op-reth v2.10.0"), ("nethermind", "Nethermind", "Nethermind 1.39.3"),
    (None, "Nethermind", "Nethermind 1.39.3"),  # a project that does not say: the default
])
def test_doctor_names_the_client_and_pins_only_what_it_runs(client, label, pinned):
    """The client check names the client in use; the pins check asks the pins of op-node
    and that client only (on 83371fe an op-reth stack missed NETHERMIND_VERSION)."""
    probe = _check.EngineProbe(config=_client_config(client))
    named = _doctor.check_client(probe, None)
    assert named.status == "ok" and named.detail.startswith(f"execution client {label} ")
    other = "op-reth" if client == "op-reth" else "nethermind"
    assert f"EXECUTION_CLIENT={'nethermind' if other == 'op-reth' else 'op-reth'} runs" \
        in named.detail
    pins = _doctor.check_pins(probe, None)
    assert pins.status == "ok" and pins.detail.endswith(pinned), pins
    assert _doctor.missing_pins(probe.config) == []


def test_a_client_compose_cannot_open_fails_the_client_check_in_one_line():
    reason = ("EXECUTION_CLIENT='geth' is not an execution client this kit runs: set it to "
              "nethermind or op-reth (or leave it unset for nethermind)")
    check = _doctor.check_client(_check.EngineProbe(errors={"config": reason}), None)
    assert (check.status, check.detail) == ("fail", reason)
    assert "nethermind or op-reth" in check.fix
    bad = _doctor.check_client(_check.EngineProbe(config=_client_config("geth")), None)
    assert (bad.status, bad.detail) == ("fail", reason)
    other = _doctor.check_client(_check.EngineProbe(errors={"config": "yaml: line 3"}), None)
    assert other.status == "skip"


def test_a_dropped_chain_needs_only_the_config_files_of_the_client_in_use():
    """With Nethermind in use, OP_RETH_CHAIN is not asked for (and the other way round):
    the custom chain is op-node's file plus the running client's own."""
    nethermind = _client_config("nethermind", NETWORK="lisk-sepolia",
                                NETHERMIND_CONFIG="/chain-config/nethermind.json")
    nethermind["services"]["base-op-node"]["environment"]["OP_NODE_ROLLUP_CONFIG"] = \
        "/chain-config/rollup.json"
    assert _chain_checks.check_network(_check.EngineProbe(config=nethermind), None).status == "ok"
    op_reth = _client_config("op-reth", NETWORK="lisk-sepolia", OP_RETH_CHAIN="")
    op_reth["services"]["base-op-node"]["environment"]["OP_NODE_ROLLUP_CONFIG"] = \
        "/chain-config/rollup.json"
    check = _chain_checks.check_network(_check.EngineProbe(config=op_reth), None)
    assert check.status == "fail" and check.detail.endswith("OP_RETH_CHAIN is not set")
    assert "OP_RETH_CHAIN=/chain-config/<op-reth>.json" in check.fix
    assert "NETHERMIND_CONFIG" not in check.fix
