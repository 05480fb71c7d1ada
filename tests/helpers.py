"""Helpers the tests (and the bench) share: the test label and session base image, the
skip-or-fail rule, fixture compose projects derived from the component table, a
stand-in GitHub REST API, local git repositories, and `inv` run in process.

Import it one way only: `from tests.helpers import ...`. conftest.py holds only hooks
and fixtures (pytest loads it as a plugin; importing it as a module too would make a
second copy, with its own BASE_IMAGE).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from invoke import Config, Context, Program

if __name__ != "tests.helpers":  # e.g. `from helpers import ...`: a second copy
    raise ImportError(f"import tests.helpers, not {__name__} (one copy, one BASE_IMAGE)")

ROOT = Path(__file__).resolve().parent.parent
TEST_LABEL = "opstack-image-kit.test"
# The one-shot service compose.yml runs on a service's image before the service itself
# (base-execution-init, the restore): never built or pulled, so the kit never names it;
# the fixture stack has it too.
ONE_SHOTS = {"base-execution": "base-execution-init"}
IN_CI = bool(os.environ.get("CI"))
ALLOW_WIPE = IN_CI or os.environ.get("OPKIT_TEST_ALLOW_WIPE") == "1"
# One base image per test session: sessions run concurrently on one engine, and a
# shared one would let one session's teardown pull it from under another's builds.
BASE_IMAGE = f"opkit-test/base:s{os.getpid()}-{uuid.uuid4().hex[:6]}"
# How often the stand-in servers' serve_forever looks for shutdown (default 0.5 s: every
# close() of a server would wait that long).
POLL_INTERVAL = 0.01


def need(reason: str):
    """Skip, or fail under CI: a test that skips on CI is a test that did not run."""
    if IN_CI:
        pytest.fail(f"CI is set, so this must run: {reason}")
    pytest.skip(reason)


def need_tools(*names: str, hint: str = "") -> None:
    """`need` every command in NAMES on PATH (HINT says how to install them)."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        need(f"needs {', '.join(missing)} on PATH" + (f" ({hint})" if hint else ""))


def need_compose() -> None:
    """`need` the docker CLI with its compose v2 plugin."""
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True) \
        if shutil.which("docker") else None
    if done is None or done.returncode != 0:
        need("docker compose v2 is not installed")


# Real `just` binaries, old and new, from PyPI's rust-just wheels, installed side by side
# as <OPKIT_TEST_JUST_ROOT>/<version>/bin/just (.ci/run: `pip install --target`).
JUST_ROOT = Path(os.environ.get("OPKIT_TEST_JUST_ROOT", "/opt/opkit-just"))


def just_binary(version: str) -> Path:
    """The just binary of VERSION under JUST_ROOT (`need`ed)."""
    path = JUST_ROOT / version / "bin" / "just"
    if not os.access(path, os.X_OK):
        need(f"just {version} is not at {path}: `pip install --target {JUST_ROOT}/{version} "
             f"rust-just=={version}` (as .ci/run does), or set OPKIT_TEST_JUST_ROOT")
    return path


# ------------------------------------------------------------------ engine
def static_busybox() -> str:
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        if candidate and os.path.exists(candidate):
            ldd = subprocess.run(["ldd", candidate], capture_output=True, text=True)
            if ldd.returncode != 0 or "not a dynamic" in ldd.stdout + ldd.stderr:
                return candidate
    need("a static busybox is needed for the local base image: apt-get install busybox-static")
    return ""


def build_base_image(client, context: Path, tag: str = BASE_IMAGE) -> str:
    """A tiny local base image (FROM scratch + static busybox): no registry needed. The
    session label makes its image ID ours too: a teardown elsewhere that removes every
    tag of *its* base image cannot take this one with it."""
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy2(static_busybox(), context / "busybox")
    (context / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        "ENV PATH=/usr/local/bin:/usr/bin:/bin\n"
    )
    client.images.build(path=str(context), tag=tag, rm=True,
                        labels={TEST_LABEL: "1", f"{TEST_LABEL}.session": tag})
    return tag


def remove_images(client, wanted=lambda tags: True, filters: dict | None = None) -> None:
    """Remove (forced) the test-labelled images whose tag list WANTED accepts. One listing
    call (`GET /images/json`: no per-image inspect that a concurrent removal can break)."""
    from docker.errors import APIError, NotFound

    for image in client.api.images(filters=filters or {"label": TEST_LABEL}):
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        if wanted(tags):
            for ref in tags or [image["Id"]]:
                try:
                    client.api.remove_image(ref, force=True, noprune=False)
                except (NotFound, APIError):
                    pass


def engine_store(client) -> str:
    """`containerd` when the engine keeps images in the containerd image store, else
    `classic` (as `inv doctor` reads it from `docker info`)."""
    from tasks import _engine

    return _engine.image_store(client.info())


def base_files_size() -> int:
    """The bytes of the files in the session's base image (the static busybox alone: its
    `--install -s` adds symlinks, which hold no file bytes)."""
    return os.path.getsize(static_busybox())


def tiny_image_tar(content: bytes) -> bytes:
    """A root filesystem of one file holding CONTENT, for `import_image_from_data`: a
    distinct image per distinct content, with no build and no base image."""
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("filler")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# ------------------------------------------------------------ fixture compose projects
# Derived from the component table (tasks/_components.py): one service per component,
# with the production service name and pin variables, on the local base image.
def default_pins(components=None) -> dict[str, str]:
    """Test pins for every component: version 1.0.0 in its form, commit 1...1, Go 1.22."""
    from tasks import _components

    pins = {}
    for entry in components or _components.all_components():
        pins.update(entry.pins(entry.version_text("1.0.0"), "1" * 40, "1.22"))
    return pins


def fixture_dockerfile(entry, project: str) -> str:
    """A stand-in image for ENTRY: its probe binary prints the pinned build args
    (`op-node version v1.0.0-1111... (go 1.22)`), and a cache mount that survives a
    version bump stands in for Go's module cache (/cache-seen.txt lists what it held)."""
    version = f"${entry.version_var}"
    shown = " ".join(["%s"] + (["-%s"] if entry.commit_var else [])
                     + (["(go %s)"] if entry.go_var else [])).replace(" -", "-")
    values = " ".join(f'"${var}"' for var in entry.pin_vars)
    binary = entry.probe.binary
    labels = f"org.opencontainers.image.version={version}"
    if entry.commit_var:
        labels += f" \\\n      org.opencontainers.image.revision=${entry.commit_var}"
    return "\n".join([
        "ARG BASE_IMAGE",
        "FROM ${BASE_IMAGE}",
        *(f"ARG {var}" for var in entry.pin_vars),
        f"RUN --mount=type=cache,target=/cache,id={project}-{entry.name}-cache \\",
        f'    ls /cache > /cache-seen.txt; echo "{version}" > "/cache/built-{version}"',
        f"RUN mkdir -p {binary.rsplit('/', 1)[0]} && \\",
        f"    printf '#!/bin/sh\\necho \"{entry.name} version {shown}\"\\n' {values} \\",
        f"      > {binary} && chmod 755 {binary}",
        f"LABEL {labels}",
        "",
    ])


def _service_lines(entry, project: str, base: str, pins: dict[str, str],
                   context: str) -> list[str]:
    """ENTRY's service (and its one-shot), named, tagged and cached like compose.yml's:
    IMAGE_REGISTRY in front, :latest too; build context CONTEXT."""
    from tasks import _components
    from tasks._compose import REGISTRY_PREFIX, registry_cache_from

    name = f"{project}-{entry.name}"
    lines = [f"  {entry.service}:", "    build:", f"      context: {context}",
             "      args:", f"        BASE_IMAGE: {base}"]
    lines += [f"        {var}: ${{{var}:-{pins[var]}}}" for var in entry.pin_vars]
    image = f"{REGISTRY_PREFIX}{name}:${{{entry.version_var}:-{pins[entry.version_var]}}}"
    lines += ['        BUILDKIT_INLINE_CACHE: "1"',
              "      cache_from:", f"        - {registry_cache_from(name)}",
              "      tags:", f"        - {REGISTRY_PREFIX}{name}:latest",
              "      labels:", f'        {TEST_LABEL}: "1"', f"    image: {image}"]
    if entry.client:  # the client file says which client it is, as docker/<client>.yml does
        lines += ["    environment:", f"      {_components.CLIENT_SETTING}: {entry.client}"]
    if entry.service in ONE_SHOTS:  # compose.yml's one-shot: the same image, never built
        lines += [f"  {ONE_SHOTS[entry.service]}:", f"    image: {image}",
                  "    pull_policy: never", '    command: ["init"]', '    restart: "no"']
    return lines


def fixture_files(project: str, base: str, pins: dict[str, str],
                  components=None) -> dict[str, str]:
    """{path in the project: text} of a fixture project, wired like compose.yml: a service
    per component; the execution clients' service (and its one-shot) `extends` the
    client file docker/${EXECUTION_CLIENT:-<default>}.yml, one per client, each with its
    own image and its build context relative to that file (../<name>)."""
    from tasks import _components

    entries = list(components or _components.all_components())
    default = next((e.client for e in entries if e.client), None)
    lines = ["services:"]
    clients: dict[str, list[str]] = {}
    shared: list = []
    for entry in entries:
        if entry.client:
            clients.setdefault(entry.client, ["services:"]).extend(
                _service_lines(entry, project, base, pins, f"../{entry.name}"))
            if entry.service not in (e.service for e in shared):
                shared.append(entry)
            continue
        lines += _service_lines(entry, project, base, pins, f"./{entry.name}")
    setting = _components.CLIENT_SETTING
    for entry in shared:
        for service in filter(None, (entry.service, ONE_SHOTS.get(entry.service))):
            lines += [f"  {service}:", "    extends:",
                      f"      file: ./docker/${{{setting}:-{default}}}.yml",
                      f"      service: {service}"]
    files = {"compose.yml": "\n".join(lines) + "\n"}
    files.update({f"docker/{client}.yml": "\n".join(text) + "\n"
                  for client, text in clients.items()})
    return files


def fixture_compose(project: str, base: str, pins: dict[str, str], components=None) -> str:
    """compose.yml of a fixture project (`fixture_files` has the client files too)."""
    return fixture_files(project, base, pins, components)["compose.yml"]


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

    def repo(self, service: str, client: str | None = None) -> str:
        """The image repository of SERVICE's component in use with CLIENT (None: the
        default client)."""
        from tasks import _components

        return f"{self.name}-{_components.by_service(service, client).name}"

    def image(self, service: str, version: str | None = None, client: str | None = None) -> str:
        from tasks import _components

        entry = _components.by_service(service, client)
        return f"{self.repo(service, client)}:{version or self.pins[entry.version_var]}"

    def write(self, base: str, dockerfiles: dict[str, str] | None = None) -> FixtureProject:
        """Write compose.yml and a Dockerfile per component (a given one is formatted
        with `name`, the project name; the others are `fixture_dockerfile`)."""
        from tasks import _components

        for entry in _components.all_components():
            given = (dockerfiles or {}).get(entry.name)
            (self.path / entry.name).mkdir(parents=True, exist_ok=True)
            (self.path / entry.name / "Dockerfile").write_text(
                given.format(name=self.name) if given else fixture_dockerfile(entry, self.name))
        for relative, text in fixture_files(self.name, base, self.pins).items():
            (self.path / relative).parent.mkdir(parents=True, exist_ok=True)
            (self.path / relative).write_text(text)
        self.env = {"COMPOSE_FILE": str(self.compose_file), "COMPOSE_PROJECT_NAME": self.name}
        return self

    def enter(self, monkeypatch) -> FixtureProject:
        """Point COMPOSE_FILE and COMPOSE_PROJECT_NAME at this project (as a user of their
        own compose file would); its pins, not the caller's shell, decide the versions."""
        from tasks import _components

        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        for key in (*self.pins, _components.CLIENT_SETTING):
            monkeypatch.delenv(key, raising=False)
        return self

    def build(self, *services: str, client: str | None = None) -> FixtureProject:
        """`docker compose build SERVICES` of this project, whatever the caller's env; with
        CLIENT, that execution client's (EXECUTION_CLIENT in compose's environment)."""
        from tasks import _components, _compose

        with pytest.MonkeyPatch.context() as patch:
            self.enter(patch)
            env = {_components.CLIENT_SETTING: client} if client else None
            _compose.run_compose(Context(), "build", *services, env=env, hide=True)
        return self


# ------------------------------------------------------------------ stand-in GitHub
class FakeGitHub:
    """A stand-in for the GitHub REST API on a local port (real HTTP).

    Routes are exact paths (query string included when given) answering JSON with an
    ETag; a matching If-None-Match gets 304. `requests` records every request, so tests
    can count them. `fail_with(status, headers, body)` makes every request fail (e.g. a
    rate limit) until `fail_with(None)`; `unreachable = True` drops every connection
    unanswered, as a network that is down does (the attempts are still recorded).
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, object, dict[str, str]]] = {}
        self.requests: list[dict] = []
        self.failure: tuple[int, dict[str, str], object] | None = None
        self.unreachable = False
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                fake._handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": POLL_INTERVAL}, daemon=True)
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
                                  "headers": dict(handler.headers.items()),
                                  "answered": not self.unreachable})
        if self.unreachable:
            handler.close_connection = True
            return
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
                 prefixes=None, page_size: int | None = None) -> None:
        """Serve a repository's tags like GitHub does (additive helper for source tests).

        `tags` maps tag name -> commit SHA; names in `annotated` point at a tag object
        served at /git/tags/{sha}. `gomod` is go.mod text for every commit, or a dict
        {commit: text}, served by the contents endpoint at ?ref=<commit>. Each prefix gets
        a matching-refs listing (sorted by name, as GitHub does), split into pages of
        `page_size` linked with Link rel="next"; by default "" and every namespaced tag prefix
        of the table (op-node/v, op-reth/v: the monorepo's, or a fork's of it).
        Calling it again replaces the listings.
        """
        import base64
        import hashlib

        from tasks import _components

        if prefixes is None:
            prefixes = ("", *dict.fromkeys(e.tag_prefix for e in _components.all_components()
                                           if e.tag_namespace))

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


# ------------------------------------------------------------------ inv
def project_config(location: Path = ROOT) -> type[Config]:
    """A Config class that reads LOCATION/invoke.yaml as its project config, as `inv` reads
    the one beside tasks.py."""

    class ProjectConfig(Config):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("project_location", str(location))
            super().__init__(*args, **kwargs)
            self.load_project()

    return ProjectConfig


def kit_context(project: Path = ROOT) -> Context:
    """A Context configured as `inv` configures a task's: the namespace's defaults (from
    the component table), PROJECT/invoke.yaml, INVOKE_* variables."""
    import tasks

    config = project_config(project)()
    config.load_collection(tasks.make_namespace().configuration())
    config.load_shell_env()
    return Context(config)


@dataclass
class Ran:
    """What `inv` did: exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def inv(*args: str, env: dict[str, str] | None = None, namespace=None,
        project: Path = ROOT) -> Ran:
    """Run `inv ARGS` in this process through Invoke's Program, as the `inv` command does
    in the checkout (PROJECT/invoke.yaml, INVOKE_* variables, `-f FILE`), and capture
    stdout, stderr and the exit code. ENV is set for the call only. NAMESPACE defaults to
    one built from the component table as it is now (`tasks.make_namespace()`)."""
    import tasks

    # a copy: parsing consumes each Task's help dict, and the module's tasks must keep theirs
    namespace = copy.deepcopy(namespace or tasks.make_namespace())
    program = Program(namespace=namespace, config_class=project_config(project), binary="inv",
                      name="Invoke")
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                program.run(["inv", *args])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    sys.stdout.flush()
    return Ran(code, out.getvalue(), err.getvalue())


def assert_one_line_error(done: Ran | subprocess.CompletedProcess) -> str:
    """The one line `inv` printed for a failure (`error: ...`, no traceback), checked."""
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def inv_process(*args: str, env: dict[str, str] | None = None,
                timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the real `inv ARGS` in a new process from the checkout: for the smoke tests
    (one per task family) and the checks that nothing ends in a traceback."""
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, **(env or {})},
                          timeout=timeout)
