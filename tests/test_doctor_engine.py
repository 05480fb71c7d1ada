"""doctor against the real engine, with fixture images shaped like the real ones: an
execution image that declares Nethermind's VOLUMEs and keeps configs/<name>.json, an
op-node whose --help lists its networks like op-node's, and a running fixture stack
with a crash-looping and an unhealthy service."""

from __future__ import annotations

import time
import uuid

import pytest
from invoke import Context

from tasks import _chain_checks, _compose, _doctor
from tests.helpers import TEST_LABEL, inv, need_compose

# Nethermind's image declares three VOLUMEs (NethermindEth/nethermind Dockerfile:
# /nethermind/keystore, /nethermind/logs, /nethermind/nethermind_db) and keeps its
# configs as /nethermind/configs/<name>.json beside the binary.
EXECUTION = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG NETHERMIND_VERSION
RUN mkdir -p /nethermind/configs && \\
    printf '#!/bin/sh\\necho "execution version %s"\\n' "$NETHERMIND_VERSION" \\
      > /nethermind/nethermind && chmod 755 /nethermind/nethermind && \\
    for n in mainnet op-mainnet op-sepolia lisk-sepolia; do \\
      echo '{{}}' > /nethermind/configs/$n.json; done
VOLUME /nethermind/keystore
VOLUME /nethermind/logs
VOLUME /nethermind/nethermind_db
"""
OP_NODE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG OP_NODE_VERSION
ARG OP_NODE_COMMIT
ARG GO_VERSION
COPY op-node /usr/local/bin/op-node
"""
# op-node's help line for --network as v1.9.4 prints it (tests/test_doctor.py says where
# that comes from), with a list of the v1.21.0 era (no lisk-sepolia: dropped).
FAKE_OP_NODE = """\
#!/bin/sh
if [ "$1" = --help ]; then
  echo "GLOBAL OPTIONS:"
  echo "   --network value   Predefined network selection. Available networks: \
ink-mainnet, op-mainnet, op-sepolia, unichain-sepolia [\\$OP_NODE_NETWORK]"
  exit 0
fi
echo "op-node version $OP_NODE_VERSION"
"""


def _networks_project(module_project):
    project = module_project(dockerfiles={"execution": EXECUTION, "op-node": OP_NODE})
    script = project.path / "op-node" / "op-node"
    script.write_text(FAKE_OP_NODE)
    script.chmod(0o755)
    return project


@pytest.fixture(scope="module")
def built(module_project):
    """The fixture stack with those images, built once for the module."""
    return _networks_project(module_project).build()


def _override(project, monkeypatch, tmp_path, text: str) -> None:
    """Add a compose override to the project in force (COMPOSE_FILE, as a user would)."""
    path = tmp_path / f"override-{uuid.uuid4().hex[:6]}.yml"
    path.write_text(text)
    monkeypatch.setenv("COMPOSE_FILE", f"{project.compose_file}:{path}")
    monkeypatch.setenv("COMPOSE_PATH_SEPARATOR", ":")


def _network_override(network: str, rollup: str = "", nethermind: str = "") -> str:
    """compose.yml's environment: OP_NODE_NETWORK and NETWORK from one setting, the
    escape-hatch files (CONTRACTS #1) in the services' environment."""
    return (f"services:\n  base-op-node:\n    environment:\n"
            f"      OP_NODE_NETWORK: '{network}'\n      OP_NODE_ROLLUP_CONFIG: '{rollup}'\n"
            f"  base-execution:\n    environment:\n      NETWORK: '{network}'\n"
            f"      NETHERMIND_CONFIG: '{nethermind}'\n")


def _by_name(checks):
    return {ch.name: ch for ch in checks}


# ------------------------------------------------------------------ volumes
def test_probes_leave_none_of_the_images_volumes_behind(engine, built, monkeypatch, tmp_path):
    """Every probe container of an image that declares VOLUMEs gets a fresh anonymous
    volume for each; removed without them (83371fe), `inv doctor` left Nethermind's three
    dangling on every run. The probe containers are told apart by a label of this run;
    the engine's own mount events name their volumes."""
    built.enter(monkeypatch)
    _override(built, monkeypatch, tmp_path, _network_override("op-sepolia"))
    run = uuid.uuid4().hex
    since = int(time.time()) - 1
    checks = _by_name(_doctor.run_checks(
        Context(), probe_labels={TEST_LABEL: "1", f"{TEST_LABEL}.run": run},
        checks=[_doctor.check_images, _chain_checks.check_network_names]))
    assert checks["image base-execution"].status == "ok", checks
    until = int(time.time()) + 1
    created = {e["Actor"]["ID"] for e in engine.api.events(
        since=since, until=until, decode=True,
        filters={"type": "container", "event": "create", "label": f"{TEST_LABEL}.run={run}"})}
    volumes = {e["Actor"]["ID"] for e in engine.api.events(
        since=since, until=until, decode=True, filters={"type": "volume", "event": "mount"})
        if e["Actor"]["Attributes"].get("container") in created}
    assert len(created) >= 3  # two image probes, one read of the configs folder
    assert len(volumes) >= 6, volumes  # three per container of the execution image
    left = []
    for name in volumes:
        try:
            engine.api.inspect_volume(name)
            left.append(name)
        except Exception:  # NotFound: removed with its container
            pass
    assert not left, f"{len(left)} anonymous volume(s) left behind: {left}"


# ------------------------------------------------------------------ network names
@pytest.mark.parametrize("network, op_node, execution, nearest", [
    ("op-sepolia", "ok", "ok", None),
    ("op-sepolai", "fail", "fail", "op-sepolia"),
    ("OP-Sepolia", "fail", "fail", "op-sepolia"),  # op-node would take it; Nethermind not
    ("mainnet", "fail", "ok", "op-mainnet"),  # Nethermind's mainnet is Ethereum's
])
def test_network_is_checked_against_what_the_built_images_know(
        engine, built, monkeypatch, tmp_path, network, op_node, execution, nearest):
    built.enter(monkeypatch)
    _override(built, monkeypatch, tmp_path, _network_override(network))
    checks = _by_name(_doctor.run_checks(Context(), probe_labels={TEST_LABEL: "1"},
                                        checks=[_chain_checks.check_network_names]))
    op, ex = checks["network base-op-node"], checks["network base-execution"]
    assert (op.status, ex.status) == (op_node, execution), (op, ex)
    for check in (op, ex):
        if check.status == "fail":
            assert f"={network} is not among" in check.detail
            assert f"(nearest: {nearest}" in check.detail and "\n" not in check.detail
            assert "NETWORK" in check.fix
    if op.status == "fail":
        assert "--entrypoint op-node" in op.fix and "--help" in op.fix


def test_a_dropped_chain_with_both_config_files_passes_through_compose(
        engine, built, monkeypatch, tmp_path):
    """CONTRACTS #1 read from `docker compose config` (an override sets both files): the
    network check passes, and neither client's name is looked up."""
    built.enter(monkeypatch)
    _override(built, monkeypatch, tmp_path, _network_override(
        "lisk-sepolia", "/chain-config/rollup.json", "/chain-config/nethermind.json"))
    monkeypatch.setenv("OP_NODE_VERSION", "v1.21.0")  # a pin that dropped lisk-sepolia
    checks = _by_name(_doctor.run_checks(Context(), probe_labels={TEST_LABEL: "1"},
                                        checks=[_chain_checks.check_network,
                                                _chain_checks.check_network_names]))
    assert checks["network"].status == "ok" and "custom chain" in checks["network"].detail
    assert checks["network base-op-node"].status == "ok"
    assert "OP_NODE_ROLLUP_CONFIG=/chain-config/rollup.json" in \
        checks["network base-op-node"].detail
    _override(built, monkeypatch, tmp_path, _network_override(
        "lisk-sepolia", "/chain-config/rollup.json", ""))
    checks = _by_name(_doctor.run_checks(Context(), probe_labels={TEST_LABEL: "1"},
                                        checks=[_chain_checks.check_network]))
    assert checks["network"].status == "fail"
    assert checks["network"].detail.endswith("NETHERMIND_CONFIG is not set")


def test_an_unbuilt_image_is_not_a_pass(engine, fixture_project, monkeypatch, tmp_path):
    project = fixture_project()
    _override(project, monkeypatch, tmp_path, _network_override("op-sepolia"))
    checks = _by_name(_doctor.run_checks(Context(), probe_labels={TEST_LABEL: "1"},
                                        checks=[_chain_checks.check_network_names]))
    for service in ("base-op-node", "base-execution"):
        check = checks[f"network {service}"]
        assert check.status == "skip" and "is not built" in check.detail, check


# ------------------------------------------------------------------ the running stack
STACK = f"""\
services:
  base-execution:
    entrypoint: ["sh", "-c", "echo 'cannot open the database' >&2; exit 1"]
    restart: unless-stopped
    labels: {{{TEST_LABEL}: "1"}}
  base-op-node:
    entrypoint: ["sleep", "600"]
    restart: "no"
    stop_grace_period: 1s
    healthcheck: {{test: ["CMD", "false"], interval: 1s, timeout: 1s, retries: 1}}
    labels: {{{TEST_LABEL}: "1"}}
  base-execution-init:
    entrypoint: ["true"]
    labels: {{{TEST_LABEL}: "1"}}
"""


def _state(engine, project: str, service: str) -> dict:
    found = engine.api.containers(all=True, filters={"label": [
        f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]})
    return engine.api.inspect_container(found[0]["Id"]) if found else {}


def test_a_crash_loop_and_an_unhealthy_service_fail_doctor(engine, fixture_project,
                                                          monkeypatch, tmp_path):
    """83371fe: `inv doctor` exited 0 while the execution client restarted forever."""
    need_compose()
    project = fixture_project()
    _override(project, monkeypatch, tmp_path, STACK)
    c = Context()
    _compose.run_compose(c, "build", hide=True)
    try:
        _compose.run_compose(c, "up", "-d", hide=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ex = _state(engine, project.name, "base-execution")
            op = _state(engine, project.name, "base-op-node")
            looping = ex.get("RestartCount", 0) >= 1 or ex["State"].get("Restarting")
            if looping and (op["State"].get("Health") or {}).get("Status") == "unhealthy":
                break
            time.sleep(0.5)
        checks = _by_name(_doctor.run_checks(c, probe_labels={TEST_LABEL: "1"},
                                            checks=[_chain_checks.check_stack]))
        loop = checks["stack base-execution"]
        assert loop.status == "fail" and loop.detail.startswith("restart loop"), loop
        assert loop.fix == "`docker compose logs base-execution` shows why"
        sick = checks["stack base-op-node"]
        assert sick.status == "fail" and sick.detail.startswith("unhealthy"), sick
        assert checks["stack base-execution-init"].status == "ok"
        done = inv("doctor")
        assert done.returncode == 1
        assert "stack base-execution" in done.stderr and "stack base-op-node" in done.stderr
    finally:
        _compose.run_compose(c, "down", "-v", "--remove-orphans", "-t", "1", hide=True)


def test_no_running_stack_is_said_so(engine, fixture_project):
    fixture_project()
    checks = _by_name(_doctor.run_checks(Context(), checks=[_chain_checks.check_stack]))
    assert checks["stack"].status == "skip" and "not running" in checks["stack"].detail


# ------------------------------------------------------------------ the execution client
# op-reth's image shape (optimism rust/op-reth/DockerfileOp: the binary at
# /usr/local/bin/op-reth); `dump-genesis --chain NAME` exits 0 for a chain it knows and
# non-zero otherwise (chainspec.rs chain_value_parser: a name, else a genesis file).
OP_RETH = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG OP_RETH_VERSION
ENV OP_RETH_VERSION=${{OP_RETH_VERSION}}
COPY op-reth /usr/local/bin/op-reth
"""
FAKE_OP_RETH = """\
#!/bin/sh
if [ "$1" = dump-genesis ] && [ "$2" = --chain ]; then
  case "$3" in
    optimism|optimism-sepolia|unichain|unichain-sepolia|ink-sepolia) echo '{}'; exit 0 ;;
  esac
  echo "error: invalid value '$3' for '--chain <CHAIN_OR_PATH>'" >&2
  exit 2
fi
echo "reth Version: $OP_RETH_VERSION"
"""


@pytest.fixture(scope="module")
def built_op_reth(module_project):
    """The fixture stack with op-reth as its client, built once for the module."""
    project = module_project(dockerfiles={"op-reth": OP_RETH})
    script = project.path / "op-reth" / "op-reth"
    script.write_text(FAKE_OP_RETH)
    script.chmod(0o755)
    return project.build(client="op-reth")


def _op_reth_override(network: str, chain: str = "") -> str:
    return (f"services:\n  base-op-node:\n    environment:\n      OP_NODE_NETWORK: '{network}'\n"
            f"  base-execution:\n    environment:\n      NETWORK: '{network}'\n"
            f"      OP_RETH_CHAIN: '{chain}'\n")


@pytest.mark.parametrize("network, chain, status, said", [
    ("op-sepolia", "", "ok", "NETWORK=op-sepolia (as op-reth's optimism-sepolia): "),
    ("unichain-mainnet", "", "ok", "NETWORK=unichain-mainnet (as op-reth's unichain): "),
    ("ink-sepolia", "", "ok", "NETWORK=ink-sepolia: "),
    ("zora-sepolia", "", "fail", "NETWORK=zora-sepolia: op-reth in "),
    ("zora-sepolia", "unichain", "ok", "OP_RETH_CHAIN=unichain: "),
    ("zora-sepolia", "/chain-config/genesis.json", "ok", "runs from that file"),
])
def test_doctor_names_op_reth_and_asks_it_for_the_network(
        engine, built_op_reth, monkeypatch, tmp_path, network, chain, status, said):
    """With EXECUTION_CLIENT=op-reth, doctor says so, probes op-reth's binary (its image,
    not Nethermind's), checks its pin, and asks op-reth itself whether it knows NETWORK,
    mapped to op-reth's name as its entry point does. On 83371fe doctor knew Nethermind
    only: its config folder was looked for in op-reth's image."""
    built_op_reth.enter(monkeypatch)
    monkeypatch.setenv("EXECUTION_CLIENT", "op-reth")
    _override(built_op_reth, monkeypatch, tmp_path, _op_reth_override(network, chain))
    checks = _by_name(_doctor.run_checks(
        Context(), probe_labels={TEST_LABEL: "1"},
        checks=[_doctor.check_client, _doctor.check_pins, _doctor.check_images,
                _chain_checks.check_network_names]))
    assert checks["client"].status == "ok"
    assert checks["client"].detail.startswith("execution client op-reth (EXECUTION_CLIENT: "
                                              "op-reth; `inv build.op-reth` builds it)")
    assert checks["pins"].status == "ok" and "op-reth v1.0.0" in checks["pins"].detail
    assert "Nethermind" not in checks["pins"].detail
    image = checks["image base-execution"]
    assert image.status == "ok", image
    ref = built_op_reth.image("base-execution", client="op-reth")
    assert image.detail == f"{ref} (op-reth): reth Version: v1.0.0"
    named = checks["network base-execution"]
    assert (named.status, said in named.detail) == (status, True), named
    if status == "fail":
        assert "does not know it" in named.detail and "OP_RETH_CHAIN" in named.fix
        assert "dump-genesis --chain zora-sepolia" in named.fix


def test_a_wrong_client_fails_doctors_client_check_in_one_line(fixture_project):
    fixture_project()
    done = inv("doctor", env={"EXECUTION_CLIENT": "geth"})
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.split()[1:2] == ["client"])
    assert line.startswith("fail  client") and line.endswith(
        "EXECUTION_CLIENT='geth' is not an execution client this kit runs: set it to "
        "nethermind or op-reth (or leave it unset for nethermind)"), line
