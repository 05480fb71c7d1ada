"""The component table: what each entry says, and that a third component works end to
end (resolve, build, audit, doctor) from nothing but its entry, its Dockerfile folder and
its compose service."""

from __future__ import annotations

import hashlib
import json

import pytest
from invoke import Context

import tasks
from tasks import _components, _versions, doctor, source
from tasks._components import Component, Probe
from tasks._errors import KitError
from tests.helpers import TEST_LABEL, inv

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
    assert op_node.folder == _components.ROOT / "docker" / "op-node"
    assert all((entry.folder / "Dockerfile").is_file() for entry in _components.all_components()
               if entry.name != "op-reth")  # docker/op-reth/: test_every_client_has_its_files
    assert execution.probe.binary == "/nethermind/nethermind"
    assert op_node.probe.binary == "/usr/local/bin/op-node"
    assert op_node.pins("v1.2.3", "ab" * 20, "1.26") == {
        "OP_NODE_VERSION": "v1.2.3", "OP_NODE_COMMIT": "ab" * 20, "GO_VERSION": "1.26"}
    assert execution.pins("1.39.3", "cd" * 20, None) == {"NETHERMIND_VERSION": "1.39.3"}
    assert (op_node.init_service, execution.init_service) == (None, "base-execution-init")
    assert _components.pin_command(op_node, "v1.21.0") == "inv source.pin --version v1.21.0"
    assert _components.pin_command(execution, "2.2.1") == \
        "inv source.pin --component execution --version 2.2.1"


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
    assert "base-sidecar SIDECAR_COMMIT" in doctor.missing_pins(config)


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
    assert source.resolve_version("sidecar", "v1.3").build_env() == {
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

    checks = {ch.name: ch for ch in doctor.run_checks(Context(),
                                                      probe_labels={TEST_LABEL: "1"})}
    assert checks["image base-sidecar"].status == "ok"
    assert "sidecar version v1.0.0-" + "1" * 40 in checks["image base-sidecar"].detail
    assert checks["pins"].status == "ok"
    assert "sidecar v1.0.0 @ 111111111111 (go 1.22)" in checks["pins"].detail
