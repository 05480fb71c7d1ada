"""Source tasks against a stand-in GitHub API (real HTTP on a local port) and real local
git repositories: resolution, request budget, ETags, offline cache, rate limit, auth,
pinning compose.yml, outdated report and the verified clone."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tasks import _pins, _steps, _upstream
from tasks._errors import KitError
from tests.helpers import ROOT, assert_one_line_error, inv, inv_process

OPTIMISM = "ethereum-optimism/optimism"
NETHERMIND = "NethermindEth/nethermind"
GOMOD_OLD = "module github.com/ethereum-optimism/optimism\n\ngo 1.24.0\n\ntoolchain go1.24.3\n"
GOMOD_NEW = "module github.com/ethereum-optimism/optimism\n\ngo 1.26.0\n"
TOKEN = "ghp_s3cretTokenValue0123456789"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


OP_TAGS = {
    "op-node/v1.16.2": sha("1.16.2"), "op-node/v1.16.11": sha("1.16.11"),
    "op-node/v1.19.4": sha("1.19.4"), "op-node/v1.19.5": sha("1.19.5"),
    "op-node/v1.20.0-rc.1": sha("1.20.0-rc.1"), "op-node/v1.19.6-synctest.1": sha("sync"),
    "op-node/v1.19.7-hotfix": sha("hotfix"), "op-node/v1.21.0-dev.0": sha("dev"),
    "op-batcher/v1.99.0": sha("batcher"), "op-contracts/v9.0.0": sha("contracts"),
}
ANNOTATED = {"op-node/v1.19.5", "op-node/v1.16.11", "op-node/v1.20.0-rc.1"}
GOMODS = {commit: (GOMOD_NEW if "1.19" in name or "1.20" in name else GOMOD_OLD)
          for name, commit in OP_TAGS.items()}
NM_TAGS = {"1.38.1": sha("nm-1.38.1"), "1.38.0": sha("nm-1.38.0"), "1.9.0": sha("nm-1.9.0"),
           "1.39.0-rc.1": sha("nm-rc")}


@pytest.fixture
def upstream(github_api):
    github_api.add_repo(OPTIMISM, OP_TAGS, annotated=ANNOTATED, gomod=GOMODS)
    github_api.add_repo(NETHERMIND, NM_TAGS, annotated={"1.38.0"}, prefixes=("",))
    return github_api


# ----------------------------------------------------------------- resolution
def test_resolve_dereferences_annotated_tag_and_reads_go_mod_in_three_requests(upstream):
    found = _upstream.resolve_version("op-node", "latest")
    assert found == _upstream.Resolution("op-node", "op-node/v1.19.5", "v1.19.5",
                                      sha("1.19.5"), "1.26")
    tag_object = hashlib.sha1(("tag:op-node/v1.19.5:" + sha("1.19.5")).encode()).hexdigest()
    assert [r["path"] for r in upstream.requests] == [
        f"/repos/{OPTIMISM}/git/matching-refs/tags/op-node/v",
        f"/repos/{OPTIMISM}/git/tags/{tag_object}",
        f"/repos/{OPTIMISM}/contents/go.mod",
    ]
    assert upstream.requests[2]["query"] == f"ref={sha('1.19.5')}"
    assert found.build_env() == {"OP_NODE_VERSION": "v1.19.5", "OP_NODE_COMMIT": sha("1.19.5"),
                                 "GO_VERSION": "1.26"}


def test_lightweight_tag_needs_no_dereference_and_old_go_mod_gives_old_go(upstream):
    found = _upstream.resolve_version("op-node", "v1.16.2")
    assert (found.commit, found.go_version) == (sha("1.16.2"), "1.24")  # toolchain go1.24.3
    assert len(upstream.requests) == 2


def test_warm_resolution_is_one_conditional_request(upstream):
    cold = _upstream.resolve_version("op-node", "v1.19")
    upstream.requests.clear()
    warm = _upstream.resolve_version("op-node", "v1.19")
    assert warm == cold
    assert len(upstream.requests) == 1
    assert upstream.requests[0]["headers"].get("If-None-Match", "").startswith('"')


def test_a_changed_listing_is_fetched_again(upstream):
    assert _upstream.resolve_version("op-node").version == "v1.19.5"
    upstream.add_repo(OPTIMISM, {**OP_TAGS, "op-node/v1.19.10": sha("1.19.10")},
                      gomod=GOMOD_NEW)
    assert _upstream.resolve_version("op-node").version == "v1.19.10"  # numeric: 10 > 5


def test_pre_lets_latest_choose_a_release_candidate(upstream):
    assert _upstream.resolve_version("op-node", pre=True).tag == "op-node/v1.20.0-rc.1"
    assert _upstream.resolve_version("op-node", "v1.20.0-rc.1").commit == sha("1.20.0-rc.1")


def test_execution_resolution_has_no_go_version(upstream):
    found = _upstream.resolve_version("execution", "1.38.0")
    assert found == _upstream.Resolution("execution", "1.38.0", "1.38.0", sha("nm-1.38.0"), None)
    assert found.build_env() == {"NETHERMIND_VERSION": "1.38.0"}
    assert [r["path"] for r in upstream.requests][0] == \
        f"/repos/{NETHERMIND}/git/matching-refs/tags"
    assert len(upstream.requests) == 2  # listing + tag object, no go.mod


def test_paginated_listing_is_followed_and_revalidated_page_by_page(github_api):
    github_api.add_repo(OPTIMISM, OP_TAGS, gomod=GOMODS, page_size=3)
    done = inv("source.tags", "--json")
    assert done.returncode == 0, done.stderr
    listed = [entry["version"] for entry in json.loads(done.stdout)]
    assert listed == ["v1.19.5", "v1.19.4", "v1.16.11", "v1.16.2"]
    pages = [r for r in github_api.requests if "matching-refs" in r["path"]]
    assert [r["query"] for r in pages] == ["per_page=100", "page=2", "page=3"]
    github_api.requests.clear()
    assert inv("source.tags", "--json").stdout == done.stdout
    assert len(github_api.requests) == 3
    assert all("If-None-Match" in r["headers"] for r in github_api.requests)


def test_tags_task_lists_newest_first_and_marks_pre_releases(upstream):
    plain = inv("source.tags")
    assert plain.stdout.split() == ["v1.19.5", "v1.19.4", "v1.16.11", "v1.16.2"]
    pre = inv("source.tags", "--pre")
    assert pre.stdout.splitlines()[0] == "v1.20.0-rc.1  (pre-release)"
    nm = inv("source.tags", "--component", "execution")
    assert nm.stdout.split() == ["1.38.1", "1.38.0", "1.9.0"]


def test_resolve_task_prints_json(upstream):
    done = inv("source.resolve", "--version", "1.16", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "component": "op-node", "tag": "op-node/v1.16.11", "version": "v1.16.11",
        "commit": sha("1.16.11"), "go_version": "1.24"}


@pytest.mark.parametrize("args, words", [
    (("--version", "v1.18.0"), ["v1.18.0 does not exist", "v1.19.4", "v1.16.11"]),
    (("--version", "v1.19.6-synctest.1"), ["malformed", "latest, vX.Y"]),
    (("--component", "op-geth"), ["unknown component 'op-geth'",
                                  "op-node, execution or op-reth"]),
])
def test_bad_input_is_one_line(upstream, args, words):
    line = assert_one_line_error(inv_process("source.resolve", *args))  # the real `inv`
    for word in words:
        assert word in line


# ------------------------------------------------------------ cache, failures
def test_offline_answers_from_cache_with_a_note(upstream):
    first = inv("source.resolve", "--json")
    assert first.returncode == 0, first.stderr
    upstream.close()
    offline = inv("source.resolve", "--json")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout) == json.loads(first.stdout)
    note = offline.stderr.strip().splitlines()
    assert len(note) == 1 and note[0].startswith("note: GitHub API unreachable")
    assert "cache" in note[0]


def test_offline_with_nothing_cached_is_one_line_error(github_api):
    github_api.close()
    line = assert_one_line_error(inv("source.resolve"))
    assert "cannot reach the GitHub API" in line and "nothing is cached" in line


def test_cache_lives_under_xdg_cache_home_and_has_no_leftovers(upstream, tmp_path):
    _upstream.resolve_version("op-node")
    folder = tmp_path / "xdg-cache" / "opstack-image-kit" / "github"
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 3 and all(name.endswith(".json") for name in files)
    assert not [name for name in files if name.startswith(".tmp")]


def test_rate_limit_names_reset_and_token(upstream):
    reset = int(time.time()) + 1800
    upstream.fail_with(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
                       {"message": "API rate limit exceeded for 127.0.0.1."})
    line = assert_one_line_error(inv("source.resolve"))
    assert "rate limit" in line and "GITHUB_TOKEN" in line
    assert time.strftime("%H:%M:%S UTC", time.gmtime(reset)) in line


def test_secondary_rate_limit_uses_retry_after(upstream):
    upstream.fail_with(429, {"Retry-After": "60"})
    line = assert_one_line_error(inv("source.tags"))
    assert "rate limit" in line and "in 60 s" in line and "GITHUB_TOKEN" in line


def test_plain_403_is_not_called_a_rate_limit(upstream):
    upstream.fail_with(403, {"X-RateLimit-Remaining": "42"}, {"message": "Resource forbidden"})
    line = assert_one_line_error(inv("source.tags"))
    assert "rate limit" not in line and "403" in line and "Resource forbidden" in line


def test_bad_token_is_named_but_never_printed(upstream):
    upstream.fail_with(401, {}, {"message": "Bad credentials"})
    line = assert_one_line_error(inv("source.resolve", env={"GITHUB_TOKEN": TOKEN}))
    assert "GITHUB_TOKEN was rejected" in line
    assert TOKEN not in line


def test_token_is_sent_and_never_printed(upstream):
    done = inv("source.resolve", "--json", env={"GITHUB_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert {r["headers"].get("Authorization") for r in upstream.requests} == {f"Bearer {TOKEN}"}
    assert TOKEN not in done.stdout + done.stderr
    cache = Path(os.environ["XDG_CACHE_HOME"])
    assert not [p for p in cache.rglob("*") if p.is_file() and TOKEN in p.read_text()]


@pytest.mark.parametrize("url", ["api.github.com", "http://127.0.0.1:notaport"])
def test_malformed_api_url_is_one_line(github_api, url):
    line = assert_one_line_error(inv("source.tags", env={"GITHUB_API_URL": url}))
    assert "GITHUB_API_URL" in line


def test_missing_repository_is_a_one_line_404(github_api):
    line = assert_one_line_error(inv("source.tags"))
    assert "404" in line and "matching-refs" in line


# ----------------------------------------------------------------------- pin
@pytest.fixture
def compose_copy(tmp_path, monkeypatch):
    """compose.yml in a folder of its own, with the client files it extends
    (docker/*.yml) beside it as in the checkout."""
    path = tmp_path / "stack" / "compose.yml"
    path.parent.mkdir()
    shutil.copy2(ROOT / "compose.yml", path)
    for client_file in (ROOT / "docker").glob("*.yml"):
        (path.parent / "docker").mkdir(exist_ok=True)
        shutil.copy2(client_file, path.parent / "docker" / client_file.name)
    monkeypatch.setenv("COMPOSE_FILE", str(path))
    for name in ("OP_NODE_VERSION", "OP_NODE_COMMIT", "GO_VERSION", "NETHERMIND_VERSION",
                 "OP_RETH_VERSION", "EXECUTION_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    return path


def stack_files(compose_file: Path) -> list[str]:
    """Every file of the stack folder (no temporary file may stay behind)."""
    return sorted(str(p.relative_to(compose_file.parent))
                  for p in compose_file.parent.rglob("*") if p.is_file())


def changed_lines(before: bytes, after: bytes) -> list[tuple[bytes, bytes]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def all_pins(compose_file: Path) -> dict[str, str]:
    """The `${VAR:-default}` pins of compose.yml and the client files beside it."""
    pins: dict[str, str] = {}
    for path in [compose_file, *sorted((compose_file.parent / "docker").glob("*.yml"))]:
        pins = {**_pins.read_pins(path), **pins}
    return pins


def test_read_pins_reads_compose_defaults(monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    pins = _pins.read_pins(ROOT / "compose.yml")
    assert set(pins) >= {"OP_NODE_VERSION", "OP_NODE_COMMIT", "GO_VERSION"}
    assert re.fullmatch(r"[0-9a-f]{7,40}", pins["OP_NODE_COMMIT"])
    # a client's own pins: in compose.yml, or in the client file it extends
    assert set(all_pins(ROOT / "compose.yml")) >= {"NETHERMIND_VERSION"}
    assert _pins.candidate_files()[0] == ROOT / "compose.yml"
    assert set(_pins.candidate_files()[1:]) == set((ROOT / "docker").glob("*.yml"))


def test_pin_rewrites_only_the_pinned_defaults(upstream, compose_copy):
    before = compose_copy.read_bytes()
    files = stack_files(compose_copy)
    old = _pins.read_pins(compose_copy)
    done = inv("source.pin", "--version", "v1.16")
    assert done.returncode == 0, done.stderr
    assert f"OP_NODE_VERSION: {old['OP_NODE_VERSION']} -> v1.16.11" in done.stdout
    assert f"GO_VERSION: {old['GO_VERSION']} -> 1.24" in done.stdout
    pins = _pins.read_pins(compose_copy)
    assert (pins["OP_NODE_VERSION"], pins["OP_NODE_COMMIT"], pins["GO_VERSION"]) == \
        ("v1.16.11", sha("1.16.11"), "1.24")
    assert all_pins(compose_copy)["NETHERMIND_VERSION"] == \
        all_pins(ROOT / "compose.yml")["NETHERMIND_VERSION"]
    after = compose_copy.read_bytes()
    for a, b in changed_lines(before, after):
        assert a.replace(old["OP_NODE_VERSION"].encode(), b"v1.16.11") \
            .replace(old["OP_NODE_COMMIT"].encode(), sha("1.16.11").encode()) \
            .replace(b"GO_VERSION:-" + old["GO_VERSION"].encode(), b"GO_VERSION:-1.24") == b
    assert len(changed_lines(before, after)) == 4  # 3 build args + the image tag
    assert stack_files(compose_copy) == files


def test_pin_execution_touches_only_nethermind_lines(upstream, compose_copy):
    """Wherever NETHERMIND_VERSION lives (compose.yml, or docker/nethermind.yml that it
    extends), its lines change and no other."""
    before = {p: p.read_bytes() for p in compose_copy.parent.rglob("*.yml")}
    done = inv("source.pin", "--component", "execution", "--version", "1.38.0")
    assert done.returncode == 0, done.stderr
    changed = [pair for path, text in before.items()
               for pair in changed_lines(text, path.read_bytes())]
    assert changed
    for a, b in changed:
        assert b"NETHERMIND_VERSION:-1.38.0" in b and b"NETHERMIND_VERSION" in a


def test_pin_keeps_crlf_and_mode(upstream, compose_copy):
    compose_copy.write_bytes(compose_copy.read_bytes().replace(b"\n", b"\r\n"))
    compose_copy.chmod(0o640)
    assert inv("source.pin").returncode == 0
    text = compose_copy.read_bytes()
    assert text.count(b"\r\n") == text.count(b"\n")
    assert compose_copy.stat().st_mode & 0o777 == 0o640


def test_failed_pin_leaves_compose_intact(upstream, compose_copy):
    before = compose_copy.read_bytes()
    files = stack_files(compose_copy)
    assert_one_line_error(inv("source.pin", "--version", "v9.9.9"))
    assert compose_copy.read_bytes() == before
    upstream.fail_with(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"})
    assert_one_line_error(inv("source.pin"))
    assert compose_copy.read_bytes() == before
    assert stack_files(compose_copy) == files


def test_pin_is_all_or_nothing_when_a_variable_is_missing(upstream, compose_copy):
    text = compose_copy.read_text().replace("${GO_VERSION:-1.26}", "1.26")
    compose_copy.write_text(text)
    line = assert_one_line_error(inv("source.pin", "--version", "v1.16.2"))
    assert "GO_VERSION" in line
    assert compose_copy.read_text() == text


# ------------------------------------------------------------------ outdated
def test_outdated_reports_and_exits_zero(upstream, compose_copy):
    assert inv("source.pin", "--version", "v1.16.2").returncode == 0
    done = inv("source.outdated", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["component"]: row for row in json.loads(done.stdout)}
    assert rows["op-node"] == {"component": "op-node", "pinned": "v1.16.2", "newest": "v1.19.5",
                               "outdated": True, "note": None}
    assert rows["execution"]["newest"] == "1.38.1"
    text = inv("source.outdated")
    assert text.returncode == 0 and "outdated" in text.stdout.splitlines()[0]


def test_outdated_notes_a_moved_tag(upstream, compose_copy):
    assert inv("source.pin", "--version", "v1.19.5").returncode == 0
    upstream.add_repo(OPTIMISM, {**OP_TAGS, "op-node/v1.19.5": sha("evil")},
                      annotated=ANNOTATED, gomod=GOMOD_NEW)
    done = inv("source.outdated")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
    assert f"tag moved: op-node/v1.19.5 is now {sha('evil')[:12]}" in done.stdout


def test_outdated_takes_a_short_commit_pin_as_a_prefix(upstream, compose_copy):
    """A 7-hex pin (as a release page shows it) is that commit, and still catches a move."""
    _pins.write_pins(compose_copy, {"OP_NODE_VERSION": "v1.19.5",
                                     "OP_NODE_COMMIT": sha("1.19.5")[:7]})
    done = inv("source.outdated")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout and "tag moved" not in done.stdout
    _pins.write_pins(compose_copy, {"OP_NODE_COMMIT": sha("other")[:7]})
    moved = inv("source.outdated")
    assert f"pinned commit is {sha('other')[:7]}" in moved.stdout


# --------------------------------------------------------------------- clone
@pytest.fixture
def local_optimism(git_repo, github_api):
    repo = git_repo("optimism")
    first = repo.commit({"go.mod": GOMOD_OLD, "op-node/main.go": "package main\n"}, "v1.16.2")
    repo.tag("op-node/v1.16.2", annotated=True)
    second = repo.commit({"go.mod": GOMOD_NEW, "op-node/main.go": "package main // 2\n"}, "v2")
    repo.tag("op-node/v1.19.5", annotated=True)
    repo.commit({"README": "after the release\n"}, "later work")
    github_api.add_repo(OPTIMISM, {"op-node/v1.16.2": first, "op-node/v1.19.5": second},
                        annotated={"op-node/v1.19.5"}, gomod={first: GOMOD_OLD,
                                                              second: GOMOD_NEW})
    return repo, first, second


def test_clone_is_shallow_and_at_the_resolved_commit(local_optimism, tmp_path):
    repo, _, second = local_optimism
    dest = tmp_path / "src"
    done = inv("source.clone", "--repo", repo.url, "--dest", str(dest))
    assert done.returncode == 0, done.stderr
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert head == second
    shallow = subprocess.run(["git", "-C", str(dest), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True).stdout.strip()
    assert shallow == "true"
    assert (dest / "go.mod").read_text() == GOMOD_NEW


def test_clone_of_a_moved_tag_fails_and_removes_the_clone(local_optimism, tmp_path):
    repo, _, _ = local_optimism
    repo.commit({"op-node/main.go": "package main // backdoor\n"}, "sneaky")
    repo.tag("op-node/v1.19.5", annotated=True, force=True)
    dest = tmp_path / "src"
    line = assert_one_line_error(inv("source.clone", "--repo", repo.url, "--dest", str(dest)))
    assert line.startswith("error: tag moved: op-node/v1.19.5")
    assert not dest.exists()


def test_clone_refuses_a_non_empty_destination(local_optimism, tmp_path):
    repo, _, _ = local_optimism
    dest = tmp_path / "src"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    line = assert_one_line_error(inv("source.clone", "--repo", repo.url, "--dest", str(dest)))
    assert "not empty" in line
    assert (dest / "keep.txt").read_text() == "mine"


def test_clone_of_a_tag_missing_from_the_repo_fails_cleanly(local_optimism, tmp_path,
                                                            git_repo):
    other = git_repo("fork")
    other.commit({"README": "x\n"})
    dest = tmp_path / "src"
    line = assert_one_line_error(inv("source.clone", "--repo", other.url, "--dest", str(dest)))
    assert "git clone of op-node/v1.19.5" in line
    assert not dest.exists()


def test_resolve_version_raises_kit_error_for_callers(upstream):
    with pytest.raises(KitError):
        _upstream.resolve_version("op-node", "v0.0.1")


# ------------------------------------------- one repository: resolution, clone, build
MIRROR = "someorg/optimism-mirror"


@pytest.mark.parametrize("api, expected", [
    (None, "https://github.com/o/n.git"),
    ("https://api.github.com", "https://github.com/o/n.git"),
    ("https://ghe.example.com/api/v3", "https://ghe.example.com/o/n.git"),
    ("https://ghe.example.com/api/v3/", "https://ghe.example.com/o/n.git"),
    ("https://api.octocorp.ghe.com", "https://octocorp.ghe.com/o/n.git"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/o/n.git"),
])
def test_clone_url_is_derived_from_the_api_server(monkeypatch, api, expected):
    from tasks import _github

    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    assert _github.clone_url("o/n", api) == expected


def test_a_malformed_api_url_gives_no_clone_url():
    from tasks import _github

    with pytest.raises(KitError, match="malformed GITHUB_API_URL 'api.github.com'"):
        _github.clone_url("o/n", "api.github.com")


@pytest.fixture
def ghes(github_api, git_repo, tmp_path, monkeypatch, compose_copy):
    """A GitHub Enterprise stand-in (API under /api/v3 and git over HTTP on one port)
    serving MIRROR with op-node/v1.19.5 and op-node/v1.21.0 (a commit starting 2ad3799 is
    not to be had from a real git repository, so compose.yml's pin is rewritten to the
    mirror's v1.21.0 prefix); `source.op_node_repo` names the mirror, GITHUB_API_URL the
    server."""
    from tests.git_server import GitHubServer

    repo = git_repo("optimism")
    old = repo.commit({"go.mod": GOMOD_NEW, "op-node/main.go": "package main\n"}, "v1.19.5")
    repo.tag("op-node/v1.19.5", annotated=True)
    new = repo.commit({"op-node/main.go": "package main // 1.21\n"}, "v1.21.0")
    repo.tag("op-node/v1.21.0", annotated=True)
    github_api.add_repo(MIRROR, {"op-node/v1.19.5": old, "op-node/v1.21.0": new},
                        annotated={"op-node/v1.21.0"}, gomod=GOMOD_NEW)
    server = GitHubServer(github_api, tmp_path / "git-root")
    server.add_repo(MIRROR, repo.path)
    monkeypatch.setenv("GITHUB_API_URL", server.api_url)
    monkeypatch.setenv("INVOKE_SOURCE_OP_NODE_REPO", MIRROR)
    monkeypatch.delenv("OP_NODE_REPO", raising=False)
    _pins.write_pins(compose_copy, {"OP_NODE_VERSION": "v1.21.0", "OP_NODE_COMMIT": new[:7]})
    yield server, old, new
    server.close()


def test_clone_comes_from_the_server_the_api_names(ghes, tmp_path):
    """No --repo: the clone URL is the mirror on the GITHUB_API_URL server (GHES layout),
    where the tag was resolved; before, it was github.com whatever the API said."""
    server, _, new = ghes
    dest = tmp_path / "src"
    done = inv("source.clone", "--version", "v1.21.0", "--dest", str(dest))
    assert done.returncode == 0, done.stderr
    url = f"{server.url}/{MIRROR}.git"
    assert f"from {url} into" in done.stdout
    assert set(server.clones) == {f"/{MIRROR}.git"}
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert head == new


def test_clone_follows_an_explicit_op_node_repo(ghes, tmp_path, compose_copy):
    """OP_NODE_REPO set (here in .env) to a URL the API cannot name: clone and build use
    it, resolution stays with the API."""
    server, _, _ = ghes
    plain = tmp_path / "plain.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(plain)], check=True)
    subprocess.run(["git", "-C", str(plain), "fetch", "--quiet",
                    str(server.root / f"{MIRROR}.git"), "refs/tags/*:refs/tags/*"], check=True)
    (compose_copy.parent / ".env").write_text(f'OP_NODE_REPO="{plain.as_uri()}"  # ours\n')
    dest = tmp_path / "src"
    done = inv("source.clone", "--version", "v1.21.0", "--dest", str(dest))
    assert done.returncode == 0, done.stderr
    assert f"from {plain.as_uri()} into" in done.stdout
    assert server.clones == []
    from tests.helpers import kit_context

    env, _ = _steps.prepare(kit_context(), ["op-node"], "v1.21.0")
    assert env["OP_NODE_REPO"] == plain.as_uri()


def test_a_build_hands_compose_the_mirror_it_resolved_in(ghes):
    """`build.op-node --version` and a build of the pin, with `source.op_node_repo` a mirror:
    the compose environment carries the mirror's clone URL, and compose's own config of
    compose.yml then gives the Dockerfile that OP_NODE_REPO (and the full commit)."""
    from tasks import _compose
    from tests.helpers import kit_context

    server, old, new = ghes
    url = f"{server.url}/{MIRROR}.git"
    c = kit_context()
    resolved, _ = _steps.prepare(c, ["op-node"], "v1.19.5")
    assert resolved["OP_NODE_REPO"] == url and resolved["OP_NODE_COMMIT"] == old
    pinned, _ = _steps.prepare(c, ["op-node"])
    assert pinned == {"OP_NODE_REPO": url, "OP_NODE_COMMIT": new}
    for env in (resolved, pinned):
        args = _compose.compose_config(c, env)["services"]["base-op-node"]["build"]["args"]
        assert args["OP_NODE_REPO"] == url
        assert args["OP_NODE_COMMIT"] == env["OP_NODE_COMMIT"]
    assert all(r["path"].startswith(f"/repos/{MIRROR}/") for r in ghes[0].api.requests)


def test_the_default_repo_adds_nothing_to_a_build_of_the_pin(github_api, compose_copy,
                                                             monkeypatch):
    """Upstream on github.com, a full commit pinned: a build of the pin hands compose
    nothing (no request either); compose.yml's default OP_NODE_REPO stays."""
    from tests.helpers import kit_context

    monkeypatch.setenv("GITHUB_API_URL", "https://api.github.com")
    monkeypatch.delenv("INVOKE_SOURCE_OP_NODE_REPO", raising=False)
    _pins.write_pins(compose_copy, {"OP_NODE_COMMIT": sha("1.21.0")})
    env, config = _steps.prepare(kit_context(), ["op-node"])
    assert env == {}
    assert config["services"]["base-op-node"]["build"]["args"]["OP_NODE_REPO"] == \
        "https://github.com/ethereum-optimism/optimism.git"


# ------------------------------------------------ pins as compose resolves them
def test_pin_names_a_env_override_the_next_build_would_use(upstream, compose_copy):
    """A pin that .env overrides is reported (only shell overrides were)."""
    (compose_copy.parent / ".env").write_text('OP_NODE_VERSION="v1.16.2"  # known good\n')
    done = inv("source.pin", "--version", "v1.19.5")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stdout.splitlines() if line.startswith("note:")]
    assert notes == ["note: OP_NODE_VERSION is set to v1.16.2 in a .env file compose reads, "
                     "which overrides the pin: the next build uses that; remove it there"]
    (compose_copy.parent / ".env").write_text("OP_NODE_VERSION=v1.19.5\n")
    again = inv("source.pin", "--version", "v1.19.5")
    assert "note:" not in again.stdout


def test_outdated_reports_the_pin_builds_use(upstream, compose_copy):
    """source.outdated reads what compose resolves, .env included (it read only
    compose.yml's defaults)."""
    _pins.write_pins(compose_copy, {"OP_NODE_VERSION": "v1.19.5",
                                     "OP_NODE_COMMIT": sha("1.19.5")})
    (compose_copy.parent / ".env").write_text(
        f"OP_NODE_VERSION=v1.16.11 # older\nOP_NODE_COMMIT='{sha('1.16.11')}'\n")
    rows = {row["component"]: row for row in json.loads(inv("source.outdated",
                                                             "--json").stdout)}
    assert rows["op-node"]["pinned"] == "v1.16.11" and rows["op-node"]["outdated"] is True
    assert rows["op-node"]["note"] is None


def test_outdated_without_a_pin_is_no_pre_release(upstream):
    """No OP_NODE_VERSION at all: 'no pin', not the newest pre-release (v1.20.0-rc.1)."""
    rows = {row["component"]: row for row in _upstream.outdated_report(
        {"NETHERMIND_VERSION": "1.38.1"})}
    assert rows["op-node"]["pinned"] is None
    assert rows["op-node"]["note"] == "no pin: OP_NODE_VERSION is unset"
    assert rows["execution"]["note"] is None and rows["execution"]["outdated"] is False


# ------------------------------------------------ the full commit of a short pin
V121 = "2ad3799" + sha("1.21.0")[7:]


def test_a_short_commit_pin_builds_with_the_full_commit(engine, fixture_project,
                                                       github_api):
    """compose.yml pins v1.21.0's commit as the 7-hex prefix its release page shows; the
    build hands compose the tag's full commit (GitHub API), so the image's revision label
    (and the ldflags, and the Dockerfile's check) get all 40 hex digits."""
    github_api.add_repo(OPTIMISM, {"op-node/v1.21.0": V121}, annotated={"op-node/v1.21.0"},
                        gomod=GOMOD_NEW)
    project = fixture_project(OP_NODE_VERSION="v1.21.0", OP_NODE_COMMIT=V121[:7])
    done = inv("build.op-node", "--progress", "quiet")
    assert done.returncode == 0, done.stderr
    image = engine.images.get(project.image("base-op-node"))
    assert image.labels["org.opencontainers.image.revision"] == V121
    out = engine.containers.run(image.id, ["op-node", "--version"], remove=True).decode()
    assert out.strip() == f"op-node version v1.21.0-{V121} (go 1.22)"


def test_offline_a_short_commit_pin_stays_a_prefix_and_says_so(engine, fixture_project,
                                                               github_api):
    github_api.close()
    project = fixture_project(OP_NODE_VERSION="v1.21.0", OP_NODE_COMMIT=V121[:7])
    done = inv("build.op-node", "--progress", "quiet")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "with the commit prefix OP_NODE_COMMIT=2ad3799" in notes[0]
    assert "cannot reach the GitHub API" in notes[0]
    image = engine.images.get(project.image("base-op-node"))
    assert image.labels["org.opencontainers.image.revision"] == V121[:7]


def test_a_short_pin_the_tag_no_longer_matches_stops_before_the_build(engine,
                                                                     fixture_project,
                                                                     github_api):
    """OP_NODE_VERSION changed (say in .env) but not OP_NODE_COMMIT: one line, nothing
    built (the Dockerfile's check would have failed only after the clone)."""
    github_api.add_repo(OPTIMISM, {"op-node/v1.19.5": sha("1.19.5")}, gomod=GOMOD_NEW)
    project = fixture_project(OP_NODE_VERSION="v1.19.5", OP_NODE_COMMIT=V121[:7])
    line = assert_one_line_error(inv("build.op-node", "--progress", "quiet"))
    assert f"op-node/v1.19.5 in {OPTIMISM} is commit {sha('1.19.5')[:12]}" in line
    assert "OP_NODE_COMMIT pins 2ad3799" in line and "inv source.pin --version v1.19.5" in line
    assert not engine.images.list(name=project.repo("base-op-node"))


# ------------------------------------------------------------------ op-reth
OP_RETH_TAGS = {"op-reth/v2.10.0": sha("reth-2.10.0"), "op-reth/v2.9.3": sha("reth-2.9.3"),
                "op-reth/v2.10.1-rc.1": sha("reth-rc")}


@pytest.fixture
def client_stack(tmp_path, monkeypatch):
    """A stack wired like compose.yml: base-execution extends docker/<client>.yml, and
    each client's pins live in its own file (the test fixtures' files, with test pins)."""
    from tasks import _components
    from tests.helpers import default_pins, fixture_files

    stack = tmp_path / "stack"
    for relative, text in fixture_files("stack", "base:1", default_pins()).items():
        (stack / relative).parent.mkdir(parents=True, exist_ok=True)
        (stack / relative).write_text(text)
    monkeypatch.setenv("COMPOSE_FILE", str(stack / "compose.yml"))
    for name in (*default_pins(), _components.CLIENT_SETTING):
        monkeypatch.delenv(name, raising=False)
    return stack


def test_op_reth_is_tags_resolve_pin_and_outdated_of_its_own(github_api, client_stack):
    """op-reth's releases are the monorepo's `op-reth/vX.Y.Z` tags (op-reth/v2.10.0 is
    the Lagoon release, per its release page); `source.pin --component op-reth` rewrites
    OP_RETH_VERSION where it lives, docker/op-reth.yml, and nothing else; `outdated`
    reads the pin with op-reth selected, though .env runs Nethermind. On 83371fe no
    component had these tags, and pins were looked for in compose.yml only."""
    github_api.add_repo(OPTIMISM, {**OP_TAGS, **OP_RETH_TAGS},
                        annotated=ANNOTATED | {"op-reth/v2.10.0"}, gomod=GOMODS)
    github_api.add_repo(NETHERMIND, NM_TAGS, prefixes=("",))
    tags = inv("source.tags", "--component", "op-reth", "--pre", "--json")
    assert tags.returncode == 0, tags.stderr
    assert [t["tag"] for t in json.loads(tags.stdout)] == [
        "op-reth/v2.10.1-rc.1", "op-reth/v2.10.0", "op-reth/v2.9.3"]
    resolved = inv("source.resolve", "--component", "op-reth", "--version", "v2.9", "--json")
    assert json.loads(resolved.stdout) == {"component": "op-reth", "tag": "op-reth/v2.9.3",
                                           "version": "v2.9.3", "commit": sha("reth-2.9.3"),
                                           "go_version": None}

    files = {p: p.read_bytes() for p in client_stack.rglob("*.yml")}
    client_file = client_stack / "docker" / "op-reth.yml"
    (client_stack / ".env").write_text("EXECUTION_CLIENT=nethermind\n")
    pinned = inv("source.pin", "--component", "op-reth", "--version", "v2.10.0")
    assert pinned.returncode == 0, pinned.stderr
    assert "OP_RETH_VERSION: v1.0.0 -> v2.10.0" in pinned.stdout
    assert f"pinned op-reth v2.10.0 in {client_file}" in pinned.stdout
    for path, before in files.items():
        changed = changed_lines(before, path.read_bytes())
        if path == client_file:
            assert len(changed) == 3  # the build arg, the image tag and the init's image
            assert all(b"OP_RETH_VERSION:-v2.10.0" in b for _, b in changed)
        else:
            assert changed == [], path
    assert "note:" not in pinned.stdout  # compose resolves the new pin with op-reth selected

    one = inv("source.outdated", "--component", "op-reth", "--json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == [{"component": "op-reth", "pinned": "v2.10.0",
                                       "newest": "v2.10.0", "outdated": False, "note": None}]
    in_use = inv("source.outdated", "--json")
    assert [r["component"] for r in json.loads(in_use.stdout)] == ["op-node", "execution"]


def test_pin_names_the_files_it_searched_when_no_file_holds_the_pin(github_api, client_stack):
    (client_stack / "docker" / "op-reth.yml").unlink()
    line = assert_one_line_error(inv("source.pin", "--component", "op-reth"))
    assert "no ${OP_RETH_VERSION:-...} default to pin in " in line
    assert str(client_stack / "compose.yml") in line and "nethermind.yml" in line
    assert github_api.requests == []  # before any request
