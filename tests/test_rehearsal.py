"""The rehearsal: the production Dockerfiles and compose.yml, unchanged, built and run
on the real engine, with stand-ins only for what cannot be fetched here.

Opt-in: it runs only with OPKIT_TEST_REHEARSAL=1 (`.ci/run` sets it); otherwise every
test here skips (fails under CI) before anything reaches the engine, because the real
base-image names point at stand-ins while its builds run (tests/rehearsal_kit.py).

- Base images: golang:1.19-alpine, golang:1.19.8-alpine, alpine:3.23,
  nethermind/nethermind:<pin> and us-docker.pkg.dev/oplabs-tools-artifacts/images/
  op-reth:<pin> are local stand-ins on a Debian root file system
  (tests/rehearsal_kit.py), declaring the real bases' volumes, user, workdir and entry
  point; the production RUN steps run in them for real (apt-get, apk, git, just, go
  build, useradd, busybox's addgroup/adduser). The op-reth one is Wolfi-like: busybox
  sh, no bash, apt or curl. Those names exist only during each build
  (`standins.real_names()`).
- Upstream: a fixture optimism monorepo with op-node tags of every era, served over
  git's smart HTTP on 127.0.0.1 (the build reaches it through a test-side compose
  override: build network host).
- Clients: op-node is the fixture monorepo's, compiled by the production Dockerfile;
  Nethermind and op-reth are small Go programs in their stand-in images. Each answers
  the health checks' JSON-RPC calls and records what the entry points started it with.
  EXECUTION_CLIENT picks which one compose.yml runs, as for an operator.

Everything a test creates is labelled opstack-image-kit.test and removed; the cached
stand-in images (label opstack-image-kit.rehearsal-standin) stay for the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from io import BytesIO
from pathlib import Path

import pytest

from tests import rehearsal_kit as kit
from tests.helpers import ROOT, TEST_LABEL, inv, need, need_compose

pytestmark = pytest.mark.rehearsal

COMPOSE = ROOT / "compose.yml"
SESSION = f"opkit-rehearsal-{uuid.uuid4().hex[:8]}"
# on every image this session builds: rebuilds leave the images they replace untagged,
# and the session label finds those too (and no other session's)
BUILD_LABELS = {TEST_LABEL: "1", f"{TEST_LABEL}.session": SESSION}
RUN_ENV = {  # the settings compose.yml requires to run at all
    "NETWORK": "op-sepolia",
    "L1_RPC_URL": "http://l1.example.invalid:8545",
    "L1_BEACON_URL": "http://beacon.example.invalid:5052",
}
# compose.yml's and the client files' (docker/<client>.yml, which it extends)
STACK_VARS = sorted({name for path in (COMPOSE, *sorted((ROOT / "docker").glob("*.yml")))
                     for name in re.findall(r"\$\{([A-Z0-9_]+)", path.read_text())})


def _env(**values: str) -> dict[str, str]:
    """The caller's environment without anything compose.yml or compose reads."""
    env = {k: v for k, v in os.environ.items()
           if k not in STACK_VARS and not k.startswith("COMPOSE_")}
    env.update(DOCKER_BUILDKIT="1", COMPOSE_DOCKER_CLI_BUILD="1")
    env.update(values)
    return env


def _pin(name: str, client: str = "nethermind") -> str:
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--format", "json"],
                          env=_env(**RUN_ENV, EXECUTION_CLIENT=client), capture_output=True,
                          text=True, check=True)
    config = json.loads(done.stdout)["services"]
    for service in config.values():
        if name in service["build"]["args"]:
            return service["build"]["args"][name]
    raise KeyError(name)


def _remove_session_images() -> None:
    done = subprocess.run(["docker", "image", "ls", "-a", "--filter",
                           f"label={TEST_LABEL}.session={SESSION}", "--format", "{{.ID}}"],
                          capture_output=True, text=True)
    ids = sorted(set(done.stdout.split()))
    if ids:
        subprocess.run(["docker", "image", "rm", "-f", *ids], capture_output=True)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session", autouse=True)
def opted_in():
    """The gate, before any other fixture of this module: OPKIT_TEST_REHEARSAL=1."""
    kit.require_opt_in()


@pytest.fixture(scope="session")
def standins(opted_in, engine, tmp_path_factory):
    """The stand-in base images, made once (then cached in the engine). The real names
    point at them only inside `standins.real_names()`."""
    need_compose()
    factory = kit.StandinFactory(tmp_path_factory.mktemp("standins"))
    try:
        yield factory.make(nethermind_version=_pin("NETHERMIND_VERSION"),
                           op_reth_version=_pin("OP_RETH_VERSION", "op-reth"))
    finally:
        _remove_session_images()


@pytest.fixture(scope="session")
def monorepo(opted_in, tmp_path_factory):
    repo = kit.make_monorepo(tmp_path_factory.mktemp("monorepo"))
    yield repo
    repo.server.close()


class Tag:
    """A YAML-tagged value in an override, e.g. Tag("!reset", []) (compose's merge tags)."""

    def __init__(self, tag: str, value: object) -> None:
        self.tag, self.value = tag, value


def _yaml(value: object) -> str:
    """YAML flow style (JSON plus tags): enough for a compose override."""
    if isinstance(value, Tag):
        return f"{value.tag} {_yaml(value.value)}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return json.dumps(value)


def _override(path: Path, services: dict[str, dict], **top: object) -> Path:
    """A test-only compose override; compose merges it over compose.yml."""
    path.write_text(_yaml({"services": services, **top}) + "\n")
    return path


# ----------------------------------------------------------------- op-node image
def build_op_node(tmp_path: Path, standins: kit.Standins, monorepo: kit.Monorepo,
                  version: str, just: str,
                  commit: str | None = None) -> tuple[subprocess.CompletedProcess, str]:
    """`docker compose build base-op-node` of the real compose.yml, with the fixture
    monorepo as OP_NODE_REPO, and an override that only labels the image, names it for
    this session (never base-op-node:*), drops the extra :latest tag and lets the build
    reach 127.0.0.1. The builder is the stand-in golang image of that just."""
    image = f"{SESSION}-op-node:{version}-just{just}-{uuid.uuid4().hex[:4]}"
    override = _override(tmp_path / f"override-{uuid.uuid4().hex[:6]}.yml", {
        "base-op-node": {
            "image": image,
            "build": {"network": "host", "labels": BUILD_LABELS,
                      "tags": Tag("!reset", [])},
        }})
    env = _env(**RUN_ENV, OP_NODE_REPO=monorepo.url, OP_NODE_VERSION=version,
               OP_NODE_COMMIT=monorepo.commits.get(version, "") if commit is None else commit,
               GO_VERSION=kit.GO_VERSION_OF_JUST[just],
               COMPOSE_PROJECT_NAME=f"{SESSION}-build")
    with standins.real_names():
        done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "-f", str(override),
                               "--progress", "plain", "build", "base-op-node"],
                              env=env, capture_output=True, text=True, timeout=1200)
    return done, image


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _file_from_image(image: str, path: str) -> bytes:
    container = _docker("create", "--label", f"{TEST_LABEL}=1", image).stdout.strip()
    try:
        data = subprocess.run(["docker", "cp", f"{container}:{path}", "-"], capture_output=True,
                              check=True, timeout=120).stdout
    finally:
        _docker("rm", "-f", container, check=False)
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        member = tar.getmembers()[0]
        return tar.extractfile(member).read()


ERAS = [  # (version, just): every era with the old just, the newest ones with both
    ("v1.16.8", kit.OLD_JUST),
    ("v1.18.0", kit.OLD_JUST),
    ("v1.18.0", kit.NEW_JUST),
    ("v1.19.1-rc.1", kit.OLD_JUST),
    ("v1.19.1", kit.NEW_JUST),
    ("v1.21.0", kit.OLD_JUST),
    ("v1.21.0", kit.NEW_JUST),
]


@pytest.mark.parametrize("version,just", ERAS)
def test_op_node_image_builds_every_era(tmp_path, standins, monorepo, version, just):
    """The production op-node Dockerfile, unchanged, builds each era of the monorepo.

    Upstream-checks point 1 (the bundle step): v1.18.0 and v1.19.1-rc.1 carry
    op-core/superchain/superchain-configs.zip.sha256 but no `build-superchain-go`
    recipe (theirs is `sync-superchain`) and op-node does not link the bundle; v1.19.1
    on has the recipe, which inits the superchain-registry submodule itself, and op-node
    embeds the zip (its --version checks it).
    Point 2 (just version): every justfile from v1.16.8 on has `[script('bash')]`
    recipes, which just < 1.44 refuses unless JUST_UNSTABLE=1; golang:1.19-alpine
    plays an Alpine 3.23 builder (just 1.43.1), golang:1.19.8-alpine a newer one
    (just 1.48.1).
    On the old recipe (`just build-superchain-go` whenever the .sha256 exists, no
    JUST_UNSTABLE) the v1.18.0 builds fail with "Justfile does not contain recipe
    `build-superchain-go`" and the old-just v1.19.1-rc.1 and v1.21.0 builds with "The
    `[script]` attribute is currently unstable" (checked by building it here). Without
    the ENV line alone, every old-just build fails: the step then says just cannot read
    the justfile."""
    done, image = build_op_node(tmp_path, standins, monorepo, version, just)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    commit, date = monorepo.commits[version], monorepo.dates[version]

    # the builder's own smoke test ran, and the image's binary says the same
    assert f"op-node version {version}-{commit[:8]}-{date}" in output
    run = _docker("run", "--rm", "--label", f"{TEST_LABEL}=1",
                  "--entrypoint", "/usr/local/bin/op-node", image, "--version")
    assert run.stdout.strip() == f"op-node version {version}-{commit[:8]}-{date}"

    # the bundle step asked the tag's justfile, with the builder's just
    registry_fetches = [p for _, p in monorepo.server.requests if "superchain-registry" in p]
    if kit.TAGS[version] == "build-superchain-go":
        assert f"superchain bundle: just {just} runs build-superchain-go" in output
        assert f"Submodule path 'superchain-registry': checked out '{monorepo.registry_commit}'" \
            in output
        assert registry_fetches
    else:
        assert f"has no build-superchain-go recipe (just {just} read it)" in output
        assert "SYNC-SUPERCHAIN-RAN" not in output

    # static, stripped, non-root
    elf = kit.read_elf(_file_from_image(image, "/usr/local/bin/op-node"))
    assert elf.static, "op-node links a dynamic loader or has a dynamic section"
    assert elf.stripped, f"op-node has a symbol table: {elf.sections}"
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}",
                                image).stdout)
    assert config["User"] == "10001:10001"
    ids = _docker("run", "--rm", "--label", f"{TEST_LABEL}=1", "--entrypoint", "id",
                  image).stdout
    assert ids.startswith("uid=10001(opnode) gid=10001(opnode)"), ids
    assert config["Labels"]["org.opencontainers.image.version"] == version
    assert config["Labels"]["org.opencontainers.image.revision"] == commit
    assert config["Labels"]["org.opencontainers.image.source"] == monorepo.url
    assert config["Labels"][TEST_LABEL] == "1"


def test_elf_reader_tells_a_dynamic_binary():
    """Control for the ELF checks above: a dynamically linked host binary is seen as
    such (Debian strips its binaries' .symtab too, so only `static` is checked)."""
    elf = kit.read_elf(Path("/usr/bin/git").read_bytes())
    assert not elf.static


def _declared(ref: str) -> dict:
    """What an image declares, in the form of kit.REAL_BASES."""
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}",
                                ref).stdout)
    return {"Volumes": sorted(config.get("Volumes") or {}),
            "WorkingDir": config.get("WorkingDir") or "", "User": config.get("User") or "",
            "Entrypoint": config.get("Entrypoint"), "Cmd": config.get("Cmd"),
            "ExposedPorts": sorted(config.get("ExposedPorts") or {}),
            "Env": dict(e.split("=", 1) for e in config.get("Env") or [])}


def test_standins_declare_what_the_real_bases_declare(standins):
    """Each stand-in image, as built, declares the real base's volumes, user, workdir,
    entry point, command, ports and the environment listed in kit.REAL_BASES (which
    says the upstream file and commit of each fact). The old Nethermind stand-in
    declared no VOLUME, so no container made from it (doctor's probe, the stack) had the
    three anonymous volumes a real one gets."""
    images = {"nethermind": [standins.names[standins.nethermind]],
              "op-reth": [standins.names[standins.op_reth]],
              "golang": [standins.names[name] for name in standins.golang.values()],
              "alpine": [standins.names[standins.alpine]]}
    for base, refs in images.items():
        real = kit.REAL_BASES[base]
        for ref in refs:
            declared = _declared(ref)
            for key, value in real.items():
                if key == "Env":
                    assert {k: declared["Env"].get(k) for k in value} == value, (ref, key)
                else:
                    assert declared[key] == value, (ref, key, declared[key])


def test_op_reth_standin_has_the_wolfi_bases_traits(standins):
    """The op-reth stand-in is what the production Dockerfile and scripts meet on the
    real base (kit.REAL_BASES: optimism rust/op-reth/DockerfileOp @0ddd0724, Wolfi;
    wolfi-dev/os busybox/busyboxconfig @184923cf): root, busybox as /bin/sh and its
    applets (tar, awk, find, od, sha256sum) first on PATH, `apk`, busybox-style
    addgroup/adduser and flock; no bash, apt or useradd, and no curl, aria2c or zstd until
    `apk add`. Its
    op-reth prints its version, and `dump-genesis --chain NAME` exits 0 only for a
    chain op-reth knows by that name (op-reth's optimism-sepolia, not op-node's
    op-sepolia... which it also accepts; never op-mainnet)."""
    image = standins.names[standins.op_reth]
    script = r"""
        echo "sh=$(readlink -f /bin/sh) uid=$(id -u)"
        for tool in bash apt apt-get curl aria2c zstd useradd groupadd; do
          command -v "$tool" >/dev/null && echo "HAS $tool"
        done
        for tool in apk addgroup adduser flock tar awk find od sha256sum; do
          command -v "$tool" >/dev/null || echo "LACKS $tool"
        done
        for tool in tar awk find od sha256sum; do
          [ "$(readlink -f "$(command -v "$tool")")" = "$(readlink -f /bin/sh)" ] ||
            echo "NOT-BUSYBOX $tool"
        done
        for chain in optimism-sepolia op-sepolia unichain-sepolia optimism op-mainnet nope; do
          /usr/local/bin/op-reth dump-genesis --chain "$chain" >/dev/null 2>&1
          echo "chain $chain $?"
        done
        echo "pwd=$(pwd)"
    """
    done = _docker("run", "--rm", "--label", f"{TEST_LABEL}=1", "--entrypoint", "/bin/sh",
                   image, "-c", script)
    lines = done.stdout.splitlines()
    assert lines[0] in ("sh=/usr/bin/busybox uid=0", "sh=/bin/busybox uid=0"), lines
    assert not [line for line in lines if line.startswith(("HAS", "LACKS", "NOT-BUSYBOX"))], \
        lines
    assert [line for line in lines if line.startswith("chain ")] == [
        "chain optimism-sepolia 0", "chain op-sepolia 0", "chain unichain-sepolia 0",
        "chain optimism 0", "chain op-mainnet 2", "chain nope 2"], lines
    assert lines[-1] == "pwd=/app"
    version = _docker("run", "--rm", "--label", f"{TEST_LABEL}=1", image, "--version").stdout
    pin = standins.op_reth.rsplit(":", 1)[1]
    assert version.splitlines()[0] == f"op-reth Version: {pin.lstrip('v')}", version


def test_op_node_image_builds_with_a_seven_hex_commit_pin(tmp_path, standins, monorepo):
    """compose.yml pins op-node by the 7-hex prefix its release page shows."""
    commit = monorepo.commits["v1.21.0"]
    done, image = build_op_node(tmp_path, standins, monorepo, "v1.21.0", kit.OLD_JUST,
                                commit=commit[:7])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"op-node/v1.21.0 at {commit}" in done.stdout + done.stderr
    labels = json.loads(_docker("image", "inspect", "--format", "{{json .Config.Labels}}",
                                image).stdout)
    assert labels["org.opencontainers.image.revision"] == commit[:7]


def test_op_node_build_refuses_a_tag_that_moved(tmp_path, standins, monorepo):
    """The pin is v1.19.1's commit, but the tag op-node/v1.21.0 points elsewhere: the
    build stops at the clone step with the moved-tag message, and tags no image."""
    pinned, actual = monorepo.commits["v1.19.1"], monorepo.commits["v1.21.0"]
    done, image = build_op_node(tmp_path, standins, monorepo, "v1.21.0", kit.NEW_JUST,
                                commit=pinned)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert (f"op-node/v1.21.0 is commit {actual}, but OP_NODE_COMMIT pins {pinned}: "
            "the tag moved upstream or the pin is wrong") in output
    assert "op-node version" not in output  # the compile step never ran
    assert _docker("image", "inspect", image, check=False).returncode != 0


# --------------------------------------------------------------------- the stack
HEALTH_SCALED = {"interval": "1s", "timeout": "5s", "retries": 3, "start_period": "2s"}
STACK_VERSION = "v1.21.0"  # the op-node era of the pin, built by the newer builder
STACK_JUST = kit.NEW_JUST


def _free_port() -> int:
    import socket

    while True:
        with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def rpc(port: int, method: str, timeout: float = 5):
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}", method="POST",
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    assert "error" not in answer, answer
    return answer["result"]


class Stack:
    """The real compose.yml plus a test-only override, as one compose project.

    The override changes only what a test on a shared engine must: image names (this
    session's, never base-*:*, and no extra :latest tag), the test label on images,
    containers, volumes and the network, published ports bound to 127.0.0.1 (same
    numbers as compose.yml maps), the build network of op-node (host: the fixture
    monorepo is on 127.0.0.1), a test-created network (its gateway is where the
    containers reach the test's snapshot server), and health-check timings scaled down
    (interval 1 s, start period 2 s, 3 retries: the same check command)."""

    def __init__(self, tmp_path: Path, standins: kit.Standins, monorepo: kit.Monorepo,
                 **settings: str) -> None:
        self.dir = tmp_path
        self.standins = standins
        self.project = f"{SESSION}-{uuid.uuid4().hex[:6]}"
        self.network = f"{self.project}-net"
        self.volume_overrides: dict[str, list] = {}
        _docker("network", "create", "--label", f"{TEST_LABEL}=1", self.network)
        ipam = json.loads(_docker("network", "inspect", "--format", "{{json .IPAM.Config}}",
                                  self.network).stdout)
        self.gateway = ipam[0]["Gateway"]
        self.ports = {name: _free_port() for name in
                      ("EXECUTION_RPC_PORT", "OP_NODE_RPC_PORT", "EXECUTION_P2P_PORT",
                       "OP_NODE_P2P_PORT")}
        self.settings = {
            **RUN_ENV, **{k: str(v) for k, v in self.ports.items()},
            "OP_NODE_REPO": monorepo.url, "OP_NODE_VERSION": STACK_VERSION,
            "OP_NODE_COMMIT": monorepo.commits[STACK_VERSION],
            "GO_VERSION": kit.GO_VERSION_OF_JUST[STACK_JUST],
            **settings}
        self.override = self.dir / f"{self.project}.override.yml"

    # ------------------------------------------------------------------ compose
    def env(self, with_override: bool = True) -> dict[str, str]:
        files = [str(COMPOSE)] + ([str(self.override)] if with_override else [])
        return _env(**self.settings, COMPOSE_PROJECT_NAME=self.project,
                    COMPOSE_FILE=os.pathsep.join(files))

    def compose(self, *args: str, check: bool = True, timeout: int = 600) \
            -> subprocess.CompletedProcess:
        # the commands that may build: the base-image names exist only meanwhile
        names = self.standins.real_names() if {"build", "up", "run"} & set(args) \
            else contextlib.nullcontext()
        with names:
            done = subprocess.run(["docker", "compose", *args], env=self.env(), cwd=ROOT,
                                  capture_output=True, text=True, timeout=timeout)
        if check:
            assert done.returncode == 0, f"docker compose {' '.join(args)}:\n" \
                                         f"{done.stdout}\n{done.stderr}"
        return done

    def write_override(self) -> dict:
        """Write the override for the current settings; the resolved compose.yml."""
        done = subprocess.run(["docker", "compose", "config", "--format", "json"],
                              env=self.env(with_override=False), cwd=ROOT,
                              capture_output=True, text=True, check=True)
        config = json.loads(done.stdout)
        renamed = {}
        for name, service in config["services"].items():
            if service.get("build"):
                renamed[service["image"]] = f"{SESSION}-{name}:{service['image'].split(':')[-1]}"
        services = {}
        for name, service in config["services"].items():
            entry: dict = {"labels": {TEST_LABEL: "1"}}
            if service.get("image") in renamed:
                entry["image"] = renamed[service["image"]]
            if service.get("build"):
                entry["build"] = {"labels": BUILD_LABELS, "tags": Tag("!reset", [])}
                if name == "base-op-node":
                    entry["build"]["network"] = "host"
            if service.get("healthcheck"):
                entry["healthcheck"] = dict(HEALTH_SCALED)
            if service.get("ports"):
                entry["ports"] = Tag("!override", [
                    f"127.0.0.1:{p['published']}:{p['target']}/{p.get('protocol', 'tcp')}"
                    for p in service["ports"]])
            if name in self.volume_overrides:
                entry["volumes"] = self.volume_overrides[name]
            services[name] = entry
        volumes = {name: {"labels": {TEST_LABEL: "1"}} for name in config.get("volumes") or {}}
        _override(self.override, services, volumes=volumes,
                  networks={"default": {"name": self.network, "external": True}})
        return config

    def up(self, *services: str, check: bool = True) -> subprocess.CompletedProcess:
        self.write_override()
        self.compose("build", check=True, timeout=1200)
        return self.compose("up", "-d", *services, check=check)

    def wait_healthy(self, service: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.state(service).get("Health", {}).get("Status")
            if status == "healthy":
                return
            time.sleep(0.5)
        raise AssertionError(f"{service} not healthy after {timeout}s:\n"
                             f"{self.compose('logs', check=False).stdout[-4000:]}")

    def container(self, service: str) -> str:
        return self.compose("ps", "-a", "-q", service).stdout.strip()

    def state(self, service: str) -> dict:
        cid = self.container(service)
        if not cid:
            return {}
        return json.loads(_docker("inspect", "--format", "{{json .State}}", cid).stdout)

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-log-prefix", service, check=False).stdout

    def run(self, service: str, *args: str, volumes: tuple[str, ...] = ()) \
            -> subprocess.CompletedProcess:
        """`docker compose run --rm --no-deps SERVICE ARGS` (the service as configured)."""
        self.write_override()
        extra = [a for v in volumes for a in ("-v", v)]
        return self.compose("run", "--rm", "--no-deps", "-T", *extra, service, *args,
                            check=False)

    def record(self, service: str) -> dict:
        port = self.ports["EXECUTION_RPC_PORT" if service == "base-execution"
                          else "OP_NODE_RPC_PORT"]
        return rpc(port, "standin_record")

    def close(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "5", check=False)
        # `down -v` with one client selected may leave the other client's data volume
        left = _docker("volume", "ls", "-q", "--filter",
                       f"label=com.docker.compose.project={self.project}").stdout.split()
        if left:
            _docker("volume", "rm", "-f", *left, check=False)
        _docker("network", "rm", self.network, check=False)


@pytest.fixture
def stack(tmp_path, standins, monorepo):
    """Factory: make_stack(**settings) -> Stack; every project is taken down with -v."""
    made: list[Stack] = []

    def make(**settings: str) -> Stack:
        made.append(Stack(tmp_path, standins, monorepo, **settings))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _events(stack: Stack, since: float) -> list[dict]:
    done = _docker("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                   "--filter", f"label=com.docker.compose.project={stack.project}",
                   "--filter", "type=container", "--format", "{{json .}}")
    events = []
    for line in done.stdout.splitlines():
        event = json.loads(line)
        events.append({"service": event["Actor"]["Attributes"].get(
            "com.docker.compose.service"), "status": event.get("status") or event["Action"],
            "time": event["timeNano"]})
    return events


def test_stack_starts_op_node_only_once_execution_is_healthy_and_shares_one_jwt(stack):
    """`docker compose up` of the real compose.yml: base-execution (Nethermind stand-in
    on the production execution image) turns healthy through compose.yml's own check
    (web3_clientVersion on 8545), and only then is base-op-node started; both read the
    one secret base-execution created (mode 0640, UID/GID 10001), and op-node's engine
    API call with it is accepted."""
    s = stack()
    since = time.time()
    s.up()
    s.wait_healthy("base-execution")
    s.wait_healthy("base-op-node")
    events = _events(s, since)
    healthy = next(e["time"] for e in events if e["service"] == "base-execution"
                   and e["status"] == "health_status: healthy")
    started = next(e["time"] for e in events if e["service"] == "base-op-node"
                   and e["status"] == "start")
    assert healthy < started, events

    assert rpc(s.ports["EXECUTION_RPC_PORT"], "web3_clientVersion").startswith("Nethermind/")
    assert rpc(s.ports["OP_NODE_RPC_PORT"], "optimism_version").startswith(f"{STACK_VERSION}-")

    # the real image's VOLUMEs: anonymous volumes, owned by the image's user (the
    # production Dockerfile chowns them after the base declared them)
    volumes = kit.REAL_BASES["nethermind"]["Volumes"]
    mounts = json.loads(_docker("inspect", "--format", "{{json .Mounts}}",
                                s.container("base-execution")).stdout)
    assert sorted(m["Destination"] for m in mounts if m["Type"] == "volume"
                  and m["Destination"].startswith("/nethermind/")) == volumes, mounts
    owners = s.compose("exec", "-T", "base-execution", "stat", "-c", "%u:%g",
                       *volumes).stdout.split()
    assert owners == ["10001:10001"] * 3, owners

    mode = s.compose("exec", "-T", "base-op-node", "stat", "-c", "%a %u:%g %s",
                     "/secrets/jwt.hex").stdout.split()
    assert mode == ["640", "10001:10001", "64"], mode
    execution, op_node = s.record("base-execution"), s.record("base-op-node")
    assert execution["uid"] == op_node["uid"] == 10001
    assert execution["jwt_sha256"] == op_node["jwt_sha256"] != ""
    deadline = time.monotonic() + 30
    while not op_node["engine_ok"] and time.monotonic() < deadline:
        time.sleep(0.5)
        op_node = s.record("base-op-node")
    assert op_node["engine_ok"], op_node["engine_error"]
    assert s.record("base-execution")["engine_calls"] >= 1
    everything = s.compose("logs", "--no-log-prefix").stdout
    assert everything.count("jwt-init: created a new secret") == 1, everything


def test_stack_down_and_up_keeps_data_and_the_jwt(stack):
    """`down` (without -v) then `up`: the same secret (jwt-init keeps it), Nethermind's
    database folder and op-node's p2p key survive in their volumes."""
    s = stack()
    s.up()
    s.wait_healthy("base-op-node")
    first = {svc: s.record(svc) for svc in ("base-execution", "base-op-node")}
    assert first["base-op-node"]["p2p_key_new"]
    s.compose("down", "--timeout", "5")
    s.up()
    s.wait_healthy("base-op-node")
    again = {svc: s.record(svc) for svc in ("base-execution", "base-op-node")}
    assert again["base-execution"]["jwt_sha256"] == first["base-execution"]["jwt_sha256"]
    assert again["base-op-node"]["jwt_sha256"] == first["base-op-node"]["jwt_sha256"]
    assert "jwt-init: keeping the existing secret" in s.logs("base-execution-init")
    assert "STANDIN-OPENED" in again["base-execution"]["db_found"]
    assert not again["base-op-node"]["p2p_key_new"]


def _inv(stack: Stack, *args: str):
    """`inv ARGS` (in process) with exactly the stack's environment."""
    env = stack.env()
    with pytest.MonkeyPatch.context() as patch:
        for key in set(os.environ) - set(env):
            patch.delenv(key)
        return inv(*args, env=env)


@pytest.mark.parametrize("client, execution_version", [
    (None, r"Version: 0\.0\.0-rehearsal"),
    ("op-reth", r"op-reth Version: 2\.10\.0"),
])
def test_doctor_and_audit_report_on_the_built_stack(stack, client, execution_version):
    """`inv doctor` probes the built images' binaries (for the execution client in use:
    Nethermind by default, op-reth with EXECUTION_CLIENT=op-reth); `inv audit.sizes`
    measures them against the budgets the component table sets. The stand-in bases are
    Debian, not Alpine or Wolfi, so the images are over their budgets here: the audit says
    so and exits 1."""
    s = stack(**({"EXECUTION_CLIENT": client} if client else {}))
    config = s.write_override()
    s.compose("build", timeout=1200)
    images = {svc: f"{SESSION}-{svc}:{config['services'][svc]['image'].split(':')[-1]}"
              for svc in ("base-op-node", "base-execution")}

    doctor = _inv(s, "doctor")
    out = doctor.stdout + doctor.stderr
    assert re.search(rf"^ok +image base-op-node +{re.escape(images['base-op-node'])}: "
                     rf"op-node version {STACK_VERSION}-", out, re.MULTILINE), out
    assert re.search(rf"^ok +image base-execution +{re.escape(images['base-execution'])}"
                     rf"(?: \({client or 'Nethermind'}\))?: " + execution_version, out,
                     re.MULTILINE), out
    assert re.search(rf"^ok +client .*{client or 'nethermind'}", out, re.MULTILINE), out

    audit = _inv(s, "audit.sizes")
    out = audit.stdout + audit.stderr
    assert audit.returncode == 1, out
    for svc in images:
        assert images[svc] in out, out
    assert "OVER BUDGET" in out
    roomy = _inv(s, "audit.sizes", "--budget", "base-op-node=2GB",
                 "--budget", "base-execution=2GB")
    assert roomy.returncode == 0, roomy.stdout + roomy.stderr


def test_changed_p2p_ports_and_extra_flags_reach_the_clients(stack):
    """EXECUTION_P2P_PORT and OP_NODE_P2P_PORT (random free ports here) become the
    ports the clients listen on, and the host's published port reaches that listener.
    Upstream-checks point 7: the old compose.yml only moved the host side (X:30303,
    X:9222) and the entry point passed no --Network.P2PPort/--Network.DiscoveryPort,
    so Nethermind's argv had neither flag and op-node got OP_NODE_P2P_LISTEN_TCP_PORT
    9222: both assertions on argv fail there. Point 8: EXTRA_OP_NODE_FLAGS reaches
    op-node's argv and op-node sees no unknown OP_NODE_* variable (the old name
    OP_NODE_EXTRA_FLAGS was one)."""
    import socket

    s = stack(EXTRA_OP_NODE_FLAGS="--p2p.advertise.ip=203.0.113.7",
              NETHERMIND_EXTRA_FLAGS="--Pruning.Mode=Hybrid")
    s.up()
    s.wait_healthy("base-op-node")
    el_port, cl_port = s.ports["EXECUTION_P2P_PORT"], s.ports["OP_NODE_P2P_PORT"]
    execution, op_node = s.record("base-execution"), s.record("base-op-node")
    argv = execution["argv"]
    assert f"--Network.P2PPort={el_port}" in argv and \
        f"--Network.DiscoveryPort={el_port}" in argv, argv
    assert execution["p2p_port"] == execution["discovery_port"] == str(el_port)
    assert argv[:4] == ["--config", "op-sepolia", "--data-dir", "/data/nethermind"], argv
    assert "--JsonRpc.JwtSecretFile=/secrets/jwt.hex" in argv
    assert "--JsonRpc.EngineHost=0.0.0.0" in argv and "--JsonRpc.EnginePort=8551" in argv
    assert argv[-1] == "--Pruning.Mode=Hybrid"
    settings = op_node["settings"]
    assert settings["p2p.listen.tcp"] == settings["p2p.listen.udp"] == str(cl_port)
    assert settings["network"] == "op-sepolia"
    assert settings["l2"] == "http://base-execution:8551"
    assert settings["l2.jwt-secret"] == "/secrets/jwt.hex"
    assert op_node["argv"] == ["--p2p.advertise.ip=203.0.113.7"]
    assert op_node["unknown_env"] == []
    for port, who in ((el_port, "nethermind"), (cl_port, "op-node")):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            banner = conn.recv(100).decode()
        assert banner == f"{who}-stand-in p2p {port}\n", banner


SNAPSHOT_RATE = 64 * 1024  # bytes per second: the 1 MiB snapshot takes about 16 s


@pytest.fixture
def snapshot(tmp_path):
    if not shutil.which("zstd"):
        need("zstd makes the test snapshot: apt-get install zstd")
    return kit.make_snapshot(tmp_path, "op-sepolia")


def test_a_slow_restore_lands_in_the_database_and_op_node_still_starts(stack, snapshot):
    """SNAPSHOT_URL on a local server that honours Range requests and sends slowly on
    purpose: the restore takes longer than the (scaled) health check allows base-execution
    to start (2 s start period + 3 x 1 s), and:
    - upstream-checks point 6: the one-shot base-execution-init restores before
      base-execution starts, so `up` goes through and op-node starts. On the old code
      the restore ran inside base-execution with its RPC closed: the health check
      marked it unhealthy and `up` failed on op-node's service_healthy dependency.
    - point 5: the archive (one top folder, Nethermind's own layout) lands in
      /data/nethermind/nethermind_db/op-sepolia, the database the Nethermind stand-in
      opens for --config op-sepolia (Init.BaseDbPath). On the old code it landed in the
      data dir root and the client found an empty database.
    A second `up` after `down` restores nothing again and downloads nothing."""
    s = stack()
    server = kit.snapshot_server(s.gateway, rate=SNAPSHOT_RATE)
    try:
        path = f"/snapshots/{snapshot['name']}"
        server.files[path] = snapshot["data"]
        server.files[path + ".sha256"] = f"{snapshot['sha256']}  {snapshot['name']}\n".encode()
        s.settings["SNAPSHOT_URL"] = server.url + path
        server.drop_after(path, 256 * 1024)  # a CDN that hangs up once: aria2c resumes
        s.up()
        s.wait_healthy("base-op-node")

        init = s.state("base-execution-init")
        assert init["ExitCode"] == 0 and init["Status"] == "exited"
        took = (_parse_time(init["FinishedAt"]) - _parse_time(init["StartedAt"]))
        assert took > 2 + 3 * 1 + 3, f"the restore took only {took:.1f}s: not slow enough"
        log = s.logs("base-execution-init")
        assert "restored op-sepolia-nethermind.tar.zst into " \
               "/data/nethermind/nethermind_db/op-sepolia" in log, log
        ranges = [r["range"] for r in server.gets(path)]
        assert f"bytes={256 * 1024}-{len(snapshot['data']) - 1}" in ranges, ranges
        execution = s.record("base-execution")
        assert execution["db_path"] == "/data/nethermind/nethermind_db/op-sepolia"
        assert execution["db_found"] == snapshot["files"], execution["db_found"]
        assert rpc(s.ports["OP_NODE_RPC_PORT"], "optimism_version").startswith(STACK_VERSION)

        gets = len(server.requests)
        s.compose("down", "--timeout", "5")
        s.up()
        s.wait_healthy("base-op-node")
        assert len(server.requests) == gets, server.requests[gets:]
        assert "already restored" in s.logs("base-execution-init")
        found = s.record("base-execution")["db_found"]
        assert found == sorted(snapshot["files"] + ["STANDIN-OPENED"]), found
    finally:
        server.close()


def _parse_time(stamp: str) -> float:
    from datetime import datetime

    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float(f"0.{frac or 0}")


def test_restore_checksum_and_space_checks_in_the_container(stack, snapshot):
    """The one-shot init service as compose.yml configures it, run on its own.
    Upstream-checks point 9: with a presigned-style SNAPSHOT_URL (a query string), the
    checksum is never read from "$SNAPSHOT_URL.sha256" (the old code did, which fetched
    the archive itself as its "checksum" and failed on it): without SNAPSHOT_SHA256 or
    SNAPSHOT_SHA256_URL it refuses before downloading anything, and with
    SNAPSHOT_SHA256_URL it verifies against that. The space check refuses a snapshot
    the volume cannot hold, before downloading it. (On the old compose.yml there is no
    init service and the restore's query-string refusal does not exist: this fails.)"""
    s = stack()
    server = kit.snapshot_server(s.gateway)
    try:
        path = f"/snapshots/{snapshot['name']}"
        server.files[path] = snapshot["data"]
        server.files[path + ".sha256"] = f"{snapshot['sha256']}  {snapshot['name']}\n".encode()
        s.settings["SNAPSHOT_URL"] = f"{server.url}{path}?X-Amz-Signature=abc&X-Amz-Expires=60"

        refused = s.run("base-execution-init")
        assert refused.returncode != 0
        assert "SNAPSHOT_URL has a query string" in refused.stderr, refused.stderr
        assert "Nothing was downloaded" in refused.stderr
        assert server.gets(path) == [] and server.gets(path + ".sha256") == []

        s.settings.update(SNAPSHOT_SHA256_URL=f"{server.url}{path}.sha256?X-Amz-Signature=def",
                          SNAPSHOT_SPACE_FACTOR="100000000000")
        full = s.run("base-execution-init")
        assert full.returncode != 0
        assert "not enough free space" in full.stderr, full.stderr
        assert server.gets(path) == []  # at most the size was asked (HEAD)

        s.settings["SNAPSHOT_SPACE_FACTOR"] = "2.5"
        done = s.run("base-execution-init")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "reading the published checksum from " \
               f"{server.url}{path}.sha256" in done.stderr, done.stderr
        assert len(server.gets(path + ".sha256")) == 1
        assert "into /data/nethermind/nethermind_db/op-sepolia" in done.stderr
    finally:
        server.close()


def _one_line(text: str, prefix: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, text
    return lines[0]


def test_a_bind_mounted_data_dir_uid_10001_cannot_write_fails_with_one_line(stack, tmp_path):
    """Upstream-checks point 10: a host folder bind-mounted as /data (Portainer hosts),
    owned by root, is not writable by UID 10001. Both entry points stop first, on one
    line naming the mount and the chown. On the old code the execution side failed
    inside its scripts (mkdir: Permission denied) and op-node started and failed
    writing its p2p key: neither message is there."""
    host_dir = tmp_path / "root-owned-data"
    host_dir.mkdir(mode=0o755)
    os.chown(host_dir, 0, 0)
    s = stack()
    s.volume_overrides = {svc: [f"{host_dir}:/data", "jwt:/secrets"]
                          for svc in ("base-execution", "base-execution-init")}
    up = s.up(check=False)
    assert up.returncode != 0
    log = s.compose("logs", "--no-log-prefix").stdout  # init's, and nothing from the node
    line = _one_line(log, "execution-entrypoint:")
    assert "/data/nethermind is not writable by uid 10001" in line or \
        "/data is not writable by uid 10001" in line, line
    assert "chown -R 10001:10001 <the folder mounted at /data>" in line, line
    assert s.state("base-execution").get("Status") in (None, "created")
    assert list(host_dir.iterdir()) == []

    op_node = s.run("base-op-node", volumes=(f"{host_dir}:/data",))
    assert op_node.returncode != 0
    line = _one_line(op_node.stderr, "op-node-entrypoint:")
    assert "/data is not writable by uid 10001" in line, line
    assert "chown -R 10001:10001 <the folder mounted at /data>" in line, line


# ------------------------------------------------- one chain policy in every image (#20)
@pytest.mark.parametrize("client", ["nethermind", "op-reth"])
def test_built_images_carry_the_chain_policy_and_refuse_base_and_dropped_chains(stack,
                                                                                client):
    """The production images, built from docker/ as compose.yml says, carry the shell
    library and the chain policy where the entry points read them (byte for byte
    docker/lib's), and refuse Base in any spelling (the one-shot init service and
    op-node) and, in op-node v1.21.0, a chain that release dropped: one line, exit 64."""
    s = stack(NETWORK="Base", EXECUTION_CLIENT=client)
    s.write_override()
    s.compose("build", timeout=1200)
    for service in ("base-execution-init", "base-op-node"):
        for name in ("opkit.sh", "chain-policy"):
            carried = s.compose("run", "--rm", "--no-deps", "-T", "--entrypoint", "cat",
                                service, f"/usr/local/lib/opkit/{name}")
            assert carried.stdout == (ROOT / "docker" / "lib" / name).read_text(), name
    prefix = {"nethermind": "execution", "op-reth": "op-reth"}[client]
    init = s.run("base-execution-init")
    assert init.returncode == 64, init.stderr
    assert "Base is not supported" in _one_line(init.stderr, f"{prefix}-entrypoint:")
    op_node = s.run("base-op-node")
    assert op_node.returncode == 64, op_node.stderr
    assert "Base is not supported" in _one_line(op_node.stderr, "op-node-entrypoint:")
    dropped = stack(NETWORK="Lisk-Sepolia", EXECUTION_CLIENT=client)
    op_node = dropped.run("base-op-node")
    assert op_node.returncode == 64, op_node.stderr
    line = _one_line(op_node.stderr, "op-node-entrypoint:")
    assert f"Lisk-Sepolia is not built into op-node {STACK_VERSION}" in line, line


# ----------------------------------------------------------- op-reth beside Nethermind
OP_RETH_CLIENT = {"EXECUTION_CLIENT": "op-reth"}


def test_op_reth_image_builds_unchanged_on_the_wolfi_standin(stack):
    """`docker compose build base-execution` with EXECUTION_CLIENT=op-reth builds the
    unchanged docker/op-reth/Dockerfile on the Wolfi-like stand-in: its `apk add` of
    aria2, zstd and curl, its tool check and the `op-reth --version` smoke test run in
    busybox sh, and busybox's addgroup/adduser syntax makes UID/GID 10001. The image runs
    as that user, keeps the base's /app and ports, declares no volume, carries the
    restore's op-reth layout and still has no bash or apt."""
    s = stack(**OP_RETH_CLIENT)
    config = s.write_override()
    pin = config["services"]["base-execution"]["build"]["args"]["OP_RETH_VERSION"]
    # --no-cache: the steps run in this session (a cached step prints nothing)
    done = s.compose("--progress", "plain", "build", "--no-cache", "base-execution",
                     timeout=1200)
    output = done.stdout + done.stderr
    assert "apk (rehearsal stand-in): installed aria2 zstd curl" in output, output
    assert f"op-reth Version: {pin.lstrip('v')}" in output, output

    image = f"{SESSION}-base-execution:{pin}"
    declared = _declared(image)
    assert declared["User"] == "10001:10001"
    assert declared["Entrypoint"] == ["/usr/local/bin/op-reth-entrypoint"]
    assert declared["WorkingDir"] == "/app" and declared["Volumes"] == []
    assert set(kit.REAL_BASES["op-reth"]["ExposedPorts"]) <= set(declared["ExposedPorts"])
    assert declared["Env"]["DATA_DIR"] == "/data/op-reth"
    assert declared["Env"]["SNAPSHOT_LAYOUT"] == "op-reth"
    labels = json.loads(_docker("image", "inspect", "--format", "{{json .Config.Labels}}",
                                image).stdout)
    assert labels["org.opencontainers.image.version"] == pin
    assert labels["org.opencontainers.image.base.name"] == f"{kit.OP_RETH_IMAGE}:{pin}"
    check = _docker("run", "--rm", "--label", f"{TEST_LABEL}=1", "--entrypoint", "/bin/sh",
                    image, "-c", "id; stat -c '%u:%g' /data /data/op-reth /secrets; "
                    "for t in aria2c zstd curl bash apt-get; do command -v $t || true; done").stdout
    lines = check.splitlines()
    assert lines[0].startswith("uid=10001(opreth) gid=10001(opreth)"), lines
    assert lines[1:4] == ["10001:10001"] * 3, lines
    assert [line.rsplit("/", 1)[-1] for line in lines[4:]] == ["aria2c", "zstd", "curl"], lines


def test_op_reth_stack_restores_shares_the_jwt_and_switches_back_to_nethermind(
        stack, tmp_path):
    """The real compose.yml with EXECUTION_CLIENT=op-reth (issue #17's rehearsal):
    - the one-shot base-execution-init restores an op-reth snapshot (OP's layout: a data
      dir one folder down) into /data/op-reth, db/, static_files/ and rocksdb/ directly
      under op-reth's --datadir, before base-execution starts;
    - base-execution turns healthy through docker/op-reth.yml's own check (eth_chainId
      over curl), and only then is op-node started; both read the one secret, and
      op-node's engine API call with it is accepted;
    - op-node gets OP_NODE_L2_ENGINE_KIND=reth (derived from EXECUTION_CLIENT);
    - op-reth's argv: op-node's op-sepolia mapped to --chain=optimism-sepolia, the data
      dir, the engine API on 0.0.0.0:8551 with the secret, RPC on 0.0.0.0:8545, the P2P
      port for RLPx and discv5 alike, the sequencer; the stand-in refuses any flag
      op-reth's CLI snapshot lacks.
    Then EXECUTION_CLIENT=nethermind on the same project: Nethermind runs with the same
    secret, op-node gets engine kind geth, and both data volumes are still there, the
    op-reth one with its restored database."""
    if not shutil.which("zstd"):
        need("zstd makes the test snapshot: apt-get install zstd")
    snapshot = kit.make_snapshot(tmp_path, "op-sepolia", layout="op-reth")
    s = stack(**OP_RETH_CLIENT, OP_SEQUENCER_URL="http://sequencer.example.invalid:8545")
    server = kit.snapshot_server(s.gateway)
    try:
        path = f"/snapshots/{snapshot['name']}"
        server.files[path] = snapshot["data"]
        server.files[path + ".sha256"] = f"{snapshot['sha256']}  {snapshot['name']}\n".encode()
        s.settings["SNAPSHOT_URL"] = server.url + path
        config = s.write_override()
        # this session's name for it (write_override renames every built image)
        op_reth_image = (f"{SESSION}-base-execution:"
                         f"{config['services']['base-execution']['image'].split(':')[-1]}")
        since = time.time()
        s.up()
        s.wait_healthy("base-execution")
        s.wait_healthy("base-op-node")
    finally:
        server.close()
    events = _events(s, since)
    init_done = next(e["time"] for e in events if e["service"] == "base-execution-init"
                     and e["status"] == "die")
    started = {svc: next(e["time"] for e in events if e["service"] == svc
                         and e["status"] == "start")
               for svc in ("base-execution", "base-op-node")}
    healthy = next(e["time"] for e in events if e["service"] == "base-execution"
                   and e["status"] == "health_status: healthy")
    assert init_done < started["base-execution"] < healthy < started["base-op-node"], events

    # the restore, where op-reth opens it
    assert s.state("base-execution-init")["ExitCode"] == 0
    log = s.logs("base-execution-init")
    assert "the archive holds a data dir in op-sepolia/: restoring it" in log, log
    assert f"restored {snapshot['name']} into /data/op-reth" in log, log
    execution = s.record("base-execution")
    assert execution["datadir"] == "/data/op-reth"
    assert execution["datadir_found"] == snapshot["files"] == ["db", "rocksdb",
                                                               "static_files"], execution
    assert execution["db_found"] == ["mdbx.dat", "mdbx.lck"], execution

    # op-reth's command line, from the production entry point
    p2p = s.ports["EXECUTION_P2P_PORT"]
    argv = execution["argv"]
    assert argv[0] == "node", argv
    for flag in ("--chain=optimism-sepolia", "--datadir=/data/op-reth",
                 "--authrpc.addr=0.0.0.0", "--authrpc.port=8551",
                 "--authrpc.jwtsecret=/secrets/jwt.hex", "--http", "--http.addr=0.0.0.0",
                 "--http.port=8545", f"--port={p2p}", f"--discovery.v5.port={p2p}",
                 "--rollup.sequencer=http://sequencer.example.invalid:8545"):
        assert flag in argv, (flag, argv)
    assert execution["chain_id"] == 11155420 and execution["uid"] == 10001
    assert rpc(s.ports["EXECUTION_RPC_PORT"], "eth_chainId") == "0xaa37dc"
    import socket

    with socket.create_connection(("127.0.0.1", p2p), timeout=5) as conn:
        assert conn.recv(100).decode() == f"op-reth-stand-in p2p {p2p}\n"

    # one secret, accepted; op-node told it drives reth
    op_node = s.record("base-op-node")
    assert execution["jwt_sha256"] == op_node["jwt_sha256"] != ""
    deadline = time.monotonic() + 30
    while not op_node["engine_ok"] and time.monotonic() < deadline:
        time.sleep(0.5)
        op_node = s.record("base-op-node")
    assert op_node["engine_ok"], op_node["engine_error"]
    assert s.record("base-execution")["engine_calls"] >= 1
    assert op_node["env"]["EXECUTION_CLIENT"] == "op-reth"
    assert op_node["settings"]["l2.enginekind"] == "reth"
    assert op_node["settings"]["l2"] == "http://base-execution:8551"
    secret = s.compose("exec", "-T", "base-op-node", "stat", "-c", "%a %u:%g %s",
                       "/secrets/jwt.hex").stdout.split()
    assert secret == ["640", "10001:10001", "64"], secret

    # back to Nethermind: same project, same secret, the other data volume
    s.compose("down", "--timeout", "5")
    s.settings["EXECUTION_CLIENT"] = "nethermind"
    del s.settings["SNAPSHOT_URL"]
    s.up()
    s.wait_healthy("base-op-node")
    assert rpc(s.ports["EXECUTION_RPC_PORT"], "web3_clientVersion").startswith("Nethermind/")
    nethermind, op_node = s.record("base-execution"), s.record("base-op-node")
    assert nethermind["argv"][:4] == ["--config", "op-sepolia", "--data-dir",
                                      "/data/nethermind"], nethermind["argv"]
    assert nethermind["jwt_sha256"] == op_node["jwt_sha256"] == execution["jwt_sha256"]
    assert op_node["settings"]["l2.enginekind"] == "geth"
    assert "jwt-init: keeping the existing secret" in s.logs("base-execution-init")

    volumes = _docker("volume", "ls", "--format", "{{.Name}}", "--filter",
                      f"label=com.docker.compose.project={s.project}").stdout.split()
    assert {f"{s.project}_execution-data", f"{s.project}_op-reth-data"} <= set(volumes), \
        volumes
    kept = _docker("run", "--rm", "--label", f"{TEST_LABEL}=1", "--entrypoint", "/bin/sh",
                   "-v", f"{s.project}_op-reth-data:/data", op_reth_image, "-c",
                   "ls /data/op-reth; ls /data/op-reth/db").stdout.split()
    assert kept == ["db", "reth.toml", "rocksdb", "static_files",
                    "STANDIN-OPENED", "mdbx.dat", "mdbx.lck"], kept


# ------------------------------------------------------------------- inv status
def _status(stack: Stack, *args: str) -> tuple[dict, int]:
    done = _inv(stack, "status", "--json", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout), done.returncode


@pytest.mark.parametrize("client", [None, "op-reth"])
def test_status_on_the_real_compose_yml_shows_sync_wiring_and_forks(stack, tmp_path, client):
    """`inv status --json` against the running stack of the real compose.yml (issue #21),
    for Nethermind and op-reth. The op-node stand-in reports a chain that moves with the
    clock (optimism_syncStatus, new shape), the execution stand-ins its head and peers;
    L1 (Sepolia) and a beacon serving blobs are stand-ins on the gateway of the stack's
    network, where the containers would reach them (L1_RPC_URL, L1_BEACON_URL). Status
    reads op-node's JWT out of the running op-node container and signs eth_chainId to
    the engine API at the execution container's address on the compose network.
    - A second run a few seconds later has a rate from the first one's reading.
    - The fork line comes from the known-forks file (an empty GitHub cache, no request):
      Lagoon next; op-reth v2.10.0 carries it, the Nethermind stand-in (which calls itself
      0.0.0) is not the pinned 1.39.3, so its versions and forks lines warn: degraded.
    - Then another secret in the jwt volume (the running execution client keeps the one
      it read): the engine API refuses op-node's new token with the client's own 401
      body, and status calls it a JWT mismatch, exit 2; `inv doctor` names it too."""
    from tests import status_standins as si

    s = stack(**({"EXECUTION_CLIENT": client} if client else {}))
    l1, beacon = si.Server(s.gateway), si.Server(s.gateway)
    try:
        l1.methods["eth_chainId"] = lambda: hex(11155111)
        si.beacon_routes(beacon, lambda: 10_000_000, lambda: "serve")
        s.settings.update(L1_RPC_URL=l1.url, L1_BEACON_URL=beacon.url,
                          XDG_CACHE_HOME=str(tmp_path / "cache"),
                          GITHUB_API_URL="http://127.0.0.1:9")  # never asked
        s.up()
        s.wait_healthy("base-op-node")

        first, _ = _status(s)
        time.sleep(6)
        report, code = _status(s)
        probes = {p["name"]: p for p in report["probes"]}
        # kept for docs/status.md (run with --basetemp to find them)
        (tmp_path / "status.json").write_text(json.dumps(report, indent=2))
        (tmp_path / "status.txt").write_text(_inv(s, "status").stdout)
        assert report["network"] == "op-sepolia"
        assert report["client"] == (client or "nethermind")
        for name in ("sync", "progress", "execution", "engine", "chain id", "l1", "beacon"):
            assert probes[name]["status"] == "ok", (name, probes[name])
        assert probes["sync"]["data"]["cross"] == {}
        assert probes["progress"]["data"]["rate_blocks_per_second"] == pytest.approx(0.5,
                                                                                     abs=0.2)
        assert probes["engine"]["detail"] == \
            "answers eth_chainId (11155420) signed with op-node's JWT"
        assert probes["chain id"]["detail"] == \
            "op-node and the execution client both on 11155420"
        assert "/secrets/jwt.hex in the running base-op-node container" in \
            report["routes"]["jwt"]
        assert "base-execution's address on the compose network" in report["routes"]["engine"]
        assert probes["forks"]["detail"].startswith("next: lagoon in ")
        if client == "op-reth":
            assert probes["versions"]["status"] == "ok", probes["versions"]
            assert probes["forks"]["status"] == "ok", probes["forks"]
            assert (report["overall"], code) == ("healthy", 0)
        else:
            assert probes["versions"]["detail"] == \
                "Nethermind runs 0.0.0, NETHERMIND_VERSION pins 1.39.3"
            assert probes["forks"]["status"] == "warn"
            assert (report["overall"], code) == ("degraded", 1)
        assert first["probes"][1]["status"] == "skip"  # the first reading had no rate

        s.compose("exec", "-T", "base-execution", "sh", "-c",
                  "printf '%064d' 7 > /secrets/jwt.hex")
        report, code = _status(s)
        engine = next(p for p in report["probes"] if p["name"] == "engine")
        said = "op-reth: the token is signed with another secret" if client else \
            "Nethermind refused the token"
        assert engine["detail"] == f"JWT mismatch: the engine API answered 401 ({said})"
        assert (report["overall"], code) == ("down", 2)
        doctor = _inv(s, "doctor")
        out = doctor.stdout + doctor.stderr
        assert re.search(r"^fail +live engine +JWT mismatch", out, re.M), out
        assert re.search(r"^ok +live l1 +L1 RPC on Sepolia", out, re.M), out
        assert re.search(r"^ok +live beacon +head slot 10000000", out, re.M), out
    finally:
        l1.close()
        beacon.close()
