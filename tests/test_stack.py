"""The stack as compose.yml runs it, on the engine, with small stand-ins for the two
images: the real entry points and jwt-init on the local busybox base, with fakes for
the clients (they print their arguments, the settings they read and the config files
they were given) and for a slow snapshot restore. For the restore itself, a third
image carries the real snapshot-restore and the host's aria2c, curl, zstd, GNU tar and
flock (with the libraries they load), and a Range-honouring, throttled HTTP server on
a test network's gateway serves the snapshot.

`docker compose up` runs the real compose.yml plus an override that swaps the images,
shortens the health check, drops the published ports and labels everything; the
project is removed with `docker compose down -v` afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import BASE_IMAGE, ROOT, TEST_LABEL, need, need_compose

EXECUTION = ROOT / "docker" / "execution"
OP_NODE = ROOT / "docker" / "op-node"
STACK_VARS_PREFIXES = ("COMPOSE_", "DOCKER_DEFAULT_PLATFORM")

# A client that prints how it was started (arguments, the settings it reads, the config
# files it was given), then is up at once and stops on SIGTERM (it runs as PID 1);
# STANDIN_ONESHOT=1 makes it exit after printing.
FAKE_CLIENT = """#!/bin/sh
for a in "$@"; do echo "ARG $a"; done
env | grep -E '^(OP_NODE_|NETHERMIND_CONFIG=)' | sort | sed 's/^/ENV /'
if [ -n "${OP_NODE_ROLLUP_CONFIG:-}" ]; then sed 's/^/FILE /' "$OP_NODE_ROLLUP_CONFIG"; fi
prev=
for a in "$@"; do
  if [ "$prev" = --config ] && [ -f "$a" ]; then sed 's/^/FILE /' "$a"; fi
  prev="$a"
done
[ -z "${STANDIN_ONESHOT:-}" ] || exit 0
trap 'exit 0' TERM INT
touch /tmp/ready
while :; do sleep 1; done
"""
# A restore that takes RESTORE_SECONDS, done once per volume like the real one.
SLOW_RESTORE = """#!/bin/sh
[ -n "${SNAPSHOT_URL:-}" ] || exit 0
[ -e /data/.snapshot/RESTORED ] && { echo "stand-in restore: already restored" >&2; exit 0; }
echo "stand-in restore: working for ${RESTORE_SECONDS:-0}s" >&2
sleep "${RESTORE_SECONDS:-0}"
mkdir -p /data/.snapshot /data/nethermind/nethermind_db
date +%s > /data/.snapshot/RESTORED
"""
EXECUTION_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY entrypoint.sh /usr/local/bin/execution-entrypoint
COPY jwt-init.sh /usr/local/bin/jwt-init
COPY snapshot-restore /usr/local/bin/snapshot-restore
COPY client /nethermind/nethermind
RUN mkdir -p /data/nethermind /secrets /tmp && chown -R 10001:10001 /data /secrets && \
    chmod 1777 /tmp
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/execution-entrypoint"]
"""
OP_NODE_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY entrypoint.sh /usr/local/bin/op-node-entrypoint
COPY client /usr/local/bin/op-node
RUN mkdir -p /data /secrets /tmp && chown -R 10001:10001 /data /secrets && chmod 1777 /tmp
USER 10001:10001
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/op-node-entrypoint"]
"""


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _with_lib(dockerfile: str, folder: str, context: Path) -> str:
    """DOCKERFILE (a stand-in's) plus the real image's COPY of the shell library and the
    chain policy (docker/FOLDER/Dockerfile's line, unchanged), with docker/lib put into
    CONTEXT as the real build context holds it."""
    real = (ROOT / "docker" / folder / "Dockerfile").read_text()
    found = re.search(r"^COPY lib/.*$", real, re.MULTILINE)
    assert found, f"docker/{folder}/Dockerfile copies no shell library"
    shutil.copytree(ROOT / "docker" / "lib", context / "lib")
    assert "\nUSER 10001:10001\n" in dockerfile
    return dockerfile.replace("\nUSER 10001:10001\n", f"\n{found.group(0)}\nUSER 10001:10001\n")


@pytest.fixture(scope="module")
def stand_ins(engine, base_image, tmp_path_factory):
    """{"execution": tag, "op-node": tag}: stand-in images with the real entry points."""
    tag = f"opkit-test-stack-{uuid.uuid4().hex[:8]}"
    images = {}
    for name, dockerfile, scripts in (
        ("execution", EXECUTION_DOCKERFILE,
         {"entrypoint.sh": EXECUTION / "entrypoint.sh", "jwt-init.sh": EXECUTION / "jwt-init.sh"}),
        ("op-node", OP_NODE_DOCKERFILE, {"entrypoint.sh": OP_NODE / "entrypoint.sh"}),
    ):
        context = tmp_path_factory.mktemp(f"stand-in-{name}")
        for target, source in scripts.items():
            shutil.copy2(source, context / target)
        _script(context / "client", FAKE_CLIENT)
        _script(context / "snapshot-restore", SLOW_RESTORE)
        (context / "Dockerfile").write_text(_with_lib(dockerfile, name, context))
        images[name] = f"{tag}-{name}:1"
        engine.images.build(path=str(context), tag=images[name], rm=True,
                            buildargs={"BASE_IMAGE": base_image},
                            labels={TEST_LABEL: "1", f"{TEST_LABEL}.session": BASE_IMAGE})
    yield images
    for image in images.values():
        try:
            engine.images.remove(image, force=True)
        except Exception:  # noqa: BLE001 (already gone is fine)
            pass


def _override(images: dict[str, str], health_seconds: int, network: str | None = None,
              execution_health: list[str] | None = None) -> dict:
    """Swap images, keep compose away from builds and registries, shorten the health
    check to a window of about `health_seconds` (base-execution's runs EXECUTION_HEALTH
    when given, e.g. compose.yml's own), publish nothing, label everything; on NETWORK
    (made by the test) when given."""
    labels = {TEST_LABEL: "1"}
    quick = {"test": ["CMD-SHELL", "test -e /tmp/ready"], "interval": "1s", "timeout": "1s",
             "retries": max(health_seconds - 1, 1), "start_period": "1s"}
    execution_quick = {**quick, "test": execution_health or quick["test"]}
    execution_env = {"RESTORE_SECONDS": "${RESTORE_SECONDS:-0}",
                     "SNAPSHOT_MAX_TRIES": "${SNAPSHOT_MAX_TRIES:-0}",
                     "SNAPSHOT_CONNECTIONS": "${SNAPSHOT_CONNECTIONS:-16}"}
    networks = {"default": {"name": network, "external": True} if network else
                {"labels": labels}}
    return {
        "services": {
            "base-execution": {"image": images["execution"], "pull_policy": "never",
                               "healthcheck": execution_quick, "ports": [], "labels": labels,
                               "environment": execution_env, "stop_grace_period": "2s"},
            "base-execution-init": {"image": images["execution"], "labels": labels,
                                    "environment": execution_env},
            "base-op-node": {"image": images["op-node"], "pull_policy": "never",
                             "healthcheck": quick, "ports": [], "labels": labels,
                             "stop_grace_period": "2s"},
        },
        "volumes": {v: {"labels": labels} for v in ("execution-data", "op-reth-data",
                                                   "op-node-data", "jwt", "chain-config")},
        "networks": networks,
    }


def _override_file(tmp_path: Path, images: dict[str, str], health_seconds: int,
                   network: str | None = None, execution_health: list[str] | None = None
                   ) -> Path:
    # `ports: []` would be merged into compose.yml's list; !reset empties it.
    text = json.dumps(_override(images, health_seconds, network, execution_health), indent=2)
    text = text.replace('"ports": []', '"ports": !reset []')
    path = tmp_path / f"override-{uuid.uuid4().hex[:6]}.yml"
    path.write_text(text)  # JSON is YAML; the !reset tag is YAML's
    return path


class Stack:
    def __init__(self, engine, tmp_path: Path, images: dict[str, str], health_seconds: int,
                 network: str | None = None, project: str | None = None,
                 execution_health: list[str] | None = None, **env: str) -> None:
        self.engine = engine
        self.project = project or f"opkit-test-{uuid.uuid4().hex[:10]}"
        override = _override_file(tmp_path, images, health_seconds, network, execution_health)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(STACK_VARS_PREFIXES) and not k.startswith("SNAPSHOT_")}
        self.env = {**base, "COMPOSE_PROJECT_NAME": self.project,
                    "COMPOSE_FILE": f"{ROOT / 'compose.yml'}{os.pathsep}{override}",
                    "NETWORK": "op-sepolia", "L1_RPC_URL": "http://l1.invalid:8545",
                    "L1_BEACON_URL": "http://beacon.invalid:5052", **env}

    def compose(self, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "compose", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def container(self, service: str):
        found = self.engine.containers.list(all=True, filters={"label": [
            f"com.docker.compose.project={self.project}",
            f"com.docker.compose.service={service}"]})
        assert len(found) == 1, (service, found)
        return found[0]

    def down(self) -> None:
        done = self.compose("down", "-v", "--remove-orphans", "--timeout", "2")
        assert done.returncode == 0, done.stderr
        leftovers = self.engine.containers.list(all=True, filters={
            "label": f"com.docker.compose.project={self.project}"})
        assert leftovers == []


def _time(value: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as a Unix timestamp."""
    head, _, frac = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float(f"0.{frac or 0}")


def test_a_slow_restore_no_longer_keeps_op_node_from_starting(engine, stand_ins, tmp_path):
    """The restore takes 8 s, the health check gives base-execution about 3 s. Before,
    the restore ran in base-execution's entry point, so it was marked unhealthy and
    `up` never started op-node. Now base-execution-init restores first: `up` succeeds,
    base-execution starts after it and turns healthy, op-node starts after that."""
    need_compose()
    restore_seconds, health_seconds = 8, 3
    stack = Stack(engine, tmp_path, stand_ins, health_seconds,
                  SNAPSHOT_URL="http://snapshots.invalid/op-sepolia.tar.zst",
                  RESTORE_SECONDS=str(restore_seconds))
    since = int(time.time()) - 1
    try:
        up = stack.compose("up", "-d", "--no-build")
        assert up.returncode == 0, up.stdout + up.stderr
        init = stack.container("base-execution-init").attrs["State"]
        execution = stack.container("base-execution").attrs["State"]
        op_node = stack.container("base-op-node").attrs["State"]
        assert init["Status"] == "exited" and init["ExitCode"] == 0
        restored_at = _time(init["FinishedAt"])
        assert restored_at - _time(init["StartedAt"]) >= restore_seconds > health_seconds
        assert _time(execution["StartedAt"]) >= restored_at
        assert execution["Health"]["Status"] == "healthy"
        assert op_node["Running"] and _time(op_node["StartedAt"]) >= restored_at
        logs = stack.container("base-execution-init").logs().decode()
        assert "stand-in restore: working for 8s" in logs
        assert "already restored" in stack.container("base-execution").logs().decode()

        events = engine.events(since=since, until=int(time.time()) + 1, decode=True,
                               filters={"label": f"com.docker.compose.project={stack.project}",
                                        "type": "container"})
        health = [(e["Actor"]["Attributes"].get("com.docker.compose.service"), e["Action"])
                  for e in events if e.get("Action", "").startswith("health_status")]
        assert ("base-execution", "health_status: healthy") in health, health
        assert not [h for h in health if h[1] == "health_status: unhealthy"], health
    finally:
        stack.down()


def test_the_one_shot_service_is_done_at_once_without_a_snapshot(engine, stand_ins, tmp_path):
    need_compose()
    stack = Stack(engine, tmp_path, stand_ins, 3, RESTORE_SECONDS="30")
    try:
        up = stack.compose("up", "-d", "--no-build")
        assert up.returncode == 0, up.stdout + up.stderr
        init = stack.container("base-execution-init").attrs["State"]
        assert init["ExitCode"] == 0
        assert _time(init["FinishedAt"]) - _time(init["StartedAt"]) < 5
        assert "created a new secret" in stack.container("base-execution-init").logs().decode()
        assert stack.container("base-op-node").attrs["State"]["Running"]
    finally:
        stack.down()


@pytest.mark.parametrize("image", ["execution", "op-node"])
def test_a_root_owned_bind_mount_stops_the_container_with_the_fix(engine, stand_ins, image):
    """A host folder owned by root, bind-mounted at /data (common on Portainer hosts)."""
    host_dir = Path(tempfile.mkdtemp(prefix="opkit-test-bind-"))
    host_dir.chmod(0o755)
    container = None
    try:
        container = engine.containers.create(
            stand_ins[image], labels={TEST_LABEL: "1"},
            environment={"NETWORK": "op-sepolia", "OP_NODE_NETWORK": "op-sepolia"},
            volumes={str(host_dir): {"bind": "/data", "mode": "rw"}})
        container.start()
        result = container.wait(timeout=60)
        logs = container.logs(stdout=True, stderr=True).decode().strip().splitlines()
        assert result["StatusCode"] == 1, logs
        assert len(logs) == 1, logs
        assert logs[0].startswith(f"{image}-entrypoint: ")
        assert "/data is not writable by uid 10001 (gid 10001)" in logs[0]
        assert "chown -R 10001:10001 <the folder mounted at /data>" in logs[0]
        assert list(host_dir.iterdir()) == []
    finally:
        if container is not None:
            container.remove(force=True)
        shutil.rmtree(host_dir, ignore_errors=True)


# ---------------------------------------------- one chain policy in every image (#20)
L1 = {"OP_NODE_L1_ETH_RPC": "http://l1.invalid:8545", "OP_NODE_L1_BEACON": "http://b.invalid"}


@pytest.mark.parametrize("image, env, says", [
    ("execution", {"NETWORK": "Base"}, "Base is not supported: Base moved to its own clients"),
    ("op-reth", {"NETWORK": "BASE_SEPOLIA"}, "BASE_SEPOLIA is not supported: Base moved"),
    ("op-node", {"OP_NODE_NETWORK": "base-mainnet", **L1}, "base-mainnet is not supported"),
    # the stand-in sets no OPKIT_OP_NODE_VERSION: unknown, taken as the newest
    ("op-node", {"OP_NODE_NETWORK": "Lisk-Sepolia", **L1},
     "Lisk-Sepolia is not built into op-node v1.21.0+ (v1.21.0 dropped it"),
])
def test_each_image_refuses_by_the_chain_policy_it_carries(engine, stand_ins, op_reth_image,
                                                          image, env, says):
    """The library and the policy are where the entry point reads them in the image
    (/usr/local/lib/opkit, COPYed by the real Dockerfile's line), byte for byte docker/lib's;
    the entry point refuses Base (any spelling) and a dropped chain in one line, exit 64."""
    tag = op_reth_image if image == "op-reth" else stand_ins[image]
    for name in ("opkit.sh", "chain-policy"):
        carried = engine.containers.run(tag, entrypoint=["cat"],
                                        command=[f"/usr/local/lib/opkit/{name}"],
                                        labels={TEST_LABEL: "1"}, remove=True)
        assert carried == (ROOT / "docker" / "lib" / name).read_bytes(), name
    container = engine.containers.create(tag, environment=env, labels={TEST_LABEL: "1"})
    try:
        container.start()
        result = container.wait(timeout=60)
        logs = container.logs(stdout=True, stderr=True).decode().strip().splitlines()
        assert result["StatusCode"] == 64, logs
        assert len(logs) == 1, logs
        assert logs[0].startswith(f"{image}-entrypoint: {says}"), logs
    finally:
        container.remove(force=True)


# ------------------------------------------------ a chain's own config files (item 3)
@pytest.fixture
def chain_dir():
    """A host folder of chain config files that uid 10001 can read (pytest's tmp_path
    is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="opkit-test-chain-"))
    path.chmod(0o755)
    for name, text in (("rollup.json", '{"l2_chain_id": 1135, "block_time": 2}\n'),
                       ("nethermind.json", '{"Init": {"ChainSpecPath": '
                                           '"/chain-config/chainspec.json"}}\n')):
        (path / name).write_text(text)
        (path / name).chmod(0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _printed(done: subprocess.CompletedProcess, kind: str) -> list[str]:
    return [line[len(kind) + 1:] for line in done.stdout.splitlines()
            if line.startswith(kind + " ")]


def test_a_chain_op_node_dropped_runs_from_its_own_config_files(engine, stand_ins, tmp_path,
                                                                 chain_dir):
    """Item 3, end to end through the real compose.yml: CHAIN_CONFIG_DIR is mounted at
    /chain-config; op-node gets OP_NODE_ROLLUP_CONFIG, can read the file, and runs
    without a network (which would make it ignore the file); Nethermind gets
    --config <the file>. Before, compose passed neither variable nor any folder, and
    Nethermind got --config lisk-mainnet."""
    need_compose()
    stack = Stack(engine, tmp_path, stand_ins, 3, NETWORK="lisk-mainnet",
                  CHAIN_CONFIG_DIR=str(chain_dir),
                  OP_NODE_ROLLUP_CONFIG="/chain-config/rollup.json",
                  NETHERMIND_CONFIG="/chain-config/nethermind.json")
    try:
        init = stack.compose("run", "--rm", "--no-deps", "-T", "base-execution-init")
        assert init.returncode == 0, init.stderr  # the engine-API secret, for op-node
        op_node = stack.compose("run", "--rm", "--no-deps", "-T", "-e", "STANDIN_ONESHOT=1",
                                "base-op-node")
        assert op_node.returncode == 0, op_node.stdout + op_node.stderr
        env = dict(line.split("=", 1) for line in _printed(op_node, "ENV"))
        assert env["OP_NODE_ROLLUP_CONFIG"] == "/chain-config/rollup.json"
        assert "OP_NODE_NETWORK" not in env
        assert env["OP_NODE_L1_ETH_RPC"] == "http://l1.invalid:8545"
        assert _printed(op_node, "FILE") == ['{"l2_chain_id": 1135, "block_time": 2}']
        assert _printed(op_node, "ARG") == []

        execution = stack.compose("run", "--rm", "--no-deps", "-T", "-e",
                                  "STANDIN_ONESHOT=1", "base-execution")
        assert execution.returncode == 0, execution.stdout + execution.stderr
        args = _printed(execution, "ARG")
        assert args[:2] == ["--config", "/chain-config/nethermind.json"]
        assert args.count("--config") == 1
        assert _printed(execution, "FILE") == [
            '{"Init": {"ChainSpecPath": "/chain-config/chainspec.json"}}']
    finally:
        stack.down()
    assert sorted(p.name for p in chain_dir.iterdir()) == ["nethermind.json", "rollup.json"]


def test_a_dropped_chain_without_its_files_is_refused_with_what_to_set(engine, stand_ins,
                                                                        tmp_path):
    need_compose()
    stack = Stack(engine, tmp_path, stand_ins, 3, NETWORK="lisk-mainnet")
    try:
        init = stack.compose("run", "--rm", "--no-deps", "-T", "base-execution-init")
        assert init.returncode == 0, init.stderr
        op_node = stack.compose("run", "--rm", "--no-deps", "-T", "base-op-node")
        assert op_node.returncode == 64
        assert "CHAIN_CONFIG_DIR" in op_node.stderr
        assert "OP_NODE_ROLLUP_CONFIG=/chain-config/rollup.json" in op_node.stderr
        assert _printed(op_node, "ENV") == []
    finally:
        stack.down()


# ------------------------------------------------------- the real restore (item 6)
# dash as /bin/sh, as in the Ubuntu-based production image (and because the static
# busybox's ash runs its own applets, such as a tar without --use-compress-program,
# before anything on PATH)
HOST_TOOLS = ("dash", "aria2c", "curl", "zstd", "tar", "flock")
RESTORE_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY rootfs/ /
COPY entrypoint.sh /usr/local/bin/execution-entrypoint
COPY jwt-init.sh /usr/local/bin/jwt-init
COPY snapshot-restore.sh /usr/local/bin/snapshot-restore
COPY client /nethermind/nethermind
ENV LD_LIBRARY_PATH=/opt/host-lib
RUN ["/usr/local/bin/dash", "-c", "ln -sf /usr/local/bin/dash /bin/sh"]
RUN ln -s zstd /usr/local/bin/unzstd && \\
    aria2c --version >/dev/null && curl --version >/dev/null && tar --version >/dev/null && \\
    mkdir -p /data/nethermind /secrets /tmp && chown -R 10001:10001 /data /secrets && \\
    chmod 1777 /tmp
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/execution-entrypoint"]
"""


def _host_tools(rootfs: Path, tools: tuple[str, ...]) -> None:
    """Copy the host's TOOLS into ROOTFS (/usr/local/bin), their libraries into
    /opt/host-lib and the dynamic loader where the binaries look for it."""
    libs = rootfs / "opt" / "host-lib"
    libs.mkdir(parents=True)
    (rootfs / "usr" / "local" / "bin").mkdir(parents=True)
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            need(f"{tool} is not installed (apt-get install dash aria2 curl zstd tar "
                 "util-linux)")
        shutil.copy2(found, rootfs / "usr" / "local" / "bin" / tool)
        ldd = subprocess.run(["ldd", found], capture_output=True, text=True, check=True)
        for line in ldd.stdout.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > 2 and parts[2].startswith("/"):
                shutil.copy2(parts[2], libs / os.path.basename(parts[2]))
            elif parts and parts[0].startswith("/"):  # the loader, by its own path
                loader = rootfs / parts[0].lstrip("/")
                loader.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(parts[0], loader)
    certs = Path("/etc/ssl/certs/ca-certificates.crt")  # aria2c loads them at start
    if certs.exists():
        (rootfs / "etc" / "ssl" / "certs").mkdir(parents=True)
        shutil.copy2(certs, rootfs / "etc" / "ssl" / "certs" / certs.name)


@pytest.fixture(scope="module")
def restore_image(engine, base_image, tmp_path_factory):
    """The execution stand-in with the real snapshot-restore and the tools it runs,
    under dash."""
    context = tmp_path_factory.mktemp("stand-in-restore")
    _host_tools(context / "rootfs", HOST_TOOLS)
    for name in ("entrypoint.sh", "jwt-init.sh", "snapshot-restore.sh"):
        shutil.copy2(EXECUTION / name, context / name)
    _script(context / "client", FAKE_CLIENT)
    (context / "Dockerfile").write_text(_with_lib(RESTORE_DOCKERFILE, "execution", context))
    tag = f"opkit-test-stack-{uuid.uuid4().hex[:8]}-restore:1"
    engine.images.build(path=str(context), tag=tag, rm=True,
                        buildargs={"BASE_IMAGE": base_image},
                        labels={TEST_LABEL: "1", f"{TEST_LABEL}.session": BASE_IMAGE})
    yield tag
    try:
        engine.images.remove(tag, force=True)
    except Exception:  # noqa: BLE001 (already gone is fine)
        pass


@pytest.fixture
def test_network(engine):
    """A labelled network made by the test: (name, gateway). The snapshot server
    listens on the gateway, where the containers reach the host."""
    name = f"opkit-test-{uuid.uuid4().hex[:10]}-net"
    network = engine.networks.create(name, labels={TEST_LABEL: "1"})
    network.reload()
    yield name, network.attrs["IPAM"]["Config"][0]["Gateway"]
    network.remove()


@pytest.fixture
def snapshot_server(test_network):
    from tests.test_scripts import RangeServer

    server = RangeServer(host=test_network[1])
    yield server
    server.close()


def _publish(server, tmp_path: Path, name: str, size: int) -> dict:
    """A .tar.zst of random database files at /snapshots/NAME, with its .sha256."""
    from tests.test_scripts import pack

    tree = tmp_path / f"tree-{uuid.uuid4().hex[:6]}"
    (tree / "state").mkdir(parents=True)
    (tree / "blocks").mkdir()
    (tree / "state" / "000001.sst").write_bytes(os.urandom(size))
    (tree / "blocks" / "CURRENT").write_text("MANIFEST-000001\n")
    snapshot = pack(tree, tmp_path / f"{uuid.uuid4().hex[:6]}.tar.zst")
    path = f"/snapshots/{name}"
    server.files[path] = snapshot["data"]
    server.files[path + ".sha256"] = f"{snapshot['sha256']}  {name}\n".encode()
    return {**snapshot, "path": path}


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _restore_stack(engine, stand_ins, restore_image, tmp_path, test_network, server,
                   **env: str) -> Stack:
    name = "op-sepolia-nethermind.tar.zst"
    return Stack(engine, tmp_path, {**stand_ins, "execution": restore_image}, 3,
                 network=test_network[0], SNAPSHOT_URL=f"{server.url}/snapshots/{name}",
                 SNAPSHOT_CONNECTIONS="1", **env)


def test_stopping_the_init_service_mid_download_keeps_its_progress(
        engine, stand_ins, restore_image, tmp_path, test_network, snapshot_server):
    """Item 6 on the engine: `docker compose stop base-execution-init` in the middle of a
    throttled download. The restore (PID 1) passes the SIGTERM on to aria2c, which saves
    its control file; the container exits 143 well within compose.yml's grace period.
    The next `docker compose up` resumes from there, and the restore completes with the
    published checksum. Before, the stop never reached aria2c: compose killed it after
    10 s (exit 137), and the next start downloaded from the beginning (or, with no
    control file yet, took the partial archive as complete and failed its checksum)."""
    need_compose()
    snapshot = _publish(snapshot_server, tmp_path, "op-sepolia-nethermind.tar.zst",
                        1024 * 1024)
    stack = _restore_stack(engine, stand_ins, restore_image, tmp_path, test_network,
                           snapshot_server)
    snapshot_server.rate = 32 * 1024
    try:
        up = stack.compose("up", "-d", "--no-build", "base-execution-init")
        assert up.returncode == 0, up.stdout + up.stderr
        _wait(lambda: snapshot_server.gets(snapshot["path"]), 60, "the download to start")
        time.sleep(3)  # about 100 kB of the 1 MB archive
        started = time.monotonic()
        stop = stack.compose("stop", "base-execution-init")
        took = time.monotonic() - started
        assert stop.returncode == 0, stop.stderr
        state = stack.container("base-execution-init").attrs["State"]
        logs = stack.container("base-execution-init").logs().decode()
        assert state["ExitCode"] == 143, (state, logs)
        assert took < 10, took
        assert "stopped (SIGTERM)" in logs, logs

        snapshot_server.rate = None
        before = len(snapshot_server.gets(snapshot["path"]))
        up = stack.compose("up", "-d", "--no-build")
        init = stack.container("base-execution-init")
        assert up.returncode == 0, up.stderr + init.logs().decode()
        assert init.attrs["State"]["ExitCode"] == 0
        logs = init.logs().decode()
        assert "restored op-sepolia-nethermind.tar.zst into " \
               "/data/nethermind/nethermind_db/op-sepolia" in logs, logs
        resumed = [r["range"] for r in snapshot_server.gets(snapshot["path"])[before:]]
        starts = [int(r[6:].split("-")[0]) for r in resumed if r and r.startswith("bytes=")]
        assert starts and min(starts) >= 32 * 1024, resumed  # not from the beginning
        marker = stack.compose("exec", "-T", "base-execution", "cat", "/data/.snapshot/RESTORED")
        assert f"sha256={snapshot['sha256']}" in marker.stdout, marker.stdout + marker.stderr
    finally:
        snapshot_server.rate = None
        stack.down()


def test_a_snapshot_republished_between_two_starts_is_downloaded_afresh(
        engine, stand_ins, restore_image, tmp_path, test_network, snapshot_server):
    """Item 6: the first `up` ends with an interrupted download (the server hangs up,
    one try), its progress saved. The snapshot is then replaced at the same URL. The
    next `up` sees another ETag than the one recorded when the download started and
    downloads the new archive from the start. Before, it resumed, spliced the new tail
    onto the old head, failed the checksum and left the FAILED note: `up` failed."""
    need_compose()
    name = "op-sepolia-nethermind.tar.zst"
    first = _publish(snapshot_server, tmp_path, name, 1024 * 1024)
    snapshot_server.drop_after(first["path"], 256 * 1024)
    stack = _restore_stack(engine, stand_ins, restore_image, tmp_path, test_network,
                           snapshot_server, SNAPSHOT_MAX_TRIES="1")
    try:
        up = stack.compose("up", "-d", "--no-build")
        assert up.returncode != 0
        logs = stack.container("base-execution-init").logs().decode()
        assert "the next start resumes it" in logs, logs

        second = _publish(snapshot_server, tmp_path, name, 1024 * 1024)
        before = len(snapshot_server.gets(second["path"]))
        up = stack.compose("up", "-d", "--no-build")
        logs = stack.container("base-execution-init").logs().decode()
        assert up.returncode == 0, up.stderr + logs
        assert "was republished since the download of op-sepolia-nethermind.tar.zst " \
               "started (ETag " in logs, logs
        ranges = [r["range"] for r in snapshot_server.gets(second["path"])[before:]]
        assert ranges in ([None], ["bytes=0-"]), ranges
        marker = stack.compose("exec", "-T", "base-execution", "cat", "/data/.snapshot/RESTORED")
        assert f"sha256={second['sha256']}" in marker.stdout, marker.stdout + marker.stderr
    finally:
        stack.down()


# ------------------------------------------------- op-reth beside Nethermind (issue 17)
OP_RETH = ROOT / "docker" / "op-reth"
# A stand-in op-reth: `dump-genesis` knows a few chains; `node` prints its arguments,
# then answers JSON-RPC eth_chainId on 8545 (busybox httpd, a CGI script) until stopped.
FAKE_OP_RETH = """#!/bin/sh
if [ "$1" = dump-genesis ]; then
  case "$3" in
    optimism|optimism-sepolia|unichain-sepolia|ink-sepolia) echo '{}'; exit 0 ;;
  esac
  echo "error: invalid value '$3' for '--chain <CHAIN_OR_PATH>'" >&2
  exit 2
fi
for a in "$@"; do echo "ARG $a"; done
mkdir -p /tmp/www/cgi-bin
cp /usr/local/share/stand-in/index.cgi /tmp/www/cgi-bin/index.cgi
httpd -f -p 8545 -h /tmp/www &
trap 'kill "$!"; exit 0' TERM INT
wait
"""
ETH_CHAIN_ID = """#!/bin/sh
body="$(head -c "${CONTENT_LENGTH:-0}")"
printf 'Content-Type: application/json\\r\\n\\r\\n'
case "$body" in
  *'"eth_chainId"'*) echo '{"jsonrpc":"2.0","id":1,"result":"0xaa37dc"}' ;;
  *) echo '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no such method"}}' ;;
esac
"""
OP_RETH_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
COPY rootfs/ /
ENV LD_LIBRARY_PATH=/opt/host-lib
COPY op-reth /usr/local/bin/op-reth
COPY index.cgi /usr/local/share/stand-in/index.cgi
COPY entrypoint.sh /usr/local/bin/op-reth-entrypoint
COPY jwt-init.sh /usr/local/bin/jwt-init
COPY snapshot-restore.sh /usr/local/bin/snapshot-restore
RUN mkdir -p /data/op-reth /secrets /tmp && chown -R 10001:10001 /data /secrets && \\
    chmod 1777 /tmp && curl --version >/dev/null && aria2c --version >/dev/null
{env}
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/op-reth-entrypoint"]
"""


@pytest.fixture(scope="module")
def op_reth_image(engine, base_image, tmp_path_factory):
    """The op-reth image's runtime, stood in for: the real entry point, restore and
    jwt-init, the ENV lines of docker/op-reth/Dockerfile, busybox sh as /bin/sh (as on
    Wolfi), the host's curl (health check), aria2c, zstd and flock, and FAKE_OP_RETH."""
    context = tmp_path_factory.mktemp("stand-in-op-reth")
    _host_tools(context / "rootfs", ("aria2c", "curl", "zstd", "flock"))
    shutil.copy2(OP_RETH / "entrypoint.sh", context / "entrypoint.sh")
    for name in ("jwt-init.sh", "snapshot-restore.sh"):
        shutil.copy2(EXECUTION / name, context / name)
    _script(context / "op-reth", FAKE_OP_RETH)
    _script(context / "index.cgi", ETH_CHAIN_ID)
    text = (OP_RETH / "Dockerfile").read_text().replace("\\\n", " ")
    env = [line for line in text.splitlines() if line.startswith("ENV ")]
    assert env, "docker/op-reth/Dockerfile sets no ENV"
    (context / "Dockerfile").write_text(
        _with_lib(OP_RETH_DOCKERFILE.format(env="\n".join(env)), "op-reth", context))
    tag = f"opkit-test-stack-{uuid.uuid4().hex[:8]}-op-reth:1"
    engine.images.build(path=str(context), tag=tag, rm=True,
                        buildargs={"BASE_IMAGE": base_image},
                        labels={TEST_LABEL: "1", f"{TEST_LABEL}.session": BASE_IMAGE})
    yield tag
    try:
        engine.images.remove(tag, force=True)
    except Exception:  # noqa: BLE001 (already gone is fine)
        pass


def _reth_snapshot(server, tmp_path: Path, name: str) -> dict:
    """An op-reth data dir one folder down in a .tar.zst at /snapshots/NAME (+ .sha256)."""
    from tests.test_scripts import pack

    tree = tmp_path / f"reth-{uuid.uuid4().hex[:6]}"
    for part, content in (("db/mdbx.dat", os.urandom(256 * 1024)),
                          ("static_files/static_file_headers_0_499999", b"headers"),
                          ("rocksdb/CURRENT", b"MANIFEST-000001\n")):
        (tree / part).parent.mkdir(parents=True, exist_ok=True)
        (tree / part).write_bytes(content)
    snapshot = pack(tree, tmp_path / f"{uuid.uuid4().hex[:6]}.tar.zst", "reth-datadir/")
    server.files[f"/snapshots/{name}"] = snapshot["data"]
    server.files[f"/snapshots/{name}.sha256"] = f"{snapshot['sha256']}  {name}\n".encode()
    return snapshot


def _compose_health_test(client: str) -> list[str]:
    """base-execution's health check as compose.yml resolves it for CLIENT."""
    done = subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yml"), "config",
                           "--format", "json"], capture_output=True, text=True, timeout=60,
                          env={**{k: v for k, v in os.environ.items()
                                  if not k.startswith(STACK_VARS_PREFIXES)},
                               "EXECUTION_CLIENT": client})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["services"]["base-execution"]["healthcheck"]["test"]


def _volume_files(engine, volume: str, folder: str) -> list[str]:
    out = engine.containers.run(BASE_IMAGE, ["ls", "-A", folder], remove=True,
                                labels={TEST_LABEL: "1"},
                                volumes={volume: {"bind": "/volume", "mode": "ro"}})
    return sorted(out.decode().split())


def test_op_reth_runs_the_stack_and_a_switch_back_keeps_both_data_volumes(
        engine, stand_ins, op_reth_image, tmp_path, test_network, snapshot_server):
    """Issue 17 on the engine, through the real compose.yml: EXECUTION_CLIENT=op-reth
    starts base-execution-init (the real restore, into the op-reth layout, under busybox
    sh), then base-execution, healthy by compose.yml's own JSON-RPC check (eth_chainId,
    with curl), then op-node, which reads the same engine-API secret and gets engine kind
    reth. Switched back to EXECUTION_CLIENT=nethermind, the same project runs the
    Nethermind image on execution-data, op-node gets geth, and op-reth's volume is still
    there with its data. Before, compose.yml knew no EXECUTION_CLIENT and no op-reth."""
    need_compose()
    name = "op-sepolia-reth.tar.zst"
    _reth_snapshot(snapshot_server, tmp_path, name)
    images = {**stand_ins, "execution": op_reth_image}
    since = int(time.time()) - 1
    reth = Stack(engine, tmp_path, images, 10, network=test_network[0],
                 execution_health=_compose_health_test("op-reth"), EXECUTION_CLIENT="op-reth",
                 SNAPSHOT_URL=f"{snapshot_server.url}/snapshots/{name}")
    nethermind = Stack(engine, tmp_path, stand_ins, 3, network=test_network[0],
                       project=reth.project, EXECUTION_CLIENT="nethermind")
    try:
        up = reth.compose("up", "-d", "--no-build")
        init = reth.container("base-execution-init")
        assert up.returncode == 0, up.stdout + up.stderr + init.logs().decode()
        assert init.attrs["State"]["ExitCode"] == 0
        assert "restored op-sepolia-reth.tar.zst into /data/op-reth" in init.logs().decode()
        execution = reth.container("base-execution")
        op_node = reth.container("base-op-node")
        assert execution.attrs["Config"]["Image"] == op_reth_image
        assert _time(execution.attrs["State"]["StartedAt"]) >= \
            _time(init.attrs["State"]["FinishedAt"])
        assert execution.attrs["State"]["Health"]["Status"] == "healthy"
        events = engine.events(since=since, until=int(time.time()) + 1, decode=True,
                               filters={"label": f"com.docker.compose.project={reth.project}",
                                        "type": "container"})
        healthy = [e["time"] for e in events if e.get("Action") == "health_status: healthy"
                   and e["Actor"]["Attributes"].get("com.docker.compose.service") ==
                   "base-execution"]
        assert healthy and _time(op_node.attrs["State"]["StartedAt"]) >= healthy[0] - 1
        args = [line[4:] for line in execution.logs().decode().splitlines()
                if line.startswith("ARG ")]
        assert args[:2] == ["node", "--chain=optimism-sepolia"]
        assert "--datadir=/data/op-reth" in args and \
            "--authrpc.jwtsecret=/secrets/jwt.hex" in args
        secret = reth.compose("exec", "-T", "base-execution", "cat", "/secrets/jwt.hex").stdout
        assert len(secret.strip()) == 64
        assert reth.compose("exec", "-T", "base-op-node", "cat",
                            "/secrets/jwt.hex").stdout == secret
        # `up -d` returns once op-node started; its entry point prints a moment later
        _wait(lambda: "ENV OP_NODE_L2_ENGINE_KIND=" in op_node.logs().decode(), 30,
              "op-node's entry point to print its environment")
        assert "ENV OP_NODE_L2_ENGINE_KIND=reth" in op_node.logs().decode().splitlines()
        data = f"{reth.project}_op-reth-data"
        assert _volume_files(engine, data, "/volume/op-reth") == ["db", "rocksdb",
                                                                  "static_files"]

        up = nethermind.compose("up", "-d", "--no-build")
        assert up.returncode == 0, up.stdout + up.stderr
        execution = nethermind.container("base-execution")
        assert execution.attrs["Config"]["Image"] == stand_ins["execution"]
        assert execution.attrs["State"]["Health"]["Status"] == "healthy"
        assert "ARG --config" in execution.logs().decode().splitlines()
        assert {m["Name"] for m in execution.attrs["Mounts"] if m["Destination"] == "/data"} \
            == {f"{reth.project}_execution-data"}
        op_node = nethermind.container("base-op-node")
        # `up -d` returns once op-node started; its entry point prints a moment later
        _wait(lambda: "ENV OP_NODE_L2_ENGINE_KIND=" in op_node.logs().decode(), 30,
              "op-node's entry point to print its environment")
        assert "ENV OP_NODE_L2_ENGINE_KIND=geth" in op_node.logs().decode().splitlines()
        assert nethermind.compose("exec", "-T", "base-op-node", "cat",
                                  "/secrets/jwt.hex").stdout == secret
        volumes = {v.name for v in engine.volumes.list(
            filters={"label": f"com.docker.compose.project={reth.project}"})}
        assert {data, f"{reth.project}_execution-data"} <= volumes
        assert _volume_files(engine, data, "/volume/op-reth") == ["db", "rocksdb",
                                                                  "static_files"]
        assert "RESTORED" in _volume_files(engine, data, "/volume/.snapshot")
    finally:
        nethermind.down()
        # `down -v` removed the project's volumes (compose 2.40); make sure of it
        reth.compose("down", "-v", "--timeout", "2")
        for volume in engine.volumes.list(
                filters={"label": f"com.docker.compose.project={reth.project}"}):
            volume.remove(force=True)
