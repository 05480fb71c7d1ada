"""The rehearsal: the production Dockerfiles and compose.yml, unchanged, built and run
on the real engine, with stand-ins only for what cannot be fetched here.

- Base images: golang:1.19-alpine, golang:1.19.8-alpine, alpine:3.23 and
  nethermind/nethermind:<pin> are local stand-ins on a Debian root file system
  (tests/rehearsal_kit.py); the production RUN steps run in them for real (apt-get,
  git, just, go build, useradd).
- Upstream: a fixture optimism monorepo with op-node tags of every era, served over
  git's smart HTTP on 127.0.0.1 (the build reaches it through a test-side compose
  override: build network host).
- Clients: op-node is the fixture monorepo's, compiled by the production Dockerfile;
  Nethermind is a small Go program in its stand-in image. Both answer the health
  checks' JSON-RPC calls and record what the entry points started them with.

Everything a test creates is labelled opstack-image-kit.test and removed; the cached
stand-in images (label opstack-image-kit.rehearsal-standin) stay for the next run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import uuid
from io import BytesIO
from pathlib import Path

import pytest
import rehearsal_kit as kit
from conftest import TEST_LABEL, _need

pytestmark = pytest.mark.rehearsal

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yml"
SESSION = f"opkit-rehearsal-{uuid.uuid4().hex[:8]}"
RUN_ENV = {  # the settings compose.yml requires to run at all
    "NETWORK": "op-sepolia",
    "L1_RPC_URL": "http://l1.example.invalid:8545",
    "L1_BEACON_URL": "http://beacon.example.invalid:5052",
}
STACK_VARS = sorted(set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text())))


def _compose_available() -> None:
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if done.returncode != 0:
        _need("docker compose v2 is not installed")


def _env(**values: str) -> dict[str, str]:
    """The caller's environment without anything compose.yml or compose reads."""
    env = {k: v for k, v in os.environ.items()
           if k not in STACK_VARS and not k.startswith("COMPOSE_")}
    env.update(DOCKER_BUILDKIT="1", COMPOSE_DOCKER_CLI_BUILD="1")
    env.update(values)
    return env


def _pin(name: str) -> str:
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--format", "json"],
                          env=_env(**RUN_ENV), capture_output=True, text=True, check=True)
    config = json.loads(done.stdout)["services"]
    for service in config.values():
        if name in service["build"]["args"]:
            return service["build"]["args"][name]
    raise KeyError(name)


def _remove_images(prefix: str) -> None:
    done = subprocess.run(["docker", "image", "ls", "--filter", f"label={TEST_LABEL}",
                           "--format", "{{.Repository}}:{{.Tag}}"],
                          capture_output=True, text=True)
    refs = [r for r in done.stdout.split() if r.startswith(prefix)]
    if refs:
        subprocess.run(["docker", "image", "rm", "-f", *refs], capture_output=True)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def standins(engine, tmp_path_factory):
    """The stand-in base images, made once (then cached in the engine)."""
    _compose_available()
    factory = kit.StandinFactory(tmp_path_factory.mktemp("standins"))
    made = factory.make(nethermind_version=_pin("NETHERMIND_VERSION"))
    yield made
    _remove_images(SESSION)


@pytest.fixture(scope="session")
def monorepo(tmp_path_factory):
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
def build_op_node(tmp_path: Path, monorepo: kit.Monorepo, version: str, just: str,
                  commit: str | None = None) -> tuple[subprocess.CompletedProcess, str]:
    """`docker compose build base-op-node` of the real compose.yml, with the fixture
    monorepo as OP_NODE_REPO, and an override that only labels the image, names it for
    this session (never base-op-node:*), drops the extra :latest tag and lets the build
    reach 127.0.0.1. The builder is the stand-in golang image of that just."""
    image = f"{SESSION}-op-node:{version}-just{just}-{uuid.uuid4().hex[:4]}"
    override = _override(tmp_path / f"override-{uuid.uuid4().hex[:6]}.yml", {
        "base-op-node": {
            "image": image,
            "build": {"network": "host", "labels": {TEST_LABEL: "1"},
                      "tags": Tag("!reset", [])},
        }})
    env = _env(**RUN_ENV, OP_NODE_REPO=monorepo.url, OP_NODE_VERSION=version,
               OP_NODE_COMMIT=monorepo.commits.get(version, "") if commit is None else commit,
               GO_VERSION=kit.GO_VERSION_OF_JUST[just],
               COMPOSE_PROJECT_NAME=f"{SESSION}-build")
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
    done, image = build_op_node(tmp_path, monorepo, version, just)
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


def test_elf_reader_tells_a_dynamic_unstripped_binary():
    """Control for the ELF checks above: a dynamically linked host binary is seen as
    such (Debian's binaries are stripped of .symtab too, so only `static` is checked)."""
    elf = kit.read_elf(Path("/usr/bin/git").read_bytes())
    assert not elf.static


def test_op_node_image_builds_with_a_seven_hex_commit_pin(tmp_path, standins, monorepo):
    """compose.yml pins op-node by the 7-hex prefix its release page shows."""
    commit = monorepo.commits["v1.21.0"]
    done, image = build_op_node(tmp_path, monorepo, "v1.21.0", kit.OLD_JUST, commit=commit[:7])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"op-node/v1.21.0 at {commit}" in done.stdout + done.stderr
    labels = json.loads(_docker("image", "inspect", "--format", "{{json .Config.Labels}}",
                                image).stdout)
    assert labels["org.opencontainers.image.revision"] == commit[:7]


def test_op_node_build_refuses_a_tag_that_moved(tmp_path, standins, monorepo):
    """The pin is v1.19.1's commit, but the tag op-node/v1.21.0 points elsewhere: the
    build stops at the clone step with the moved-tag message, and tags no image."""
    pinned, actual = monorepo.commits["v1.19.1"], monorepo.commits["v1.21.0"]
    done, image = build_op_node(tmp_path, monorepo, "v1.21.0", kit.NEW_JUST, commit=pinned)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert (f"op-node/v1.21.0 is commit {actual}, but OP_NODE_COMMIT pins {pinned}: "
            "the tag moved upstream or the pin is wrong") in output
    assert "op-node version" not in output  # the compile step never ran
    assert _docker("image", "inspect", image, check=False).returncode != 0
