"""The Docker modules (_compose, _engine): compose command lines, errors named after
what happened, one rule for each decision, and a real BuildKit build."""

import os
import re
import subprocess
import sys

import pytest
from invoke import Context, MockContext, Result

from tasks import _check, _compose, _config, _connect, _doctor, _engine, _errors, _pins
from tasks._errors import KitError
from tests.helpers import ROOT, TEST_LABEL, inv_process, tiny_image_tar


def test_compose_argv_uses_checkout_unless_compose_file_set(monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    assert _compose.compose_argv("build") == [
        "docker", "compose", "--project-directory", str(ROOT), "build"]
    monkeypatch.setenv("COMPOSE_FILE", "/srv/mine.yml")
    argv = _compose.compose_argv("build", "base-op-node")
    assert argv == ["docker", "compose", "build", "base-op-node"]
    assert "-f" not in argv


def test_compose_env_turns_buildkit_on_and_carries_versions(monkeypatch):
    monkeypatch.setenv("COMPOSE_FILE", str(ROOT / "tests" / "no-such-compose.yml"))
    env = _compose.compose_env({"OP_NODE_VERSION": "v1.2.3"})
    assert env == {"DOCKER_BUILDKIT": "1", "COMPOSE_DOCKER_CLI_BUILD": "1",
                   "OP_NODE_VERSION": "v1.2.3"}


def test_run_compose_failure_keeps_exit_code(monkeypatch):
    monkeypatch.setenv("COMPOSE_FILE", "x.yml")
    c = MockContext(run={"docker compose build": Result(exited=17, stderr="boom\nlast line"),
                         "docker compose version --short": Result("2.40.3\n")})
    with pytest.raises(_errors.ComposeFailed) as info:
        _compose.run_compose(c, "build")
    assert info.value.code == 17
    assert info.value.message == "error: `docker compose build` failed: last line"


def test_failure_message_hides_the_kits_project_directory(monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    c = MockContext(run={re.compile(r"docker compose --project-directory \S+ build x"):
                         Result(exited=1, stderr="no such service: x"),
                         "docker compose version --short": Result("2.40.3\n")})
    with pytest.raises(_errors.ComposeFailed) as info:
        _compose.run_compose(c, "build", "x")
    assert info.value.message == "error: `docker compose build x` failed: no such service: x"


def test_a_failed_compose_command_says_when_compose_itself_is_missing(monkeypatch):
    """A CLI without the plugin fails `docker compose config --format json` with whatever
    its version says (`unknown flag: --format`); the kit then asks compose for its
    version and names the missing plugin instead."""
    monkeypatch.setenv("COMPOSE_FILE", "x.yml")
    c = MockContext(run={
        "docker compose config --format json": Result(exited=125, stderr="unknown flag: "
                                                      "--format\nSee 'docker --help'."),
        "docker compose version --short": Result(exited=125, stderr="unknown flag: --short")})
    with pytest.raises(_errors.ComposeUnavailable, match="docker compose v2 is missing"):
        _compose.compose_config(c)


def test_missing_compose_names_the_fix():
    c = MockContext(run={"docker compose version --short": Result(exited=1, stdout="")})
    with pytest.raises(_errors.ComposeUnavailable, match="compose plugin"):
        _compose.require_compose(c)


def test_dead_daemon_is_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    with pytest.raises(_errors.EngineUnavailable) as info:
        _connect.engine_client(timeout=5)
    assert "missing.sock" in info.value.message
    assert "\n" not in info.value.message


def test_unknown_context_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONTEXT", "no-such-context")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with pytest.raises(KitError, match="no-such-context"):
        _connect.engine_client(timeout=5)


def test_dead_daemon_through_inv_has_no_traceback(tmp_path):
    """The real `inv`, in its own process: every engine task ends in one line, not a
    traceback (clean.cache talks to the engine first thing)."""
    done = inv_process("clean.cache", "--dry-run",
                       env={"DOCKER_HOST": f"unix://{tmp_path}/missing.sock"})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: cannot reach the Docker engine at "
                                  f"DOCKER_HOST=unix://{tmp_path}/missing.sock")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_builds_fixture_service_with_buildkit_and_inspects_it(engine, fixture_project):
    project = fixture_project()
    _compose.require_compose(Context())
    _compose.run_compose(Context(), "build", "base-op-node", env={"OP_NODE_VERSION": "v9.8.7"},
                        hide=True)
    image = engine.images.get(project.image("base-op-node", "v9.8.7"))
    assert image.labels["org.opencontainers.image.version"] == "v9.8.7"
    out = engine.containers.run(image.id, ["op-node", "--version"], remove=True)
    assert out.decode().startswith("op-node version v9.8.7-" + "1" * 40)


def test_compose_config_reads_interpolated_values(engine, fixture_project):
    project = fixture_project()
    config = _compose.compose_config(Context(), env={"NETHERMIND_VERSION": "1.99.0"})
    execution = config["services"]["base-execution"]
    assert execution["build"]["args"]["NETHERMIND_VERSION"] == "1.99.0"
    assert execution["image"] == project.image("base-execution", "1.99.0")


def test_project_compose_config_needs_no_env_file_and_no_placeholders(engine, monkeypatch):
    """compose.yml spells the required settings ${X:-} (the entry points refuse a missing
    one), so compose itself resolves the project without .env, for the kit's build work
    and for an operator's `docker compose config`/`down` alike: the kit no longer slips
    placeholders in for them."""
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    for name in ("NETWORK", "L1_RPC_URL", "L1_BEACON_URL", "OP_NODE_VERSION"):
        monkeypatch.delenv(name, raising=False)
    if (ROOT / ".env").exists():
        pytest.skip("a local .env decides these values")
    assert _compose.compose_env() == _compose.BUILDKIT_ENV
    config = _compose.compose_config(Context())
    args = config["services"]["base-op-node"]["build"]["args"]
    assert args["OP_NODE_VERSION"].startswith("v")
    assert config["services"]["base-op-node"]["image"] == f"base-op-node:{args['OP_NODE_VERSION']}"
    assert config["services"]["base-op-node"]["environment"]["OP_NODE_NETWORK"] == ""
    done = subprocess.run(["docker", "compose", "--project-directory", str(ROOT), "config",
                           "--quiet"], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


# ------------------------------------------------------------------ one rule each
def test_pins_live_in_the_first_compose_file_in_force(monkeypatch, tmp_path):

    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    assert _compose.compose_files() == [str(ROOT / "compose.yml")]
    assert _pins.compose_path() == ROOT / "compose.yml"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMPOSE_FILE", " stack/compose.yml :override.yml")
    monkeypatch.setenv("COMPOSE_PATH_SEPARATOR", ":")
    assert _compose.compose_files() == [str(tmp_path / "stack" / "compose.yml"),
                                        str(tmp_path / "override.yml")]
    assert _pins.compose_path() == tmp_path / "stack" / "compose.yml"


def test_one_rule_names_a_services_image_for_audit_and_clean():

    config = {"name": "demo", "services": {
        "built": {"build": {"context": "."}},
        "tagged": {"build": {"context": "."}, "image": "docker.io/library/mine:2"},
        "pulled": {"image": "busybox"}}}
    assert _config.built_services(config) == ["built", "tagged"]
    assert _config.service_image(config, "built") == "demo-built:latest"
    assert _config.service_image(config, "tagged") == "mine:2"
    assert _config.service_images(config) == {"built": "demo-built:latest", "tagged": "mine:2"}


@pytest.mark.parametrize("version, problem", [
    ({"Version": "20.10.24", "ApiVersion": "1.41", "Os": "linux"}, None),
    ({"Version": "28.5.2", "ApiVersion": "1.51", "Os": "linux"}, None),
    ({"Version": "18.06.3", "ApiVersion": "1.38", "Os": "linux"}, "older than Docker Engine 20.10"),
    # 18.09 and 19.03 have BuildKit, but not the frontend these Dockerfiles need
    ({"Version": "18.09.9", "ApiVersion": "1.39", "Os": "linux"}, "older than Docker Engine 20.10"),
    ({"Version": "19.03.15", "ApiVersion": "1.40", "Os": "linux"},
     "older than Docker Engine 20.10"),
    ({"Version": "20.10.24", "ApiVersion": "1.41", "Os": "windows"}, "windows containers"),
])
def test_one_buildkit_floor_for_the_build_and_doctor(version, problem):
    """The floor is 20.10 (API 1.41): its built-in Dockerfile frontend is the oldest with
    `RUN --mount=type=cache` and `COPY --chmod` (docs.docker.com, Dockerfile frontend
    release notes: dockerfile 1.2, built into engine 20.10)."""

    class Client:
        def version(self):
            return version

    check = _doctor.check_buildkit(_check.EngineProbe(version=version), None)
    if problem is None:
        assert _engine.buildkit_missing(version) is None and check.status == "ok"
        assert _engine.require_buildkit(Client()) == version["Version"]
        return
    assert problem in _engine.buildkit_missing(version)[0]
    assert check.status == "fail" and problem in check.detail
    with pytest.raises(KitError, match=problem) as refused:
        _engine.require_buildkit(Client())
    assert "\n" not in str(refused.value)
    if version["Os"] == "linux":
        assert "upgrade to Docker Engine 20.10 or newer" in str(refused.value)


# ------------------------------------------------------------------ engine errors
class _Response:
    status_code = 409
    reason = "Conflict"
    url = "http+docker://localhost/v1.41/images/x"


@pytest.mark.parametrize("explanation, error", [
    ('conflict: unable to remove repository reference "x:1" (must force) - container '
     "0123abcd is using its referenced image 4567ef01", _errors.ImageInUse),
    ("conflict: unable to delete 4567ef01 (cannot be forced) - image is being used by "
     "running container 0123abcd", _errors.ImageInUse),
    ("conflict: unable to delete 4567ef01 (cannot be forced) - image has dependent child "
     "images", _errors.EngineConflict),
])
def test_a_409_is_a_conflict_and_in_use_only_when_the_engine_says_so(explanation, error):
    from docker.errors import APIError

    def refuse():
        raise APIError("409 Client Error", response=_Response(), explanation=explanation)

    with pytest.raises(_errors.EngineConflict) as info:
        _connect.engine_call("removing x:1", refuse)
    assert type(info.value) is error
    assert info.value.message == f"error: removing x:1: {explanation}"


def _tiny_image(engine, repository: str, tags: list[str]) -> str:
    """A one-file image of its own (unique content, so its own ID) under TAGS."""
    import uuid

    engine.api.import_image_from_data(tiny_image_tar(uuid.uuid4().hex.encode()),
                                      repository=repository, tag=tags[0],
                                      changes=[f'LABEL "{TEST_LABEL}"="1"'])
    image = engine.images.get(f"{repository}:{tags[0]}")
    for tag in tags[1:]:
        image.tag(repository, tag)
    return image.id


def test_removing_images_names_what_the_engine_refused(engine):
    import uuid

    repository = f"opkit-test-{uuid.uuid4().hex[:10]}-conflict"
    used = _tiny_image(engine, repository, ["used"])
    twice = _tiny_image(engine, repository, ["a", "b"])
    container = engine.api.create_container(f"{repository}:used", command=["/none"])
    try:
        with pytest.raises(_errors.ImageInUse, match="is using its referenced image"):
            _engine.remove_image(engine, f"{repository}:used")
        with pytest.raises(_errors.EngineConflict) as info:  # by ID, while it has two tags
            _engine.remove_image(engine, twice)
        assert not isinstance(info.value, _errors.ImageInUse)
        assert "referenced in multiple repositories" in info.value.message
    finally:
        engine.api.remove_container(container["Id"], force=True)
        for image in (used, twice):
            engine.images.remove(image, force=True)


# ------------------------------------------------------------------ the build's client
def test_the_local_socket_is_used_only_where_the_engine_is(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert _connect.local_socket() == "/var/run/docker.sock"
    (tmp_path / "config.json").write_text('{"currentContext": "remote"}')
    assert _connect.local_socket() is None  # a context: the SDK's client
    (tmp_path / "config.json").write_text("{broken")
    assert _connect.local_socket() == "/var/run/docker.sock"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert _connect.local_socket() == "/var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert _connect.local_socket() == "/run/user/1000/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "ssh://node@example.invalid")
    assert _connect.local_socket() is None


def test_socket_client_answers_as_the_sdk_does(engine, base_image):
    socket_client = _connect.SocketClient(_connect.local_socket() or "/var/run/docker.sock")
    version = _engine.engine_version(socket_client)
    assert version["ApiVersion"] == engine.version()["ApiVersion"]
    found = _engine.inspect_images(socket_client, [base_image, "opkit-test/absent:none"])
    assert found == _engine.inspect_images(engine, [base_image, "opkit-test/absent:none"])
    assert [image["Id"] for image in found] == [engine.images.get(base_image).id]
    with pytest.raises(_errors.EngineError, match="^error: asking: "):  # the engine's 404
        socket_client._get("/no-such-endpoint", "asking")


def test_socket_client_on_a_dead_socket_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    client = _connect.build_client()
    assert isinstance(client, _connect.SocketClient)
    with pytest.raises(_errors.EngineUnavailable) as info:
        _engine.require_buildkit(client)
    assert info.value.message.startswith(
        f"error: cannot reach the Docker engine at DOCKER_HOST=unix://{tmp_path}/missing.sock")
    assert "\n" not in info.value.message


def test_a_build_on_the_local_socket_imports_no_sdk(engine, fixture_project):
    """A no-op build is mostly start-up: it must not pay for the SDK and `requests`."""
    fixture_project()
    probe = (
        "import sys; sys.argv = ['inv', 'build.execution', '--progress', 'quiet'];"
        "from invoke.main import program\n"
        "try: program.run()\n"
        "except SystemExit as exc: assert not exc.code, exc\n"
        "print([m for m in ('docker', 'requests', 'urllib3') if m in sys.modules],"
        " file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
