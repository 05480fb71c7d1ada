"""Real parts for the several-hosts tests: a registry, an SSH-reached engine and a
silent engine, all on 127.0.0.1, all started and stopped by the tests.

- `LocalRegistry`: Debian's `docker-registry` (distribution 2.8) on a free loopback
  port, storage in a temporary folder, optionally behind htpasswd auth. The engine
  pushes to 127.0.0.0/8 over plain HTTP without any daemon setting. Its access log says
  which blobs were fetched (`blob_gets`).
- `SshServer`: `sshd` on a free loopback port with a host key and a client key made for
  the test, a known_hosts file with that host key, and a test-local ssh config with a
  host alias. The real ~/.ssh is never read or written: the system `ssh` reads its
  config from the passwd home (not $HOME), so a wrapper named `ssh`, first on PATH
  (`env()`), runs the real client with `-F` the test's config. Docker's own ssh helper,
  the SDK's and the kit's all find that wrapper, as they would find the system client.
- `SilentServer`: a TCP socket that accepts connections and never answers.

Import it as `tests.hosts`; conftest.py turns these into fixtures.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers import need_tools

DEBIAN_HINT = "apt-get install docker-registry openssh-server apache2-utils (.ci/run does)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


def _wait(ready, what: str, log: Path | None = None, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-600:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start within {seconds:g} s: {tail}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ registry
class LocalRegistry:
    """`docker-registry serve` on 127.0.0.1:PORT; USER/PASSWORD put it behind htpasswd."""

    def __init__(self, folder: Path, user: str | None = None,
                 password: str | None = None) -> None:
        need_tools("docker-registry", hint=DEBIAN_HINT)
        if user:
            need_tools("htpasswd", hint=DEBIAN_HINT)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = folder / "registry.log"
        auth = ""
        if user:
            entry = subprocess.run(["htpasswd", "-Bbn", user, password or ""], check=True,
                                   capture_output=True, text=True).stdout.strip()
            (folder / "htpasswd").write_text(entry + "\n")
            auth = (f"auth:\n  htpasswd:\n    realm: opkit-test\n"
                    f"    path: {folder / 'htpasswd'}\n")
        (folder / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n"
            f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n  secret: opkit-test-{self.port}\n" + auth)
        self._log_handle = open(self.log, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(["docker-registry", "serve", str(folder / "config.yml")],
                                     stdout=self._log_handle, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _wait(self._answers, f"docker-registry on {self.address}", self.log)

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {self.log.read_text()[-600:]}")
        try:
            urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1)
            return True
        except urllib.error.HTTPError:  # 401 behind auth: it answers
            return True
        except OSError:
            return False

    def tags(self, repository: str) -> list[str]:
        try:
            with urllib.request.urlopen(
                    f"http://{self.address}/v2/{repository}/tags/list", timeout=5) as answer:
                import json

                return sorted(json.load(answer).get("tags") or [])
        except urllib.error.HTTPError:
            return []

    def blob_gets(self) -> list[str]:
        """Paths of the blobs the registry served (GET .../blobs/sha256:...), in order."""
        text = self.log.read_text(errors="replace")
        return re.findall(r'"GET (/v2/\S+/blobs/sha256:[0-9a-f]{64}) HTTP', text)

    def stop(self) -> None:
        """Stop the registry and drop what was pushed to it (its storage)."""
        _stop(self.proc)
        self._log_handle.close()
        shutil.rmtree(self.folder / "data", ignore_errors=True)


def forget_project(client, name: str) -> None:
    """What a second host lacks of project NAME: its images (every tag with NAME in it)
    and the build-cache records its builds made (NAME in their description: its steps
    and cache mounts), nothing else. The registry keeps what was pushed."""
    from tests.helpers import remove_images

    remove_images(client, lambda tags: any(name in t for t in tags))
    for record in client.df().get("BuildCache") or []:
        if name in (record.get("Description") or ""):
            client.api.prune_builds(filters={"id": [record["ID"]]}, all=True)


# ------------------------------------------------------------------ ssh
class SshServer:
    """sshd on 127.0.0.1:PORT that lets the test's client key in as root, and the
    client side to reach it: a known_hosts, a config with the alias ALIAS (HostName
    127.0.0.1, this Port, User root), and a PATH whose `ssh` uses that config."""

    ALIAS = "opkit-test-alias"

    def __init__(self, folder: Path, multiplex: bool = False) -> None:
        """MULTIPLEX: the client config shares one connection per host (ControlMaster),
        as an operator's ~/.ssh/config may; stop() closes the master."""
        need_tools("sshd", "ssh", "ssh-keygen", hint=DEBIAN_HINT)
        self.multiplex = multiplex
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"opkit-{name}",
                            "-f", str(folder / name)], check=True)
        (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
        (folder / "authorized_keys").chmod(0o600)
        host_key = " ".join((folder / "host_key.pub").read_text().split()[:2])
        (folder / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_key}\n")
        (folder / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host_key'}",
            f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
            f"PidFile {folder / 'sshd.pid'}", "LogLevel ERROR",
            # the far side's `docker system dial-stdio` reaches the engine the tests use
            # (an engine on its own socket beside the default one: .ci/engines.sh)
            *([f"SetEnv DOCKER_HOST={os.environ['DOCKER_HOST']}"]
              if os.environ.get("DOCKER_HOST", "").startswith("unix://") else []), ""]))
        # a unix socket path has ~100 bytes: the masters' sockets live in a short folder
        self._control = tempfile.mkdtemp(prefix="okcm", dir="/tmp") if multiplex else ""
        self.config = folder / "ssh_config"
        self.config.write_text("\n".join([
            f"Host {self.ALIAS}", "  HostName 127.0.0.1", f"  Port {self.port}", "  User root",
            "Host *", f"  IdentityFile {folder / 'client_key'}", "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {folder / 'known_hosts'}", "  StrictHostKeyChecking yes",
            "  BatchMode yes", "  LogLevel ERROR",
            *(["  ControlMaster auto", f"  ControlPath {self._control}/%C",
               "  ControlPersist 30"] if multiplex else []), ""]))
        self.bin = folder / "bin"
        self.bin.mkdir()
        real = shutil.which("ssh")
        (self.bin / "ssh").write_text(f'#!/bin/sh\nexec {real} -F {self.config} "$@"\n')
        (self.bin / "ssh").chmod(0o755)
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        self.log = folder / "sshd.log"
        self._log_handle = open(self.log, "wb")  # noqa: SIM115 (closed in stop)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(folder / "sshd_config")],
                                     stdout=self._log_handle, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _wait(self._listens, f"sshd on 127.0.0.1:{self.port}", self.log)

    def _listens(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {self.log.read_text()[-600:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def env(self, docker_host: str | None = None) -> dict[str, str]:
        """PATH with the test's `ssh` first, and DOCKER_HOST (this server by default)."""
        return {"PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                "DOCKER_HOST": docker_host or self.url}

    def stop(self) -> None:
        if self.multiplex:  # the shared connections' masters, one per address used
            for target in (["-p", str(self.port), "root@127.0.0.1"], [self.ALIAS]):
                subprocess.run([str(self.bin / "ssh"), "-O", "exit", *target],
                               capture_output=True, timeout=10)
            shutil.rmtree(self._control, ignore_errors=True)
        _stop(self.proc)
        self._log_handle.close()
        for key in ("host_key", "client_key"):  # no key that opens a door stays behind
            (self.folder / key).unlink(missing_ok=True)


# ------------------------------------------------------------------ a silent engine
class SilentServer:
    """Accepts TCP connections on 127.0.0.1:PORT and never answers (holds them open)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for conn in self.accepted:
            conn.close()
