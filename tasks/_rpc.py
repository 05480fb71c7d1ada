"""The one client `inv status` (and doctor's live checks) talk to the running node with:
JSON-RPC over HTTP, the beacon REST API, and the engine API's JWT.

Standard library only (urllib), imported by nothing at `inv --list` time. Every call has
its own short timeout (the caller's, default `TIMEOUT`), and every failure is an
`RpcError` whose `reason` is one line: nothing answered, no answer within the timeout,
an HTTP status (with the first line of its body), a JSON-RPC error, or an answer that is
no JSON.

The engine API authenticates with an HS256 JWT over the shared 32-byte secret, carrying
an `iat` claim the server accepts within +-60 s of its own clock (execution-apis
src/engine/authentication.md; alloy-rs/alloy crates/rpc-types-engine/src/jwt.rs
JWT_MAX_IAT_DIFF, which op-reth uses): `jwt_token` makes one per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

TIMEOUT = 2.0  # seconds a probe may wait for one answer


class RpcError(Exception):
    """A call that gave no usable answer; `reason` is one line, `status` the HTTP status
    (None when nothing answered) and `body` what the server said with it."""

    def __init__(self, reason: str, status: int | None = None, body: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.body = body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_token(secret_hex: str, now: float | None = None) -> str:
    """An engine-API token: HS256 over SECRET_HEX (64 hex digits, `0x` allowed), with
    `iat` = NOW (default: the clock)."""
    text = secret_hex.strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise RpcError("the JWT secret is not hex") from None
    if len(key) != 32:
        raise RpcError(f"the JWT secret is {len(key)} bytes, not 32")
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64(json.dumps({"iat": int(time.time() if now is None else now)},
                             separators=(",", ":")).encode())
    signed = f"{header}.{claims}"
    signature = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(signature)}"


def _first_line(text: str, limit: int = 160) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:limit] if lines else ""


def where(url: str) -> str:
    """URL as `inv status` shows it: without credentials or query string (an L1
    provider's key often sits in either)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path if len(parts.path) > 1 else ''}"


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = TIMEOUT) -> tuple[int, bytes]:
    """(status, body) of one HTTP request (POST with DATA, else GET); any status is an
    answer, only no answer at all raises RpcError."""
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"User-Agent": "opstack-image-kit", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except OSError:
            body = b""
        return exc.code, body
    except TimeoutError:
        raise RpcError(f"no answer from {where(url)} within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        why = exc.reason
        if isinstance(why, TimeoutError):
            raise RpcError(f"no answer from {where(url)} within {timeout:g} s") from None
        text = getattr(why, "strerror", None) or str(why)
        raise RpcError(f"cannot reach {where(url)}: {text}") from None
    except (OSError, ValueError) as exc:  # a reset connection, a malformed URL
        raise RpcError(f"cannot reach {where(url)}: {getattr(exc, 'strerror', None) or exc}") \
            from None


def call(url: str, method: str, params: list | None = None, timeout: float = TIMEOUT,
         jwt_secret: str | None = None) -> Any:
    """The result of JSON-RPC METHOD at URL (signed with a fresh JWT when JWT_SECRET is
    given); RpcError with one line otherwise."""
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                          "params": params or []}).encode()
    headers = {"Content-Type": "application/json"}
    if jwt_secret is not None:
        headers["Authorization"] = f"Bearer {jwt_token(jwt_secret)}"
    status, body = request(url, payload, headers, timeout)
    text = body.decode("utf-8", "replace")
    if status != 200:
        said = _error_message(text) or _first_line(text)
        raise RpcError(f"{method}: HTTP {status} from {where(url)}"
                       + (f": {said}" if said else ""), status, text)
    try:
        answer = json.loads(text)
    except ValueError:
        raise RpcError(f"{method}: {where(url)} answered no JSON ({_first_line(text)!r})",
                       status, text) from None
    if not isinstance(answer, dict):
        raise RpcError(f"{method}: {where(url)} answered no JSON-RPC object", status, text)
    if answer.get("error"):
        error = answer["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise RpcError(f"{method}: {_first_line(str(message)) or 'error'}", status, text)
    if "result" not in answer:
        raise RpcError(f"{method}: {where(url)} answered without a result", status, text)
    return answer["result"]


def _error_message(text: str) -> str:
    """The message of a JSON-RPC error body (Nethermind answers a 401 with one)."""
    try:
        answer = json.loads(text)
    except ValueError:
        return ""
    error = answer.get("error") if isinstance(answer, dict) else None
    return _first_line(str(error.get("message") or "")) if isinstance(error, dict) else ""


def get_json(url: str, timeout: float = TIMEOUT) -> tuple[int, object]:
    """(status, decoded JSON or None) of a REST GET (the beacon API)."""
    status, body = request(url, headers={"Accept": "application/json"}, timeout=timeout)
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


def quantity(value: Any) -> int | None:
    """An integer from a JSON-RPC quantity: a number, "0x1a" or "26"; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            return None
    return None
