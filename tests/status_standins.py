"""Stand-ins for what `inv status` talks to, each a JSON-RPC (or beacon REST) server on
127.0.0.1 in a thread, behaving like the real one in what status reads:

- op-node: `optimism_syncStatus` in the shape of a release before optimism PR #22555
  (with `cross_unsafe_l2` and `local_safe_l2`, ethereum-optimism/optimism
  op-service/eth/sync_status.go at op-node/v1.9.4) or after it (no cross_unsafe_l2);
  block numbers and timestamps are JSON integers (Go uint64, op-service/eth/id.go), or
  hex strings when asked; `optimism_rollupConfig` (l2_chain_id) and `optimism_version`
  (op-node/node/api.go at op-node/v1.9.4: version.Version + "-" + version.Meta).
- execution client: eth_blockNumber, net_peerCount, eth_chainId, web3_clientVersion.
- engine API: eth_chainId only with a valid HS256 JWT over the secret whose `iat` is
  within +-60 s; otherwise a 401 with the body the real client sends: op-reth's plain
  text (alloy-rs/alloy crates/rpc-types-engine/src/jwt.rs @014ea2bf JwtError, written
  as the body by paradigmxyz/reth crates/rpc/rpc-layer/src/auth_layer.rs @107ea054's
  tests), Nethermind's JSON-RPC error -32600 "Authentication error"
  (NethermindEth/nethermind src/Nethermind/Nethermind.Runner/JsonRpc/Startup.cs
  @038cdbf6, PushErrorResponseAsync).
- L1: eth_chainId. Beacon: /eth/v1/beacon/headers/head and /eth/v1/beacon/blob_sidecars/
  {slot}: serving, pruned (404) or empty.

The chain moves with the clock: block N's timestamp is genesis + 2 N, and the unsafe
head is what `now - lag` gives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "ab" * 32
OP_RETH_401 = "provided signature is invalid"
NETHERMIND_401 = json.dumps({"jsonrpc": "2.0", "error": {"code": -32600,
                                                           "message": "Authentication error"},
                             "id": None})


def jwt_ok(header: str | None, secret_hex: str, now: float | None = None) -> str | None:
    """None when HEADER carries a valid engine-API token for SECRET_HEX, else why not
    (op-reth's words)."""
    if not header or not header.startswith("Bearer "):
        return "Authorization header is missing or invalid"
    parts = header[len("Bearer "):].split(".")
    if len(parts) != 3:
        return "JWT decoding error: InvalidToken"
    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    try:
        head, claims = json.loads(unb64(parts[0])), json.loads(unb64(parts[1]))
    except ValueError:
        return "JWT decoding error: InvalidToken"
    if head.get("alg") != "HS256":
        return "unsupported signature algorithm. Only HS256 is supported"
    mac = hmac.new(bytes.fromhex(secret_hex), f"{parts[0]}.{parts[1]}".encode(),
                   hashlib.sha256).digest()
    if not hmac.compare_digest(mac, unb64(parts[2])):
        return OP_RETH_401
    if "iat" not in claims or abs((now or time.time()) - claims["iat"]) > 60:
        return "IAT (issued-at) claim is not within ±60 seconds from the current time"
    return None


class Server:
    """One HTTP server on HOST (127.0.0.1; the rehearsal: its network's gateway, where
    the containers reach it): JSON-RPC methods (`methods`: name -> callable
    returning the result, or raising Refuse) and GET routes (`routes`: path prefix ->
    callable(path) returning (status, object))."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.methods: dict = {}
        self.routes: dict = {}
        self.calls: list[str] = []
        self.auth = None  # callable(headers) -> None or (status, body)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, kind="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = json.loads(body)
                server.calls.append(request["method"])
                if server.auth is not None:
                    refused = server.auth(self.headers)
                    if refused is not None:
                        status, text, kind = refused
                        return self._send(status, text.encode(), kind)
                fn = server.methods.get(request["method"])
                if fn is None:
                    answer = {"error": {"code": -32601, "message": "Method not found"}}
                else:
                    answer = {"result": fn()}
                self._send(200, json.dumps({"jsonrpc": "2.0", "id": request.get("id"),
                                            **answer}).encode())

            def do_GET(self):  # noqa: N802
                server.calls.append(self.path)
                for prefix, fn in server.routes.items():
                    if self.path.startswith(prefix):
                        status, answer = fn(self.path)
                        return self._send(status, json.dumps(answer).encode())
                self._send(404, b'{"code":404,"message":"not found"}')

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01},
                         daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Chain:
    """An L2 chain that moves with the clock (2 s blocks) and what op-node says of it."""

    def __init__(self, lag: float = 2.0, safe_behind: int = 60, final_behind: int = 600,
                 el_sync: bool = False, shape: str = "new", hex_numbers: bool = False,
                 speed: float = 1.0) -> None:
        self.start = time.time()
        self.genesis = int(self.start) - 2 * 5_000_000
        self.lag, self.safe_behind, self.final_behind = lag, safe_behind, final_behind
        self.el_sync, self.shape, self.hex = el_sync, shape, hex_numbers
        self.speed = speed  # chain seconds per wall second while catching up

    def unsafe_number(self) -> int:
        now = time.time()
        if self.speed != 1.0:  # catching up: starts LAG behind, closes in at SPEED
            stamp = self.start - self.lag + (now - self.start) * self.speed
        else:
            stamp = now - self.lag
        return int((stamp - self.genesis) // 2)

    def ref(self, number: int, l2: bool = True) -> dict:
        value = (lambda n: hex(n)) if self.hex else (lambda n: n)
        ref = {"hash": "0x" + f"{number:064x}", "number": value(number),
               "parentHash": "0x" + f"{max(0, number - 1):064x}",
               "timestamp": value(self.genesis + 2 * number if l2
                                  else 1_700_000_000 + 12 * number)}
        if l2:
            ref["l1origin"] = {"hash": "0x" + "00" * 32, "number": value(number // 6)}
            ref["sequenceNumber"] = value(number % 6)
        return ref

    def sync_status(self) -> dict:
        unsafe = self.unsafe_number()
        safe = 0 if self.el_sync else unsafe - self.safe_behind
        final = 0 if self.el_sync else unsafe - self.final_behind
        l1 = 7_000_000 + unsafe // 6
        status = {"current_l1": self.ref(l1, False),
                  "current_l1_finalized": self.ref(l1 - 64, False),
                  "head_l1": self.ref(l1 + 1, False), "safe_l1": self.ref(l1 - 32, False),
                  "finalized_l1": self.ref(l1 - 64, False), "unsafe_l2": self.ref(unsafe),
                  "safe_l2": self.ref(safe), "finalized_l2": self.ref(final),
                  "pending_safe_l2": self.ref(safe), "queued_unsafe_l2": self.ref(0)}
        if self.shape == "old":  # before optimism #22555 (op-node/v1.9.4's struct)
            status["cross_unsafe_l2"] = self.ref(unsafe)
            status["local_safe_l2"] = self.ref(safe)
        return status


def beacon_routes(server: Server, slot, blobs) -> None:
    """SERVER answers as a beacon node: headers/head at slot SLOT(), and blob sidecars as
    BLOBS() says: serve (3 sidecars), pruned (404) or empty."""
    server.routes["/eth/v1/beacon/headers/head"] = lambda path: (200, {
        "data": {"root": "0x" + "11" * 32, "header": {"message": {
            "slot": str(slot()), "proposer_index": "1"}}}})

    def sidecars(path: str):
        if blobs() == "pruned":
            return 404, {"code": 404, "message": "NOT_FOUND: beacon block at slot "
                         f"{path.rsplit('/', 1)[-1]}"}
        count = 0 if blobs() == "empty" else 3
        return 200, {"data": [{"index": str(i), "blob": "0x00"} for i in range(count)]}

    server.routes["/eth/v1/beacon/blob_sidecars/"] = sidecars


class Stack:
    """The stand-ins of one healthy stack (op-node, execution client, engine API, L1,
    beacon), and the Target `inv status` would discover for them. Change a part's
    methods, routes or auth to make it misbehave."""

    def __init__(self, client: str = "nethermind", chain: Chain | None = None,
                 l2_chain_id: int = 11155420, l1_chain_id: int = 11155111,
                 versions: dict[str, str] | None = None, peers: int = 12) -> None:
        self.client = client
        self.chain = chain or Chain()
        self.op_node, self.execution, self.engine = Server(), Server(), Server()
        self.l1, self.beacon = Server(), Server()
        versions = {"op-node": "v1.21.0-stable", "nethermind":
                    "Nethermind/v1.39.3+28cbe2a0/linux-x64/dotnet9.0.2",
                    "op-reth": "reth/v2.10.0-0ddd0724/x86_64-unknown-linux-gnu",
                    **(versions or {})}
        self.op_node.methods.update({
            "optimism_syncStatus": self.chain.sync_status,
            "optimism_rollupConfig": lambda: {"l1_chain_id": 11155111,
                                              "l2_chain_id": l2_chain_id, "block_time": 2},
            "optimism_version": lambda: versions["op-node"]})
        self.execution.methods.update({
            "eth_blockNumber": lambda: hex(max(0, self.chain.unsafe_number() - 1)),
            "net_peerCount": lambda: hex(peers),
            "eth_chainId": lambda: hex(l2_chain_id),
            "web3_clientVersion": lambda: versions[client]})
        self.engine.methods["eth_chainId"] = lambda: hex(l2_chain_id)
        self.secret = SECRET
        self.engine.auth = self._auth
        self.l1.methods["eth_chainId"] = lambda: hex(l1_chain_id)
        self.head_slot = 10_000_000
        self.blobs = "serve"  # serve | pruned | empty
        beacon_routes(self.beacon, lambda: self.head_slot, lambda: self.blobs)

    def _auth(self, headers):
        why = jwt_ok(headers.get("Authorization"), self.secret)
        if why is None:
            return None
        if self.client == "nethermind":
            return 401, NETHERMIND_401, "application/json"
        return 401, why, "text/plain"

    def target(self, tmp_path=None, **changes):
        from tasks import _status

        target = _status.Target(
            op_node=self.op_node.url, execution=self.execution.url, engine=self.engine.url,
            l1=self.l1.url, beacon=self.beacon.url, jwt_secret=SECRET, network="op-sepolia",
            client=self.client, project="standin",
            pins={"OP_NODE_VERSION": "v1.21.0", "OP_NODE_COMMIT": "2ad3799",
                  "NETHERMIND_VERSION": "1.39.3", "OP_RETH_VERSION": "v2.10.0"},
            state_file=(tmp_path / "status-state.json") if tmp_path else None, forks=False)
        for key, value in changes.items():
            setattr(target, key, value)
        return target

    def close(self) -> None:
        for server in (self.op_node, self.execution, self.engine, self.l1, self.beacon):
            server.close()
