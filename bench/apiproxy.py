"""A counting proxy for the Docker engine socket: how many API calls a command makes.

Listens on a unix socket, forwards every connection to the engine's socket and counts
the HTTP requests the client sends (method and path), so a benchmark can point
DOCKER_HOST at it and read the count afterwards.
"""

from __future__ import annotations

import os
import re
import socket
import threading

REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|POST|HEAD|PUT|DELETE) (\S+) HTTP/1\.[01]\r\n")


class CountingProxy:
    def __init__(self, listen_path: str, upstream_path: str = "/var/run/docker.sock") -> None:
        self.listen_path = listen_path
        self.upstream_path = upstream_path
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        if os.path.exists(listen_path):
            os.unlink(listen_path)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(listen_path)
        self._server.listen(64)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def docker_host(self) -> str:
        return f"unix://{self.listen_path}"

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.upstream_path)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False),
                             daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count:
                    found = [(m.group(1).decode(), m.group(2).decode())
                             for m in REQUEST_LINE.finditer(data)]
                    with self._lock:
                        self.calls.extend(found)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._server.close()
        if os.path.exists(self.listen_path):
            os.unlink(self.listen_path)
