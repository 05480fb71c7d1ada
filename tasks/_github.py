"""The one place that talks to GitHub: the REST API at GITHUB_API_URL, with a cache.

- `GITHUB_API_URL` (default https://api.github.com; GitHub Enterprise and Actions set it).
- `GITHUB_TOKEN`, when set, goes in the Authorization header to the API host only; it is
  never printed, logged or cached.
- Answers are cached under `$XDG_CACHE_HOME/opstack-image-kit/github/` (default
  `~/.cache/...`), one JSON file per URL, written atomically. Listings are revalidated
  with ETags (`If-None-Match`; a 304 costs no rate-limit quota); answers addressed by a
  commit or tag-object SHA never change and are served from the cache without a request.
- GitHub unreachable (connection error, timeout, 502/503/504): the cached answer, with a
  note on stderr; nothing cached: a one-line error (`Unreachable`). Rate limit, bad token,
  not found: one-line errors that say what to do.
- Lookups that may legitimately find nothing (a file or submodule absent at a commit) ask
  with `missing_ok`: the 404 is an answer, cached like any other, so an absent path at a
  commit costs one request ever, and offline runs give the same answer.
- `cache_only`: no request at all; what is not cached is `Unreachable` (`inv status` asks
  fork readiness this way, so a status run never costs GitHub quota).

`requests` is imported lazily, so `inv --list` never pays for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ._errors import KitError

DEFAULT_API_URL = "https://api.github.com"
USER_AGENT = "opstack-image-kit"
MAX_PAGES = 50
_SHA = re.compile(r"[0-9a-f]{40}")


class GitHubError(KitError):
    """GitHub answered with an error, or could not be reached."""


class RateLimited(GitHubError):
    """403/429 with no quota left."""


class BadToken(GitHubError):
    """401: GITHUB_TOKEN was rejected."""


class Unreachable(GitHubError):
    """GitHub could not be reached and nothing was cached for the request."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opstack-image-kit" / "github"


def is_sha(text: str) -> bool:
    return bool(_SHA.fullmatch(text or ""))


def clone_url(repo: str, api_url: str | None = None) -> str:
    """The git URL of owner/name REPO on the server whose REST API is at API_URL (default:
    GITHUB_API_URL, else api.github.com): `https://api.github.com` gives
    `https://github.com/REPO.git`, GitHub Enterprise Server's `https://HOST/api/v3` gives
    `https://HOST/REPO.git`, GHE.com's `https://api.SUB.ghe.com` gives
    `https://SUB.ghe.com/REPO.git`; any other URL keeps its scheme, host and path."""
    text = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).strip()
    api = urlsplit(text)
    host = api.netloc
    if api.scheme not in ("http", "https") or not host:
        raise GitHubError(f"malformed GITHUB_API_URL {text!r}: give the API's URL, e.g. "
                          "https://api.github.com or https://HOST/api/v3")
    if host.lower() == "api.github.com" or re.fullmatch(r"(?i)api\.[^.]+\.ghe\.com", host):
        host = host[len("api."):]
    path = re.sub(r"/api/v3$", "", api.path.rstrip("/"))
    return f"{api.scheme}://{host}{path}/{repo.strip('/')}.git"


class GitHub:
    """A small GitHub REST client; one per command. Counts the requests it makes."""

    def __init__(self, api_url: str | None = None, token: str | None = None,
                 cache_dir: Path | None = None, err: Any = None,
                 timeout: float | tuple[float, float] = (5, 30),
                 cache_only: bool = False) -> None:
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        self._token = token if token is not None else (os.environ.get("GITHUB_TOKEN") or None)
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root()
        self.err = err
        self.timeout = timeout
        self.requests_made = 0
        # answer from the cache alone, never a request (`inv status`): what is not cached
        # is Unreachable, so callers fall back as when GitHub cannot be reached
        self.cache_only = cache_only
        self._session: Any = None  # a requests.Session, made on the first request
        self._noted_offline = False

    def __repr__(self) -> str:  # never the token
        return f"GitHub({self.api_url!r}, token={'set' if self._token else 'unset'})"

    # ----------------------------------------------------------------- plumbing
    def _url(self, path: str, params: dict | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.api_url}/{path.lstrip('/')}{query}"

    def _cache_file(self, url: str) -> Path:
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest() + ".json")

    def _load(self, url: str) -> dict | None:
        try:
            entry = json.loads(self._cache_file(url).read_text())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("url") == url else None

    def _store(self, url: str, entry: dict) -> None:
        """Atomic: a temp file beside the target, then os.replace. Best effort."""
        tmp = None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w") as handle:
                json.dump(entry, handle)
            os.replace(tmp, self._cache_file(url))
        except OSError:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    def _headers(self, url: str, etag: str | None) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT,
                   "X-GitHub-Api-Version": "2022-11-28"}
        if self._token and urlsplit(url).netloc == urlsplit(self.api_url).netloc:
            headers["Authorization"] = f"Bearer {self._token}"
        if etag:
            headers["If-None-Match"] = etag
        return headers

    def _say(self, message: str) -> None:
        print(self._scrub(message), file=self.err or sys.stderr)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _fail(self, cls: type[GitHubError], message: str) -> GitHubError:
        return cls(self._scrub(message))

    # ------------------------------------------------------------------- fetch
    def fetch(self, url: str, immutable: bool = False, missing_ok: bool = False) -> dict:
        """The cache entry for `url` ({"body", "next", ...}), fresh or revalidated.

        With `missing_ok`, a 404 is an answer: the entry has `"missing": True` and no body.
        """
        import requests

        cached = self._load(url)
        if immutable and cached is not None:
            return cached
        if self.cache_only:
            if cached is None:
                raise self._fail(Unreachable, "not cached, and this command answers from "
                                 "the cache only (`inv source.forks` fills it)")
            return cached
        if self._session is None:
            self._session = requests.Session()
        try:
            self.requests_made += 1
            response = self._session.get(
                url, headers=self._headers(url, cached.get("etag") if cached else None),
                timeout=self.timeout, allow_redirects=True,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            return self._offline(url, cached, type(exc).__name__)
        except requests.RequestException as exc:  # a malformed GITHUB_API_URL or token
            raise self._fail(GitHubError, f"cannot send a request to the GitHub API at "
                             f"{self.api_url} ({type(exc).__name__}); check GITHUB_API_URL "
                             "(e.g. https://api.github.com) and GITHUB_TOKEN") from None
        if response.status_code == 304 and cached is not None:
            return cached
        if response.status_code in (502, 503, 504):
            return self._offline(url, cached, f"HTTP {response.status_code}")
        if response.status_code == 404 and missing_ok:
            entry = {"url": url, "etag": None, "body": None, "missing": True, "next": None,
                     "stored": time.time()}
            self._store(url, entry)
            return entry
        self._check(response, url)
        try:
            body = response.json()
        except ValueError:
            raise self._fail(GitHubError, f"GitHub API at {self.api_url} answered "
                             f"{response.status_code} without JSON for {self._path(url)}") from None
        entry = {"url": url, "etag": response.headers.get("ETag"), "body": body,
                 "next": response.links.get("next", {}).get("url"), "stored": time.time()}
        self._store(url, entry)
        return entry

    def _path(self, url: str) -> str:
        return url[len(self.api_url):] if url.startswith(self.api_url) else urlsplit(url).path

    def _offline(self, url: str, cached: dict | None, reason: str) -> dict:
        if cached is None:
            raise self._fail(
                Unreachable,
                f"cannot reach the GitHub API at {self.api_url} ({reason}) and nothing is "
                "cached for this request; check the network or GITHUB_API_URL",
            )
        if not self._noted_offline:
            self._noted_offline = True
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(cached.get("stored", 0)))
            self._say(f"note: GitHub API unreachable at {self.api_url} ({reason}); "
                      f"answering from the cache (stored {when})")
        return cached

    def _check(self, response: Any, url: str) -> None:
        status = response.status_code
        if status < 400:
            return
        headers = response.headers
        try:
            message = str(response.json().get("message", "")).splitlines()[0]
        except (ValueError, AttributeError, IndexError):
            message = ""
        limited = headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in headers \
            or "rate limit" in message.lower()
        if status in (403, 429) and limited:
            raise self._fail(RateLimited, self._rate_limit_message(status, headers))
        if status == 401:
            hint = ("GITHUB_TOKEN was rejected (bad or expired token): fix it, or unset it to "
                    "use the anonymous limit") if self._token else \
                "GitHub asks for credentials: set GITHUB_TOKEN"
            raise self._fail(BadToken, f"{hint} (401 from {self.api_url})")
        if status == 404:
            hint = ": check the repository owner/name" if "/matching-refs/" in url else ""
            raise self._fail(GitHubError, f"GitHub API at {self.api_url} has no "
                             f"{self._path(url)} (404){hint}")
        raise self._fail(GitHubError, f"GitHub API at {self.api_url} answered {status} for "
                         f"{self._path(url)}" + (f": {message}" if message else ""))

    def _rate_limit_message(self, status: int, headers: Any) -> str:
        when = "later"
        if headers.get("Retry-After", "").isdigit():
            seconds = int(headers["Retry-After"])
            when = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + seconds))
            when = f"at {when} (in {seconds} s)"
        elif headers.get("X-RateLimit-Reset", "").isdigit():
            reset = int(headers["X-RateLimit-Reset"])
            minutes = max(0, round((reset - time.time()) / 60))
            when = f"at {time.strftime('%H:%M:%S UTC', time.gmtime(reset))} (in {minutes} min)"
        advice = ("GITHUB_TOKEN is set; wait for the reset" if self._token else
                  "set GITHUB_TOKEN to raise it (60 -> 5000 requests/hour)")
        return f"GitHub API rate limit exceeded ({status}); it resets {when}; {advice}"

    # ----------------------------------------------------------------- queries
    def get(self, path: str, params: dict | None = None, immutable: bool = False) -> Any:
        return self.fetch(self._url(path, params), immutable=immutable)["body"]

    def get_all(self, path: str, params: dict | None = None) -> list:
        """Every page of a listing, following Link rel="next"."""
        items: list = []
        url = self._url(path, params)
        for _ in range(MAX_PAGES):
            entry = self.fetch(url)
            body = entry["body"]
            if not isinstance(body, list):
                raise self._fail(GitHubError, f"GitHub API at {self.api_url} answered no list "
                                 f"for {self._path(url)}")
            items.extend(body)
            url = entry.get("next")  # type: ignore[assignment]
            if not url:
                return items
        raise self._fail(GitHubError, f"more than {MAX_PAGES} pages for {path}; giving up")

    def matching_tags(self, repo: str, prefix: str = "") -> dict[str, dict]:
        """{tag name: ref object {"sha", "type"}} for tags starting with `prefix`."""
        path = f"/repos/{repo}/git/matching-refs/tags" + (f"/{prefix}" if prefix else "")
        refs = self.get_all(path, {"per_page": 100})
        return {
            ref["ref"][len("refs/tags/"):]: ref.get("object") or {}
            for ref in refs if isinstance(ref, dict) and str(ref.get("ref", "")).startswith(
                "refs/tags/")
        }

    def commit_of(self, repo: str, obj: dict) -> str:
        """The commit SHA a tag ref points at; annotated tags are dereferenced (cached)."""
        for _ in range(5):
            kind, sha = obj.get("type"), obj.get("sha", "")
            if kind == "commit" and is_sha(sha):
                return sha
            if kind != "tag" or not is_sha(sha):
                break
            obj = (self.get(f"/repos/{repo}/git/tags/{sha}", immutable=True) or {}).get(
                "object") or {}
        raise self._fail(GitHubError, f"a tag in {repo} does not lead to a commit ({obj!r:.80})")

    def contents(self, repo: str, path: str, ref: str, missing_ok: bool = False) -> Any:
        """The contents endpoint's answer for `path` at `ref` (None when absent and
        `missing_ok`); cached for good when ref is a commit SHA."""
        entry = self.fetch(self._url(f"/repos/{repo}/contents/{path}", {"ref": ref}),
                           immutable=is_sha(ref), missing_ok=missing_ok)
        return None if entry.get("missing") else entry["body"]

    def file_bytes_at(self, repo: str, path: str, ref: str,
                      missing_ok: bool = False) -> bytes | None:
        """The bytes of `path` at `ref`, or None when absent and `missing_ok`.

        Files over 1 MB come without content from the contents endpoint; their blob (by
        the SHA the endpoint gives) is fetched instead, once.
        """
        body = self.contents(repo, path, ref, missing_ok=missing_ok)
        if body is None:
            return None
        if not isinstance(body, dict) or body.get("type", "file") != "file":
            raise self._fail(GitHubError, f"{path} at {ref} in {repo} is not a file")
        content = body.get("content") or ""
        if not content and body.get("size") and is_sha(body.get("sha", "")):
            blob = self.get(f"/repos/{repo}/git/blobs/{body['sha']}", immutable=True) or {}
            content, body = blob.get("content") or "", blob
        if body.get("encoding", "base64") != "base64":
            return content.encode()
        return base64.b64decode(content)

    def file_at(self, repo: str, path: str, ref: str, missing_ok: bool = False) -> str | None:
        """The text of `path` at `ref` (contents endpoint); cached for good when ref is a SHA.
        None when the file is absent and `missing_ok`."""
        data = self.file_bytes_at(repo, path, ref, missing_ok=missing_ok)
        return None if data is None else data.decode("utf-8", "replace")

    def submodule_at(self, repo: str, path: str, ref: str) -> str | None:
        """The commit a submodule at `path` is pinned to at `ref`, or None when `path` is
        no submodule there (the contents endpoint answers "type": "submodule" with its SHA)."""
        body = self.contents(repo, path, ref, missing_ok=True)
        if isinstance(body, dict) and body.get("type") == "submodule" \
                and is_sha(str(body.get("sha") or "")):
            return body["sha"]
        return None

    def branch_head(self, repo: str, branch: str) -> str:
        """The commit a branch points at now (one revalidated request)."""
        body = self.get(f"/repos/{repo}/git/ref/heads/{branch}") or {}
        return self.commit_of(repo, body.get("object") or {})

    def commit_sha(self, repo: str, prefix: str) -> str:
        """The full SHA of the commit an abbreviated SHA names (commits endpoint, cached)."""
        if is_sha(prefix):
            return prefix
        body = self.get(f"/repos/{repo}/commits/{prefix}", immutable=True) or {}
        sha = body.get("sha", "") if isinstance(body, dict) else ""
        if not (is_sha(sha) and sha.startswith(prefix)):
            raise self._fail(GitHubError, f"commit {prefix} in {repo} did not resolve to a SHA")
        return sha
