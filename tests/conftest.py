"""Shared test harness: a real Docker engine, a local base image, fixture compose
projects with the production service names and build args, a stand-in GitHub REST
API on a local port, and local git repositories with tags.

Everything a test creates in the engine carries TEST_LABEL and is removed at the end.
Engine tests skip without an engine, and fail instead when CI is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

TEST_LABEL = "opstack-image-kit.test"
IN_CI = bool(os.environ.get("CI"))
ALLOW_WIPE = IN_CI or os.environ.get("OPKIT_TEST_ALLOW_WIPE") == "1"
# One base image per test session: sessions run concurrently on one engine, and a
# shared one would let one session's teardown pull it from under another's builds.
BASE_IMAGE = f"opkit-test/base:s{os.getpid()}-{uuid.uuid4().hex[:6]}"


def pytest_collection_modifyitems(items):
    for item in items:
        if "engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.engine)


def _need(reason: str):
    """Skip, or fail under CI: a test that skips on CI is a test that did not run."""
    if IN_CI:
        pytest.fail(f"CI is set, so this must run: {reason}")
    pytest.skip(reason)


# --------------------------------------------------------------------------- engine
@pytest.fixture(scope="session")
def engine():
    """A pinged Docker SDK client, made by the project's own Docker module."""
    from tasks._docker import engine_client
    from tasks._errors import KitError

    try:
        client = engine_client(timeout=120)
    except KitError as exc:
        _need(f"no Docker engine reachable: {exc.reason}")
    yield client
    client.close()


@pytest.fixture
def wipe_allowed():
    """Gate for tests that prune the build cache or remove images."""
    if not ALLOW_WIPE:
        pytest.skip(
            "prunes the build cache or removes images: runs only in CI or with "
            "OPKIT_TEST_ALLOW_WIPE=1"
        )


def _static_busybox() -> str:
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        if candidate and os.path.exists(candidate):
            ldd = subprocess.run(["ldd", candidate], capture_output=True, text=True)
            if ldd.returncode != 0 or "not a dynamic" in ldd.stdout + ldd.stderr:
                return candidate
    _need("a static busybox is needed for the local base image: apt-get install busybox-static")
    return ""


@pytest.fixture(scope="session")
def base_image(engine, tmp_path_factory):
    """A tiny local base image (FROM scratch + static busybox): no registry needed."""
    ctx = tmp_path_factory.mktemp("base-image")
    shutil.copy2(_static_busybox(), ctx / "busybox")
    (ctx / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        "ENV PATH=/usr/local/bin:/usr/bin:/bin\n"
    )
    # the session label makes the image ID ours too: a teardown elsewhere that removes
    # every tag of *its* base image cannot take this one with it
    engine.images.build(path=str(ctx), tag=BASE_IMAGE, rm=True,
                        labels={TEST_LABEL: "1", f"{TEST_LABEL}.session": BASE_IMAGE})
    yield BASE_IMAGE
    # rebuilds leave the images they replaced untagged; built FROM our base, they carry
    # this session's label, so they go too
    from docker.errors import APIError, NotFound

    session = {"label": f"{TEST_LABEL}.session={BASE_IMAGE}", "dangling": True}
    for image in engine.images.list(filters=session):
        try:
            engine.images.remove(image.id, force=True)
        except (NotFound, APIError):
            pass
    _remove_images(engine, lambda tags: BASE_IMAGE in tags)


def _remove_images(engine, wanted) -> None:
    from docker.errors import APIError, NotFound

    for image in engine.images.list(filters={"label": TEST_LABEL}):
        if wanted(image.tags):
            for tag in image.tags or [image.id]:
                try:
                    engine.images.remove(tag, force=True, noprune=False)
                except (NotFound, APIError):
                    pass


# ------------------------------------------------------------ fixture compose projects
OP_NODE_FIXTURE_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG OP_NODE_VERSION
ARG OP_NODE_COMMIT
ARG GO_VERSION
# stands in for the Go module/build cache: survives a version bump
RUN --mount=type=cache,target=/cache,id={name}-gocache \\
    ls /cache > /cache-seen.txt; echo "$OP_NODE_VERSION" > "/cache/built-$OP_NODE_VERSION"
RUN mkdir -p /usr/local/bin && \\
    printf '#!/bin/sh\\necho "op-node version %s-%s (go %s)"\\n' \\
      "$OP_NODE_VERSION" "$OP_NODE_COMMIT" "$GO_VERSION" > /usr/local/bin/op-node && \\
    chmod 755 /usr/local/bin/op-node
LABEL org.opencontainers.image.version=$OP_NODE_VERSION \\
      org.opencontainers.image.revision=$OP_NODE_COMMIT
"""

EXECUTION_FIXTURE_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG NETHERMIND_VERSION
RUN mkdir -p /nethermind && \\
    printf '#!/bin/sh\\necho "Version: %s"\\n' "$NETHERMIND_VERSION" > /nethermind/nethermind && \\
    chmod 755 /nethermind/nethermind
LABEL org.opencontainers.image.version=$NETHERMIND_VERSION
"""

COMPOSE_FIXTURE = """\
services:
  base-op-node:
    build:
      context: ./op-node
      args:
        BASE_IMAGE: {base}
        OP_NODE_VERSION: ${{OP_NODE_VERSION:-{op_node_version}}}
        OP_NODE_COMMIT: ${{OP_NODE_COMMIT:-{op_node_commit}}}
        GO_VERSION: ${{GO_VERSION:-{go_version}}}
      labels:
        {label}: "1"
    image: {name}-op-node:${{OP_NODE_VERSION:-{op_node_version}}}
  base-execution:
    build:
      context: ./execution
      args:
        BASE_IMAGE: {base}
        NETHERMIND_VERSION: ${{NETHERMIND_VERSION:-{nethermind_version}}}
      labels:
        {label}: "1"
    image: {name}-execution:${{NETHERMIND_VERSION:-{nethermind_version}}}
  base-execution-init:
    # the one-shot service of compose.yml: base-execution's image, never built or pulled
    image: {name}-execution:${{NETHERMIND_VERSION:-{nethermind_version}}}
    pull_policy: never
    command: ["init"]
    restart: "no"
"""


@dataclass
class FixtureProject:
    """A small compose project shaped like compose.yml, on the local base image."""

    path: Path
    name: str
    pins: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def compose_file(self) -> Path:
        return self.path / "compose.yml"

    def repo(self, service: str) -> str:
        return f"{self.name}-{service.removeprefix('base-')}"

    def image(self, service: str, version: str | None = None) -> str:
        key = "OP_NODE_VERSION" if service == "base-op-node" else "NETHERMIND_VERSION"
        return f"{self.repo(service)}:{version or self.pins[key]}"


DEFAULT_PINS = {
    "OP_NODE_VERSION": "v1.0.0",
    "OP_NODE_COMMIT": "1" * 40,
    "GO_VERSION": "1.22",
    "NETHERMIND_VERSION": "1.30.0",
}


@pytest.fixture
def fixture_project(engine, base_image, tmp_path, monkeypatch):
    """Factory: make_project(**pins, op_node_dockerfile=..., execution_dockerfile=...).

    Points COMPOSE_FILE and COMPOSE_PROJECT_NAME at the new project (as a user of
    their own compose file would) and removes its images afterwards.
    """
    made: list[FixtureProject] = []

    def make(op_node_dockerfile: str | None = None, execution_dockerfile: str | None = None,
             **pins: str) -> FixtureProject:
        name = f"opkit-test-{uuid.uuid4().hex[:10]}"
        path = tmp_path / name
        values = {**DEFAULT_PINS, **pins}
        for service, text in (
            ("op-node", op_node_dockerfile or OP_NODE_FIXTURE_DOCKERFILE),
            ("execution", execution_dockerfile or EXECUTION_FIXTURE_DOCKERFILE),
        ):
            (path / service).mkdir(parents=True)
            (path / service / "Dockerfile").write_text(text.format(name=name))
        (path / "compose.yml").write_text(
            COMPOSE_FIXTURE.format(
                base=base_image, name=name, label=TEST_LABEL,
                op_node_version=values["OP_NODE_VERSION"],
                op_node_commit=values["OP_NODE_COMMIT"],
                go_version=values["GO_VERSION"],
                nethermind_version=values["NETHERMIND_VERSION"],
            )
        )
        project = FixtureProject(path=path, name=name, pins=values)
        project.env = {"COMPOSE_FILE": str(project.compose_file), "COMPOSE_PROJECT_NAME": name}
        for key, value in project.env.items():
            monkeypatch.setenv(key, value)
        for key in DEFAULT_PINS:  # the fixture's own defaults decide, not the caller's shell
            monkeypatch.delenv(key, raising=False)
        made.append(project)
        return project

    yield make
    for project in made:
        _remove_images(engine, lambda tags, p=project: any(t.startswith(p.name) for t in tags))


# ------------------------------------------------------------------ stand-in GitHub
class FakeGitHub:
    """A stand-in for the GitHub REST API on a local port (real HTTP).

    Routes are exact paths (query string included when given) answering JSON with an
    ETag; a matching If-None-Match gets 304. `requests` records every request, so tests
    can count them. `fail_with(status, headers, body)` makes every request fail (e.g. a
    rate limit) until `fail_with(None)`.
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, object, dict[str, str]]] = {}
        self.requests: list[dict] = []
        self.failure: tuple[int, dict[str, str], object] | None = None
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                fake._handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def route(self, path: str, body: object, status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        self.routes[path] = (status, body, dict(headers or {}))

    def fail_with(self, status: int | None, headers: dict[str, str] | None = None,
                  body: object = None) -> None:
        self.failure = None if status is None else (status, dict(headers or {}), body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        with self._lock:
            self.requests.append({"path": split.path, "query": split.query,
                                  "headers": dict(handler.headers.items())})
        if self.failure is not None:
            status, headers, body = self.failure
            return self._send(handler, status, body or {"message": "failure"}, headers)
        key = f"{split.path}?{split.query}" if split.query else split.path
        route = self.routes.get(key) or self.routes.get(split.path)
        if route is None:
            return self._send(handler, 404, {"message": "Not Found"}, {})
        status, body, headers = route
        etag = '"' + uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(body, sort_keys=True)).hex + '"'
        if handler.headers.get("If-None-Match") == etag:
            return self._send(handler, 304, None, {"ETag": etag})
        return self._send(handler, status, body, {"ETag": etag, **headers})

    @staticmethod
    def _send(handler, status, body, headers) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def add_repo(self, repo: str, tags: dict[str, str], annotated=(), gomod=None,
                 prefixes=("", "op-node/v"), page_size: int | None = None) -> None:
        """Serve a repository's tags like GitHub does (additive helper for source tests).

        `tags` maps tag name -> commit SHA; names in `annotated` point at a tag object
        served at /git/tags/{sha}. `gomod` is go.mod text for every commit, or a dict
        {commit: text}, served by the contents endpoint at ?ref=<commit>. Each prefix gets
        a matching-refs listing (sorted by name, as GitHub does), split into pages of
        `page_size` linked with Link rel="next". Calling it again replaces the listings.
        """
        import base64
        import hashlib

        refs = []
        for name in sorted(tags):
            commit = tags[name]
            obj = {"sha": commit, "type": "commit"}
            if name in annotated:
                tag_sha = hashlib.sha1(f"tag:{name}:{commit}".encode()).hexdigest()
                self.route(f"/repos/{repo}/git/tags/{tag_sha}",
                           {"sha": tag_sha, "tag": name, "object": obj})
                obj = {"sha": tag_sha, "type": "tag"}
            refs.append({"ref": f"refs/tags/{name}", "object": obj})
            text = gomod.get(commit) if isinstance(gomod, dict) else gomod
            if text is not None:
                self.route(f"/repos/{repo}/contents/go.mod?ref={commit}", {
                    "type": "file", "name": "go.mod", "path": "go.mod", "encoding": "base64",
                    "content": base64.b64encode(text.encode()).decode()})
        for prefix in prefixes:
            path = f"/repos/{repo}/git/matching-refs/tags" + (f"/{prefix}" if prefix else "")
            wanted = [r for r in refs if r["ref"].startswith(f"refs/tags/{prefix}")]
            size = page_size or max(len(wanted), 1)
            pages = [wanted[i:i + size] for i in range(0, len(wanted), size)] or [[]]
            for number, page in enumerate(pages, start=1):
                headers = {}
                if number < len(pages):
                    headers["Link"] = f'<{self.url}{path}?page={number + 1}>; rel="next"'
                self.route(path if number == 1 else f"{path}?page={number}", page,
                           headers=headers)

    # Additive helpers for fork-readiness tests: files, submodules, branches and commits
    # served the way GitHub's contents, refs and commits endpoints answer.
    def serve_file(self, repo: str, path: str, ref: str, content, large: bool = False) -> str:
        """Serve `content` (str or bytes) at `path` for ?ref=`ref`; returns its blob SHA.

        `large` mimics a file over 1 MB: the contents endpoint leaves `content` empty and
        the blob endpoint (/git/blobs/{sha}) has it.
        """
        import base64
        import hashlib

        data = content.encode() if isinstance(content, str) else bytes(content)
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        encoded = base64.b64encode(data).decode()
        body = {"type": "file", "name": path.rsplit("/", 1)[-1], "path": path, "sha": blob,
                "size": len(data), "encoding": "base64", "content": encoded}
        if large:
            body.update(encoding="none", content="")
            self.route(f"/repos/{repo}/git/blobs/{blob}", {"sha": blob, "size": len(data),
                                                           "encoding": "base64",
                                                           "content": encoded})
        self.route(f"/repos/{repo}/contents/{path}?ref={ref}", body)
        return blob

    def serve_submodule(self, repo: str, path: str, ref: str, commit: str,
                        url: str = "https://github.com/ethereum-optimism/superchain-registry.git"
                        ) -> None:
        """Serve a gitlink at `path` for ?ref=`ref`, pinned to `commit`."""
        self.route(f"/repos/{repo}/contents/{path}?ref={ref}", {
            "type": "submodule", "name": path.rsplit("/", 1)[-1], "path": path, "sha": commit,
            "size": 0, "submodule_git_url": url, "content": None})

    def serve_branch(self, repo: str, branch: str, commit: str) -> None:
        self.route(f"/repos/{repo}/git/ref/heads/{branch}", {
            "ref": f"refs/heads/{branch}", "object": {"sha": commit, "type": "commit"}})

    def serve_commit(self, repo: str, ref: str, commit: str) -> None:
        """The commits endpoint for `ref` (e.g. an abbreviated SHA) answering `commit`."""
        self.route(f"/repos/{repo}/commits/{ref}", {"sha": commit, "commit": {"message": ref}})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
class GitRepo:
    """A real local git repository to clone from (file:// URL), with tags."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def git(self, *args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
        done = subprocess.run(["git", *args], cwd=self.path, env=env, check=True,
                              capture_output=True, text=True)
        return done.stdout.strip()

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, ref: str = "HEAD", annotated: bool = False,
            force: bool = False) -> None:
        args = ["tag"] + (["-f"] if force else []) + (["-a", "-m", name] if annotated else [])
        self.git(*args, name, ref)


@pytest.fixture
def git_repo(tmp_path):
    """Factory: make_repo(name) -> GitRepo."""
    counter = iter(range(1000))

    def make(name: str = "optimism") -> GitRepo:
        return GitRepo(tmp_path / f"{name}-{next(counter)}")

    return make
