"""Hooks and fixtures: a real Docker engine, a local base image, fixture compose projects
with the production service names and build args, a stand-in GitHub REST API on a local
port, and local git repositories with tags. The helpers behind them live in
tests/helpers.py (import that, never this file).

Everything a test creates in the engine carries TEST_LABEL and is removed at the end.
Engine tests skip without an engine, and fail instead when CI is set.
"""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import (
    ALLOW_WIPE,
    BASE_IMAGE,
    TEST_LABEL,
    FakeGitHub,
    FixtureProject,
    GitRepo,
    build_base_image,
    default_pins,
    need,
    remove_images,
)


def pytest_collection_modifyitems(items):
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.engine)


# --------------------------------------------------------------------------- engine
@pytest.fixture(scope="session")
def engine():
    """A pinged Docker SDK client, made by the project's own engine module."""
    from tasks._connect import engine_client
    from tasks._errors import KitError

    try:
        client = engine_client(timeout=120)
    except KitError as exc:
        need(f"no Docker engine reachable: {exc.reason}")
    yield client
    client.close()


@pytest.fixture
def wipe_allowed():
    """Gate for tests that prune the build cache or remove images. Ask for it first, so a
    skipped test builds nothing for its other fixtures."""
    if not ALLOW_WIPE:
        pytest.skip(
            "prunes the build cache or removes images: runs only in CI or with "
            "OPKIT_TEST_ALLOW_WIPE=1"
        )


@pytest.fixture(scope="session")
def base_image(engine, tmp_path_factory):
    """This session's base image (FROM scratch + static busybox)."""
    build_base_image(engine, tmp_path_factory.mktemp("base-image"))
    yield BASE_IMAGE
    # rebuilds leave the images they replaced untagged; built FROM our base, they carry
    # this session's label, so they go too
    remove_images(engine, filters={"label": f"{TEST_LABEL}.session={BASE_IMAGE}",
                                   "dangling": True})
    remove_images(engine, lambda tags: BASE_IMAGE in tags)


def _new_project(folder, base: str, dockerfiles=None, **pins: str) -> FixtureProject:
    name = f"opkit-test-{uuid.uuid4().hex[:10]}"
    return FixtureProject(folder / name, name, {**default_pins(), **pins}).write(base,
                                                                                 dockerfiles)


def _remove_projects(engine, projects) -> None:
    for project in projects:
        remove_images(engine, lambda tags, p=project: any(p.name in t for t in tags))


@pytest.fixture
def fixture_project(engine, base_image, tmp_path, monkeypatch):
    """Factory: make_project(dockerfiles={component: text}, **pins).

    One service per component of the table (as registered when it is called). A
    Dockerfile given for a component is formatted with `name` (the project name);
    the others are `fixture_dockerfile`. Points COMPOSE_FILE and COMPOSE_PROJECT_NAME at
    the new project (as a user of their own compose file would) and removes its images
    afterwards.
    """
    made: list[FixtureProject] = []

    def make(dockerfiles: dict[str, str] | None = None, **pins: str) -> FixtureProject:
        made.append(_new_project(tmp_path, base_image, dockerfiles, **pins).enter(monkeypatch))
        return made[-1]

    yield make
    _remove_projects(engine, made)


@pytest.fixture(scope="module")
def module_project(engine, base_image, tmp_path_factory):
    """Factory like fixture_project, for a project a module's tests share and only read:
    made once (build it with `project.build(...)`), removed after the module. Each test
    enters it with `project.enter(monkeypatch)`."""
    made: list[FixtureProject] = []

    def make(dockerfiles: dict[str, str] | None = None, **pins: str) -> FixtureProject:
        made.append(_new_project(tmp_path_factory.mktemp("shared"), base_image, dockerfiles,
                                 **pins))
        return made[-1]

    yield make
    _remove_projects(engine, made)


# ------------------------------------------------------------------ stand-in GitHub
@pytest.fixture
def github_api(monkeypatch, tmp_path):
    """A FakeGitHub reached through GITHUB_API_URL, with a private, empty cache dir."""
    fake = FakeGitHub()
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    yield fake
    fake.close()


# ------------------------------------------------------------- local git repositories
@pytest.fixture
def git_repo(tmp_path):
    """Factory: make_repo(name) -> GitRepo."""
    counter = iter(range(1000))

    def make(name: str = "optimism") -> GitRepo:
        return GitRepo(tmp_path / f"{name}-{next(counter)}")

    return make


# ------------------------------------------------------------- several hosts (real parts)
@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A real registry (Debian's docker-registry) on a free loopback port, no auth."""
    from tests.hosts import LocalRegistry

    server = LocalRegistry(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory):
    """A real registry behind htpasswd auth that nobody here is logged in to."""
    from tests.hosts import LocalRegistry

    server = LocalRegistry(tmp_path_factory.mktemp("auth-registry"), user="opkit",
                           password=uuid.uuid4().hex)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory):
    """sshd on a free loopback port, a client key, known_hosts and a test-local ssh
    config (with the alias `opkit-test-alias`); the real ~/.ssh is never touched."""
    from tests.hosts import SshServer

    server = SshServer(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers."""
    from tests.hosts import SilentServer

    server = SilentServer()
    yield server
    server.stop()
