"""A GitHub Enterprise Server stand-in on one loopback port: the REST API under /api/v3
(passed through to a FakeGitHub) and the repositories themselves over git's smart HTTP
protocol (real `git http-backend`, run as CGI per request), as GHES serves both from one
host. A clone URL the kit derives from GITHUB_API_URL
(`http://127.0.0.1:PORT/api/v3` -> `http://127.0.0.1:PORT/OWNER/NAME.git`) reaches a
real git server here, and nothing else does.
"""

from __future__ import annotations

import os
import subprocess
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tests.helpers import POLL_INTERVAL

API_PREFIX = "/api/v3"
PASSED_HEADERS = ("Accept", "If-None-Match", "Authorization", "User-Agent",
                  "X-GitHub-Api-Version")


class GitHubServer:
    """REST API (proxied to API, a FakeGitHub) and bare repositories under ROOT, served
    as ROOT/OWNER/NAME.git. `clones` lists the repository paths git fetched from."""

    def __init__(self, api, root: Path) -> None:
        self.api, self.root = api, root
        self.clones: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server._handle(self)

            def do_POST(self):  # noqa: N802
                server._handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": POLL_INTERVAL}, daemon=True)
        self._thread.start()

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def add_repo(self, name: str, source: Path) -> Path:
        """Serve a bare copy of the git repository at SOURCE as NAME (owner/name)."""
        target = self.root / f"{name}.git"
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--quiet", "--bare", str(source), str(target)],
                       check=True, capture_output=True)
        return target

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith(API_PREFIX + "/"):
            return self._proxy(handler)
        return self._git(handler)

    def _proxy(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k: handler.headers[k] for k in PASSED_HEADERS if handler.headers.get(k)}
        request = urllib.request.Request(self.api.url + handler.path[len(API_PREFIX):],
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, body, got = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as exc:
            status, body, got = exc.code, exc.read(), exc.headers
        handler.send_response(status)
        for key in ("Content-Type", "ETag", "Link"):
            if got.get(key):
                handler.send_header(key, got[key])
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _git(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if split.path.endswith("/git-upload-pack"):
            self.clones.append(split.path.rsplit("/", 1)[0])
        env = {**os.environ, "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": split.path, "QUERY_STRING": split.query,
               "REQUEST_METHOD": handler.command, "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": handler.headers.get("Content-Type") or "",
               "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding") or "",
               "GIT_PROTOCOL": handler.headers.get("Git-Protocol") or ""}
        done = subprocess.run(["git", "http-backend"], input=body, env=env,
                              capture_output=True)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        handler.send_response(status if done.returncode == 0 else 500)
        for key, value in headers:
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
