"""The component table: what each entry says, and that a third component works end to
end (resolve, build, audit, doctor) from nothing but its entry, its Dockerfile folder and
its compose service."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from invoke import Context

import tasks
from tasks import _components, _doctor, _upstream, _versions
from tasks._components import Component, Probe
from tasks._errors import KitError
from tests.helpers import ROOT, TEST_LABEL, inv, need

# A fixture component: v-prefixed tags without a namespace (v1.3.0), a commit pin and a
# Go pin under names of its own, a binary on PATH.
SIDECAR = Component(name="sidecar", service="base-sidecar", upstream="example-org/sidecar",
                    v_prefix=True, version_var="SIDECAR_VERSION", commit_var="SIDECAR_COMMIT",
                    go_var="SIDECAR_GO_VERSION", budget="50MB", probe=Probe(("sidecar",)))
GOMOD = "module example.org/sidecar\n\ngo 1.24.0\n"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


@pytest.fixture
def sidecar(monkeypatch):
    """SIDECAR registered for this test only."""
    monkeypatch.setitem(_components.COMPONENTS, SIDECAR.name, SIDECAR)
    return SIDECAR


# ------------------------------------------------------------------------ pure
def test_the_table_holds_each_components_facts():
    op_node, execution = _components.get("op-node"), _components.get("execution")
    assert _components.default() is op_node
    assert (op_node.service, op_node.upstream, op_node.tag_prefix) == \
        ("base-op-node", "ethereum-optimism/optimism", "op-node/v")
    assert op_node.pin_vars == ("OP_NODE_VERSION", "OP_NODE_COMMIT", "GO_VERSION")
    assert execution.pin_vars == ("NETHERMIND_VERSION",) and execution.tag_prefix == ""
    assert all((_components.ROOT / "docker" / entry.name / "Dockerfile").is_file()
               for entry in _components.all_components()
               if entry.name != "op-reth")  # docker/op-reth/: test_every_client_has_its_files
    assert execution.probe.binary == "/nethermind/nethermind"
    assert op_node.probe.binary == "/usr/local/bin/op-node"
    assert op_node.pins("v1.2.3", "ab" * 20, "1.26") == {
        "OP_NODE_VERSION": "v1.2.3", "OP_NODE_COMMIT": "ab" * 20, "GO_VERSION": "1.26"}
    assert execution.pins("1.39.3", "cd" * 20, None) == {"NETHERMIND_VERSION": "1.39.3"}
    assert _components.pin_command(op_node, "v1.21.0") == "inv source.pin --version v1.21.0"
    assert _components.pin_command(execution, "2.2.1") == \
        "inv source.pin --component execution --version 2.2.1"


def test_op_reth_is_a_second_client_on_the_execution_service():
    """CONTRACTS-17 #4: the op-reth entry, the client field, and "components in use".
    Upstream facts: op-reth's tags are op-reth/vX.Y.Z in ethereum-optimism/optimism
    (release page op-reth/v2.10.0), its binary /usr/local/bin/op-reth (optimism
    rust/op-reth/DockerfileOp @0ddd0724). On 83371fe the table had no clients."""
    op_node, nethermind, op_reth = (_components.get(n) for n in ("op-node", "execution",
                                                                 "op-reth"))
    assert _components.CLIENT_SETTING == "EXECUTION_CLIENT"
    assert (op_node.client, nethermind.client, op_reth.client) == (None, "nethermind", "op-reth")
    assert (op_reth.service, op_reth.upstream, op_reth.tag_prefix, op_reth.version_var) == \
        ("base-execution", "ethereum-optimism/optimism", "op-reth/v", "OP_RETH_VERSION")
    assert op_reth.pin_vars == ("OP_RETH_VERSION",) and op_reth.label == "op-reth"
    assert op_reth.probe.binary == "/usr/local/bin/op-reth"
    assert _versions.parse_tag("op-reth", "op-reth/v2.10.0").version == "v2.10.0"
    assert _versions.parse_tag("op-reth", "op-node/v2.10.0") is None
    assert _components.clients() == ["nethermind", "op-reth"]
    assert _components.default_client() == "nethermind"
    assert [e.name for e in _components.in_use()] == ["op-node", "execution"]
    assert [e.name for e in _components.in_use("op-reth")] == ["op-node", "op-reth"]
    assert _components.services("op-reth") == ["base-op-node", "base-execution"]
    assert _components.by_service("base-execution", "op-reth") is op_reth
    assert _components.by_service("base-execution") is nethermind
    assert _components.check_client("") == "nethermind"
    with pytest.raises(KitError) as bad:
        _components.in_use("geth")
    assert bad.value.reason == ("EXECUTION_CLIENT='geth' is not an execution client this kit "
                                "runs: set it to nethermind or op-reth (or leave it unset for "
                                "nethermind)")
    # the .NET ICU check is Nethermind's, not every image's
    assert any("ICU" in sign for sign in nethermind.library_errors)
    assert op_reth.library_errors == () == op_node.library_errors
    assert _components.pin_command(op_reth, "v2.10.0") == \
        "inv source.pin --component op-reth --version v2.10.0"


# NETWORK (op-node's name) -> op-reth's --chain name (CONTRACTS-17 #5). op-reth's names:
# fixed `optimism`, `optimism-sepolia` (optimism rust/op-reth/crates/chainspec/src/
# superchain/chain_spec_macro.rs @399b85e3), registry chains as <name> on mainnet and
# <name>-<superchain> otherwise (chain_specs.rs @12529c14: ink, unichain, soneium, zora
# on mainnet; soneium-minato, unichain, ink on sepolia). op-node's are <chain>-<superchain>.
CHAIN_NAMES = {
    "op-mainnet": "optimism", "op-sepolia": "optimism-sepolia",
    "unichain-mainnet": "unichain", "unichain-sepolia": "unichain-sepolia",
    "ink-mainnet": "ink", "ink-sepolia": "ink-sepolia",
    "soneium-mainnet": "soneium", "soneium-minato-sepolia": "soneium-minato-sepolia",
    "zora-mainnet": "zora", "worldchain-sepolia": "worldchain-sepolia",
    "settlus-mainnet-mainnet": "settlus-mainnet", "optimism": "optimism",
}
OP_RETH_ENTRYPOINT = ROOT / "docker" / "op-reth" / "entrypoint.sh"


def test_the_table_maps_network_names_to_op_reths_chain_names():
    networks = _components.get("op-reth").networks
    assert {name: networks.client_name(name) for name in CHAIN_NAMES} == CHAIN_NAMES
    assert networks.check_command("op-sepolia") == [
        "/usr/local/bin/op-reth", "dump-genesis", "--chain", "optimism-sepolia"]
    assert networks.custom == "OP_RETH_CHAIN" and networks.setting == "NETWORK"


def _shell_mapping(script: str) -> str:
    """The entry point's NETWORK -> chain mapping, as a shell snippet that prints it: the
    line that sets `mapped`, run after the shell library the entry point sources
    (docker/lib/opkit.sh, with the chain policy beside it)."""
    import re

    found = re.search(r"^mapped=.*$", script, re.M)
    assert found, "docker/op-reth/entrypoint.sh maps NETWORK nowhere this test can find"
    assert "opkit.sh" in script, "docker/op-reth/entrypoint.sh sources no shell library"
    return f'. "$OPKIT_LIB_DIR/opkit.sh"\n{found.group(0)}\necho "$mapped"\n'


def test_op_reths_entry_point_maps_names_as_the_table_does():
    """One mapping, in the table; the entry point's shell copy must agree, name by name
    (doctor asks the built image with the table's name, the container starts with the
    entry point's)."""
    import subprocess

    if not OP_RETH_ENTRYPOINT.is_file():
        need(f"{OP_RETH_ENTRYPOINT.relative_to(ROOT)} (the op-reth image, CONTRACTS-17 #5) "
             "is not in this checkout")
    snippet = _shell_mapping(OP_RETH_ENTRYPOINT.read_text())
    networks = _components.get("op-reth").networks
    for network, chain in CHAIN_NAMES.items():
        done = subprocess.run(["sh", "-euc", snippet], capture_output=True, text=True,
                              env={"NETWORK": network, "PATH": "/bin:/usr/bin",
                                   "OPKIT_LIB_DIR": str(ROOT / "docker" / "lib")}, timeout=10)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == chain == networks.client_name(network), network


def test_every_client_has_its_compose_file_and_folder():
    """CONTRACTS-17 #2: each client's own file docker/<client>.yml, which compose.yml
    extends, holds its version pin and says which client it is, and its image's folder
    has a Dockerfile."""
    for entry in (e for e in _components.all_components() if e.client):
        client_file = ROOT / "docker" / f"{entry.client}.yml"
        if not client_file.is_file():
            need(f"docker/{entry.client}.yml (the compose wiring, CONTRACTS-17 #2) is not in "
                 "this checkout")
        text = client_file.read_text()
        assert f"${{{entry.version_var}:-" in text, client_file
        assert f"EXECUTION_CLIENT: {entry.client}" in text, client_file
        folder = _components.ROOT / "docker" / entry.name
        assert (folder / "Dockerfile").is_file(), folder


def test_the_namespace_and_config_defaults_come_from_the_table(sidecar):
    ns = tasks.make_namespace()
    assert {"op-node", "execution", "sidecar", "all"} <= set(ns.collections["build"].tasks)
    config = ns.configuration()
    assert config["audit"]["budgets"]["base-sidecar"] == "50MB"
    assert config["source"]["sidecar_repo"] == "example-org/sidecar"
    with pytest.raises(KitError, match="use op-node, execution, op-reth or sidecar"):
        _components.get("nope")


def test_a_registered_component_has_its_own_tag_form(sidecar):
    found = _versions.releases("sidecar", ["v1.3.0", "v1.2.0", "1.4.0", "op-node/v1.9.0",
                                           "v1.3.1-rc.1"])
    assert [r.version for r in found] == ["v1.3.1-rc.1", "v1.3.0", "v1.2.0"]
    assert _versions.select("sidecar", found, "1.3").tag == "v1.3.0"
    config = {"services": {s: {"build": {"args": {}}} for s in _components.services()}}
    assert "base-sidecar SIDECAR_COMMIT" in _doctor.missing_pins(config)


def test_register_and_unregister():
    extra = Component(name="extra", service="base-extra", upstream="o/extra",
                      version_var="EXTRA_VERSION", budget="1MB", probe=Probe(("extra",)))
    try:
        assert _components.register(extra) is _components.get("extra")
        assert _components.by_service("base-extra") is extra
    finally:
        _components.unregister("extra")
    assert _components.by_service("base-extra") is None


# ---------------------------------------------------- a third component, end to end
def test_a_third_component_resolves_builds_audits_and_passes_doctor(engine, fixture_project,
                                                                     github_api, sidecar):
    github_api.add_repo(sidecar.upstream, {"v1.2.0": sha("1.2.0"), "v1.3.0": sha("1.3.0"),
                                           "v1.3.1-rc.1": sha("rc"), "tools/v9.0.0": sha("x")},
                        annotated={"v1.3.0"}, gomod=GOMOD, prefixes=("v",))
    project = fixture_project()
    assert (project.path / "sidecar" / "Dockerfile").is_file()

    resolved = inv("source.resolve", "--component", "sidecar", "--version", "v1.3", "--json")
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(resolved.stdout) == {"component": "sidecar", "tag": "v1.3.0",
                                           "version": "v1.3.0", "commit": sha("1.3.0"),
                                           "go_version": "1.24"}
    assert github_api.requests[0]["path"] == \
        "/repos/example-org/sidecar/git/matching-refs/tags/v"
    assert all(r["path"].startswith("/repos/example-org/sidecar/") for r in github_api.requests)
    assert _upstream.resolve_version("sidecar", "v1.3").build_env() == {
        "SIDECAR_VERSION": "v1.3.0", "SIDECAR_COMMIT": sha("1.3.0"), "SIDECAR_GO_VERSION": "1.24"}

    built = inv("build.sidecar", "--version", "v1.3", "--progress", "quiet")
    assert built.returncode == 0, built.stdout + built.stderr
    image = engine.images.get(project.image("base-sidecar", "v1.3.0"))
    assert image.labels["org.opencontainers.image.revision"] == sha("1.3.0")
    out = engine.containers.run(image.id, ["sidecar", "--version"], remove=True).decode()
    assert out.strip() == f"sidecar version v1.3.0-{sha('1.3.0')} (go 1.24)"
    assert project.image("base-sidecar", "v1.3.0") in built.stdout  # the build's own audit

    assert inv("build.sidecar", "--progress", "quiet").returncode == 0  # the compose pin
    sizes = inv("audit.sizes", "--json")
    assert sizes.returncode == 0, sizes.stderr
    row = next(r for r in json.loads(sizes.stdout) if r["service"] == "base-sidecar")
    assert row["image"] == project.image("base-sidecar") and row["size_bytes"] > 0
    assert row["budget_bytes"] == 50_000_000 and not row["over_budget"]

    checks = {ch.name: ch for ch in _doctor.run_checks(Context(),
                                                      probe_labels={TEST_LABEL: "1"})}
    assert checks["image base-sidecar"].status == "ok"
    assert "sidecar version v1.0.0-" + "1" * 40 in checks["image base-sidecar"].detail
    assert checks["pins"].status == "ok"
    assert "sidecar v1.0.0 @ 111111111111 (go 1.22)" in checks["pins"].detail


def test_component_facts_are_named_only_in_the_component_table():
    """Every component's service name, pin variables and upstream repository appear in no
    module under tasks/ but the table itself (tasks/_components.py): the rest of the kit
    reads them from the table. compose.yml, docker/, the tests and the docs may name them."""
    words = set()
    for entry in _components.all_components():
        words |= {entry.service, entry.upstream, *entry.pin_vars}
        words |= {entry.repo_var} if entry.repo_var else set()
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(words))) + r")(?![\w-])")
    found = [f"{path.name}:{number}: {match.group(1)}"
             for path in sorted((_components.ROOT / "tasks").glob("*.py"))
             if path.name != "_components.py"
             for number, line in enumerate(path.read_text().splitlines(), 1)
             for match in pattern.finditer(line)]
    assert len(words) >= 9 and "base-op-node" in words and "OP_RETH_VERSION" in words
    assert found == []
