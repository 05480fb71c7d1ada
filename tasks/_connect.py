"""How the kit reaches a Docker engine: where it is and the first contact with it.

DOCKER_HOST, DOCKER_CONTEXT and the CLI's current context decide where the engine is
(`endpoint()`): a unix socket, tcp (with TLS from the context) or ssh through the system
`ssh` client, so ~/.ssh/config, agents and known_hosts apply. The first contact gives up
after `engine.connect_timeout` (10 s) with one line; later calls keep long timeouts.
`engine_client()` gives a pinged SDK client; `build_client()` gives a small
standard-library client on the local socket, so a build imports neither the SDK nor
`requests`. What is done with a client (images, prune, probes) is in tasks/_engine.py.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import EngineConflict, EngineError, EngineUnavailable, ImageInUse, KitError

if TYPE_CHECKING:  # for the hints only: nothing more is imported at run time
    from invoke import Context


def _sdk() -> Any:
    docker: Any
    try:
        import docker
    except ImportError:
        docker = None
    if docker is None or not hasattr(docker, "DockerClient"):
        raise KitError(
            "the Docker SDK for Python is not installed (`import docker` found only the "
            "project's docker/ folder): run `pip install 'docker>=7.1'` or `pip install -e .`"
        )
    return docker


# What the engine calls take: a docker.DockerClient (the SDK) or a SocketClient (below);
# both answer `.api.<call>(...)` as the SDK spells it, and `.close()`.
EngineClient = Any

DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds the first contact with an engine may take


def connect_timeout(c: Context | None = None) -> float:
    """How long the first contact with the engine may take: `engine.connect_timeout` in
    C's Invoke config (invoke.yaml, INVOKE_ENGINE_CONNECT_TIMEOUT), else 10 s. Long
    operations (builds, pushes, probes) keep their own, longer timeouts."""
    value = ((c.config.get("engine") or {}).get("connect_timeout") if c is not None
             else None)
    if value in (None, ""):
        return DEFAULT_CONNECT_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if seconds <= 0:
        raise KitError(f"engine.connect_timeout {value!r} must be a number of seconds above 0")
    return seconds


def engine_target() -> str:
    """Where the engine is expected, in the words a user configured it with."""
    if os.environ.get("DOCKER_HOST"):
        return f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
    if os.environ.get("DOCKER_CONTEXT"):
        return f"DOCKER_CONTEXT={os.environ['DOCKER_CONTEXT']}"
    name = _context_name()
    return "unix:///var/run/docker.sock" if name == "default" else f"docker context {name}"


class ContextMissing(EngineUnavailable):
    """The docker CLI context in force does not exist (or has no docker endpoint): no
    engine was tried, so the fix is the setting, not the daemon. `fix` says which."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(f"{detail}; {fix}")
        self.fix = fix


def _context_missing(name: str, what: str = "does not exist") -> ContextMissing:
    """The one line for context NAME that WHAT, naming where the name came from."""
    if os.environ.get("DOCKER_CONTEXT"):
        return ContextMissing(f"DOCKER_CONTEXT={name}: that Docker context {what}",
                              "`docker context ls` lists the contexts: set DOCKER_CONTEXT to "
                              "one of them, or unset it")
    config = os.path.join(docker_config_dir(), "config.json")
    return ContextMissing(f"the docker CLI's current context {name!r} (currentContext in "
                          f"{config}) {what}", "`docker context ls` lists the contexts: "
                          "`docker context use default` (the local engine) or another")


def _unreachable(reason: str) -> EngineUnavailable:
    return EngineUnavailable(
        f"cannot reach the Docker engine at {engine_target()} ({reason}); "
        "start the daemon or point DOCKER_HOST/DOCKER_CONTEXT at a running one"
    )


def _silent(seconds: float) -> EngineUnavailable:
    return EngineUnavailable(
        f"the Docker engine at {engine_target()} accepted the connection but did not answer "
        f"within {seconds:g} s; check that a Docker engine serves that address, or raise "
        "engine.connect_timeout (INVOKE_ENGINE_CONNECT_TIMEOUT)"
    )


# ------------------------------------------------------------------ where the engine is
@dataclass(frozen=True)
class Endpoint:
    """Where the engine is and how it is reached, decided as the docker CLI decides:
    DOCKER_HOST, else DOCKER_CONTEXT or the CLI's current context, else the local socket.
    TLS is the SDK's TLSConfig (or True) for a TLS tcp engine."""

    host: str
    tls: Any = False
    context: str | None = None
    from_env: bool = False

    @property
    def scheme(self) -> str:
        return self.host.partition("://")[0]

    @property
    def transport(self) -> str:
        if self.scheme == "unix":
            return "unix socket"
        if self.scheme == "ssh":
            return "ssh via the system ssh client"
        if self.scheme == "npipe":
            return "named pipe"
        return "tcp+TLS" if self.tls or self.scheme == "https" else "tcp without TLS"

    def describe(self) -> str:
        """`ssh://node@build-box (ssh via the system ssh client; DOCKER_HOST)`."""
        source = ("DOCKER_HOST" if self.from_env else
                  f"context {self.context}" if self.context else "default context")
        return f"{self.host} ({self.transport}; {source})"


def endpoint() -> Endpoint:
    """The engine docker would talk to now (`KitError` for a context that does not exist)."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        tls = bool(os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_TLS"))
        return Endpoint(host, tls=tls, from_env=True)
    name = _context_name()
    return Endpoint("unix:///var/run/docker.sock") if name == "default" else _context(name)


# ------------------------------------------------------------------ ssh engines
@dataclass(frozen=True)
class SshTarget:
    """An ssh:// engine address as the system ssh client reads it: USER and PORT only
    when the address gives them, so ~/.ssh/config decides the rest (HostName, Port, User,
    IdentityFile, ProxyJump), as it does for the docker CLI."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, url: str) -> SshTarget:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname or parts.path not in ("", "/"):
            raise KitError(f"malformed ssh engine address {url!r}; expected "
                           "ssh://[user@]host[:port]")
        try:
            port = parts.port
        except ValueError:
            raise KitError(f"malformed port in the ssh engine address {url!r}") from None
        return cls(parts.hostname, parts.username, port)

    def argv(self, port: int | None = None) -> list[str]:
        """`ssh [-l USER] [-p PORT] -- HOST`: the options docker's own ssh helper passes."""
        port = self.port if port is None else port
        return (["ssh"] + (["-l", self.user] if self.user else [])
                + (["-p", str(port)] if port else []) + ["--", self.host])

    def effective_port(self) -> int:
        """The port the system ssh client would use (`ssh -G`: the user's ~/.ssh/config,
        Include and Match blocks applied): the SDK always passes a port (22 when the
        address has none), so it must get the one ssh would pick, not 22."""
        if self.port:
            return self.port
        import subprocess

        if shutil.which("ssh") is None:
            raise EngineUnavailable(f"DOCKER_HOST/context {self.url} needs the ssh client; "
                                    "install OpenSSH (apt-get install openssh-client)")
        argv = self.argv()
        done = subprocess.run([argv[0], "-G", *argv[1:]], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30)
        for line in done.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "port" and value.strip().isdigit():
                return int(value)
        return 22

    @property
    def url(self) -> str:
        return ("ssh://" + (f"{self.user}@" if self.user else "") + self.host
                + (f":{self.port}" if self.port else ""))

    def sdk_url(self) -> str:
        """The address for the SDK: the port spelled out, as ssh itself resolves it."""
        return ("ssh://" + (f"{self.user}@" if self.user else "") + self.host
                + f":{self.effective_port()}")


def ssh_first_contact(target: SshTarget, timeout: float) -> dict:
    """The engine's `GET /version`, asked through `ssh HOST docker system dial-stdio` (how
    the docker CLI reaches it) within TIMEOUT seconds: `EngineUnavailable` with ssh's own
    one-line reason (host key, permission, name) or the silence, never a hang. The answer
    spares the SDK its own version negotiation, another ssh connection."""
    import select
    import subprocess
    import time

    argv = target.argv()
    argv = [argv[0], "-o", f"ConnectTimeout={max(1, math.ceil(timeout))}", *argv[1:],
            "docker system dial-stdio"]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        raise _unreachable(f"cannot run ssh: {exc.strerror or exc}") from None
    answer = b""
    deadline = time.monotonic() + timeout
    assert proc.stdin is not None and proc.stdout is not None  # both are PIPEs
    try:
        # HTTP/1.0: the engine answers with a length and closes, so EOF ends the answer
        proc.stdin.write(b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n")
        proc.stdin.flush()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _silent(timeout)
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                answer += chunk
                head, sep, body = answer.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if sep and length and len(body) >= int(length.group(1)):
                    break
    except BrokenPipeError:
        pass
    finally:
        proc.kill()
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            err = b""
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if status.startswith("HTTP/") and " 200" in status:
        try:
            return json.loads(body)
        except ValueError:
            raise _unreachable(f"the engine's answer over ssh is not JSON ({status})") \
                from None
    said = [line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()]
    reason = said[-1] if said else (status or f"ssh exited {proc.returncode}")
    raise _unreachable(reason if reason.startswith("ssh: ") else f"ssh: {reason}")


def _api_version(engine: str | None, sdk: str) -> str:
    """The API version to speak: the engine's, capped at the SDK's (as `auto` picks)."""
    def key(text: object) -> tuple[int, ...]:
        return tuple(int(p) for p in str(text).split(".")[:2] if p.isdigit())

    return sdk if not engine or key(engine) > key(sdk) else str(engine)


def _timed_out(exc: BaseException | None) -> bool:
    """Whether EXC (or what caused it) is a timeout: the engine accepted and kept silent."""
    import socket

    import requests

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (requests.Timeout, socket.timeout, TimeoutError)) \
                or "timed out" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def engine_client(timeout: int = 120, connect: float = DEFAULT_CONNECT_TIMEOUT) -> EngineClient:
    """A pinged `docker.DockerClient`, or `EngineUnavailable` with a one-line reason.

    The first contact (version negotiation, ping) must answer within CONNECT seconds;
    later calls get TIMEOUT. An ssh:// engine (DOCKER_HOST or a context) is reached
    through the system ssh client, as the docker CLI reaches it (~/.ssh/config, agents,
    known_hosts apply); TLS tcp engines as docker configures them."""
    docker = _sdk()
    import requests
    from docker.errors import DockerException

    point = endpoint()
    try:
        if point.scheme == "ssh":
            target = SshTarget.parse(point.host)
            version = ssh_first_contact(target, connect)
            api = _api_version(version.get("ApiVersion"),
                               docker.constants.DEFAULT_DOCKER_API_VERSION)
            client = docker.DockerClient(base_url=target.sdk_url(), use_ssh_client=True,
                                         timeout=timeout, version=api)
        elif point.from_env:
            client = docker.from_env(timeout=connect)
        elif point.context:
            client = docker.DockerClient(base_url=point.host, tls=point.tls, timeout=connect)
        else:
            client = docker.from_env(timeout=connect)
        if point.scheme != "ssh":  # over ssh, the first contact was the ping
            client.ping()
    except (DockerException, requests.RequestException, OSError) as exc:
        if _timed_out(exc):
            raise _silent(connect) from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "paramiko" in reason:  # the SDK's ssh transport module imports it
            reason = "the Docker SDK's ssh support is missing: pip install 'docker[ssh]>=7.1'"
        raise _unreachable(reason) from None
    client.api.timeout = timeout  # the first contact answered: long operations may wait
    return client


def client_for(c: Context, timeout: int = 120) -> EngineClient:
    """`engine_client` with C's `engine.connect_timeout`."""
    return engine_client(timeout=timeout, connect=connect_timeout(c))


def docker_config_dir() -> str:
    """The docker CLI's configuration folder: DOCKER_CONFIG, else ~/.docker (the one
    place the kit resolves it: contexts here, logins in tasks/_release.py)."""
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def _context_name() -> str:
    """The docker CLI context in force: DOCKER_CONTEXT, else `currentContext` in the CLI's
    config.json (DOCKER_CONFIG or ~/.docker), else `default`, as the CLI decides."""
    if os.environ.get("DOCKER_CONTEXT"):
        return os.environ["DOCKER_CONTEXT"]
    try:
        with open(os.path.join(docker_config_dir(), "config.json"), encoding="utf-8") as handle:
            return json.load(handle).get("currentContext") or "default"
    except (OSError, ValueError, AttributeError):  # none, or broken: the default context
        return "default"


def _context(name: str) -> Endpoint:
    """The docker CLI context NAME, read where the CLI stores it: contexts/meta/<sha256 of
    the name>/meta.json and its TLS files under contexts/tls/ (the SDK's ContextAPI
    loses the folder when config.json is absent, and from_env ignores contexts)."""
    import hashlib

    folder = os.path.join(docker_config_dir(), "contexts")
    key = hashlib.sha256(name.encode()).hexdigest()
    try:
        with open(os.path.join(folder, "meta", key, "meta.json"), encoding="utf-8") as handle:
            docker_end = (json.load(handle).get("Endpoints") or {}).get("docker") or {}
    except (OSError, ValueError, AttributeError):
        raise _context_missing(name) from None
    if not docker_end.get("Host"):
        raise _context_missing(name, "has no docker endpoint (`docker context inspect "
                               f"{name}` shows it)")
    tls_dir = os.path.join(folder, "tls", key, "docker")
    files = {}
    if os.path.isdir(tls_dir):
        files = {kind: os.path.join(tls_dir, f) for f in os.listdir(tls_dir)
                 for kind in ("ca", "cert", "key") if f.startswith(kind)}
    tls: Any = False
    if all(kind in files for kind in ("ca", "cert", "key")):
        from docker.tls import TLSConfig

        tls = TLSConfig(client_cert=(files["cert"], files["key"]), ca_cert=files["ca"],
                        verify=not docker_end.get("SkipTLSVerify", False))
    return Endpoint(docker_end["Host"], tls=tls, context=name)


def local_socket() -> str | None:
    """The engine's unix socket when the engine is there: DOCKER_HOST=unix://PATH, or no
    DOCKER_HOST and the default context (/var/run/docker.sock). None for anything else
    (tcp, ssh, a context)."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host[len("unix://"):] if host.startswith("unix://") else None
    return "/var/run/docker.sock" if _context_name() == "default" else None


class SocketClient:
    """The engine on its local unix socket, with the standard library alone: the calls a
    build makes (version, info, images, image inspect, history, export), spelled as the
    SDK spells them, without importing the SDK and `requests` (which cost more than a
    no-op build takes). Errors are this module's: EngineUnavailable, EngineError."""

    def __init__(self, path: str, timeout: float = 120,
                 connect: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        self.path, self.timeout, self.connect = path, timeout, connect
        self.answered = False  # until the engine has answered once, CONNECT applies
        self.api = self  # client.api.inspect_image(...) as with the SDK

    def _get(self, path: str, action: str, missing_ok: bool = False) -> Any:
        import http.client
        import socket

        timeout = self.timeout if self.answered else self.connect

        class Connection(http.client.HTTPConnection):
            def connect(conn) -> None:  # type: ignore[no-untyped-def]  # noqa: N805
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.settimeout(timeout)
                conn.sock.connect(self.path)

        connection = Connection("localhost", timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            status, data = response.status, response.read()
        except TimeoutError:
            if self.answered:
                raise EngineError(f"{action}: no answer within {timeout:g} s") from None
            raise _silent(timeout) from None
        except OSError as exc:
            raise _unreachable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) \
                from None
        finally:
            connection.close()
        self.answered = True
        if status == 404 and missing_ok:
            return None
        try:
            body = json.loads(data or b"null")
        except ValueError:
            body = {"message": data.decode(errors="replace").strip()}
        if status >= 400:
            message = str((body or {}).get("message") or status).splitlines()
            raise EngineError(f"{action}: {message[0] if message else status}")
        return body

    def version(self) -> dict:
        return self._get("/version", "reading the engine version")

    def info(self) -> dict:
        return self._get("/info", "reading engine info")

    def images(self, manifests: bool = False) -> list[dict]:
        return self._get("/images/json" + ("?manifests=1" if manifests else ""),
                         "listing images")

    def inspect_image(self, ref: str, manifests: bool = False) -> dict | None:
        """`GET /images/{ref}/json`; None when the engine has no such image. MANIFESTS:
        with the platform manifests (the containerd store, API 1.48 and later)."""
        from urllib.parse import quote

        return self._get(f"/images/{quote(ref, safe='/:@')}/json"
                         + ("?manifests=1" if manifests else ""), f"inspecting {ref}",
                         missing_ok=True)

    def get_image(self, ref: str) -> Iterator[bytes]:
        """`GET /images/{ref}/get`: the image's export, streamed in chunks."""
        import http.client
        import socket
        from urllib.parse import quote

        path = self.path

        class Connection(http.client.HTTPConnection):
            def connect(conn) -> None:  # type: ignore[no-untyped-def]  # noqa: N805
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.settimeout(self.timeout)
                conn.sock.connect(path)

        connection = Connection("localhost", timeout=self.timeout)
        try:
            connection.request("GET", f"/images/{quote(ref, safe='/:@')}/get")
            response = connection.getresponse()
            if response.status >= 400:
                said = response.read()[:200].decode(errors="replace").strip()
                raise EngineError(f"exporting {ref}: {said or response.status}")
            yield from iter(lambda: response.read(1 << 20), b"")
        except OSError as exc:
            raise EngineError(f"exporting {ref}: {exc}") from None
        finally:
            connection.close()

    def history(self, ref: str) -> list[dict]:
        """`GET /images/{ref}/history`."""
        from urllib.parse import quote

        return self._get(f"/images/{quote(ref, safe='/:@')}/history",
                         f"reading the history of {ref}")

    def close(self) -> None:
        pass


def build_client(timeout: int = 120, connect: float = DEFAULT_CONNECT_TIMEOUT) -> EngineClient:
    """The client a build needs: a SocketClient on the local unix socket (no SDK import,
    and its first call is the ping), else the SDK's pinged client (tcp, TLS, ssh)."""
    path = local_socket()
    return SocketClient(path, timeout, connect) if path else engine_client(timeout, connect)


# What the engine says (409) when a container holds an image: "container X is using its
# referenced image Y", "image is being used by running container X".
_IN_USE = ("is using its referenced image", "is being used by")


def engine_call(action: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """CALL's answer; the SDK's errors become the kit's (tasks/_errors.py) (its types are
    imported only when there is one: a SocketClient's call imports nothing)."""
    try:
        return call(*args, **kwargs)
    except KitError:  # already ours (a SocketClient's)
        raise
    except Exception as exc:
        import requests
        from docker.errors import APIError, DockerException

        if isinstance(exc, APIError):
            lines = (exc.explanation or str(exc)).strip().splitlines()
            reason = lines[0] if lines else str(exc.status_code)
            cls = EngineError
            if exc.status_code == 409:
                cls = ImageInUse if any(s in reason for s in _IN_USE) else EngineConflict
            raise cls(f"{action}: {reason}") from None
        if isinstance(exc, (DockerException, requests.RequestException, OSError)):
            reason = str(exc).splitlines()[0] if str(exc) else repr(exc)
            raise EngineError(f"{action}: {reason}") from None
        raise
