"""The stack as compose.yml runs it, on the engine, with small stand-ins for the two
images: the real entry points and jwt-init on the local busybox base, with fakes for
the clients and for a slow snapshot restore.

`docker compose up` runs the real compose.yml plus an override that swaps the images,
shortens the health check, drops the published ports and labels everything; the
project is removed with `docker compose down -v` afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import BASE_IMAGE, ROOT, TEST_LABEL, need_compose

EXECUTION = ROOT / "docker" / "execution"
OP_NODE = ROOT / "docker" / "op-node"
STACK_VARS_PREFIXES = ("COMPOSE_", "DOCKER_DEFAULT_PLATFORM")

# A client that is up at once and stops on SIGTERM (it runs as PID 1).
FAKE_CLIENT = """#!/bin/sh
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
        (context / "Dockerfile").write_text(dockerfile)
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


def _override(images: dict[str, str], health_seconds: int) -> dict:
    """Swap images, keep compose away from builds and registries, shorten the health
    check to a window of about `health_seconds`, publish nothing, label everything."""
    labels = {TEST_LABEL: "1"}
    quick = {"test": ["CMD-SHELL", "test -e /tmp/ready"], "interval": "1s", "timeout": "1s",
             "retries": max(health_seconds - 1, 1), "start_period": "1s"}
    execution_env = {"RESTORE_SECONDS": "${RESTORE_SECONDS:-0}"}
    return {
        "services": {
            "base-execution": {"image": images["execution"], "pull_policy": "never",
                               "healthcheck": quick, "ports": [], "labels": labels,
                               "environment": execution_env, "stop_grace_period": "2s"},
            "base-execution-init": {"image": images["execution"], "labels": labels,
                                    "environment": execution_env},
            "base-op-node": {"image": images["op-node"], "pull_policy": "never",
                             "healthcheck": quick, "ports": [], "labels": labels,
                             "stop_grace_period": "2s"},
        },
        "volumes": {v: {"labels": labels} for v in ("execution-data", "op-node-data", "jwt")},
        "networks": {"default": {"labels": labels}},
    }


def _override_file(tmp_path: Path, images: dict[str, str], health_seconds: int) -> Path:
    # `ports: []` would be merged into compose.yml's list; !reset empties it.
    text = json.dumps(_override(images, health_seconds), indent=2)
    text = text.replace('"ports": []', '"ports": !reset []')
    path = tmp_path / "override.yml"
    path.write_text(text)  # JSON is YAML; the !reset tag is YAML's
    return path


class Stack:
    def __init__(self, engine, tmp_path: Path, images: dict[str, str], health_seconds: int,
                 **env: str) -> None:
        self.engine = engine
        self.project = f"opkit-test-{uuid.uuid4().hex[:10]}"
        override = _override_file(tmp_path, images, health_seconds)
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
