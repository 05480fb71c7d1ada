"""Several hosts, with real parts on 127.0.0.1: an engine reached over SSH through the
system ssh client (sshd started by the test, a test-local ssh config), a silent engine
that must not hang the kit, and docker contexts."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from invoke import Context

from tasks import _components, _connect, _engine, _errors
from tests.helpers import TEST_LABEL, assert_one_line_error, inv, inv_process


# ------------------------------------------------------------------ pure: addresses
@pytest.mark.parametrize("url, user, host, port, argv", [
    ("ssh://build-box", None, "build-box", None, ["ssh", "--", "build-box"]),
    ("ssh://ops@build-box", "ops", "build-box", None, ["ssh", "-l", "ops", "--", "build-box"]),
    ("ssh://ops@10.0.0.7:2222", "ops", "10.0.0.7", 2222,
     ["ssh", "-l", "ops", "-p", "2222", "--", "10.0.0.7"]),
])
def test_an_ssh_address_passes_only_what_it_gives(url, user, host, port, argv):
    target = _connect.SshTarget.parse(url)
    assert (target.user, target.host, target.port) == (user, host, port)
    assert target.argv() == argv
    assert target.url == url


@pytest.mark.parametrize("url", ["ssh://", "ssh://host/path", "ssh://host:notaport"])
def test_a_malformed_ssh_address_is_one_line(url):
    with pytest.raises(_errors.KitError, match="ssh"):
        _connect.SshTarget.parse(url)


@pytest.mark.parametrize("env, transport, source", [
    ({"DOCKER_HOST": "unix:///var/run/docker.sock"}, "unix socket", "DOCKER_HOST"),
    ({"DOCKER_HOST": "ssh://ops@build-box"}, "ssh via the system ssh client", "DOCKER_HOST"),
    ({"DOCKER_HOST": "tcp://build-box:2376", "DOCKER_TLS_VERIFY": "1"}, "tcp+TLS",
     "DOCKER_HOST"),
    ({"DOCKER_HOST": "tcp://build-box:2375"}, "tcp without TLS", "DOCKER_HOST"),
    ({}, "unix socket", "default context"),
])
def test_the_endpoint_says_how_the_engine_is_reached(monkeypatch, tmp_path, env, transport,
                                                     source):
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_TLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    point = _connect.endpoint()
    assert point.transport == transport
    assert point.describe().endswith(f"({transport}; {source})")


def test_a_tls_context_keeps_its_tls(monkeypatch, tmp_path):
    """A tcp context with certificates: the SDK client gets its TLS config (a real TLS
    engine is not available here; the address is never contacted)."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=opkit-test",
                    "-days", "1", "-keyout", str(certs / "key.pem"), "-out",
                    str(certs / "cert.pem")], check=True, capture_output=True)
    (certs / "ca.pem").write_text((certs / "cert.pem").read_text())
    subprocess.run(["docker", "context", "create", "opkit-tls", "--docker",
                    f"host=tcp://203.0.113.9:2376,ca={certs}/ca.pem,cert={certs}/cert.pem,"
                    f"key={certs}/key.pem"], check=True, capture_output=True,
                   env={"DOCKER_CONFIG": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"})
    monkeypatch.setenv("DOCKER_CONTEXT", "opkit-tls")
    point = _connect.endpoint()
    assert point.host == "tcp://203.0.113.9:2376"
    assert point.transport == "tcp+TLS"
    assert point.tls.cert[0].startswith(str(tmp_path / "contexts" / "tls"))
    assert point.tls.verify
    assert point.describe() == "tcp://203.0.113.9:2376 (tcp+TLS; context opkit-tls)"


def _doctor_line(done, name: str) -> tuple[str, str]:
    """doctor's line for check NAME and its fix line ("" when it has none)."""
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[1:2] == [name])
    fix = lines[at + 1].strip() if at + 1 < len(lines) and \
        lines[at + 1].strip().startswith("fix:") else ""
    return lines[at], fix


def test_a_missing_docker_context_is_named_with_its_fix(monkeypatch):
    """83371fe answered DOCKER_CONTEXT=<no such context> with "start the daemon": no
    daemon was ever tried. One line names the context and the fix, in doctor and in any
    task that needs the engine. (DOCKER_HOST, set when the suite runs against an engine
    on its own socket, would win over any context, as it does for the docker CLI.)"""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    env = {"DOCKER_CONTEXT": "opkit-no-such-context"}  # the CLI config stays (compose)
    done = inv_process("doctor", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    line, fix = _doctor_line(done, "engine")
    assert line.startswith("fail") and "DOCKER_CONTEXT=opkit-no-such-context" in line
    assert "docker context ls" in fix and "unset it" in fix
    assert "daemon" not in fix
    audit = inv_process("audit.sizes", env=env)
    error = assert_one_line_error(audit)
    assert "DOCKER_CONTEXT=opkit-no-such-context" in error and "docker context ls" in error


def test_a_missing_current_context_says_how_to_pick_another(monkeypatch, tmp_path):
    """The CLI's own current context (config.json) names one that is gone."""
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "gone-box"}))
    with pytest.raises(_connect.ContextMissing) as info:
        _connect.engine_client(connect=2)
    assert "'gone-box'" in info.value.reason and "currentContext" in info.value.reason
    assert info.value.fix.startswith("`docker context ls` lists the contexts")
    assert "docker context use default" in info.value.fix
    from tasks._check import EngineProbe
    from tasks._doctor import check_engine

    check = check_engine(EngineProbe.take(Context(), timeout=5), None)
    assert check.status == "fail" and "gone-box" in check.detail
    assert check.fix == info.value.fix


def test_the_connect_timeout_comes_from_the_invoke_config():
    from tests.helpers import kit_context

    c = kit_context()
    assert _connect.connect_timeout(c) == _connect.DEFAULT_CONNECT_TIMEOUT == 10
    c.config.engine.connect_timeout = "2.5"
    assert _connect.connect_timeout(c) == 2.5
    c.config.engine.connect_timeout = "soon"
    with pytest.raises(_errors.KitError, match="engine.connect_timeout"):
        _connect.connect_timeout(c)


# ------------------------------------------------------------------ a silent engine
def test_a_silent_tcp_engine_fails_within_the_connect_timeout(monkeypatch, silent_server):
    monkeypatch.setenv("DOCKER_HOST", silent_server.url)
    started = time.monotonic()
    with pytest.raises(_errors.EngineUnavailable) as info:
        _connect.engine_client(connect=1)
    assert time.monotonic() - started < 5
    assert info.value.message.startswith(
        f"error: the Docker engine at DOCKER_HOST={silent_server.url} accepted the "
        "connection but did not answer within 1 s")
    assert "\n" not in info.value.message


def test_a_silent_engine_through_inv_is_one_line_within_the_configured_timeout(
        silent_server):
    """The real `inv`, its own process: INVOKE_ENGINE_CONNECT_TIMEOUT sets the wait."""
    started = time.monotonic()
    done = inv_process("audit.sizes", env={"DOCKER_HOST": silent_server.url,
                                           "INVOKE_ENGINE_CONNECT_TIMEOUT": "2"})
    took = time.monotonic() - started
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: the Docker engine at DOCKER_HOST={silent_server.url}"
                                  " accepted the connection but did not answer within 2 s")
    assert done.stderr.count("\n") == 1
    assert took < 10, took


def test_a_silent_unix_socket_fails_within_the_connect_timeout(monkeypatch, tmp_path):
    """The standard-library client of the local socket has the same short first contact."""
    import socket

    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    try:
        client = _connect.build_client(connect=1)
        assert isinstance(client, _connect.SocketClient)
        started = time.monotonic()
        with pytest.raises(_errors.EngineUnavailable, match="did not answer within 1 s"):
            _engine.require_buildkit(client)
        assert time.monotonic() - started < 5
    finally:
        server.close()


# ------------------------------------------------------------------ an engine over ssh
def _enter(monkeypatch, env: dict[str, str]) -> None:
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_an_ssh_engine_is_reached_through_the_system_client(engine, ssh_server, monkeypatch):
    _enter(monkeypatch, ssh_server.env())
    client = _connect.engine_client(connect=10)
    try:
        assert client.version()["ApiVersion"] == engine.version()["ApiVersion"]
        assert _connect.endpoint().describe() == (
            f"{ssh_server.url} (ssh via the system ssh client; DOCKER_HOST)")
    finally:
        client.close()


def test_an_ssh_alias_keeps_the_port_its_config_gives(engine, ssh_server, monkeypatch):
    """`ssh://ALIAS`: the SDK would add :22; the kit asks ssh which port the alias has."""
    _enter(monkeypatch, ssh_server.env(f"ssh://{ssh_server.ALIAS}"))
    target = _connect.SshTarget.parse(f"ssh://{ssh_server.ALIAS}")
    assert target.argv() == ["ssh", "--", ssh_server.ALIAS]
    assert target.effective_port() == ssh_server.port != 22
    client = _connect.engine_client(connect=10)
    try:
        assert client.ping()
    finally:
        client.close()


@pytest.mark.parametrize("address, reason", [
    ("ssh://nobody@127.0.0.1:{port}", "Permission denied"),
    ("ssh://root@127.0.0.1:{closed}", "Connection refused"),
])
def test_an_ssh_engine_that_refuses_is_one_line(ssh_server, monkeypatch, address, reason):
    from tests.hosts import closed_port

    url = address.format(port=ssh_server.port, closed=closed_port())
    _enter(monkeypatch, ssh_server.env(url))
    with pytest.raises(_errors.EngineUnavailable) as info:
        _connect.engine_client(connect=5)
    assert info.value.message.startswith(f"error: cannot reach the Docker engine at "
                                         f"DOCKER_HOST={url} (ssh: ")
    assert reason in info.value.message and "\n" not in info.value.message


def test_an_ssh_context_is_reached_too(engine, ssh_server, monkeypatch, tmp_path):
    env = ssh_server.env()
    _enter(monkeypatch, {"PATH": env["PATH"], "DOCKER_CONFIG": str(tmp_path)})
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    subprocess.run(["docker", "context", "create", "opkit-ssh", "--docker",
                    f"host=ssh://{ssh_server.ALIAS}"], check=True, capture_output=True)
    monkeypatch.setenv("DOCKER_CONTEXT", "opkit-ssh")
    assert _connect.local_socket() is None
    client = _connect.engine_client(connect=10)
    try:
        assert client.ping()
        assert _connect.endpoint().describe() == (
            f"ssh://{ssh_server.ALIAS} (ssh via the system ssh client; context opkit-ssh)")
    finally:
        client.close()


def test_audit_sizes_runs_over_ssh(engine, module_project, ssh_server, monkeypatch):
    project = module_project().build()
    project.enter(monkeypatch)
    ran = inv("audit.sizes", "--json", env=ssh_server.env())
    assert ran.returncode == 0, ran.stderr
    import json

    rows = {row["service"]: row for row in json.loads(ran.stdout)}
    for service in rows:
        assert rows[service]["image"] == project.image(service)
        assert rows[service]["size_bytes"] > 0


def test_a_fixture_stack_builds_over_ssh(engine, fixture_project, ssh_server):
    """`inv build` with DOCKER_HOST=ssh://...: the kit pings through ssh, compose builds
    through the docker CLI's own ssh helper, and the images are on the engine there."""
    project = fixture_project()
    ran = inv("build", "--progress", "quiet", env=ssh_server.env())
    assert ran.returncode == 0, ran.stderr
    assert "built:" in ran.stdout
    for entry in _components.all_components():
        assert engine.images.get(project.image(entry.service)).labels.get(TEST_LABEL) == "1"
        assert project.image(entry.service) in ran.stdout


def test_doctor_over_ssh_says_how_it_reaches_the_engine(engine, module_project, ssh_server):
    project = module_project().build()
    with pytest.MonkeyPatch.context() as patch:
        project.enter(patch)
        ran = inv("doctor", env=ssh_server.env(f"ssh://{ssh_server.ALIAS}"))
    lines = {line.split()[1]: line for line in ran.stdout.splitlines()
             if line[:4] in ("ok  ", "warn", "fail", "skip")}
    assert lines["engine"].startswith("ok")
    assert lines["engine"].endswith(f"at ssh://{ssh_server.ALIAS} (ssh via the system ssh "
                                    "client; DOCKER_HOST)")
    # the images were found and their binaries run, over ssh
    assert all(line.startswith("ok") for name, line in lines.items()
               if name == "image"), ran.stdout
    assert "disk" in lines and "remote engine" in lines["disk"]


# ------------------------------------------------------------------ doctor's registry, cache
def _probe_config(registry: str = "", inline: bool = True) -> dict:
    prefix = f"{registry}/" if registry else ""
    services = {}
    for entry in _components.all_components():
        build = {"context": ".", "args": {"BUILDKIT_INLINE_CACHE": "1"} if inline else {},
                 "cache_from": [f"{prefix}{entry.service}:latest" if prefix else ""]}
        services[entry.service] = {"build": build, "image": f"{prefix}{entry.service}:v1"}
    return {"name": "demo", "services": services}


def test_doctor_says_where_images_go_and_whether_docker_has_a_login(monkeypatch, tmp_path):
    from tasks._check import EngineProbe
    from tasks._doctor import check_registry

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("COMPOSE_FILE", str(tmp_path / "compose.yml"))
    c = Context()
    empty = check_registry(EngineProbe(config=_probe_config()), c)
    assert empty.status == "ok" and "IMAGE_REGISTRY is empty" in empty.detail
    nologin = check_registry(EngineProbe(config=_probe_config("r.example.com/ops")), c)
    assert nologin.status == "warn"
    assert nologin.fix.startswith("`docker login r.example.com`")
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {"r.example.com": {"auth": "c2VjcmV0OnNlY3JldA=="}}}))
    (tmp_path / "compose.release.yml").write_text(
        "services:\n  base-op-node:\n    image: r.example.com/ops/base-op-node@sha256:"
        + "a" * 64 + "\n")
    login = check_registry(EngineProbe(config=_probe_config("r.example.com/ops")), c)
    assert login.status == "ok"
    assert login.detail == ("IMAGE_REGISTRY=r.example.com/ops: login for r.example.com in "
                            "docker's store (auths); compose.release.yml pins 1 image digest(s)")
    assert "c2VjcmV0" not in login.detail + login.fix


@pytest.mark.parametrize("ref, target", [
    ("base-op-node:v1", None),
    ("acme/base-op-node:v1", ("docker.io", "docker.io/acme")),
    ("docker.io/acme/base-op-node:v1", ("docker.io", "docker.io/acme")),
    ("index.docker.io/acme/base-op-node:v1", ("docker.io", "docker.io/acme")),
    ("r.example.com/ops/base-op-node:v1", ("r.example.com", "r.example.com/ops")),
    ("127.0.0.1:5000/base-op-node:v1", ("127.0.0.1:5000", "127.0.0.1:5000")),
])
def test_one_parser_says_where_a_push_goes(ref, target):
    """A name without a registry host is a Docker Hub namespace (docker's own reading);
    only a bare name stays on the host, and that is what `--push` refuses."""
    from tasks import _release

    assert _release.push_target(ref) == target
    if target is None:
        with pytest.raises(_errors.KitError, match="names no registry"):
            _release.require_registry([ref])
    else:
        _release.require_registry([ref])


@pytest.mark.parametrize("registry", ["acme", "docker.io/acme"])
def test_doctor_treats_a_docker_hub_namespace_as_docker_hub(monkeypatch, tmp_path, registry):
    """83371fe called IMAGE_REGISTRY=acme "empty" (images stay on the host) and checked
    no login, while `--push` went to docker.io/acme. The docker CLI keys Docker Hub's
    login by https://index.docker.io/v1/ (auths, or credHelpers/credsStore)."""
    from tasks._check import EngineProbe
    from tasks._doctor import check_cache, check_registry

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("COMPOSE_FILE", str(tmp_path / "compose.yml"))
    c = Context()
    config = _probe_config(registry)
    nologin = check_registry(EngineProbe(config=config), c)
    assert nologin.status == "warn", nologin
    assert "empty" not in nologin.detail and "pushes go to docker.io/acme" in nologin.detail
    assert "no login for docker.io" in nologin.detail
    assert nologin.fix.startswith("`docker login` on every host")
    secret = "c2VjcmV0OnNlY3JldA=="
    for store, said in (
            ({"auths": {"https://index.docker.io/v1/": {"auth": secret}}}, "(auths)"),
            ({"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "pass"},
             "(credsStore pass)"),
            ({"credHelpers": {"index.docker.io": "ecr-login"}}, "(credHelper ecr-login)")):
        (tmp_path / "config.json").write_text(json.dumps(store))
        login = check_registry(EngineProbe(config=config), c)
        assert login.status == "ok" and said in login.detail, login
        assert "docker.io/acme" in login.detail and secret not in login.detail + login.fix
    from invoke import MockContext, Result

    mock = MockContext(run={"docker buildx version": Result(exited=1)}, repeat=True)
    assert check_cache(EngineProbe(config=config), mock).detail.startswith("inline: ")


def test_doctor_says_which_cache_mode_this_host_has(monkeypatch):
    from invoke import MockContext, Result

    from tasks._check import EngineProbe
    from tasks._doctor import check_cache

    c = MockContext(run={"docker buildx version": Result(exited=1)}, repeat=True)
    local = check_cache(EngineProbe(config=_probe_config()), c)
    assert local.status == "ok" and local.detail.startswith("local only")
    assert "no buildx here" in local.detail
    shared = check_cache(EngineProbe(config=_probe_config("r.example.com/ops")), c)
    assert shared.status == "ok" and shared.detail.startswith("inline: ")
    assert "r.example.com/ops/base-op-node:latest" in shared.detail
    missing = check_cache(EngineProbe(config=_probe_config("r.io", inline=False)), c)
    assert missing.status == "warn" and "BUILDKIT_INLINE_CACHE" in missing.fix
    c = MockContext(run={"docker buildx version": Result("github.com/docker/buildx v0.19.3\n")},
                    repeat=True)
    assert "type=registry" in check_cache(EngineProbe(config=_probe_config("r.io")), c).detail


@pytest.mark.parametrize("engine_api, sdk, spoken", [
    ("1.41", "1.45", "1.41"), ("1.47", "1.45", "1.45"), (None, "1.45", "1.45"),
    ("1.9", "1.45", "1.9"),
])
def test_over_ssh_the_sdk_speaks_the_engines_api_capped_at_its_own(engine_api, sdk, spoken):
    assert _connect._api_version(engine_api, sdk) == spoken


def test_an_ssh_server_that_never_answers_fails_within_the_connect_timeout(
        silent_server, ssh_server, monkeypatch):
    """ssh to a port that accepts and says nothing (no ssh banner): the first contact
    gives up after engine.connect_timeout, with one line."""
    url = f"ssh://root@127.0.0.1:{silent_server.port}"
    _enter(monkeypatch, ssh_server.env(url))
    started = time.monotonic()
    with pytest.raises(_errors.EngineUnavailable) as info:
        _connect.engine_client(connect=2)
    assert time.monotonic() - started < 6
    assert info.value.message.startswith("error: ")
    assert f"DOCKER_HOST={url}" in info.value.message and "\n" not in info.value.message
