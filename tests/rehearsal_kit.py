"""The rehearsal's stand-ins: base images under the names the production Dockerfiles
use, a fixture optimism monorepo served over git's smart HTTP on 127.0.0.1, and an
ELF reader for the binary the build produces.

The rehearsal is opt-in: it runs only with OPKIT_TEST_REHEARSAL=1 (`.ci/run` sets it),
because it puts stand-ins under real image names on the engine it runs on.

Stand-in base images are made without a registry: mmdebstrap writes a Debian bookworm
root file system, `docker import` turns it into an image, and small Dockerfiles
(tests/rehearsal/standins/) put Go, `apk`, `just`, busybox-style user tools, a
stand-in Nethermind and a Wolfi-like stand-in op-reth on top, declaring what the real
bases declare (REAL_BASES). Each is
tagged opkit-rehearsal/<name>:<hash of its recipe> and kept in the engine between runs
(label STANDIN_LABEL, never the test label): a second run rebuilds nothing. The names the
Dockerfiles use (golang:1.19-alpine, alpine:3.23, nethermind/nethermind:<version>,
us-docker.pkg.dev/oplabs-tools-artifacts/images/op-reth:<version>) point
at those images only while a rehearsal build runs (`real_names`, under a lock file, so
two sessions on one engine take turns), and are untagged in a `finally` (on Ctrl-C, and
on SIGTERM/SIGHUP, which are turned into KeyboardInterrupt meanwhile): a real build on
the host must never find them. A name held by an image that is no stand-in is never
taken over. What a SIGKILL leaves behind (stand-ins under real names, still labelled
STANDIN_LABEL) the next rehearsal untags first.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tasks._refs import STANDIN_LABEL
from tests.helpers import just_binary, need

ASSETS = Path(__file__).resolve().parent / "rehearsal"
# Bump to rebuild every stand-in (their tags carry it through the hashes).
RECIPE_VERSION = "1"
ROOTFS_COMMAND = ("mmdebstrap", "--quiet", "--variant=minbase", "bookworm")

# Old and new just, from PyPI's rust-just wheels (.ci/run installs them side by side as
# $OPKIT_TEST_JUST_ROOT/<version>/bin/just): 1.43.1 is Alpine 3.23's, older than 1.44.0
# (where `[script]` became stable); 1.48.1 is Alpine 3.24's. Debian's Go is 1.19, so the
# stand-in builders are golang:1.19-alpine (the "Alpine 3.23" one, old just) and
# golang:1.19.8-alpine (the newer one).
OLD_JUST, NEW_JUST = "1.43.1", "1.48.1"
GO_VERSION_OF_JUST = {OLD_JUST: "1.19", NEW_JUST: "1.19.8"}
ALPINE = "alpine:3.23"
OP_RETH_IMAGE = "us-docker.pkg.dev/oplabs-tools-artifacts/images/op-reth"

# The opt-in: the rehearsal retags real image names on the engine it runs on.
OPT_IN = "OPKIT_TEST_REHEARSAL"
OPT_IN_REASON = (f"the rehearsal puts stand-ins under real image names (alpine:3.23, "
                 f"golang:*-alpine, nethermind/nethermind:<pin>, {OP_RETH_IMAGE}:<pin>) "
                 f"on this engine while it builds: it runs only with {OPT_IN}=1 (as "
                 f".ci/run sets it)")
# Held while real names point at stand-ins: sessions on one engine take turns.
NAMES_LOCK = Path(tempfile.gettempdir()) / "opkit-rehearsal-names.lock"

# What the real base images declare, which their stand-ins must declare too (tests check
# both the stand-in Dockerfiles and the images built from them).
# - nethermind/nethermind: NethermindEth/nethermind Dockerfile (the stored versions on
#   mcr.microsoft.com/dotnet/aspnet 8.0-noble @015b4368 and 10.0.1-noble, and the later
#   10.0.10/10.0.12-resolute ones; the 1.39.3 tag, commit 28cbe2a0, is not stored): WORKDIR
#   /nethermind, VOLUME /nethermind/keystore, /nethermind/logs and /nethermind/nethermind_db,
#   EXPOSE 8545 8551 30303, no USER (root). ENTRYPOINT ["./nethermind"] through the
#   10.0.1-noble one; the resolute ones start ./entrypoint.sh, which ends `exec ./nethermind
#   "$@"` (which one 1.39.3 has is unverified; the production image sets its own entry
#   point either way). The aspnet base (dotnet/dotnet-docker src/runtime-deps/10.0/noble)
#   adds the user `app`, UID/GID 1654, with a home, and ENV APP_UID=1654.
# - golang:<v>-alpine: docker-library/golang 1.26/alpine3.23/Dockerfile @0a8424b3: ENV
#   GOTOOLCHAIN=local, GOPATH=/go, PATH with /go/bin and /usr/local/go/bin, WORKDIR /go,
#   no USER, VOLUME or ENTRYPOINT; CMD ["/bin/sh"] from alpine.
# - alpine:3.23: alpinelinux/docker-alpine x86_64/Dockerfile @00d34073 (3.23.6): FROM
#   scratch, the minirootfs, CMD ["/bin/sh"]; no WORKDIR, USER, VOLUME or ENTRYPOINT.
# - us-docker.pkg.dev/oplabs-tools-artifacts/images/op-reth: docker-bake.hcl's op-reth
#   target builds ethereum-optimism/optimism rust/op-reth/DockerfileOp (@0ddd0724, the
#   stored post-#21474 version; the op-reth/v2.10.0 file is not stored): runtime stage
#   FROM chainguard/wolfi-base (apk, busybox, no bash, no apt, no curl), WORKDIR /app,
#   the binary /usr/local/bin/op-reth, ENTRYPOINT ["/usr/local/bin/op-reth"], EXPOSE
#   30303 30303/udp 9001 8545 8546 7545 8551; no USER (root), VOLUME or CMD (the
#   ENTRYPOINT resets wolfi-base's). Wolfi's busybox has the applets the scripts use,
#   addgroup, adduser and flock among them (wolfi-dev/os busybox/busyboxconfig @184923cf).
REAL_BASES = {
    "nethermind": {"Volumes": ["/nethermind/keystore", "/nethermind/logs",
                               "/nethermind/nethermind_db"],
                   "WorkingDir": "/nethermind", "User": "", "Entrypoint": ["./nethermind"],
                   "ExposedPorts": ["30303/tcp", "8545/tcp", "8551/tcp"],
                   "Env": {"APP_UID": "1654"}},
    "golang": {"Volumes": [], "WorkingDir": "/go", "User": "", "Entrypoint": None,
               "Cmd": ["/bin/sh"], "Env": {"GOPATH": "/go", "GOTOOLCHAIN": "local"}},
    "alpine": {"Volumes": [], "WorkingDir": "", "User": "", "Entrypoint": None,
               "Cmd": ["/bin/sh"]},
    "op-reth": {"Volumes": [], "WorkingDir": "/app", "User": "",
                "Entrypoint": ["/usr/local/bin/op-reth"], "Cmd": None,
                "ExposedPorts": ["30303/tcp", "30303/udp", "7545/tcp", "8545/tcp",
                                 "8546/tcp", "8551/tcp", "9001/tcp"]},
}


def opted_in() -> bool:
    return os.environ.get(OPT_IN) == "1"


def require_opt_in() -> None:
    """Skip (fail under CI) unless the rehearsal was asked for."""
    if not opted_in():
        need(OPT_IN_REASON)


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _docker(*args: str, timeout: int = 1800, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def image_labels(ref: str) -> dict[str, str] | None:
    """The labels of a local image, {} for none, None when there is no such image."""
    done = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip() or "null") or {}


@dataclass
class Standins:
    """The stand-in base images of one session and how long making them took."""

    golang: dict[str, str] = field(default_factory=dict)  # just version -> golang:<v>-alpine
    alpine: str = ALPINE
    nethermind: str = ""
    op_reth: str = ""
    built: list[str] = field(default_factory=list)  # cached images this session had to make
    # the names the Dockerfiles use -> the cached stand-in each stands for (tagged only
    # inside `real_names`)
    names: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def real_names(self):
        """Context: the names the Dockerfiles use point at the stand-ins meanwhile."""
        return real_names(self.names)


class StandinFactory:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.result = Standins()

    # ------------------------------------------------------------------ cached images
    def rootfs(self) -> str:
        tag = f"opkit-rehearsal/rootfs:{_digest(RECIPE_VERSION, *ROOTFS_COMMAND)}"
        if image_labels(tag) is not None:
            return tag
        if shutil.which("mmdebstrap") is None:
            need("mmdebstrap makes the stand-in root file system: apt-get install mmdebstrap")
        import time

        start = time.monotonic()
        tar = self.workdir / "rootfs.tar"
        done = subprocess.run([*ROOTFS_COMMAND, str(tar)], capture_output=True, text=True,
                              timeout=1200)
        assert done.returncode == 0, f"mmdebstrap failed:\n{done.stdout}\n{done.stderr}"
        _docker("import", "--change", f"LABEL {STANDIN_LABEL}={tag.split(':')[1]}",
                "--change", 'CMD ["/bin/bash"]', str(tar), tag)
        tar.unlink()
        self.result.seconds["rootfs"] = time.monotonic() - start
        self.result.built.append(tag)
        self.forget_older(tag)
        return tag

    def image(self, name: str, dockerfile: str, files: dict[str, Path],
              args: dict[str, str]) -> str:
        """opkit-rehearsal/<name>:<hash>, built from tests/rehearsal/<dockerfile> with
        `files` (context name -> path) unless an image of that recipe is there."""
        import time

        text = (ASSETS / dockerfile).read_text()
        parts = [RECIPE_VERSION, text, *(f"{k}={v}" for k, v in sorted(args.items()))]
        for key in sorted(files):
            parts += [key, _tree_digest(files[key])]
        tag = f"opkit-rehearsal/{name}:{_digest(*parts)}"
        if image_labels(tag) is not None:
            return tag
        start = time.monotonic()
        context = Path(tempfile.mkdtemp(prefix=f"standin-{name}-", dir=self.workdir))
        (context / "Dockerfile").write_text(text)
        for key, source in files.items():
            target = context / key
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        build_args = [a for k, v in sorted(args.items()) for a in ("--build-arg", f"{k}={v}")]
        # the classic builder: the docker CLI here has no buildx (compose drives BuildKit
        # for the production builds); these Dockerfiles need nothing BuildKit has
        _docker("build", "--quiet", "--label", f"{STANDIN_LABEL}={tag.split(':')[1]}",
                *build_args, "-t", tag, str(context), env={"DOCKER_BUILDKIT": "0"})
        # the classic builder keeps a multi-stage build's earlier stages as untagged images
        _docker("image", "prune", "-f", "--filter", f"label={STANDIN_LABEL}={tag.split(':')[1]}")
        shutil.rmtree(context)
        self.result.seconds[name] = time.monotonic() - start
        self.result.built.append(tag)
        self.forget_older(tag)
        return tag

    @staticmethod
    def forget_older(tag: str) -> None:
        """Untag this stand-in's earlier recipes (an image still in use stays)."""
        repo = tag.split(":")[0]
        done = _docker("image", "ls", repo, "--format", "{{.Repository}}:{{.Tag}}")
        stale = [ref for ref in done.stdout.split() if ref != tag]
        if stale:
            _docker("image", "rm", *stale, check=False)

    def claim(self, source: str, name: str) -> str:
        """Note that `name` stands for `source` (tagged only inside `real_names`); a
        stand-in a killed session left under `name` is untagged now."""
        _check_name_free(name)
        with _names_lock():  # never under another session's build
            _untag_standin(name)
        self.result.names[name] = source
        return name

    # ------------------------------------------------------------------------ all
    def make(self, nethermind_version: str, op_reth_version: str) -> Standins:
        standins = ASSETS / "standins"
        rootfs = self.rootfs()
        golang = self.image("golang", "standins/Dockerfile.golang",
                            {"apk": standins / "apk", "yq-stub": standins / "yq-stub"},
                            {"ROOTFS": rootfs})
        for version, go_version in GO_VERSION_OF_JUST.items():
            tag = self.image(f"golang-just-{version}", "standins/Dockerfile.golang-just",
                             {"just": just_binary(version)}, {"GOLANG": golang})
            self.result.golang[version] = self.claim(tag, f"golang:{go_version}-alpine")
        alpine = self.image("alpine", "standins/Dockerfile.alpine",
                            {n: standins / n for n in ("apk", "addgroup", "adduser")},
                            {"ROOTFS": rootfs})
        self.claim(alpine, ALPINE)
        nethermind = self.image("nethermind", "standins/Dockerfile.nethermind",
                                {n: ASSETS / "nethermind" / n
                                 for n in ("main.go", "go.mod", "configs")},
                                {"ROOTFS": rootfs, "GOLANG": golang})
        self.result.nethermind = self.claim(nethermind,
                                            f"nethermind/nethermind:{nethermind_version}")
        op_reth = self.image("op-reth", "standins/Dockerfile.op-reth",
                             {**{n: ASSETS / "op-reth" / n for n in ("main.go", "go.mod")},
                              **{n: standins / n for n in ("apk", "addgroup", "adduser")}},
                             {"ROOTFS": rootfs, "GOLANG": golang,
                              "OP_RETH_VERSION": op_reth_version})
        self.result.op_reth = self.claim(op_reth, f"{OP_RETH_IMAGE}:{op_reth_version}")
        return self.result


# ------------------------------------------------------------- real names, briefly
_HELD: set[str] = set()  # real names this process has pointed at stand-ins right now


def _check_name_free(name: str) -> None:
    labels = image_labels(name)
    if labels is not None and STANDIN_LABEL not in labels:
        need(f"{name} is an image on this engine that is no rehearsal stand-in; the "
             "rehearsal needs that name for its stand-in and leaves yours alone")


def _untag_standin(name: str) -> None:
    """Untag `name` if it is a stand-in (never an image of anyone else)."""
    labels = image_labels(name)
    if labels is not None and STANDIN_LABEL in labels:
        _docker("image", "rm", name, check=False)
    _HELD.discard(name)


def _release_held() -> None:
    for name in sorted(_HELD):
        _untag_standin(name)


atexit.register(_release_held)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _names_lock():
    with open(NAMES_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def real_names(names: dict[str, str]):
    """Tag each stand-in (value) as its real name (key) for the duration of the block,
    under NAMES_LOCK, and untag them afterwards whatever happens: an exception, Ctrl-C,
    SIGTERM or SIGHUP (turned into KeyboardInterrupt meanwhile), or the interpreter
    exiting (atexit). Only SIGKILL leaves them; the next `claim` untags them."""
    with _names_lock():
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, _interrupt)
                        for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            for name, source in names.items():
                _check_name_free(name)
                _HELD.add(name)
                _docker("tag", source, name)
            yield names
        finally:
            try:
                for name in names:
                    _untag_standin(name)
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)


def _tree_digest(path: Path) -> str:
    if path.is_dir():
        return _digest(*(f"{p.relative_to(path)}:{_tree_digest(p)}"
                         for p in sorted(path.rglob("*")) if p.is_file()))
    return _digest(path.read_bytes(), oct(path.stat().st_mode & 0o111))


# ------------------------------------------------------------- git over smart HTTP
class GitHTTPServer:
    """`git http-backend` behind a small HTTP server on 127.0.0.1 (smart HTTP, so
    shallow clones and submodules work as against GitHub). Serves the bare repositories
    under `root`; `requests` records (method, path) of every request."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                server._cgi(self)

            def do_POST(self):  # noqa: N802
                server._cgi(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _cgi(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        self.requests.append((handler.command, path))
        body = b""
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    break
                body += handler.rfile.read(size)
                handler.rfile.readline()
        elif handler.headers.get("Content-Length"):
            body = handler.rfile.read(int(handler.headers["Content-Length"]))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": handler.command,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": handler.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run(["git", "http-backend"], input=body, env=env,
                              capture_output=True, timeout=300)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        if done.returncode != 0 and not head:
            status, payload, headers = 500, done.stderr, []
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ----------------------------------------------------------- the fixture monorepo
MONOREPO = ASSETS / "monorepo"
GO_MOD = "module github.com/ethereum-optimism/optimism\n\ngo 1.19\n"
REGISTRY_FILES = {
    "chainList.json": json.dumps({"chains": [{"name": "OP Mainnet", "identifier": "mainnet/op"},
                                             {"name": "OP Sepolia", "identifier": "sepolia/op"}]}),
    "superchain/configs/mainnet/op.toml": 'name = "OP Mainnet"\nchain_id = 10\n'
                                          '[hardforks]\nlagoon_time = 1799683201\n',
    "superchain/configs/sepolia/op.toml": 'name = "OP Sepolia"\nchain_id = 11155420\n'
                                          '[hardforks]\nlagoon_time = 1796918401\n',
}
BUNDLE = "op-core/superchain/superchain-configs.zip"


def bundle_digest(files: dict[str, str]) -> str:
    """What op-core/superchain.Check computes over the zip `build-superchain-go` makes
    (the registry's .toml files, sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(n for n in files if n.endswith(".toml")):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()


# era -> (justfile, with op-core/superchain's embed, op-node links it)
ERAS = {
    "script": ("script-era.just", False, False),
    "sync-superchain": ("sync-superchain-era.just", True, False),
    "build-superchain-go": ("build-superchain-go-era.just", True, True),
}
# Tags of the fixture monorepo, in history order, each on its own commit.
TAGS = {
    "v1.16.8": "script",
    "v1.18.0": "sync-superchain",
    "v1.19.1-rc.1": "sync-superchain",
    "v1.19.1": "build-superchain-go",
    "v1.21.0": "build-superchain-go",
}


@dataclass
class Monorepo:
    url: str
    commits: dict[str, str]  # version -> commit of op-node/<version>
    dates: dict[str, str]  # version -> committer date (Unix time) of that commit
    registry_commit: str
    server: GitHTTPServer


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _write(root: Path, files: dict[str, str | Path]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy2(content, target)
        else:
            target.write_text(content)


def make_monorepo(workdir: Path) -> Monorepo:
    """The fixture optimism monorepo and its superchain-registry, as bare repositories
    served by a GitHTTPServer; annotated tags op-node/<version> of every era."""
    served = workdir / "served"
    served.mkdir(parents=True)
    registry = workdir / "superchain-registry"
    registry.mkdir()
    _git(registry, "init", "-q", "-b", "main")
    _write(registry, REGISTRY_FILES)
    _git(registry, "add", "-A")
    _git(registry, "commit", "-q", "-m", "registry")
    registry_commit = _git(registry, "rev-parse", "HEAD")
    _git(workdir, "clone", "-q", "--bare", str(registry), str(served / "superchain-registry.git"))

    repo = workdir / "optimism"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "develop")
    commits, dates = {}, {}
    for version, era in TAGS.items():
        justfile, embed, links = ERAS[era]
        files: dict[str, str | Path] = {
            "go.mod": GO_MOD, "justfile": MONOREPO / "justfiles" / justfile,
            "op-node/cmd/main.go": MONOREPO / "common/op-node/cmd/main.go",
            "op-node/version/version.go": MONOREPO / "common/op-node/version/version.go",
            "CHANGELOG": f"{version}\n",
        }
        if embed:
            files.update({
                ".gitignore": f"{BUNDLE}\nbin/\n",
                "op-core/superchain/superchain.go":
                    MONOREPO / "embed/op-core/superchain/superchain.go",
                "op-core/superchain/sync-superchain.sh":
                    MONOREPO / "embed/op-core/superchain/sync-superchain.sh",
                f"{BUNDLE}.sha256": f"{bundle_digest(REGISTRY_FILES)}  superchain-configs.zip\n",
            })
        if links:
            files.update({
                "op-node/cmd/bundle.go": MONOREPO / "bundle/op-node/cmd/bundle.go",
                # relative: resolved against wherever the monorepo was cloned from
                ".gitmodules": '[submodule "superchain-registry"]\n'
                               "\tpath = superchain-registry\n"
                               "\turl = ../superchain-registry.git\n",
            })
        _write(repo, files)
        _git(repo, "add", "-A")
        if links and not (repo / "superchain-registry").exists():
            _git(repo, "update-index", "--add", "--cacheinfo",
                 f"160000,{registry_commit},superchain-registry")
        _git(repo, "commit", "-q", "-m", f"op-node {version}")
        _git(repo, "tag", "-a", "-m", f"op-node {version}", f"op-node/{version}")
        commits[version] = _git(repo, "rev-parse", "HEAD")
        dates[version] = _git(repo, "show", "-s", "--format=%ct", "HEAD")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "develop moves on")
    _git(workdir, "clone", "-q", "--bare", str(repo), str(served / "optimism.git"))
    server = GitHTTPServer(served)
    return Monorepo(url=f"{server.url}/optimism.git", commits=commits, dates=dates,
                    registry_commit=registry_commit, server=server)


# ---------------------------------------------------------------------------- ELF
@dataclass
class Elf:
    static: bool  # no PT_INTERP, no PT_DYNAMIC
    stripped: bool  # no .symtab section
    sections: list[str]


def read_elf(data: bytes) -> Elf:
    """Program and section headers of a 64-bit little-endian ELF file."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not an ELF64 LE file"
    (phoff, shoff) = struct.unpack_from("<QQ", data, 0x20)
    (phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from("<HHHHH", data, 0x36)
    types = {struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)}
    sections = []
    if shnum:
        strtab_off = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)[0]
        for i in range(shnum):
            name_off = struct.unpack_from("<I", data, shoff + i * shentsize)[0]
            end = data.index(b"\0", strtab_off + name_off)
            sections.append(data[strtab_off + name_off:end].decode())
    return Elf(static=not ({2, 3} & types), stripped=".symtab" not in sections,
               sections=sections)


# ------------------------------------------------------------ snapshots, slowly
class _Throttled:
    """A response stream that writes at most `rate` bytes per second, shared by every
    connection of one server (aria2c opens several)."""

    def __init__(self, raw, rate: int, lock: threading.Lock) -> None:
        self.raw, self.rate, self.lock = raw, rate, lock

    def write(self, data: bytes) -> int:
        import time

        step = max(1, self.rate // 20)
        for i in range(0, len(data), step):
            with self.lock:
                self.raw.write(data[i:i + step])
                self.raw.flush()
                time.sleep(len(data[i:i + step]) / self.rate)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name):
        return getattr(self.raw, name)


def snapshot_server(host: str, rate: int | None = None):
    """tests/test_scripts.py's RangeServer (HTTP Range, dropped connections), listening
    on `host` (the gateway of a test network, where containers reach it) and, with
    `rate`, sending at most that many bytes per second."""
    from test_scripts import RangeServer

    class SnapshotServer(RangeServer):
        def __init__(self) -> None:
            super().__init__()
            handler = self.httpd.RequestHandlerClass
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = ThreadingHTTPServer((host, 0), handler)
            self.httpd.daemon_threads = True
            self.url = f"http://{host}:{self.httpd.server_address[1]}"
            self._throttle = threading.Lock()
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

        def _serve(self, handler, body):
            if rate and body:
                handler.wfile = _Throttled(handler.wfile, rate, self._throttle)
            super()._serve(handler, body)

    return SnapshotServer()


def make_snapshot(workdir: Path, top: str, size: int = 1024 * 1024,
                  layout: str = "nethermind") -> dict:
    """A .tar.zst with one top folder, and the names directly in that folder: laid out
    like Nethermind's own snapshots (the database folders), or with layout="op-reth"
    like OP's op-reth data dirs (db/, static_files/ and storage v2's rocksdb/)."""
    import tarfile

    tree = workdir / "snapshot" / top
    if layout == "op-reth":
        files = {"db/mdbx.dat": os.urandom(size), "db/mdbx.lck": b"",
                 "static_files/static_file_headers_0_499999": os.urandom(4096),
                 "rocksdb/CURRENT": b"MANIFEST-000001\n"}
    else:
        files = {"state/000001.sst": os.urandom(size), "state/CURRENT": b"MANIFEST-000001\n",
                 "blocks/000001.sst": os.urandom(4096), "receipts/LOCK": b""}
    for name, data in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    tar_path = workdir / "snapshot.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(tree, arcname=top)
    archive = workdir / f"{top}-{layout}.tar.zst"
    subprocess.run(["zstd", "-q", "-f", str(tar_path), "-o", str(archive)], check=True)
    data = archive.read_bytes()
    return {"name": archive.name, "data": data, "sha256": hashlib.sha256(data).hexdigest(),
            "files": sorted({n.split("/")[0] for n in files})}
