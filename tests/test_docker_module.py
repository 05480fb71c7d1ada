"""The Docker module: compose command lines, clean errors, and a real BuildKit build."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Context, MockContext, Result

from tasks import _docker
from tasks._errors import KitError

ROOT = Path(__file__).resolve().parent.parent


def test_compose_argv_uses_checkout_unless_compose_file_set(monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    assert _docker.compose_argv("build") == [
        "docker", "compose", "--project-directory", str(ROOT), "build"]
    monkeypatch.setenv("COMPOSE_FILE", "/srv/mine.yml")
    argv = _docker.compose_argv("build", "base-op-node")
    assert argv == ["docker", "compose", "build", "base-op-node"]
    assert "-f" not in argv


def test_compose_env_turns_buildkit_on_and_carries_versions(monkeypatch):
    monkeypatch.setenv("COMPOSE_FILE", str(ROOT / "tests" / "no-such-compose.yml"))
    env = _docker.compose_env({"OP_NODE_VERSION": "v1.2.3"})
    assert env == {"DOCKER_BUILDKIT": "1", "COMPOSE_DOCKER_CLI_BUILD": "1",
                   "OP_NODE_VERSION": "v1.2.3"}


def test_run_compose_failure_keeps_exit_code(monkeypatch):
    monkeypatch.setenv("COMPOSE_FILE", "x.yml")
    c = MockContext(run={"docker compose build": Result(exited=17, stderr="boom\nlast line")})
    with pytest.raises(_docker.ComposeFailed) as info:
        _docker.run_compose(c, "build")
    assert info.value.code == 17
    assert info.value.message == "error: `docker compose build` failed: last line"


def test_failure_message_hides_the_kits_project_directory(monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    c = MockContext(run={re.compile(r"docker compose --project-directory \S+ build x"):
                         Result(exited=1, stderr="no such service: x")})
    with pytest.raises(_docker.ComposeFailed) as info:
        _docker.run_compose(c, "build", "x")
    assert info.value.message == "error: `docker compose build x` failed: no such service: x"


def test_missing_compose_names_the_fix():
    c = MockContext(run={"docker compose version --short": Result(exited=1, stdout="")})
    with pytest.raises(_docker.ComposeUnavailable, match="compose plugin"):
        _docker.require_compose(c)


def test_dead_daemon_is_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    with pytest.raises(_docker.EngineUnavailable) as info:
        _docker.engine_client(timeout=5)
    assert "missing.sock" in info.value.message
    assert "\n" not in info.value.message


def test_unknown_context_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONTEXT", "no-such-context")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with pytest.raises(KitError, match="no-such-context"):
        _docker.engine_client(timeout=5)


def test_dead_daemon_through_inv_has_no_traceback(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/missing.sock"}
    probe = "from tasks import _docker; _docker.engine_client(timeout=5)"
    wrapped = ("import sys; from invoke.exceptions import Exit\n"
               f"try:\n    {probe}\nexcept Exit as e:\n    print(e.message, file=sys.stderr);"
               " sys.exit(e.code)")
    done = subprocess.run([sys.executable, "-c", wrapped], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: cannot reach the Docker engine")


def test_builds_fixture_service_with_buildkit_and_inspects_it(engine, fixture_project):
    project = fixture_project()
    _docker.require_compose(Context())
    _docker.run_compose(Context(), "build", "base-op-node", env={"OP_NODE_VERSION": "v9.8.7"},
                        hide=True)
    image = engine.images.get(project.image("base-op-node", "v9.8.7"))
    assert image.labels["org.opencontainers.image.version"] == "v9.8.7"
    out = engine.containers.run(image.id, ["op-node", "--version"], remove=True)
    assert out.decode().startswith("op-node version v9.8.7-" + "1" * 40)


def test_compose_config_reads_interpolated_values(engine, fixture_project):
    project = fixture_project()
    config = _docker.compose_config(Context(), env={"NETHERMIND_VERSION": "1.99.0"})
    execution = config["services"]["base-execution"]
    assert execution["build"]["args"]["NETHERMIND_VERSION"] == "1.99.0"
    assert execution["image"] == project.image("base-execution", "1.99.0")


def test_required_runtime_settings_get_placeholders_only_when_unset(monkeypatch, tmp_path):
    compose = tmp_path / "compose.yml"
    compose.write_text("x: ${NETWORK:?set it}\ny: ${L1_RPC_URL?set}\nz: ${L1_BEACON_URL:?b}\n"
                       "w: ${OPTIONAL:-x}\n")
    (tmp_path / ".env").write_text("# comment\nL1_BEACON_URL=http://beacon\nL1_RPC_URL=\n")
    monkeypatch.setenv("COMPOSE_FILE", str(compose))
    monkeypatch.setenv("NETWORK", "op-sepolia")
    monkeypatch.delenv("L1_RPC_URL", raising=False)
    monkeypatch.delenv("L1_BEACON_URL", raising=False)
    assert _docker.build_time_placeholders() == {"L1_RPC_URL": _docker.UNSET_PLACEHOLDER}


def test_project_compose_config_needs_no_env_file_for_build_work(engine, monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    for name in ("NETWORK", "L1_RPC_URL", "L1_BEACON_URL", "OP_NODE_VERSION"):
        monkeypatch.delenv(name, raising=False)
    if (ROOT / ".env").exists():
        pytest.skip("a local .env decides these values")
    config = _docker.compose_config(Context())
    args = config["services"]["base-op-node"]["build"]["args"]
    assert args["OP_NODE_VERSION"].startswith("v")
    assert config["services"]["base-op-node"]["image"] == f"base-op-node:{args['OP_NODE_VERSION']}"
    # ...while plain `docker compose up` still refuses without the real settings
    done = subprocess.run(["docker", "compose", "--project-directory", str(ROOT), "config"],
                          capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode != 0 and "NETWORK" in done.stderr
