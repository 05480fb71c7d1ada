"""The scripts the containers run, on the host: JWT init, snapshot restore and the
entry points. Snapshots come from a local HTTP server that honours Range requests
(and can drop a connection mid-way), serving a small generated .tar.zst."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import POLL_INTERVAL, ROOT, need, need_tools

EXECUTION = ROOT / "docker" / "execution"
OP_NODE = ROOT / "docker" / "op-node"
HEX64 = re.compile(r"[0-9a-f]{64}")


def _clean_env(**extra: str) -> dict[str, str]:
    """A small environment: no proxies (aria2c honours them), nothing from the caller."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(extra)
    return env


def _run(script: Path, *args: str, shell: str = "sh", timeout: int = 120,
         **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([shell, str(script), *args], env=_clean_env(**env),
                          capture_output=True, text=True, timeout=timeout)


# ----------------------------------------------------------------- Range server
class RangeServer:
    """Serves bytes by path with HTTP Range support (206 + Content-Range).

    `drop_after(path, n, times)` makes the next `times` GETs of `path` send `n` bytes
    of the body and then close the connection, as a flaky CDN does. Paths in
    `refuse_head` answer HEAD with 403, as presigned S3 URLs (signed for GET) do. Paths
    in `hide_size` keep their size from a HEAD and from a first-byte probe.

    Every file carries an ETag (from its content) and a Last-Modified (when the server
    first saw that content), as nginx and S3 send them; paths in `no_etag` and
    `no_last_modified` leave them out. `rate` (bytes per second, shared by all
    connections) makes the bodies slow, so a download can be stopped half-way.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self.refuse_head: set[str] = set()
        self.hide_size: set[str] = set()
        self.no_etag: set[str] = set()
        self.no_last_modified: set[str] = set()
        self.rate: int | None = None
        self._published: dict[tuple[str, str], float] = {}
        self._drops: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._throttle = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                server._serve(self, body=True)

            def do_HEAD(self):  # noqa: N802
                server._serve(self, body=False)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever,
                         kwargs={"poll_interval": POLL_INTERVAL}, daemon=True).start()

    def drop_after(self, path: str, nbytes: int, times: int = 1) -> None:
        self._drops[path] = [nbytes] * times

    def gets(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path and r["method"] == "GET"]

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha256(self.files[path]).hexdigest()[:20] + '"'

    def _validators(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        etag = self.etag(path)
        with self._lock:
            if (path, etag) not in self._published:  # new content: a later time
                latest = max([t for (p, _), t in self._published.items() if p == path],
                             default=0.0)
                self._published[(path, etag)] = max(float(int(time.time())), latest + 1)
            modified = self._published[(path, etag)]
        if path not in self.no_etag:
            handler.send_header("ETag", etag)
        if path not in self.no_last_modified:
            handler.send_header("Last-Modified", formatdate(modified, usegmt=True))

    def _write(self, handler: BaseHTTPRequestHandler, chunk: bytes) -> None:
        rate = self.rate  # read once: a test may lift the throttle while this request runs
        if not rate:
            handler.wfile.write(chunk)
            return
        step = max(1, rate // 20)
        for i in range(0, len(chunk), step):
            with self._throttle:  # one budget for every connection
                handler.wfile.write(chunk[i:i + step])
                handler.wfile.flush()
                time.sleep(len(chunk[i:i + step]) / rate)

    def _serve(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path, _, query = handler.path.partition("?")
        rng = handler.headers.get("Range")
        with self._lock:
            self.requests.append({"path": path, "query": query, "range": rng,
                                  "method": handler.command})
        data = self.files.get(path)
        refused = handler.command == "HEAD" and path in self.refuse_head
        if data is None or refused:
            handler.send_response(403 if refused else 404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if path in self.hide_size and (handler.command == "HEAD" or rng == "bytes=0-0"):
            handler.send_response(200 if handler.command == "HEAD" else 206)
            if handler.command != "HEAD":
                handler.send_header("Content-Range", "bytes 0-0/*")
                handler.send_header("Content-Length", "1")
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data[:1])
            return
        start, end, status = 0, len(data) - 1, 200
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), end) if match.group(2) else end
            if start > end:
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(data)}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            status = 206
        chunk = data[start:end + 1]
        handler.send_response(status)
        self._validators(handler, path)
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(len(chunk)))
        handler.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        handler.end_headers()
        if not body:
            return
        with self._lock:
            drops = self._drops.get(path)
            limit = drops.pop(0) if drops else None
        if limit is not None:
            chunk = chunk[:limit]
        try:
            self._write(handler, chunk)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the client hung up, as aria2c does after a probe request
        if limit is not None:
            handler.close_connection = True
            handler.connection.shutdown(2)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_files():
    server = RangeServer()
    yield server
    server.close()


def pack(tree: Path, archive: Path, prefix: str = "") -> dict:
    """tar.zst of TREE's content, each entry under PREFIX (e.g. "op-sepolia/")."""
    tar_path = archive.with_suffix("")
    with tarfile.open(tar_path, "w") as tar:
        for child in sorted(tree.iterdir()):
            tar.add(child, arcname=prefix + child.name)
    subprocess.run(["zstd", "-q", "-f", str(tar_path), "-o", str(archive)], check=True)
    tar_path.unlink()
    data = archive.read_bytes()
    return {"tree": tree, "data": data, "sha256": hashlib.sha256(data).hexdigest()}


@pytest.fixture
def snapshot(tmp_path_factory):
    """A generated .tar.zst (about 3 MB, incompressible) whose top level is the
    database folders, as Nethermind keeps them, and the tree it holds."""
    need_tools("zstd", "tar", hint="apt-get install zstd")
    root = tmp_path_factory.mktemp("snapshot")
    tree = root / "tree"
    (tree / "state" / "0").mkdir(parents=True)
    (tree / "headers").mkdir()
    (tree / "state" / "0" / "000001.sst").write_bytes(os.urandom(3 * 1024 * 1024))
    (tree / "state" / "0" / "CURRENT").write_text("MANIFEST-000001\n")
    (tree / "headers" / ".hidden").write_text("dotfiles come along\n")
    return pack(tree, root / "op-sepolia-nethermind.tar.zst")


def _files(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*"))
            if p.is_file()}


class Restore:
    """Runs snapshot-restore.sh against a data dir inside a stand-in volume."""

    network = "op-sepolia"

    def __init__(self, volume: Path, server: RangeServer, snapshot: dict) -> None:
        self.volume = volume
        self.data_dir = volume / "nethermind"
        # where Nethermind's op-sepolia config opens its database (Init.BaseDbPath)
        self.target = self.data_dir / "nethermind_db" / self.network
        self.state_dir = volume / ".snapshot"
        self.server = server
        self.snapshot = snapshot
        self.path = "/snapshots/op-sepolia-nethermind.tar.zst"
        self.serve(snapshot)

    def serve(self, snapshot: dict) -> None:
        self.snapshot = snapshot
        self.server.files[self.path] = snapshot["data"]
        self.server.files[self.path + ".sha256"] = (
            f"{snapshot['sha256']}  op-sepolia-nethermind.tar.zst\n".encode())

    @property
    def url(self) -> str:
        return self.server.url + self.path

    def env(self, **env: str) -> dict[str, str]:
        return {"SNAPSHOT_URL": self.url, "DATA_DIR": str(self.data_dir),
                "NETWORK": self.network, "SNAPSHOT_CONNECTIONS": "2", **env}

    def run(self, **env: str) -> subprocess.CompletedProcess:
        return _run(EXECUTION / "snapshot-restore.sh", **self.env(**env))

    @property
    def archive(self) -> Path:
        return self.state_dir / "op-sepolia-nethermind.tar.zst"

    def aria2c(self) -> list[int]:
        """The aria2c processes downloading into this volume (no other test's)."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if proc.name.isdigit() and os.path.basename(argv[0]) == b"aria2c" and \
                    f"--dir={self.state_dir}".encode() in argv:
                found.append(int(proc.name))
        return found

    def kill_aria2c(self) -> None:
        for pid in self.aria2c():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def leftovers(self) -> list[str]:
        if not self.state_dir.exists():
            return []
        return sorted(p.name for p in self.state_dir.iterdir() if p.name.startswith("extract."))

    def empty(self, path: Path) -> bool:
        return not path.exists() or not any(path.iterdir())


@pytest.fixture
def restore(tmp_path, http_files, snapshot):
    need_tools("aria2c", "zstd", "sha256sum", "curl", hint="apt-get install aria2 zstd curl")
    volume = tmp_path / "volume"
    volume.mkdir()
    return Restore(volume, http_files, snapshot)


# --------------------------------------------------------------- snapshot restore
def test_restore_lands_where_nethermind_opens_its_database_and_marks_it_done(restore):
    """Nethermind opens its database at <data-dir>/<Init.BaseDbPath>; its op-* configs
    set BaseDbPath to nethermind_db/<network>. Read in NethermindEth/nethermind,
    src/Nethermind/Nethermind.Runner/configs/op-sepolia.json and op-mainnet.json at
    stored commit b866897ad90b (and op-mainnet.json at 0137e9520cad, a spring-2026
    pivot): "BaseDbPath": "nethermind_db/op-sepolia" / "nethermind_db/op-mainnet".
    The 1.38.1 tag itself could not be resolved with the search tools."""
    done = restore.run()
    assert done.returncode == 0, done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert sorted(p.name for p in restore.data_dir.iterdir()) == ["nethermind_db"]
    marker = (restore.state_dir / "RESTORED").read_text()
    assert restore.snapshot["sha256"] in marker and restore.path in marker
    assert str(restore.target) in marker
    # The published checksum was fetched; the archive is gone once restored.
    assert restore.server.gets(restore.path + ".sha256")
    assert not (restore.state_dir / "op-sepolia-nethermind.tar.zst").exists()
    assert restore.leftovers() == []

    requests_before = len(restore.server.requests)
    again = restore.run()
    assert again.returncode == 0, again.stderr
    assert "already restored" in again.stderr
    assert len(restore.server.requests) == requests_before  # nothing downloaded again


def test_restore_points_at_a_restore_made_into_the_data_dir_by_an_earlier_version(restore):
    restore.state_dir.mkdir()
    (restore.state_dir / "RESTORED").write_text(
        f"{restore.path} sha256={restore.snapshot['sha256']} restored=2026-10-01T00:00:00Z\n")
    done = restore.run()
    assert done.returncode == 0, done.stderr
    assert "already restored" in done.stderr
    assert f"extracted into {restore.data_dir}, but Nethermind opens {restore.target}" \
        in done.stderr
    assert restore.server.requests == []


def test_restore_strips_the_single_top_folder_of_nethermind_snapshots(restore, tmp_path):
    """Nethermind's own snapshots hold one top-level folder, which its Snapshot plugin
    strips (Snapshot.StripComponents defaults to 1: SnapshotConfig.cs in
    src/Nethermind/Nethermind.Init.Snapshot)."""
    restore.serve(pack(restore.snapshot["tree"], tmp_path / "one.tar.zst", "op-sepolia-db/"))
    done = restore.run()
    assert done.returncode == 0, done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])


@pytest.mark.parametrize("prefix", ["nethermind_db/op-sepolia/",
                                    "nethermind/nethermind_db/op-sepolia/"])
def test_restore_takes_the_database_folder_out_of_a_data_dir_archive(restore, tmp_path,
                                                                     prefix):
    restore.serve(pack(restore.snapshot["tree"], tmp_path / "dd.tar.zst", prefix))
    done = restore.run()
    assert done.returncode == 0, done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])


def test_restore_refuses_a_data_dir_archive_of_another_network(restore, tmp_path):
    restore.serve(pack(restore.snapshot["tree"], tmp_path / "dd.tar.zst",
                       "nethermind_db/op-mainnet/"))
    done = restore.run()
    assert done.returncode != 0
    assert "without nethermind_db/op-sepolia (it has: op-mainnet)" in done.stderr
    assert "SNAPSHOT_TARGET=." in done.stderr
    assert restore.empty(restore.target) and restore.leftovers() == []
    # the verified download is kept: fixing a setting does not download it again
    assert (restore.state_dir / "op-sepolia-nethermind.tar.zst").exists()


def test_restore_of_an_archive_network_goes_to_its_archive_database(restore):
    """The _archive configs use a hyphen: op-mainnet_archive.json sets BaseDbPath to
    nethermind_db/op-mainnet-archive (read at stored commit 15c157d0f327)."""
    done = restore.run(NETWORK="op-sepolia_archive")
    assert done.returncode == 0, done.stderr
    assert _files(restore.data_dir / "nethermind_db" / "op-sepolia-archive") == \
        _files(restore.snapshot["tree"])


@pytest.mark.parametrize("setting,where", [(".", ""), ("db/custom", "db/custom")])
def test_snapshot_target_overrides_where_it_lands(restore, setting, where):
    done = restore.run(SNAPSHOT_TARGET=setting)
    assert done.returncode == 0, done.stderr
    assert _files(restore.data_dir / where) == _files(restore.snapshot["tree"])


@pytest.mark.parametrize("setting", ["../elsewhere", "a/../../b"])
def test_snapshot_target_must_stay_inside_the_data_dir(restore, setting):
    done = restore.run(SNAPSHOT_TARGET=setting)
    assert done.returncode != 0 and "SNAPSHOT_TARGET must be" in done.stderr
    assert restore.server.requests == []


def test_restore_needs_a_network_or_a_target(restore):
    done = restore.run(NETWORK="")
    assert done.returncode != 0 and "set NETWORK, or SNAPSHOT_TARGET" in done.stderr
    assert restore.server.requests == []


def test_restore_uses_a_checksum_given_directly_and_an_archive_subdir(restore):
    done = restore.run(SNAPSHOT_SHA256=restore.snapshot["sha256"].upper(),
                       SNAPSHOT_SUBDIR="state")
    assert done.returncode == 0, done.stderr
    assert not restore.server.gets(restore.path + ".sha256")
    assert _files(restore.target) == _files(restore.snapshot["tree"] / "state")


def _archive_gets(restore) -> list[str | None]:
    return [r["range"] for r in restore.server.gets(restore.path)]


@pytest.mark.parametrize("head", ["answered", "refused"])
def test_restore_refuses_to_download_without_room_for_archive_and_extraction(restore,
                                                                             head):
    """A factor no disk can hold makes the free space too small, deterministically."""
    if head == "refused":
        restore.server.refuse_head.add(restore.path)
    size = len(restore.snapshot["data"])
    done = restore.run(SNAPSHOT_SPACE_FACTOR="1000000000")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "not enough free space" in lines[0] and str(restore.state_dir) in lines[0]
    assert f"({size * 10**9} bytes: 1000000000 x the {size}-byte archive, less 0" in lines[0]
    assert "Nothing was downloaded" in lines[0]
    # Only the size probe reached the archive: a HEAD, or (HEAD refused) its first byte.
    assert _archive_gets(restore) == ([] if head == "answered" else ["bytes=0-0"])
    assert not restore.server.gets(restore.path + ".sha256")
    assert not (restore.state_dir / "op-sepolia-nethermind.tar.zst").exists()
    assert restore.empty(restore.data_dir)


def test_the_space_check_counts_what_a_partial_download_holds(restore):
    size = len(restore.snapshot["data"])
    restore.state_dir.mkdir()
    partial = restore.state_dir / "op-sepolia-nethermind.tar.zst"
    partial.write_bytes(restore.snapshot["data"][: size // 2])
    (restore.state_dir / "op-sepolia-nethermind.tar.zst.aria2").write_bytes(b"control")
    have = min(partial.stat().st_blocks * 512, size)
    done = restore.run(SNAPSHOT_SPACE_FACTOR="1000000000")
    assert done.returncode != 0
    assert f"({size * 10**9 - have} bytes:" in done.stderr
    assert f"less {have} bytes already downloaded" in done.stderr
    assert partial.read_bytes() == restore.snapshot["data"][: size // 2]


def test_restore_reads_the_size_of_a_url_that_refuses_head(restore):
    restore.server.refuse_head.add(restore.path)
    done = restore.run()
    assert done.returncode == 0, done.stderr
    size = len(restore.snapshot["data"])
    assert f"op-sepolia-nethermind.tar.zst is {size / 1e6:.1f} MB" in done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])


def test_restore_of_an_archive_of_unknown_size_warns_once_and_goes_on(restore):
    restore.server.hide_size.add(restore.path)
    done = restore.run()
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "did not tell the size" in warnings[0], done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])


@pytest.mark.parametrize("factor", ["abc", "2.5.1", ""])
def test_snapshot_space_factor_must_be_a_number(restore, factor):
    done = restore.run(SNAPSHOT_SPACE_FACTOR=factor)
    if factor == "":  # unset: the default
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode != 0 and "SNAPSHOT_SPACE_FACTOR must be a number" in done.stderr
    assert restore.server.requests == []


PRESIGNED = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd"


def test_a_presigned_url_without_a_checksum_is_refused_before_any_download(restore):
    """"$SNAPSHOT_URL.sha256" on a URL with a query string appends to the signature:
    the request fetches the archive itself (or is refused), never the checksum."""
    done = restore.run(SNAPSHOT_URL=restore.url + PRESIGNED)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "query string" in lines[0] and "SNAPSHOT_SHA256" in lines[0]
    assert "SNAPSHOT_SHA256_URL" in lines[0]
    assert restore.server.requests == []
    assert not restore.state_dir.exists()


def test_a_presigned_url_restores_with_the_checksum_given_directly(restore):
    done = restore.run(SNAPSHOT_URL=restore.url + PRESIGNED,
                       SNAPSHOT_SHA256=restore.snapshot["sha256"])
    assert done.returncode == 0, done.stderr
    assert not restore.server.gets(restore.path + ".sha256")
    assert all(r["query"] == PRESIGNED[1:] for r in restore.server.gets(restore.path))
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert "X-Amz-Signature" not in done.stderr  # the signature stays out of the log


def test_a_presigned_url_restores_with_a_checksum_url(restore):
    sum_query = "?X-Amz-Signature=feedbeef"
    done = restore.run(SNAPSHOT_URL=restore.url + PRESIGNED,
                       SNAPSHOT_SHA256_URL=restore.url + ".sha256" + sum_query)
    assert done.returncode == 0, done.stderr
    [checksum] = restore.server.gets(restore.path + ".sha256")
    assert checksum["query"] == sum_query[1:]
    assert _files(restore.target) == _files(restore.snapshot["tree"])


def test_the_checksum_url_is_built_from_the_path(restore):
    done = restore.run(SNAPSHOT_URL=restore.url + "#part")
    assert done.returncode == 0, done.stderr
    [checksum] = restore.server.gets(restore.path + ".sha256")
    assert checksum["query"] == ""


def test_restore_resumes_an_interrupted_download_on_the_next_start(restore):
    size = len(restore.snapshot["data"])
    cut = 1024 * 1024
    restore.server.drop_after(restore.path, cut)

    first = restore.run(SNAPSHOT_MAX_TRIES="1", SNAPSHOT_CONNECTIONS="1")
    assert first.returncode != 0
    assert "next start resumes" in first.stderr
    assert restore.empty(restore.target)
    partial = restore.state_dir / "op-sepolia-nethermind.tar.zst"
    assert (restore.state_dir / "op-sepolia-nethermind.tar.zst.aria2").exists()
    kept = partial.stat().st_size
    assert 0 < kept <= cut < size

    second = restore.run(SNAPSHOT_MAX_TRIES="1", SNAPSHOT_CONNECTIONS="1")
    assert second.returncode == 0, second.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    # The second start asked for the missing tail from where the first one stopped.
    ranges = [r["range"] for r in restore.server.gets(restore.path)]
    assert f"bytes={kept}-{size - 1}" in ranges, ranges


def _wait_for(condition, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def _default_sigint() -> None:
    """A suite started in the background (`cmd &` in a non-interactive shell, as a CI
    runner may start it) has SIGINT ignored, and a shell started with SIGINT ignored
    cannot trap it (POSIX): the restore's own trap would never run."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_mid_download(restore, argv: list[str], env: dict[str, str], log: Path,
                       sig: int = signal.SIGTERM) -> subprocess.Popen:
    """Start ARGV (the restore, or an entry point that runs it) against a slow server,
    let aria2c download for a while, then send SIG to the script, as `docker stop`
    does to PID 1; returns the finished process."""
    restore.server.rate = 64 * 1024
    with open(log, "w") as err:  # SIGINT as `docker stop` finds it, not as a runner may
        proc = subprocess.Popen(argv, env=_clean_env(**env), stdout=subprocess.PIPE,
                                stderr=err, text=True, preexec_fn=_default_sigint)
    try:
        _wait_for(lambda: restore.aria2c() and restore.server.gets(restore.path), 30,
                  "aria2c to start downloading")
        time.sleep(2.5)  # about 160 kB at 64 kB/s: less than aria2c's 16 MB disk cache
        proc.send_signal(sig)
        proc.wait(timeout=20)
        # a stop that leaves aria2c behind would go on writing into the volume
        _wait_for(lambda: not restore.aria2c(), 5, "aria2c to end with the script")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        restore.kill_aria2c()
        restore.server.rate = None
    return proc


def _resumed_from(restore) -> list[int]:
    return [int(m.group(1)) for r in restore.server.gets(restore.path)
            if (m := re.fullmatch(r"bytes=(\d+)-\d*", r["range"] or ""))]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_restore_lets_aria2c_save_its_progress_and_resumes_from_it(restore, sig,
                                                                             code):
    """Item 6: `docker compose stop` sends SIGTERM to PID 1, the restore script in the
    one-shot service. It passes it on to aria2c and waits: aria2c flushes what it
    downloaded and saves its control file, so the next start resumes there. Before, the
    stop never reached aria2c (killed 10 s later without a save: the progress since its
    last auto-save was lost), or, here, left it running on its own."""
    log = restore.volume / "first.log"
    first = _stop_mid_download(restore, ["sh", str(EXECUTION / "snapshot-restore.sh")],
                               restore.env(SNAPSHOT_CONNECTIONS="1"), log, sig)
    assert first.returncode == code, log.read_text()
    assert f"stopped (SIG{signal.Signals(sig).name[3:]})" in log.read_text()
    assert (restore.state_dir / "op-sepolia-nethermind.tar.zst.aria2").exists()
    assert not (restore.state_dir / "op-sepolia-nethermind.tar.zst.downloaded").exists()
    assert restore.empty(restore.target)
    kept = restore.archive.stat().st_size
    assert kept >= 64 * 1024, kept  # flushed from aria2c's cache on the stop

    second = restore.run(SNAPSHOT_CONNECTIONS="1")
    assert second.returncode == 0, second.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert max(_resumed_from(restore)) >= 64 * 1024, restore.server.gets(restore.path)
    assert not restore.state_dir.joinpath("FAILED").exists()


def test_the_execution_entrypoint_passes_a_stop_on_to_the_restore(restore, tmp_path):
    """base-execution also runs the restore (a no-op after the init service), with the
    entry point as PID 1: a stop reaches aria2c through both, and the node never starts."""
    fake = _fake_binary(tmp_path / "nethermind")
    log = restore.volume / "entrypoint.log"
    env = restore.env(SNAPSHOT_CONNECTIONS="1", NETHERMIND_BIN=str(fake),
                      JWT_FILE=str(tmp_path / "jwt.hex"))
    proc = _stop_mid_download(restore, ["sh", str(EXECUTION / "entrypoint.sh")], env, log)
    assert proc.returncode == 143, log.read_text()
    assert "ARG" not in proc.stdout.read()
    assert (restore.state_dir / "op-sepolia-nethermind.tar.zst.aria2").exists()
    assert restore.archive.stat().st_size >= 64 * 1024


def test_a_partial_archive_without_a_control_file_is_never_taken_as_complete(restore):
    """What a download killed before aria2c saved its control file leaves. Before, "no
    .aria2 file" meant "complete": the checksum failed, the archive was deleted and the
    FAILED note blocked every later start. A finished download has its own marker."""
    size = len(restore.snapshot["data"])
    restore.state_dir.mkdir()
    restore.archive.write_bytes(restore.snapshot["data"][: size // 2])
    done = restore.run()
    assert done.returncode == 0, done.stderr
    assert "without aria2c's control file or a finished-download marker" in done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert _resumed_from(restore) in ([], [0]), restore.server.gets(restore.path)
    assert not (restore.state_dir / "FAILED").exists()


def test_a_finished_download_is_marked_and_not_downloaded_again(restore):
    """The download is complete, the extraction stops on a setting (SNAPSHOT_SUBDIR):
    the marker says so, and the next start goes on from the archive without a GET."""
    done = restore.run(SNAPSHOT_SUBDIR="no-such-folder")
    assert done.returncode != 0 and "SNAPSHOT_SUBDIR" in done.stderr
    marker = restore.state_dir / "op-sepolia-nethermind.tar.zst.downloaded"
    assert f"etag={restore.server.etag(restore.path)}" in marker.read_text()
    gets = len(restore.server.gets(restore.path))
    again = restore.run()
    assert again.returncode == 0, again.stderr
    assert "found a complete download" in again.stderr
    assert len(restore.server.gets(restore.path)) == gets
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert not marker.exists() and not restore.archive.exists()


def _republished(restore, tmp_path) -> dict:
    tree = tmp_path / "republished"
    (tree / "state").mkdir(parents=True)
    (tree / "blocks").mkdir()
    (tree / "state" / "000002.sst").write_bytes(os.urandom(3 * 1024 * 1024))
    (tree / "blocks" / "CURRENT").write_text("MANIFEST-000002\n")
    return pack(tree, tmp_path / "republished.tar.zst")


@pytest.mark.parametrize("validator", ["ETag", "Last-Modified"])
def test_a_snapshot_republished_at_the_same_url_is_downloaded_afresh(restore, tmp_path,
                                                                     validator):
    """Item 6: the first start is interrupted half-way; then the snapshot is replaced at
    the same URL (a new ETag, or only a new Last-Modified where the server sends no
    ETag). Resuming would splice the new file's tail onto the old one's head: the
    checksum fails, and the FAILED note blocks the node. The restore compares what the
    server says with what it said when the download started, and starts over."""
    if validator == "Last-Modified":
        restore.server.no_etag.add(restore.path)
    restore.server.drop_after(restore.path, 1024 * 1024)
    first = restore.run(SNAPSHOT_MAX_TRIES="1", SNAPSHOT_CONNECTIONS="1")
    assert first.returncode != 0 and "next start resumes" in first.stderr
    assert (restore.state_dir / "op-sepolia-nethermind.tar.zst.aria2").exists()
    source = (restore.state_dir / "op-sepolia-nethermind.tar.zst.source").read_text()
    assert (f"etag={restore.server.etag(restore.path)}" in source) == (validator == "ETag")
    gets = len(restore.server.gets(restore.path))

    restore.serve(_republished(restore, tmp_path))
    second = restore.run(SNAPSHOT_MAX_TRIES="1", SNAPSHOT_CONNECTIONS="1")
    assert second.returncode == 0, second.stderr
    assert f"was republished since the download of op-sepolia-nethermind.tar.zst " \
           f"started ({validator} " in second.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert [r["range"] for r in restore.server.gets(restore.path)[gets:]] in (
        [None], ["bytes=0-"]), restore.server.gets(restore.path)[gets:]


def test_without_etag_or_last_modified_a_partial_download_resumes_with_a_warning(restore):
    restore.server.no_etag.add(restore.path)
    restore.server.no_last_modified.add(restore.path)
    restore.server.drop_after(restore.path, 1024 * 1024)
    first = restore.run(SNAPSHOT_MAX_TRIES="1", SNAPSHOT_CONNECTIONS="1")
    assert first.returncode != 0
    kept = restore.archive.stat().st_size
    second = restore.run(SNAPSHOT_MAX_TRIES="1", SNAPSHOT_CONNECTIONS="1")
    assert second.returncode == 0, second.stderr
    warnings = [line for line in second.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "neither ETag nor Last-Modified" in warnings[0]
    assert kept in _resumed_from(restore)
    assert _files(restore.target) == _files(restore.snapshot["tree"])


def test_restore_refuses_a_checksum_mismatch_and_extracts_nothing(restore):
    wrong = hashlib.sha256(b"not the snapshot").hexdigest()
    done = restore.run(SNAPSHOT_SHA256=wrong)
    assert done.returncode != 0
    assert "sha256 mismatch" in done.stderr and wrong in done.stderr
    assert restore.empty(restore.data_dir)
    assert restore.leftovers() == []
    assert not (restore.state_dir / "RESTORED").exists()
    assert not (restore.state_dir / "op-sepolia-nethermind.tar.zst").exists()

    # A restarting container must not download terabytes again and again.
    requests_before = len(restore.server.requests)
    again = restore.run(SNAPSHOT_SHA256=wrong)
    assert again.returncode != 0 and "FAILED" in again.stderr
    assert len(restore.server.requests) == requests_before


def test_restore_of_a_broken_archive_leaves_nothing_half_extracted(restore):
    broken = restore.snapshot["data"][: len(restore.snapshot["data"]) // 2]
    restore.server.files[restore.path] = broken
    done = restore.run(SNAPSHOT_SHA256=hashlib.sha256(broken).hexdigest())
    assert done.returncode != 0
    assert "extraction failed" in done.stderr
    assert restore.empty(restore.data_dir)
    assert restore.leftovers() == []
    assert not (restore.state_dir / "RESTORED").exists()


def test_restore_never_touches_a_non_empty_database_folder(restore):
    restore.target.mkdir(parents=True)
    (restore.target / "existing.db").write_text("chain data")
    done = restore.run()
    assert done.returncode == 0, done.stderr
    assert "not empty" in done.stderr
    assert _files(restore.target) == {"existing.db": b"chain data"}
    assert restore.server.requests == []
    assert not (restore.state_dir / "RESTORED").exists()


def test_restore_fills_an_empty_database_folder_beside_other_data(restore):
    # Nethermind's logs or keystore in the data dir are not a database.
    (restore.data_dir / "keystore").mkdir(parents=True)
    (restore.data_dir / "keystore" / "node.key").write_text("key")
    restore.target.mkdir(parents=True)
    done = restore.run()
    assert done.returncode == 0, done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert (restore.data_dir / "keystore" / "node.key").read_text() == "key"


def test_restore_without_a_url_does_nothing(restore):
    done = restore.run(SNAPSHOT_URL="")
    assert done.returncode == 0, done.stderr
    assert restore.server.requests == []
    assert not restore.data_dir.exists() and not restore.state_dir.exists()


def test_restore_rejects_an_archive_that_is_not_tar_zst(restore):
    done = restore.run(SNAPSHOT_URL=restore.server.url + "/snap.tar.gz")
    assert done.returncode != 0 and ".tar.zst" in done.stderr
    assert restore.server.requests == []


# --------------------------------------------------------------------- jwt-init
def test_jwt_init_creates_a_private_hex_secret_once_and_never_prints_it(tmp_path):
    secret = tmp_path / "secrets" / "jwt.hex"
    first = _run(EXECUTION / "jwt-init.sh", str(secret))
    assert first.returncode == 0, first.stderr
    value = secret.read_text()
    assert HEX64.fullmatch(value)
    assert secret.stat().st_mode & 0o777 == 0o640
    assert value not in first.stdout + first.stderr

    second = _run(EXECUTION / "jwt-init.sh", str(secret))
    assert second.returncode == 0 and "keeping" in second.stderr
    assert secret.read_text() == value
    assert value not in second.stdout + second.stderr


def test_jwt_init_refuses_to_keep_a_malformed_secret(tmp_path):
    secret = tmp_path / "jwt.hex"
    secret.write_text("not-a-secret\n")
    done = _run(EXECUTION / "jwt-init.sh", str(secret))
    assert done.returncode != 0 and "64 hex" in done.stderr
    assert secret.read_text() == "not-a-secret\n"


def test_jwt_init_started_by_both_services_at_once_agrees_on_one_secret(tmp_path):
    secret = tmp_path / "shared" / "jwt.hex"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: _run(EXECUTION / "jwt-init.sh", str(secret)),
                                range(8)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert HEX64.fullmatch(secret.read_text())
    assert sorted(p.name for p in secret.parent.iterdir()) == ["jwt.hex"]  # no temp files


# ------------------------------------------------------------------ entry points
def _fake_binary(path: Path) -> Path:
    path.write_text('#!/bin/sh\nfor a in "$@"; do echo "ARG $a"; done\n')
    path.chmod(0o755)
    return path


def test_execution_entrypoint_creates_the_secret_and_runs_nethermind_for_the_network(tmp_path):
    fake = _fake_binary(tmp_path / "nethermind")
    jwt = tmp_path / "secrets" / "jwt.hex"
    done = _run(EXECUTION / "entrypoint.sh", "--Pruning.Mode=Hybrid",
                NETWORK="op-sepolia", NETHERMIND_BIN=str(fake), JWT_FILE=str(jwt),
                DATA_DIR=str(tmp_path / "data" / "nethermind"),
                OP_SEQUENCER_URL="https://sequencer.example.invalid",
                NETHERMIND_EXTRA_FLAGS="--Sync.SnapSync=true --Log=Info")
    assert done.returncode == 0, done.stderr
    args = [line[4:] for line in done.stdout.splitlines() if line.startswith("ARG ")]
    assert args[:2] == ["--config", "op-sepolia"]
    assert ["--data-dir", str(tmp_path / "data" / "nethermind")] == args[2:4]
    assert f"--JsonRpc.JwtSecretFile={jwt}" in args
    assert "--JsonRpc.EnginePort=8551" in args and "--JsonRpc.EngineHost=0.0.0.0" in args
    assert "--Optimism.SequencerUrl=https://sequencer.example.invalid" in args
    assert args[-3:] == ["--Pruning.Mode=Hybrid", "--Sync.SnapSync=true", "--Log=Info"]
    assert HEX64.fullmatch(jwt.read_text())
    assert jwt.read_text() not in done.stdout + done.stderr


def _args(done: subprocess.CompletedProcess) -> list[str]:
    return [line[4:] for line in done.stdout.splitlines() if line.startswith("ARG ")]


def test_execution_entrypoint_init_makes_the_secret_and_exits_at_once_without_a_snapshot(
        tmp_path):
    """compose.yml's one-shot base-execution-init: nothing to restore, so it is done in
    well under a second and the node is not started."""
    fake = _fake_binary(tmp_path / "nethermind")
    jwt = tmp_path / "secrets" / "jwt.hex"
    started = time.monotonic()
    done = _run(EXECUTION / "entrypoint.sh", "init", NETWORK="op-sepolia",
                NETHERMIND_BIN=str(fake), JWT_FILE=str(jwt), DATA_DIR=str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 5
    assert HEX64.fullmatch(jwt.read_text())
    assert _args(done) == []
    assert not (tmp_path / ".snapshot").exists()


def test_execution_entrypoint_init_restores_the_snapshot_and_not_for_base(restore, tmp_path):
    fake = _fake_binary(tmp_path / "nethermind")
    env = {"SNAPSHOT_URL": restore.url, "DATA_DIR": str(restore.data_dir),
           "NETHERMIND_BIN": str(fake), "JWT_FILE": str(tmp_path / "jwt.hex"),
           "SNAPSHOT_CONNECTIONS": "2"}
    base = _run(EXECUTION / "entrypoint.sh", "init", NETWORK="base-mainnet", **env)
    assert base.returncode == 64 and "Azul" in base.stderr
    assert restore.server.requests == []

    done = _run(EXECUTION / "entrypoint.sh", "init", NETWORK="op-sepolia", **env)
    assert done.returncode == 0, done.stderr
    assert _files(restore.target) == _files(restore.snapshot["tree"])
    assert _args(done) == []

    # the node's own start then finds the work done
    node = _run(EXECUTION / "entrypoint.sh", NETWORK="op-sepolia", **env)
    assert node.returncode == 0, node.stderr
    assert "already restored" in node.stderr and "--config" in _args(node)


def test_a_second_restore_on_the_volume_waits_for_the_first(restore):
    """The one-shot service and the node's own start both run the restore; on one
    volume only one works at a time, and the other then finds it done."""
    need_tools("flock", hint="apt-get install util-linux")
    restore.state_dir.mkdir()
    log = restore.volume / "second.log"
    with open(restore.state_dir / "lock", "w") as lock, open(log, "w") as err:
        fcntl.flock(lock, fcntl.LOCK_EX)
        second = subprocess.Popen(
            ["sh", str(EXECUTION / "snapshot-restore.sh")], stderr=err,
            env=_clean_env(SNAPSHOT_URL=restore.url, DATA_DIR=str(restore.data_dir),
                           NETWORK=restore.network))
        deadline = time.monotonic() + 30
        while "waiting" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "another restore is running on this volume" in log.read_text()
        # the first one finishes
        (restore.state_dir / "RESTORED").write_text("/snapshots/x sha256=0 by the first\n")
        fcntl.flock(lock, fcntl.LOCK_UN)
        assert second.wait(timeout=30) == 0, log.read_text()
    assert "already restored (/snapshots/x sha256=0 by the first)" in log.read_text()
    assert restore.server.requests == []


@pytest.mark.parametrize("port", ["", "30313"])
def test_execution_entrypoint_gives_nethermind_the_p2p_port(tmp_path, port):
    fake = _fake_binary(tmp_path / "nethermind")
    done = _run(EXECUTION / "entrypoint.sh", NETWORK="op-sepolia", NETHERMIND_BIN=str(fake),
                JWT_FILE=str(tmp_path / "jwt.hex"), DATA_DIR=str(tmp_path / "data"),
                EXECUTION_P2P_PORT=port)
    assert done.returncode == 0, done.stderr
    expected = port or "30303"
    assert f"--Network.P2PPort={expected}" in _args(done)
    assert f"--Network.DiscoveryPort={expected}" in _args(done)


@pytest.mark.parametrize("port", ["0", "65536", "30303/udp", "abc", "9" * 30])
def test_execution_entrypoint_refuses_a_p2p_port_that_is_no_port(tmp_path, port):
    fake = _fake_binary(tmp_path / "nethermind")
    done = _run(EXECUTION / "entrypoint.sh", NETWORK="op-sepolia", NETHERMIND_BIN=str(fake),
                JWT_FILE=str(tmp_path / "jwt.hex"), DATA_DIR=str(tmp_path / "data"),
                EXECUTION_P2P_PORT=port)
    assert done.returncode == 64 and "EXECUTION_P2P_PORT must be a port" in done.stderr
    assert _args(done) == []


@pytest.mark.parametrize("network", ["base-mainnet", "base-sepolia", ""])
def test_execution_entrypoint_refuses_base_and_a_missing_network(tmp_path, network):
    fake = _fake_binary(tmp_path / "nethermind")
    done = _run(EXECUTION / "entrypoint.sh", NETWORK=network, NETHERMIND_BIN=str(fake),
                JWT_FILE=str(tmp_path / "jwt.hex"), DATA_DIR=str(tmp_path / "data"))
    assert done.returncode == 64
    assert "ARG" not in done.stdout
    assert ("Azul" in done.stderr) if network else ("NETWORK is not set" in done.stderr)


def _busybox() -> str | None:
    return shutil.which("busybox") or next(
        (p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)


# What compose.yml hands op-node for the three required settings.
OP_NODE_REQUIRED = {"OP_NODE_NETWORK": "op-mainnet",
                    "OP_NODE_L1_ETH_RPC": "http://l1.example.invalid:8545",
                    "OP_NODE_L1_BEACON": "http://beacon.example.invalid:5052"}


def _op_node_env(tmp_path: Path, binary: Path, **extra: str) -> dict[str, str]:
    """The op-node entry point's environment: the required settings, a secret that
    exists, a data dir, BINARY as op-node, plus EXTRA."""
    jwt = tmp_path / "jwt.hex"
    if not jwt.exists():
        jwt.write_text("ab" * 32)
    return {**OP_NODE_REQUIRED, "OP_NODE_BIN": str(binary),
            "OP_NODE_L2_ENGINE_AUTH": str(jwt), "JWT_WAIT_SECONDS": "0",
            "DATA_DIR": str(tmp_path / "data"), **extra}


@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_op_node_entrypoint_runs_op_node_once_the_secret_exists(tmp_path, shell):
    if shell == "busybox":  # the runtime image is Alpine: busybox ash runs this script
        shell = _busybox()
        if shell is None:
            need("busybox is not installed (apt-get install busybox-static)")
        shell_argv = [shell, "sh"]
    else:
        shell_argv = ["sh"]
    fake = _fake_binary(tmp_path / "op-node")
    env = _clean_env(**_op_node_env(tmp_path, fake))
    jwt = tmp_path / "jwt.hex"
    jwt.unlink()
    argv = [*shell_argv, str(OP_NODE / "entrypoint.sh"), "--rpc.enable-admin"]

    missing = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "no engine-API secret" in missing.stderr

    jwt.write_text("ab" * 32)
    env["EXTRA_OP_NODE_FLAGS"] = "--p2p.advertise.ip=203.0.113.7"
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    args = [line[4:] for line in done.stdout.splitlines() if line.startswith("ARG ")]
    assert args == ["--p2p.advertise.ip=203.0.113.7", "--rpc.enable-admin"]


def _env_binary(path: Path) -> Path:
    """A stand-in that prints its arguments, the OP_NODE_* part of its environment and
    the rollup config file it was given."""
    path.write_text('#!/bin/sh\nfor a in "$@"; do echo "ARG $a"; done\n'
                    'env | grep -E "^(LEGACY_)?OP_NODE_|^EXTRA_" | sed "s/^/ENV /"\n'
                    'if [ -n "${OP_NODE_ROLLUP_CONFIG:-}" ]; then\n'
                    '  sed "s/^/FILE /" "$OP_NODE_ROLLUP_CONFIG"\nfi\n')
    path.chmod(0o755)
    return path


def _env(done: subprocess.CompletedProcess) -> dict[str, str]:
    return dict(line[4:].split("=", 1) for line in done.stdout.splitlines()
                if line.startswith("ENV "))


@pytest.mark.parametrize("old_name", ["OP_NODE_EXTRA_FLAGS", "LEGACY_OP_NODE_EXTRA_FLAGS"])
def test_op_node_entrypoint_points_out_the_renamed_extra_flags(tmp_path, old_name):
    """op-node warns about every OP_NODE_* variable that is not one of its flags, so the
    extra flags moved to EXTRA_OP_NODE_FLAGS. The old name (set directly, or handed
    over by compose.yml as LEGACY_...) still works, with one line, and op-node never
    sees it."""
    base = _op_node_env(tmp_path, _env_binary(tmp_path / "op-node"))
    done = _run(OP_NODE / "entrypoint.sh", **base, **{old_name: "--p2p.nat"})
    assert done.returncode == 0, done.stderr
    assert _args(done) == ["--p2p.nat"]
    assert [line for line in done.stderr.splitlines() if "EXTRA" in line] == [
        "op-node-entrypoint: OP_NODE_EXTRA_FLAGS is now EXTRA_OP_NODE_FLAGS: using its "
        "value; rename it in .env"]
    assert not [line for line in done.stdout.splitlines() if "OP_NODE_EXTRA" in line]

    both = _run(OP_NODE / "entrypoint.sh", **base, **{old_name: "--p2p.nat"},
                EXTRA_OP_NODE_FLAGS="--p2p.no-discovery")
    assert both.returncode == 0, both.stderr
    assert _args(both) == ["--p2p.no-discovery"]
    assert "ignoring the old one" in both.stderr


@pytest.mark.parametrize("rollup_config", ["", "/chain-config/rollup.json"])
def test_op_node_entrypoint_refuses_base(tmp_path, rollup_config):
    fake = _fake_binary(tmp_path / "op-node")
    done = _run(OP_NODE / "entrypoint.sh", **_op_node_env(
        tmp_path, fake, OP_NODE_NETWORK="base-mainnet", OP_NODE_ROLLUP_CONFIG=rollup_config))
    assert done.returncode == 64 and "Azul" in done.stderr
    assert "ARG" not in done.stdout


# ------------------------------------------------------- required settings (item 11)
@pytest.mark.parametrize("setting, variable", [
    ("NETWORK", "OP_NODE_NETWORK"), ("L1_RPC_URL", "OP_NODE_L1_ETH_RPC"),
    ("L1_BEACON_URL", "OP_NODE_L1_BEACON")])
@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_op_node_entrypoint_names_a_missing_required_setting_in_one_line(tmp_path, setting,
                                                                         variable, shell):
    """compose.yml passes the required settings as ${X:-} (so `docker compose down` works
    without .env): the entry point refuses, naming the setting and where it is set."""
    shell = _busybox() if shell == "busybox" else shell
    if shell is None:
        need("busybox is not installed (apt-get install busybox-static)")
    fake = _fake_binary(tmp_path / "op-node")
    argv = [shell, "sh"] if shell != "sh" else ["sh"]
    done = subprocess.run([*argv, str(OP_NODE / "entrypoint.sh")],
                          env=_clean_env(**_op_node_env(tmp_path, fake, **{variable: ""})),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 64, done.stderr
    assert done.stderr.splitlines() == [
        f"op-node-entrypoint: {setting} is not set ({variable} is empty): set {setting} in "
        ".env beside compose.yml (or in Portainer's stack environment) to " +
        {"NETWORK": "the OP Stack chain to follow, e.g. op-mainnet or op-sepolia",
         "L1_RPC_URL": "your L1 (Ethereum) execution RPC endpoint",
         "L1_BEACON_URL": "your L1 beacon (consensus) API endpoint"}[setting] +
        "; see .env.example"]
    assert "ARG" not in done.stdout


@pytest.mark.parametrize("mode", ["node", "init"])
@pytest.mark.parametrize("setting", ["NETWORK", "L1_RPC_URL", "L1_BEACON_URL"])
def test_execution_entrypoint_names_a_missing_required_setting_in_one_line(tmp_path, mode,
                                                                           setting):
    """The one-shot init service is what `docker compose up` starts first: it refuses a
    stack op-node could not run (compose.yml tells it whether L1_RPC_URL and
    L1_BEACON_URL are set, never their values) before any restore."""
    fake = _fake_binary(tmp_path / "nethermind")
    env = {"NETWORK": "op-sepolia", "OPKIT_L1_RPC_URL_SET": "yes",
           "OPKIT_L1_BEACON_URL_SET": "yes",
           {"NETWORK": "NETWORK", "L1_RPC_URL": "OPKIT_L1_RPC_URL_SET",
            "L1_BEACON_URL": "OPKIT_L1_BEACON_URL_SET"}[setting]: ""}
    done = _run(EXECUTION / "entrypoint.sh", *(["init"] if mode == "init" else []),
                NETHERMIND_BIN=str(fake), JWT_FILE=str(tmp_path / "jwt.hex"),
                DATA_DIR=str(tmp_path / "data"), SNAPSHOT_URL="http://127.0.0.1:9/x.tar.zst",
                **env)
    assert done.returncode == 64, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"execution-entrypoint: {setting} is not set: set it in .env "
                               "beside compose.yml (or in Portainer's stack environment) to ")
    assert lines[0].endswith("; see .env.example")
    assert "ARG" not in done.stdout and not (tmp_path / "jwt.hex").exists()


def test_execution_entrypoint_outside_compose_needs_only_the_network(tmp_path):
    """`docker run` of the image sets no OPKIT_*_SET: op-node's settings are not its
    business then."""
    fake = _fake_binary(tmp_path / "nethermind")
    done = _run(EXECUTION / "entrypoint.sh", NETWORK="op-sepolia", NETHERMIND_BIN=str(fake),
                JWT_FILE=str(tmp_path / "jwt.hex"), DATA_DIR=str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert "OPKIT" not in done.stdout


# ----------------------------------------------- a chain's own config files (item 3)
def test_op_node_entrypoint_gives_op_node_the_rollup_config_and_no_network(tmp_path):
    """op-node reads --rollup.config from OP_NODE_ROLLUP_CONFIG, and ignores it whenever
    a network is set (NewRollupConfig: "Startup will proceed to use the
    network-parameter and ignore the rollup config"; ethereum-optimism/optimism,
    op-service/flags/flags.go (RollupConfigFlagName, EnvVars PrefixEnvVar(envPrefix,
    "ROLLUP_CONFIG")) and op-node/service.go, read at tag op-node/v1.9.4 and in a 2026
    revision of the same files). So the entry point drops OP_NODE_NETWORK then, and
    op-node gets the variable, the file and no --network."""
    rollup = tmp_path / "chain-config" / "rollup.json"
    rollup.parent.mkdir()
    rollup.write_text('{"l2_chain_id": 1135}\n')
    fake = _env_binary(tmp_path / "op-node")
    done = _run(OP_NODE / "entrypoint.sh", "--rpc.enable-admin", **_op_node_env(
        tmp_path, fake, OP_NODE_NETWORK="lisk-mainnet", OPKIT_OP_NODE_VERSION="v1.21.0",
        OP_NODE_ROLLUP_CONFIG=str(rollup)))
    assert done.returncode == 0, done.stderr
    env = _env(done)
    assert env["OP_NODE_ROLLUP_CONFIG"] == str(rollup)
    assert "OP_NODE_NETWORK" not in env
    assert env["OP_NODE_L1_ETH_RPC"] == OP_NODE_REQUIRED["OP_NODE_L1_ETH_RPC"]
    assert "FILE {\"l2_chain_id\": 1135}" in done.stdout.splitlines()
    assert _args(done) == ["--rpc.enable-admin"]
    assert f"using the rollup config {rollup} for lisk-mainnet" in done.stderr


def test_op_node_entrypoint_without_a_rollup_config_keeps_the_network(tmp_path):
    fake = _env_binary(tmp_path / "op-node")
    done = _run(OP_NODE / "entrypoint.sh", **_op_node_env(tmp_path, fake,
                                                          OP_NODE_ROLLUP_CONFIG=""))
    assert done.returncode == 0, done.stderr
    env = _env(done)
    assert env["OP_NODE_NETWORK"] == "op-mainnet"
    assert "OP_NODE_ROLLUP_CONFIG" not in env  # empty: not handed to op-node at all


def test_op_node_entrypoint_refuses_a_rollup_config_that_is_not_there(tmp_path):
    fake = _fake_binary(tmp_path / "op-node")
    done = _run(OP_NODE / "entrypoint.sh", **_op_node_env(
        tmp_path, fake, OP_NODE_ROLLUP_CONFIG="/chain-config/rollup.json"))
    assert done.returncode == 64
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "OP_NODE_ROLLUP_CONFIG is /chain-config/rollup.json" in lines[0]
    assert "CHAIN_CONFIG_DIR" in lines[0]
    assert "ARG" not in done.stdout


def test_execution_entrypoint_passes_nethermind_the_config_file(tmp_path):
    """Nethermind's -c/--config takes "the path to the configuration file or the file
    name (also without extension) of any of the configuration files in the configuration
    files directory" (docs.nethermind.io/1.39.0/fundamentals/configuration, the pin's
    minor; the same text for 2.0.0 and 2.2.0), and NETHERMIND_CONFIG is the environment
    variable Nethermind itself reads for it."""
    config = tmp_path / "chain-config" / "nethermind.json"
    config.parent.mkdir()
    config.write_text("{}\n")
    fake = _fake_binary(tmp_path / "nethermind")
    common = {"NETWORK": "lisk-mainnet", "NETHERMIND_BIN": str(fake),
              "JWT_FILE": str(tmp_path / "jwt.hex"), "DATA_DIR": str(tmp_path / "data")}
    done = _run(EXECUTION / "entrypoint.sh", NETHERMIND_CONFIG=str(config), **common)
    assert done.returncode == 0, done.stderr
    assert _args(done)[:2] == ["--config", str(config)]
    assert _args(done).count("--config") == 1

    missing = _run(EXECUTION / "entrypoint.sh", "init",
                   NETHERMIND_CONFIG="/chain-config/nethermind.json", **common)
    assert missing.returncode == 64
    lines = missing.stderr.splitlines()
    assert len(lines) == 1 and "NETHERMIND_CONFIG is /chain-config/nethermind.json" in lines[0]
    assert "CHAIN_CONFIG_DIR" in lines[0]

    shipped = _run(EXECUTION / "entrypoint.sh", NETHERMIND_CONFIG="", **common)
    assert shipped.returncode == 0, shipped.stderr
    assert _args(shipped)[:2] == ["--config", "lisk-mainnet"]


# ------------------------------------------------ data dirs the user cannot write
NODE_UID = 10001  # both images run as 10001:10001


@pytest.fixture
def shared_dir():
    """A folder another uid can reach (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        need("runs the scripts as uid 10001, which needs root")
    path = Path(tempfile.mkdtemp(prefix="opkit-test-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run_as_node_user(script: Path, shell: str = "sh", **env: str):
    argv = [shell, str(script)] if shell == "sh" else [shell, "sh", str(script)]
    return subprocess.run(argv, env=_clean_env(**env), capture_output=True, text=True,
                          timeout=60, user=NODE_UID, group=NODE_UID, extra_groups=[])


def _owned_dir(path: Path, uid: int) -> Path:
    path.mkdir(parents=True)
    os.chown(path, uid, uid)
    return path


@pytest.mark.parametrize("unwritable", ["data", "secrets"])
def test_execution_entrypoint_stops_first_on_a_folder_it_cannot_write(shared_dir,
                                                                      unwritable):
    """A host folder bind-mounted as root (Portainer hosts): one line, the fix, exit 1,
    and nothing done: no secret created, no restore, no node."""
    fake = _fake_binary(shared_dir / "nethermind")
    dirs = {name: _owned_dir(shared_dir / name, 0 if name == unwritable else NODE_UID)
            for name in ("data", "secrets")}
    done = _run_as_node_user(
        EXECUTION / "entrypoint.sh", NETWORK="op-sepolia", NETHERMIND_BIN=str(fake),
        DATA_DIR=str(dirs["data"] / "nethermind"), JWT_FILE=str(dirs["secrets"] / "jwt.hex"),
        SNAPSHOT_URL="http://127.0.0.1:9/none.tar.zst")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"{dirs[unwritable]} is not writable by uid {NODE_UID}" in lines[0]
    assert f"chown -R {NODE_UID}:{NODE_UID}" in lines[0]
    assert "ARG" not in done.stdout
    assert not (dirs["secrets"] / "jwt.hex").exists()
    assert list(dirs["data"].iterdir()) == []


def test_execution_entrypoint_runs_when_its_folders_belong_to_the_node_user(shared_dir):
    fake = _fake_binary(shared_dir / "nethermind")
    data = _owned_dir(shared_dir / "data", NODE_UID)
    secrets = _owned_dir(shared_dir / "secrets", NODE_UID)
    done = _run_as_node_user(EXECUTION / "entrypoint.sh", NETWORK="op-sepolia",
                             NETHERMIND_BIN=str(fake), DATA_DIR=str(data / "nethermind"),
                             JWT_FILE=str(secrets / "jwt.hex"))
    assert done.returncode == 0, done.stderr
    assert "ARG --config" in done.stdout
    assert HEX64.fullmatch((secrets / "jwt.hex").read_text())


@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_op_node_entrypoint_stops_first_on_a_data_dir_it_cannot_write(shared_dir, shell):
    if shell == "busybox":  # the runtime image is Alpine: busybox ash runs this script
        shell = _busybox()
        if shell is None:
            need("busybox is not installed (apt-get install busybox-static)")
    fake = _fake_binary(shared_dir / "op-node")
    data = _owned_dir(shared_dir / "data", 0)
    env = _op_node_env(shared_dir, fake, DATA_DIR=str(data))
    (shared_dir / "jwt.hex").chmod(0o644)
    done = _run_as_node_user(OP_NODE / "entrypoint.sh", shell=shell, **env)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"{data} is not writable by uid {NODE_UID}" in lines[0]
    assert f"chown -R {NODE_UID}:{NODE_UID}" in lines[0]
    assert "ARG" not in done.stdout

    os.chown(data, NODE_UID, NODE_UID)
    done = _run_as_node_user(OP_NODE / "entrypoint.sh", shell=shell, **env)
    assert done.returncode == 0, done.stderr


def test_entrypoints_refuse_a_data_dir_that_is_a_file(tmp_path):
    data = tmp_path / "data"
    data.write_text("not a folder")
    fake = _fake_binary(tmp_path / "bin")
    execution = _run(EXECUTION / "entrypoint.sh", NETWORK="op-sepolia",
                     NETHERMIND_BIN=str(fake), DATA_DIR=str(data / "nethermind"),
                     JWT_FILE=str(tmp_path / "jwt.hex"))
    op_node = _run(OP_NODE / "entrypoint.sh", OP_NODE_BIN=str(fake), DATA_DIR=str(data),
                   OP_NODE_L2_ENGINE_AUTH=str(tmp_path / "jwt.hex"), JWT_WAIT_SECONDS="0")
    for done in (execution, op_node):
        assert done.returncode == 1, done.stderr
        assert f"{data} is not a directory" in done.stderr
        assert "ARG" not in done.stdout
    assert not (tmp_path / "jwt.hex").exists()


@pytest.mark.parametrize("network, env, refused", [
    ("lisk-sepolia", {"OPKIT_OP_NODE_VERSION": "v1.21.0"}, True),
    ("xterio-eth-mainnet", {}, True),  # version unknown: taken as the pin or newer
    ("sseed-mainnet", {"OPKIT_OP_NODE_VERSION": "v1.22.3"}, True),
    ("lisk-sepolia", {"OPKIT_OP_NODE_VERSION": "v1.21.0",
                      "OP_NODE_ROLLUP_CONFIG": "/data/rollup.json"}, False),
    ("lisk-mainnet", {"OPKIT_OP_NODE_VERSION": "v1.19.5"}, False),
    ("op-sepolia", {"OPKIT_OP_NODE_VERSION": "v1.21.0"}, False),
])
def test_op_node_entrypoint_refuses_chains_v1_21_no_longer_embeds(tmp_path, network, env,
                                                                   refused):
    """op-node v1.21.0's release notes: Automata, Lisk, Lisk Sepolia, Mint, Polynomial,
    Redstone, Superseed and Xterio left its embedded registry. Without a rollup config it
    would stop with op-node's own unknown-network error; the entry point says what to do."""
    fake = _fake_binary(tmp_path / "op-node")
    if env.get("OP_NODE_ROLLUP_CONFIG"):
        env = {**env, "OP_NODE_ROLLUP_CONFIG": str(tmp_path / "rollup.json")}
        (tmp_path / "rollup.json").write_text("{}\n")
    done = _run(OP_NODE / "entrypoint.sh",
                **_op_node_env(tmp_path, fake, OP_NODE_NETWORK=network, **env))
    if refused:
        assert done.returncode == 64, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and network in lines[0], lines
        # what it advertises is exactly what compose.yml passes on (tests/test_stack.py)
        for what in ("CHAIN_CONFIG_DIR", "OP_NODE_ROLLUP_CONFIG=/chain-config/rollup.json",
                     "NETHERMIND_CONFIG=/chain-config/nethermind.json"):
            assert what in lines[0], lines[0]
        assert "ARG" not in done.stdout
    else:
        assert done.returncode == 0, done.stderr


# ------------------------------------------- the execution client (issue 17)
@pytest.mark.parametrize("client, kind", [(None, "geth"), ("nethermind", "geth"),
                                          ("op-reth", "reth")])
@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_op_node_entrypoint_derives_the_engine_kind_from_the_client(tmp_path, client, kind,
                                                                   shell):
    """CONTRACTS-17 #3. op-node's --l2.enginekind takes geth, reth or erigon and has
    defaulted to reth since ethereum-optimism/optimism PR #21295 (op-node/flags/flags.go,
    commit 811c1f68, 2026-06-09); the value only decides whether a node with a finalized
    block re-enters EL sync (op-node/rollup/sync/config.go SupportsPostFinalizationELSync).
    Nethermind's docs (NethermindEth/docs@01371df805a4, docs/get-started/running-node/
    l2-networks.md) and OP's Nethermind tab were written when the default was geth, so
    Nethermind keeps geth; op-reth gets reth."""
    argv = ["sh"] if shell == "sh" else [_busybox() or need("busybox is not installed"), "sh"]
    env = _op_node_env(tmp_path, _env_binary(tmp_path / "op-node"),
                       **({"EXECUTION_CLIENT": client} if client else {}))
    done = subprocess.run([*argv, str(OP_NODE / "entrypoint.sh")], env=_clean_env(**env),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert _env(done)["OP_NODE_L2_ENGINE_KIND"] == kind
    assert "OP_NODE_L2_FOLLOW_SOURCE" not in _env(done)


def test_op_node_entrypoint_keeps_an_engine_kind_and_a_follow_source_given(tmp_path):
    env = _op_node_env(tmp_path, _env_binary(tmp_path / "op-node"), EXECUTION_CLIENT="op-reth",
                       OP_NODE_L2_ENGINE_KIND="geth",
                       OP_NODE_L2_FOLLOW_SOURCE="http://op-supernode:8545/11155420")
    done = _run(OP_NODE / "entrypoint.sh", **env)
    assert done.returncode == 0, done.stderr
    assert _env(done)["OP_NODE_L2_ENGINE_KIND"] == "geth"
    assert _env(done)["OP_NODE_L2_FOLLOW_SOURCE"] == "http://op-supernode:8545/11155420"

    empty = _run(OP_NODE / "entrypoint.sh", **{**env, "OP_NODE_L2_FOLLOW_SOURCE": ""})
    assert empty.returncode == 0, empty.stderr
    assert "OP_NODE_L2_FOLLOW_SOURCE" not in _env(empty)  # empty: left out, not ""


@pytest.mark.parametrize("setting, value, named", [
    ("EXECUTION_CLIENT", "geth", "EXECUTION_CLIENT is 'geth', but the stack runs nethermind "
                                 "or op-reth"),
    ("OP_NODE_L2_ENGINE_KIND", "nethermind", "OP_NODE_L2_ENGINE_KIND is 'nethermind', but "
                                             "op-node accepts geth, reth or erigon"),
])
def test_op_node_entrypoint_refuses_an_unknown_client_or_engine_kind(tmp_path, setting,
                                                                      value, named):
    done = _run(OP_NODE / "entrypoint.sh",
                **_op_node_env(tmp_path, _env_binary(tmp_path / "op-node"), **{setting: value}))
    assert done.returncode == 64
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("op-node-entrypoint: " + named), lines
    assert "ARG" not in done.stdout and "ENV" not in done.stdout
