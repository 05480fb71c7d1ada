"""Build once, run many, against a real registry on 127.0.0.1 (Debian's docker-registry,
started by a fixture): push, digests, the release file and a pull by digest, a second
host's build from the registry's layers, a registry that wants a login (401), one that
is not there, and one without the repository (404)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from tasks import _components, _release
from tasks._errors import (
    KitError,
    RegistryAuthFailed,
    RegistryNotFound,
    RegistryUnreachable,
)
from tests.helpers import ONE_SHOTS, TEST_LABEL, inv
from tests.hosts import forget_project

OP_NODE = _components.get("op-node")
# An op-node stand-in whose first step leaves a random stamp: the same stamp after a
# rebuild means the step did not run again (its layer came from a cache).
STAMPED = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
""" + "".join(f"ARG {var}\n" for var in OP_NODE.pin_vars) + f"""\
RUN echo {{name}} > /marker && cat /proc/sys/kernel/random/uuid > /stamp
RUN mkdir -p /usr/local/bin && \\
    printf '#!/bin/sh\\necho "op-node version %s"\\n' "${OP_NODE.version_var}" \\
      > {OP_NODE.probe.binary} && chmod 755 {OP_NODE.probe.binary}
"""


# What a client that pulls accepts: an image manifest, or an index of them (buildx on the
# containerd store pushes an OCI index: the image plus its provenance attestation).
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"])


def _manifest_digest(registry, repository: str, tag: str) -> str:
    """The digest the registry holds for TAG: the one `docker pull NAME@DIGEST` fetches."""
    request = urllib.request.Request(
        f"http://{registry.address}/v2/{repository}/manifests/{tag}", method="HEAD",
        headers={"Accept": MANIFEST_TYPES})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers["Docker-Content-Digest"]


def _forget(engine, project) -> None:
    forget_project(engine, project.name)


def _kit_error(ran) -> str:
    """The kit's one-line error: the last line on stderr (compose's own build output, shown
    as it runs, comes before it), no traceback."""
    assert ran.returncode == 1, ran.stdout
    assert "Traceback" not in ran.stderr
    last = ran.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    return last


def _stamp(engine, image: str) -> str:
    return engine.containers.run(image, ["cat", "/stamp"], remove=True,
                                 labels={TEST_LABEL: "1"}).decode().strip()


# ------------------------------------------------------------------ pure
@pytest.mark.parametrize("ref, registry, path", [
    ("base-op-node:v1", "docker.io", ""),
    ("ops/base-op-node:v1", "docker.io", "ops"),
    ("registry.example.com/ops/base-op-node:v1", "registry.example.com",
     "registry.example.com/ops"),
    ("127.0.0.1:5000/base-op-node", "127.0.0.1:5000", "127.0.0.1:5000"),
    ("localhost/base-op-node:v1", "localhost", "localhost"),
])
def test_the_registry_an_image_name_points_at(ref, registry, path):
    assert _release.registry_of(ref) == registry
    assert _release.registry_path(ref) == path


@pytest.mark.parametrize("said, kind", [
    ("no basic auth credentials", RegistryAuthFailed),
    ("unauthorized: authentication required", RegistryAuthFailed),
    ("denied: requested access to the resource is denied", RegistryAuthFailed),
    ("#9 ERROR: name unknown: repository name not known to registry", RegistryNotFound),
    ('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
     RegistryUnreachable),
])
def test_a_registry_refusal_is_one_line_naming_the_registry_and_the_fix(said, kind):
    error = _release.explain(f"#8 pushing\n{said}\n------\n", "reg.example.com/ops/x:v1",
                             "the push of reg.example.com/ops/x:v1")
    assert isinstance(error, kind)
    assert "\n" not in error.message
    assert "registry reg.example.com" in error.message
    if kind is RegistryAuthFailed:
        assert "run `docker login reg.example.com`" in error.message
    assert "IMAGE_REGISTRY=reg.example.com/ops" in error.message


# Docker 28.5.2 on the containerd image store (Debian's 28.5.2+dfsg4) says it thus: the
# kit's line keeps the part that names the trouble, which a 160-character cut would lose.
@pytest.mark.parametrize("said, kind, kept", [
    ("push access denied, repository does not exist or may require authorization: "
     "authorization failed: no basic auth credentials", RegistryAuthFailed,
     ": no basic auth credentials (not logged in"),
    ('failed to do request: Head "https://127.0.0.1:1/v2/r18/x/blobs/sha256:'
     'aae78209c3397613dcc2d358b9288fc283d170b9500f5b06b56523e40aa671d3": dial tcp '
     "127.0.0.1:1: connect: connection refused", RegistryUnreachable,
     ": connection refused; check IMAGE_REGISTRY"),
    ('Error response from daemon: failed to resolve reference "127.0.0.1:1/ops/x:v1": '
     "127.0.0.1:1/ops/x:v1: not found", RegistryNotFound, "not found; check IMAGE_REGISTRY"),
])
def test_the_containerd_stores_refusals_are_the_right_one_line(said, kind, kept):
    error = _release.explain(f"{said}\n", "127.0.0.1:1/ops/x:v1", "the push of x")
    assert isinstance(error, kind), error
    assert kept in error.message and "\n" not in error.message


def test_a_failure_that_is_not_the_registrys_stays_as_it_is():
    assert _release.explain("RUN make: exit code 2\n/bin/sh: go: not found", "r.io/x:v1",
                            "the push") is None


def test_the_release_file_pins_every_service_that_runs_a_pushed_image():
    config = {"services": {
        "base-execution": {"image": "r.io/ops/base-execution:1.0.0", "build": {}},
        "base-execution-init": {"image": "r.io/ops/base-execution:1.0.0"},
        "base-op-node": {"image": "r.io/ops/base-op-node:v1.0.0", "build": {}},
        "other": {"image": "busybox"}}}
    digests = {"r.io/ops/base-execution:1.0.0": "r.io/ops/base-execution@sha256:" + "a" * 64,
               "r.io/ops/base-op-node:v1.0.0": "r.io/ops/base-op-node@sha256:" + "b" * 64}
    text = _release.release_text(config, digests, when=0)
    assert "image: r.io/ops/base-execution@sha256:" + "a" * 64 in text
    assert text.count("@sha256:" + "a" * 64) == 2  # the init service shares the image
    assert "other" not in text
    assert "1970-01-01 00:00:00 UTC" in text


# ------------------------------------------------------------------ a real registry
def _has_manifest(registry, repository: str, tag: str) -> bool:
    try:
        _manifest_digest(registry, repository, tag)
        return True
    except urllib.error.HTTPError as exc:
        assert exc.code == 404, exc
        return False


@pytest.mark.parametrize("task", ["build", "build.op-node"])
def test_an_over_budget_push_build_pushes_nothing(engine, registry, fixture_project,
                                                  monkeypatch, tmp_path, task):
    """Build, audit, then push: an image over its budget stops the build with exit 1
    before anything reaches the registry (neither its version tag nor :latest, nor the
    other images of the same run), so no host imports it through cache_from."""
    project = fixture_project()
    monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
    tight = tmp_path / "tight.yaml"
    tight.write_text("audit:\n  budgets:\n    base-op-node: 1kB\n")
    ran = inv("-f", str(tight), task, "--push", "--progress", "quiet")
    assert ran.returncode == 1, ran.stdout
    for entry in _components.all_components():
        repository = f"{project.name}-{entry.name}"
        for tag in (project.pins[entry.version_var], "latest"):
            assert not _has_manifest(registry, repository, tag), (repository, tag)
        assert registry.tags(repository) == []
    message = _kit_error(ran)
    assert "base-op-node is " in message and "over its 1.00 kB budget" in message, message
    assert message.endswith("; nothing was pushed"), message
    assert "pushed:" not in ran.stdout
    # it was built and audited: the image is in the engine, only not in the registry
    assert engine.images.get(f"{registry.address}/{project.image('base-op-node')}")


def test_build_push_pushes_both_tags_and_prints_the_digest(engine, registry, fixture_project,
                                                          monkeypatch):
    project = fixture_project()
    monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
    ran = inv("build.op-node", "--push", "--progress", "quiet")
    assert ran.returncode == 0, ran.stderr
    repository = f"{project.name}-op-node"
    version = project.pins[OP_NODE.version_var]
    assert registry.tags(repository) == sorted(["latest", version])
    digest = _manifest_digest(registry, repository, version)
    assert digest == _manifest_digest(registry, repository, "latest")
    assert (f"{registry.address}/{repository}:{version} and :latest -> "
            f"{registry.address}/{repository}@{digest}") in ran.stdout
    image = engine.images.get(f"{registry.address}/{project.image('base-op-node')}")
    assert f"{registry.address}/{repository}@{digest}" in image.attrs["RepoDigests"]
    # a node host pulls exactly that digest (an index's, where buildx added provenance)
    _forget(engine, project)
    pulled = subprocess.run(["docker", "pull", f"{registry.address}/{repository}@{digest}"],
                            capture_output=True, text=True, timeout=120)
    assert pulled.returncode == 0, pulled.stderr
    engine.api.remove_image(f"{registry.address}/{repository}@{digest}", force=True)


@pytest.mark.parametrize("client", [None, "op-reth"])
def test_release_pins_the_digests_and_a_node_host_runs_them_without_building(
        engine, registry, fixture_project, monkeypatch, tmp_path, client):
    """The release builds, pushes and pins what the stack runs: op-node and the client
    EXECUTION_CLIENT selects (with op-reth: its image, and the file names the client the
    node host must set; on 83371fe every component was released, whatever the client)."""
    project = fixture_project()
    monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
    setting = {_components.CLIENT_SETTING: client} if client else {}
    pinned = tmp_path / "compose.release.yml"
    ran = inv("release", "--output", str(pinned), "--progress", "quiet", env=setting)
    assert ran.returncode == 0, ran.stderr
    text = pinned.read_text()
    digests = {}
    for entry in _components.all_components():
        if entry not in _components.in_use(client):
            assert registry.tags(f"{project.name}-{entry.name}") == []  # not built, not pushed
    assert _release.release_client(pinned) == (client or "nethermind")
    if client:
        assert f"EXECUTION_CLIENT={client} docker compose -f" in ran.stdout
    for entry in _components.in_use(client):
        repository = f"{project.name}-{entry.name}"
        digest = _manifest_digest(registry, repository, project.pins[entry.version_var])
        digests[entry.service] = f"{registry.address}/{repository}@{digest}"
        assert f"image: {digests[entry.service]}" in text
        assert registry.tags(repository) == sorted(["latest", project.pins[entry.version_var]])
        if entry.service in ONE_SHOTS:
            assert text.count(digests[entry.service]) == 2
    assert f"wrote {pinned}" in ran.stdout
    # a node host: nothing built, nothing cached; pull by digest, run the exact image
    _forget(engine, project)
    files = ["-f", str(project.compose_file), "-f", str(pinned)]
    # the engine the suite uses (DOCKER_HOST, DOCKER_CONFIG: an engine on its own socket)
    env = {**project.env, **{k: v for k, v in os.environ.items() if k.startswith("DOCKER_")},
           "PATH": os.environ["PATH"], **setting}
    del env["COMPOSE_FILE"]
    pull = subprocess.run(["docker", "compose", *files, "pull", "--quiet"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert pull.returncode == 0, pull.stderr
    config = json.loads(subprocess.run(["docker", "compose", *files, "config", "--format",
                                        "json"], env=env, capture_output=True, text=True,
                                       check=True).stdout)
    assert config["services"]["base-op-node"]["image"] == digests["base-op-node"]
    assert config["services"]["base-execution"]["image"] == digests["base-execution"]
    out = engine.containers.run(digests["base-op-node"], ["op-node", "--version"],
                                remove=True, labels={TEST_LABEL: "1"}).decode()
    assert out.startswith(f"op-node version {project.pins[OP_NODE.version_var]}")
    for ref in digests.values():
        engine.api.remove_image(ref, force=True)


def test_a_second_host_builds_from_the_registrys_layers(engine, registry, fixture_project,
                                                       monkeypatch):
    """Host one builds and pushes (inline cache metadata in the image); host two has
    neither the images nor the build cache, and builds the same pins: the steps come
    from the registry (the stamp is the same, the registry served the layers)."""
    project = fixture_project(dockerfiles={"op-node": STAMPED})
    monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
    ran = inv("build.op-node", "--push", "--progress", "quiet")
    assert ran.returncode == 0, ran.stderr
    image = f"{registry.address}/{project.image('base-op-node')}"
    first = _stamp(engine, image)
    _forget(engine, project)
    served = len(registry.blob_gets())
    ran = inv("build.op-node", "--progress", "plain")
    assert ran.returncode == 0, ran.stderr
    assert _stamp(engine, image) == first, "the step ran again: no cache came from the registry"
    assert len(registry.blob_gets()) > served
    assert f"importing cache manifest from {registry.address}/{project.name}-op-node:latest" \
        in ran.stdout


def test_a_push_to_a_registry_that_wants_a_login_is_one_line(engine, auth_registry,
                                                            fixture_project, monkeypatch):
    project = fixture_project()
    monkeypatch.setenv("IMAGE_REGISTRY", auth_registry.address)
    message = _kit_error(inv("build.op-node", "--push", "--progress", "quiet"))
    image = f"{auth_registry.address}/{project.image('base-op-node')}"
    assert message.startswith(f"error: registry {auth_registry.address} refused the push of "
                              f"{image}: no basic auth credentials")
    assert f"run `docker login {auth_registry.address}`" in message
    assert auth_registry.tags(f"{project.name}-op-node") == []


def test_a_push_to_a_registry_that_is_not_there_is_one_line(engine, fixture_project,
                                                           monkeypatch):
    from tests.hosts import closed_port

    fixture_project()
    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("IMAGE_REGISTRY", address)
    message = _kit_error(inv("build.op-node", "--push", "--progress", "quiet"))
    assert message.startswith(f"error: cannot reach registry {address} for the push of ")
    assert "connection refused" in message and f"IMAGE_REGISTRY={address}" in message


def test_a_missing_repository_is_a_404_naming_image_registry(engine, registry):
    """The registry's own words for a name it does not have, read by the classifier."""
    ref = f"{registry.address}/opkit-test-missing/nothing:1"
    done = subprocess.run(["docker", "pull", ref], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    error = _release.explain(done.stderr, ref, f"the pull of {ref}")
    assert isinstance(error, RegistryNotFound), done.stderr
    assert error.message.startswith(f"error: registry {registry.address} has no such "
                                    f"repository for the pull of {ref}: ")
    assert f"IMAGE_REGISTRY={registry.address}/opkit-test-missing" in error.message


@pytest.mark.parametrize("task", [("build.op-node", "--push"), ("release",)])
def test_pushing_without_image_registry_is_refused_before_building(engine, fixture_project,
                                                                  monkeypatch, task):
    project = fixture_project()
    monkeypatch.delenv("IMAGE_REGISTRY", raising=False)
    ran = inv(*task, "--progress", "quiet")
    assert ran.returncode == 1
    assert ran.stderr.startswith("error: ") and ran.stderr.count("\n") == 1
    assert "names no registry to push to: set IMAGE_REGISTRY" in ran.stderr
    from docker.errors import ImageNotFound

    with pytest.raises(ImageNotFound):  # nothing was built
        engine.images.get(project.image("base-op-node"))


def test_require_registry_accepts_a_docker_hub_namespace():
    _release.require_registry(["ops/base-op-node:v1", "r.io/base-op-node:v1"])
    with pytest.raises(KitError, match="base-op-node:v1 names no registry"):
        _release.require_registry(["base-op-node:v1"])


def test_a_registry_5xx_gets_one_more_push_and_a_refusal_none(monkeypatch, capsys):
    """The command lines the push step (`inv build --push`, `inv release`) composes: a
    registry's passing 500 (seen from distribution 2.8 while a second repository mounts
    blobs the first push wrote) gets one more `docker compose push`; a 401 gets none and
    becomes the one-line refusal."""
    from invoke import MockContext, Result

    from tasks import _push as release

    monkeypatch.setenv("COMPOSE_FILE", "/srv/node/compose.yml")
    push = "docker compose push base-op-node"
    server_error = Result(exited=1, stderr="received unexpected HTTP status: 500 Internal "
                          "Server Error\n")
    version = Result(stdout="2.40.3\n")
    c = MockContext(run={push: [server_error, Result(exited=0)],
                         "docker compose version --short": version}, repeat=True)
    release.push(c, "base-op-node", "127.0.0.1:5000/ops/base-op-node:v1")
    pushes = [call.args[0] for call in c.run.call_args_list if call.args[0] == push]
    assert len(pushes) == 2
    assert "pushing again" in capsys.readouterr().err

    refused = Result(exited=1, stderr="unauthorized: authentication required\n")
    c = MockContext(run={push: [refused, Result(exited=0)],
                         "docker compose version --short": version}, repeat=True)
    with pytest.raises(RegistryAuthFailed) as caught:
        release.push(c, "base-op-node", "127.0.0.1:5000/ops/base-op-node:v1")
    assert "docker login 127.0.0.1:5000" in str(caught.value)
    assert [call.args[0] for call in c.run.call_args_list].count(push) == 1


def test_shown_path_is_what_a_node_host_types_beside_compose_yml(tmp_path):
    folder = tmp_path / "node"
    assert _release.shown_path(folder / "other" / "dir" / "x.yml", folder) == "other/dir/x.yml"
    assert _release.shown_path(tmp_path / "x.yml", folder) == str(tmp_path / "x.yml")


def test_a_release_written_elsewhere_is_advised_and_kept_right(engine, registry,
                                                               fixture_project, monkeypatch):
    """`inv release --output other/dir/x.yml` advised `-f x.yml`, and `clean.images` kept
    only what compose.release.yml pinned. The advice now names the file as typed beside
    compose.yml (and compose accepts it there), and clean.images keeps what it pins."""
    project = fixture_project()
    monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
    monkeypatch.setenv(OP_NODE.version_var, "v1.0.1")  # released now, older than the pin later
    pinned = project.path / "other" / "dir" / "x.yml"
    pinned.parent.mkdir(parents=True)
    ran = inv("release", "--output", str(pinned), "--progress", "quiet")
    assert ran.returncode == 0, ran.stderr
    advice = ran.stdout[ran.stdout.index(f"wrote {pinned}"):].splitlines()[1:3]
    assert advice == ["  docker compose -f compose.yml -f other/dir/x.yml pull",
                      "  docker compose -f compose.yml -f other/dir/x.yml up -d --no-build"]
    env = {**project.env, "PATH": __import__("os").environ["PATH"],
           "IMAGE_REGISTRY": registry.address}
    del env["COMPOSE_FILE"]
    config = json.loads(subprocess.run(
        ["docker", "compose", "-f", "compose.yml", "-f", "other/dir/x.yml", "config",
         "--format", "json"], cwd=project.path, env=env, capture_output=True, text=True,
        check=True).stdout)
    assert "@sha256:" in config["services"]["base-op-node"]["image"]
    assert "-f other/dir/x.yml pull" in pinned.read_text()  # its own comment says the same

    monkeypatch.delenv(OP_NODE.version_var)  # back to the pin: v1.0.1 is an older tag now
    released = f"{registry.address}/{project.image('base-op-node', 'v1.0.1')}"
    done = inv("clean.images", "--keep", "0", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"keep    {released}  (pinned by digest in x.yml)" in done.stdout
    # a file brought from elsewhere counts when given; a recorded file that is gone, not
    moved = project.path.parent / f"{project.name}-x.yml"
    pinned.rename(moved)
    done = inv("clean.images", "--keep", "0", "--dry-run")
    assert f"note: {pinned} (a release file `inv release` wrote) is gone" in done.stdout
    assert f"would remove {released}" in done.stdout
    done = inv("clean.images", "--keep", "0", "--dry-run", "--release-file", str(moved))
    assert f"keep    {released}  (pinned by digest in {moved.name})" in done.stdout
