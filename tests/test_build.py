"""Build tasks: flags reach the command line; on the real engine, versions land in tags
and labels, cached rebuilds are reported, cache mounts survive a version bump, and bad
input or a broken host stops before anything is built."""

import copy
import dataclasses
import os
import shutil
import subprocess

import pytest
from invoke import Context, MockContext, Result

from tasks import _build_flags, _building, _compose, _dockerfile, _refs, _steps, build
from tasks._errors import KitError
from tests.helpers import (
    ROOT,
    TEST_LABEL,
    assert_one_line_error,
    base_files_size,
    engine_store,
    inv,
    inv_process,
    need,
    remove_images,
)


# ------------------------------------------------------------------ command lines
def test_flags_reach_the_compose_command_line(monkeypatch):
    """--push is not among them: compose's `build --push` pushes before the audit has
    seen the image (tasks/_push.py pushes after it)."""
    monkeypatch.setenv("COMPOSE_FILE", "/srv/node/compose.yml")
    flags = _build_flags.BuildFlags(no_cache=True, pull=True, push=True, builder="remote",
                             progress="plain")
    expected = ("docker compose --progress plain build --no-cache --pull "
                "--builder remote base-op-node")
    c = MockContext(run={expected: Result(exited=0)})
    _compose.run_compose(c, *flags.compose_args("base-op-node"))
    assert c.run.call_args.args[0] == expected
    assert c.run.call_args.kwargs["env"]["DOCKER_BUILDKIT"] == "1"


def test_default_flags_compose_a_plain_build(monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    args = _build_flags.BuildFlags().compose_args("base-execution")
    assert args == ["--progress", "auto", "build", "base-execution"]
    assert _compose.compose_argv(*args)[:4] == ["docker", "compose", "--project-directory",
                                               str(ROOT)]


def test_one_platform_goes_through_the_environment():
    flags = _build_flags.BuildFlags(platform="linux/arm64")
    assert flags.env() == {"DOCKER_DEFAULT_PLATFORM": "linux/arm64"}
    assert not flags.needs_buildx


def test_several_platforms_bake_the_compose_files(monkeypatch):
    monkeypatch.setenv("COMPOSE_FILE", "/a/compose.yml:/a/override.yml")
    flags = _build_flags.BuildFlags(platform="linux/amd64,linux/arm64", push=True, builder="ci")
    assert flags.needs_buildx
    assert flags.bake_argv("base-op-node") == [
        "docker", "buildx", "bake", "--file", "/a/compose.yml", "--file", "/a/override.yml",
        "--push", "--set", "base-op-node.platform=linux/amd64,linux/arm64", "--builder", "ci",
        "--progress", "auto", "base-op-node"]


def test_every_build_task_takes_the_flags_of_the_table():
    names = [flag.name for flag in _build_flags.BUILD_FLAGS]
    # a copy: get_arguments() consumes a Task's help, and the module's tasks keep theirs
    for name, body in copy.deepcopy(build.collection()).tasks.items():
        args = {a.name: a for a in body.get_arguments()}
        assert [n for n in args if n in names] == names, name  # in the table's order
        for flag in _build_flags.BUILD_FLAGS:
            assert args[flag.name].help == flag.help, (name, flag.name)
    assert [f.name for f in dataclasses.fields(_build_flags.BuildFlags)] == names


# How the CLIs spell each build flag, written out here (never taken from
# _build_flags.BUILD_FLAGS): `docker compose [--progress MODE] build [--no-cache] [--pull] [--push]
# [--builder NAME] SERVICE` (`docker compose --help` and `docker compose build --help`,
# compose v2) and `docker buildx bake [--file F]... [--no-cache] [--pull] [--push] [--set
# TARGET.platform=P] [--builder NAME] [--progress MODE] TARGET` (docs.docker.com,
# reference/cli/docker/buildx/bake). Compose has no platform flag: one platform goes to it
# as DOCKER_DEFAULT_PLATFORM, several need bake. --push never reaches `compose build`:
# the image is pushed (`docker compose push`) only after its audit passed (#19 item 1).
BAKE = ["docker", "buildx", "bake", "--file", "/a/compose.yml"]
ONE_FLAG = [  # (the flag alone, compose's argv, bake's argv)
    ({"no_cache": True}, ["--progress", "auto", "build", "--no-cache", "svc"],
     [*BAKE, "--no-cache", "--progress", "auto", "svc"]),
    ({"pull": True}, ["--progress", "auto", "build", "--pull", "svc"],
     [*BAKE, "--pull", "--progress", "auto", "svc"]),
    ({"push": True}, ["--progress", "auto", "build", "svc"],
     [*BAKE, "--push", "--progress", "auto", "svc"]),
    ({"platform": "linux/arm64"}, ["--progress", "auto", "build", "svc"],
     [*BAKE, "--set", "svc.platform=linux/arm64", "--progress", "auto", "svc"]),
    ({"builder": "b"}, ["--progress", "auto", "build", "--builder", "b", "svc"],
     [*BAKE, "--builder", "b", "--progress", "auto", "svc"]),
    ({"progress": "plain"}, ["--progress", "plain", "build", "svc"],
     [*BAKE, "--progress", "plain", "svc"]),
]


def test_the_table_spells_each_flag_for_compose_and_bake(monkeypatch):
    """Every flag set at once gives exactly the argv the CLIs take (spelled out above)."""
    monkeypatch.setenv("COMPOSE_FILE", "/a/compose.yml")
    everything = _build_flags.BuildFlags(no_cache=True, pull=True, push=True, builder="b",
                                  platform=" linux/amd64 , linux/arm64", progress="plain")
    assert everything.platform == "linux/amd64,linux/arm64"
    assert everything.compose_args("svc") == [
        "--progress", "plain", "build", "--no-cache", "--pull", "--builder", "b",
        "svc"]
    assert everything.bake_argv("svc") == [
        *BAKE, "--no-cache", "--pull", "--push", "--set",
        "svc.platform=linux/amd64,linux/arm64", "--builder", "b", "--progress", "plain", "svc"]


@pytest.mark.parametrize("flag, compose, bake", ONE_FLAG, ids=lambda v: "-".join(v)
                         if isinstance(v, dict) else None)
def test_each_flag_alone_is_spelled_as_the_clis_spell_it(monkeypatch, flag, compose, bake):
    monkeypatch.setenv("COMPOSE_FILE", "/a/compose.yml")
    flags = _build_flags.BuildFlags(**flag)
    assert flags.compose_args("svc") == compose
    assert flags.bake_argv("svc") == bake


def test_every_flag_of_the_table_has_a_spelling_here():
    """A flag added to _build_flags.BUILD_FLAGS needs its CLI spelling in ONE_FLAG."""
    assert {f.name for f in _build_flags.BUILD_FLAGS} == {
        n for flag, _, _ in ONE_FLAG for n in flag}


@pytest.fixture
def captured_builds(monkeypatch):
    """The BuildFlags each build task was called with (nothing is built)."""
    seen = []
    monkeypatch.setattr(_steps, "build_and_audit", lambda c, services, flags, env=None,
                        config=None: seen.append((services, flags)))
    return seen


def test_flag_defaults_come_from_the_config_and_the_command_line_wins(captured_builds,
                                                                       tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "invoke.yaml").write_text(
        "build:\n  progress: plain\n  platform: linux/arm64\n  builder: remote\n")
    assert inv("build", project=checkout).returncode == 0
    assert inv("build.execution", "--progress", "quiet", "--platform", "linux/amd64",
               project=checkout).returncode == 0
    assert inv("build.op-node", env={"INVOKE_BUILD_PROGRESS": "tty"}).returncode == 0
    assert inv("build.op-node").returncode == 0
    (_, configured), (services, given), (_, from_env), (_, plain) = captured_builds
    assert (configured.progress, configured.platform, configured.builder) == \
        ("plain", "linux/arm64", "remote")
    assert services == ["base-execution"]
    assert (given.progress, given.platform, given.builder) == ("quiet", "linux/amd64", "remote")
    assert from_env.progress == "tty"
    assert plain == _build_flags.BuildFlags()  # progress auto, no platform, no builder


def test_a_bad_configured_flag_is_a_one_line_error(captured_builds, tmp_path):
    (tmp_path / "invoke.yaml").write_text("build:\n  progress: fancy\n")
    done = inv("build", project=tmp_path)
    assert done.returncode == 1 and not captured_builds
    assert done.stderr == "error: unknown --progress 'fancy'; accepted: auto, plain, quiet, tty\n"


@pytest.mark.parametrize("kwargs, named", [
    ({"progress": "fancy"}, "'fancy'"),
    ({"platform": "arm64"}, "'arm64'"),
    ({"platform": "linux/amd64,Linux ARM"}, "'Linux ARM'"),
])
def test_bad_flags_are_one_line_errors(kwargs, named):
    with pytest.raises(KitError) as info:
        _build_flags.BuildFlags(**kwargs).validate()
    assert named in info.value.message and "\n" not in info.value.message


# ------------------------------------------------------------------ real engine
def test_cached_rebuild_is_reported_as_cached(engine, fixture_project):
    project = fixture_project()
    first = _building.run_builds(Context(), ["base-execution"],
                                 _build_flags.BuildFlags(progress="quiet"))
    again = _building.run_builds(Context(), ["base-execution"],
                                 _build_flags.BuildFlags(progress="quiet"))
    assert first[0].image == project.image("base-execution")
    assert first[0].cached is False
    assert again[0].cached is True
    # the files' bytes on every store (the base's busybox and a short script)
    assert again[0].size == first[0].size
    assert base_files_size() <= again[0].size <= base_files_size() * 1.01


def test_cache_mount_survives_a_version_bump(engine, fixture_project):
    project = fixture_project()
    quiet = _build_flags.BuildFlags(progress="quiet")
    _building.run_builds(Context(), ["base-op-node"], quiet, env={"OP_NODE_VERSION": "v1.0.0"})
    bumped = _building.run_builds(Context(), ["base-op-node"], quiet,
                              env={"OP_NODE_VERSION": "v1.1.0"})
    assert bumped[0].image == project.image("base-op-node", "v1.1.0")
    assert bumped[0].cached is False
    seen = engine.containers.run(bumped[0].image, ["cat", "/cache-seen.txt"], remove=True)
    assert "built-v1.0.0" in seen.decode().split()


@pytest.fixture
def no_buildx(tmp_path, monkeypatch):
    """A `docker` first on PATH that has no buildx plugin, whatever this host has: it
    answers `docker buildx ...` as a CLI without the plugin does, and passes the rest on."""
    real = shutil.which("docker")
    if real is None:
        pytest.skip("the docker CLI is not installed")
    folder = tmp_path / "bin-without-buildx"
    folder.mkdir()
    wrapper = folder / "docker"
    wrapper.write_text("#!/bin/sh\n"
                       'if [ "$1" = buildx ]; then\n'
                       "  echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1\n"
                       "fi\n"
                       f'exec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("flags, need", [
    ({"platform": "linux/amd64,linux/arm64"}, "several platforms (linux/amd64,linux/arm64)"),
    ({"builder": "remote"}, "--builder"),
])
def test_what_needs_buildx_stops_before_building_on_a_host_without_it(
        engine, fixture_project, no_buildx, flags, need):
    project = fixture_project()
    with pytest.raises(KitError) as info:
        _building.run_builds(Context(), ["base-op-node"], _build_flags.BuildFlags(**flags))
    assert info.value.message == (
        f"error: {need} needs docker buildx, which this host lacks; install the buildx "
        "plugin or build for one platform with the engine's own BuildKit")
    assert not engine.images.list(name=project.repo("base-op-node"))


# Cross-compiles as docker/op-node/Dockerfile does, and needs no arm64 execution: the
# builder runs on the build host's platform (the base image is amd64 busybox), the target
# stage only copies. No emulator is registered here, so an arm64 RUN would fail.
CROSS_OP_NODE = """\
ARG BASE_IMAGE
FROM --platform=$BUILDPLATFORM ${{BASE_IMAGE}} AS builder
ARG OP_NODE_VERSION
ARG BUILDPLATFORM
ARG TARGETOS
ARG TARGETARCH
RUN mkdir -p /out && echo "$OP_NODE_VERSION built on $BUILDPLATFORM for $TARGETOS/$TARGETARCH" \\
      > /out/built-for
FROM scratch
COPY --from=builder /out/built-for /built-for
"""


def test_several_platforms_stay_local_only_where_the_store_holds_them(
        engine, fixture_project, registry, monkeypatch):
    """`--platform linux/amd64,linux/arm64`: the containerd store keeps both under the tag
    (each cross-compiled on the build host), and --push pushes an index a host pulls by
    digest. The classic store would keep only the last platform, and the engine's own
    builder cannot push several: there both are refused before anything is built.
    Without buildx, buildx is what is missing."""
    project = fixture_project(dockerfiles={"op-node": CROSS_OP_NODE})
    ref = project.image("base-op-node")
    several = ("--platform", "linux/amd64,linux/arm64", "--progress", "quiet")
    done = inv("build.op-node", *several)
    if not _compose.has_buildx(Context()):
        assert "needs docker buildx, which this host lacks" in assert_one_line_error(done)
        assert not engine.images.list(name=project.repo("base-op-node"))
        return
    if engine_store(engine) == "classic":
        error = assert_one_line_error(done)
        assert error.startswith("error: several platforms (linux/amd64,linux/arm64) without "
                                "--push would leave one platform here"), error
        assert "--push" in error and "containerd image store" in error
        monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
        error = assert_one_line_error(inv("build.op-node", "--push", *several))
        assert "cannot be pushed by buildx builder default (driver docker)" in error, error
        assert "--driver docker-container" in error
        assert not engine.images.list(name=project.repo("base-op-node"))
        assert registry.tags(project.repo("base-op-node")) == []
        return
    assert done.returncode == 0, done.stderr
    api = engine.api
    image = api._result(api._get(api._url(f"/images/{ref}/json"), params={"manifests": 1}), True)
    if "Manifests" in image:  # API 1.48 and later; each platform's image is read below anyway
        platforms = {f"{m['ImageData']['Platform']['os']}/"
                     f"{m['ImageData']['Platform']['architecture']}"
                     for m in image["Manifests"] if m["Kind"] == "image"}
        assert platforms == {"linux/amd64", "linux/arm64"}
    for arch in ("amd64", "arm64"):
        made = subprocess.run(["docker", "create", "--platform", f"linux/{arch}",
                               "--label", TEST_LABEL, ref, "/none"],
                              capture_output=True, text=True, check=True).stdout.strip()
        try:
            copied = subprocess.run(["docker", "cp", f"{made}:/built-for", "-"],
                                    capture_output=True, check=True).stdout
        finally:
            subprocess.run(["docker", "rm", made], capture_output=True)
        assert f"built on linux/amd64 for linux/{arch}".encode() in copied
    assert ref in done.stdout[done.stdout.index("built:"):]
    # pushed: the index of both platforms, by the digest the kit prints
    monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
    pushed = inv("build.op-node", "--push", *several)
    assert pushed.returncode == 0, pushed.stderr
    line = next(x for x in pushed.stdout.splitlines() if " and :latest -> " in x)
    pinned = line.split(" -> ")[1].strip()
    assert pinned.startswith(f"{registry.address}/{project.repo('base-op-node')}@sha256:")
    pulled = subprocess.run(["docker", "buildx", "imagetools", "inspect", pinned],
                            capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 0, pulled.stderr
    assert "linux/amd64" in pulled.stdout and "linux/arm64" in pulled.stdout


def test_unknown_service_in_users_compose_file_is_named(engine, fixture_project, tmp_path):
    project = fixture_project()
    text = project.compose_file.read_text().replace("base-execution:", "execution:", 1)
    project.compose_file.write_text(text)
    with pytest.raises(KitError, match="'base-execution' is not in the compose project"):
        _building.run_builds(Context(), ["base-execution"], _build_flags.BuildFlags())


def test_dead_daemon_stops_the_build_cleanly(tmp_path):
    done = inv_process("build.op-node", env={"DOCKER_HOST": f"unix://{tmp_path}/gone.sock"})
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the Docker engine")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_missing_compose_names_the_fix(engine, fixture_project, tmp_path):
    fixture_project()
    empty = tmp_path / "docker-config"
    empty.mkdir()
    done = inv("build.execution", env={"DOCKER_CONFIG": str(empty)})
    assert done.returncode == 1
    assert "docker compose v2 is missing" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------- resolution through the stand-in API
OPTIMISM = "ethereum-optimism/optimism"
GOMOD = "module github.com/ethereum-optimism/optimism\n\ngo 1.24.0\n\ntoolchain go1.24.3\n"
V116 = "ab" * 20


@pytest.fixture
def upstream(github_api):
    """Upstream as it is around the design card's example: op-node went v1.14.3 ->
    v1.16.0 (no v1.15.0 tag exists in ethereum-optimism/optimism), and the monorepo holds
    other components' tags with neighbouring numbers."""
    github_api.add_repo(OPTIMISM, {"op-node/v1.16.0": V116, "op-node/v1.14.3": "cd" * 20,
                                   "op-batcher/v1.15.0": "ef" * 20},
                        annotated={"op-node/v1.16.0"}, gomod=GOMOD)
    return github_api


def test_resolved_version_lands_in_tag_labels_and_args(engine, fixture_project, upstream):
    project = fixture_project()
    env = _steps.resolve(Context(), "op-node", "v1.16", pre=False)
    assert env == {"OP_NODE_VERSION": "v1.16.0", "OP_NODE_COMMIT": V116, "GO_VERSION": "1.24"}
    built = _building.run_builds(Context(), ["base-op-node"],
                                 _build_flags.BuildFlags(progress="quiet"), env)
    image = engine.images.get(project.image("base-op-node", "v1.16.0"))
    assert built[0].image == project.image("base-op-node", "v1.16.0")
    assert image.labels["org.opencontainers.image.version"] == "v1.16.0"
    assert image.labels["org.opencontainers.image.revision"] == V116
    out = engine.containers.run(image.id, ["op-node", "--version"], remove=True).decode()
    assert out.strip() == f"op-node version v1.16.0-{V116} (go 1.24)"


def test_design_card_example_v1_15_0_stops_with_one_line_naming_the_neighbours(
        engine, fixture_project, upstream):
    """`inv build.op-node --version=v1.15.0` is the design card's own example, and no
    such release exists: one line, the nearest releases on each side, nothing built."""
    project = fixture_project()
    done = inv("build.op-node", "--version=v1.15.0")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: op-node v1.15.0 does not exist upstream; nearest: "
                               "v1.16.0, v1.14.3"), lines[0]
    assert "Traceback" not in done.stderr
    assert not engine.images.list(name=project.repo("base-op-node"))
    assert all(r["path"].startswith(f"/repos/{OPTIMISM}/") for r in upstream.requests)


def test_inv_build_op_node_end_to_end(engine, fixture_project, upstream):
    project = fixture_project()
    done = inv("build.op-node", "--version=v1.16.0", "--progress=quiet")
    assert done.returncode == 0, done.stderr
    assert "resolved op-node v1.16.0 -> op-node/v1.16.0" in done.stderr
    ref = project.image("base-op-node", "v1.16.0")
    summary = done.stdout[done.stdout.index("built:"):]
    assert ref in summary and "rebuilt" in summary
    assert "base-op-node" in done.stdout[done.stdout.index("built:"):]  # the audit follows
    again = inv("build.op-node", "--version=v1.16.0", "--progress=quiet")
    assert "fully from cache" in again.stdout[again.stdout.index("built:"):]


def test_inv_build_fails_with_audit_exit_when_over_budget(engine, fixture_project, tmp_path):
    project = fixture_project()
    tight = tmp_path / "tight.yaml"
    tight.write_text("audit:\n  budgets:\n    base-execution: 1kB\n")
    done = inv("-f", str(tight), "build", "--progress=quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    assert project.image("base-execution") in done.stdout
    assert engine.images.get(project.image("base-op-node"))  # both built before the audit


def test_build_resolves_in_the_configured_upstream_repository(github_api, tmp_path):
    """`source.op_node_repo` (here INVOKE_SOURCE_OP_NODE_REPO) names a mirror: the build's
    resolution asks the mirror, as `inv source.*` does, and never the default upstream."""
    mirror = "someorg/optimism-mirror"
    github_api.add_repo(mirror, {"op-node/v1.16.0": V116}, gomod=GOMOD)
    done = inv("build.op-node", "--version", "v1.16.0",
               env={"INVOKE_SOURCE_OP_NODE_REPO": mirror,
                    "DOCKER_HOST": f"unix://{tmp_path}/gone.sock"})
    assert f"resolved op-node v1.16.0 -> op-node/v1.16.0 @ {V116[:12]}" in done.stderr
    assert done.returncode == 1 and "cannot reach the Docker engine" in done.stderr
    assert github_api.requests
    assert all(r["path"].startswith(f"/repos/{mirror}/") for r in github_api.requests)


# ------------------------------------------------------------------ bad input, in one line
@pytest.mark.parametrize("version, where", [
    ("v1.21.0", "`inv build.op-node --version v1.21.0` or `inv build.op-reth --version "
                "v1.21.0`"),
    ("1.39.3", "`inv build.execution --version 1.39.3`"),
])
def test_inv_build_with_a_version_points_at_the_component_task(version, where):
    """`inv build --version v1.21.0` answered Invoke's "No idea what 'v1.21.0' is!"."""
    line = assert_one_line_error(inv("build", "--version", version))
    assert line.startswith("error: `inv build` builds every component at its pin"), line
    assert line.endswith(f"to build one at {version!r}: {where}"), line


@pytest.mark.parametrize("task", ["build.op-node", "build.execution"])
def test_an_empty_version_is_refused_not_taken_for_the_pin(task, tmp_path):
    """`build.op-node --version=` built the pin without a word; it stops before the
    engine is even asked (here: none answers)."""
    done = inv(task, "--version=", env={"DOCKER_HOST": f"unix://{tmp_path}/gone.sock"})
    line = assert_one_line_error(done)
    assert line == ("error: --version is empty: give latest, vX.Y, vX.Y.Z or a "
                    "pre-release, or leave --version out to build the pin")


# ------------------------------------------------------------------ build, then push
def test_several_platforms_build_and_load_one_at_a_time_without_pushing(monkeypatch):
    """The bake path builds each platform on its own and loads it for the audit; the push
    (bake --push of every platform, from the cache) comes only after the audit."""
    monkeypatch.setenv("COMPOSE_FILE", "/a/compose.yml")
    flags = _build_flags.BuildFlags(platform="linux/amd64,linux/arm64", push=True, no_cache=True)
    one = dataclasses.replace(flags, platform="linux/arm64")
    assert one.bake_argv("svc", load=True) == [
        "docker", "buildx", "bake", "--file", "/a/compose.yml", "--no-cache",
        "--set", "svc.platform=linux/arm64", "--progress", "auto", "--load", "svc"]
    assert "--push" in flags.bake_argv("svc")


# ------------------------------------------------------------------ stand-in bases
def test_base_images_are_read_as_buildkit_reads_the_from_lines():
    text = ("# syntax is a comment\nARG GO_VERSION=1.22\nARG BASE=alpine\n"
            "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS builder\n"
            "ARG LATE=ignored\nFROM builder AS again\nFROM scratch\n"
            "FROM \\\n  ${BASE}:3.23\nFROM ${MISSING:-busybox}:1\n")
    assert _dockerfile.base_images(text, {"GO_VERSION": "1.24"}) == [
        "golang:1.24-alpine", "alpine:3.23", "busybox:1"]
    assert _dockerfile.base_images(text)[0] == "golang:1.22-alpine"  # the ARG's default


def test_the_production_dockerfiles_bases_are_found():
    """What the check compares for the real build: the names the rehearsal retags."""
    op_node = (ROOT / "docker" / "op-node" / "Dockerfile").read_text()
    execution = (ROOT / "docker" / "execution" / "Dockerfile").read_text()
    assert _dockerfile.base_images(op_node, {"GO_VERSION": "1.24"}) == [
        "golang:1.24-alpine", "alpine:3.23"]
    assert _dockerfile.base_images(execution, {"NETHERMIND_VERSION": "1.39.3"}) == [
        "nethermind/nethermind:1.39.3"]


def test_the_op_reth_dockerfiles_base_is_found():
    """op-reth's image builds FROM OP Labs' us-docker.pkg.dev/oplabs-tools-artifacts/
    images/op-reth:vX.Y.Z (optimism docker-bake.hcl, target op-reth; CONTRACTS-17): the
    name a stand-in left by the rehearsal would carry."""
    path = ROOT / "docker" / "op-reth" / "Dockerfile"
    if not path.is_file():
        need("docker/op-reth/Dockerfile (the op-reth image) is not in this checkout")
    assert _dockerfile.base_images(path.read_text(), {"OP_RETH_VERSION": "v2.10.0"}) == [
        "us-docker.pkg.dev/oplabs-tools-artifacts/images/op-reth:v2.10.0"]


@pytest.fixture
def standin(engine, base_image, tmp_path):
    """An image carrying the rehearsal's stand-in label under a name of the test's own
    (never a real one such as alpine:3.23), removed afterwards."""
    import uuid

    name = f"opkit-test-standin-{uuid.uuid4().hex[:8]}:3.23"
    (tmp_path / "standin").mkdir()
    (tmp_path / "standin" / "Dockerfile").write_text(f"FROM {base_image}\n")
    engine.images.build(path=str(tmp_path / "standin"), tag=name, rm=True,
                        labels={_refs.STANDIN_LABEL: "test", TEST_LABEL: "1"})
    yield name
    remove_images(engine, lambda tags: name in tags)


def test_a_stand_in_left_under_a_base_name_stops_the_build(engine, fixture_project, standin):
    """An interrupted rehearsal leaves stand-ins under the names the Dockerfiles use; the
    next build would make production images on them. It is refused in one line naming
    the image and the fix, and nothing is built; a service whose Dockerfile does not use
    it builds as before."""
    project = fixture_project(dockerfiles={"op-node": (
        f"ARG BASE_IMAGE\nARG RUNTIME={standin}\nFROM ${{{{BASE_IMAGE}}}} AS tools\n"
        "FROM ${{RUNTIME}}\nRUN echo built > /built\n")})
    line = assert_one_line_error(inv("build.op-node", "--progress", "quiet"))
    assert line == (f"error: {standin} (a base image of base-op-node) is a rehearsal "
                    f"stand-in left behind by an interrupted test run (label "
                    f"{_refs.STANDIN_LABEL}), not the real image: remove it with "
                    f"`docker rmi {standin}` and build again")
    assert not engine.images.list(name=project.repo("base-op-node"))
    done = inv("build.execution", "--progress", "quiet")
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ the execution client
@pytest.mark.parametrize("client", ["nethermind", "op-reth"])
def test_inv_build_builds_op_node_and_the_client_in_use(engine, fixture_project, client):
    """`inv build` builds what the stack runs: op-node and the client EXECUTION_CLIENT
    selects (through compose's extends of docker/<client>.yml), never the other one, and
    its audit names the client. On 83371fe the audit's rows named no client."""
    from tasks import _components

    project = fixture_project()
    other = next(c for c in _components.clients() if c != client)
    done = inv("build", "--progress=quiet", env={"EXECUTION_CLIENT": client})
    assert done.returncode == 0, done.stdout + done.stderr
    ours = project.image("base-execution", client=client)
    assert engine.images.get(project.image("base-op-node"))
    assert engine.images.get(ours).labels[TEST_LABEL] == "1"
    assert not engine.images.list(name=project.repo("base-execution", other))
    label = _components.by_service("base-execution", client).label
    audit_table = done.stdout[done.stdout.index("SERVICE"):]
    assert f"base-execution ({label})" in audit_table and ours in audit_table


def test_build_op_reth_resolves_its_monorepo_tags_whatever_env_says(engine, fixture_project,
                                                                   github_api):
    """`inv build.op-reth --version v2.10` resolves among the monorepo's `op-reth/v...`
    tags (beside op-node's and other components'), and builds with EXECUTION_CLIENT=op-reth
    in compose's environment though .env selects Nethermind; the image is tagged vX.Y.Z.
    On 83371fe there was no build.op-reth."""
    github_api.add_repo(OPTIMISM, {"op-node/v1.21.0": "12" * 20, "op-reth/v2.10.0": "34" * 20,
                                   "op-reth/v2.9.3": "56" * 20, "op-reth/v2.10.1-rc.1": "78" * 20,
                                   "op-batcher/v2.10.9": "9a" * 20},
                        annotated={"op-reth/v2.10.0"}, gomod=GOMOD)
    project = fixture_project()
    (project.path / ".env").write_text("EXECUTION_CLIENT=nethermind\n")
    done = inv("build.op-reth", "--version", "v2.10", "--progress=quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resolved op-reth v2.10 -> op-reth/v2.10.0" in done.stderr
    image = engine.images.get(project.image("base-execution", "v2.10.0", client="op-reth"))
    assert image.labels["org.opencontainers.image.version"] == "v2.10.0"
    assert f"/repos/{OPTIMISM}/git/matching-refs/tags/op-reth/v" in \
        [r["path"] for r in github_api.requests]
    assert not engine.images.list(name=project.repo("base-execution", "nethermind"))
    # and build.execution builds Nethermind's, though the shell selects op-reth
    nethermind = inv("build.execution", "--progress=quiet", env={"EXECUTION_CLIENT": "op-reth"})
    assert nethermind.returncode == 0, nethermind.stdout + nethermind.stderr
    assert engine.images.get(project.image("base-execution", client="nethermind"))


@pytest.mark.parametrize("args", [("build",), ("build.op-node",), ("audit.sizes",),
                                  ("clean.images", "--dry-run"), ("release",),
                                  ("source.outdated",)])
def test_a_wrong_execution_client_is_one_line_from_every_task(fixture_project, args):
    """Compose cannot open docker/geth.yml; every task that reads the compose config says
    so in one line naming the clients (on 83371fe: compose's own `open .../geth.yml`)."""
    fixture_project()
    line = assert_one_line_error(inv(*args, env={"EXECUTION_CLIENT": "geth"}))
    assert line == ("error: EXECUTION_CLIENT='geth' is not an execution client this kit runs: "
                    "set it to nethermind or op-reth (or leave it unset for nethermind)"), line


def test_build_op_reth_in_a_project_without_its_client_file_builds_nothing(engine,
                                                                          fixture_project):
    """A compose project of one's own whose base-execution extends no client file (as
    compose.yml before #17): EXECUTION_CLIENT changes nothing there, so build.op-reth
    would build Nethermind's image under op-reth's name; it says so in one line."""
    from tasks import _components
    from tests.helpers import fixture_compose

    project = fixture_project()
    plain = [dataclasses.replace(e, client=None) for e in _components.in_use()]
    project.compose_file.write_text(fixture_compose(project.name, "unused:1", project.pins,
                                                    plain))
    line = assert_one_line_error(inv("build.op-reth", "--progress=quiet"))
    assert line.startswith("error: EXECUTION_CLIENT=op-reth selects nethermind in the "
                           f"compose project ({project.compose_file}): its base-execution "
                           "does not extend docker/op-reth.yml"), line
    assert not engine.images.list(name=project.repo("base-execution", "nethermind"))
