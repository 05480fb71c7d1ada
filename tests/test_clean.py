"""clean.cache and clean.images: the planning rules (pure), then a build cache made on
purpose on the real engine, pruned for real only where wiping is allowed."""

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from invoke import Context, MockContext, Result

from tasks import _clean, _compose, _engine, clean
from tasks._units import format_bytes
from tests.helpers import TEST_LABEL, inv, inv_process

BLOB = 4_000_000

# A RUN step whose 4 MB land in a BuildKit cache mount: build cache that no image shares.
CACHED_OP_NODE = """\
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG OP_NODE_VERSION
RUN --mount=type=cache,target=/blob,id={name}-blob \\
    head -c BLOB_BYTES /dev/urandom > /blob/data-{name} && echo "$OP_NODE_VERSION" > /version
RUN mkdir -p /usr/local/bin && printf '#!/bin/sh\\necho "op-node %s"\\n' \\
      "$OP_NODE_VERSION" > /usr/local/bin/op-node && chmod 755 /usr/local/bin/op-node
""".replace("BLOB_BYTES", str(BLOB))


# ------------------------------------------------------------------------ pure
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _rec(id, size, parent=None, hours_ago=1, uses=1, **kw):
    last = (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")
    return {"ID": id, "Parent": parent, "Size": size, "LastUsedAt": last, "UsageCount": uses,
            "Type": kw.pop("type", "regular"), "InUse": kw.pop("in_use", False),
            "Shared": kw.pop("shared", False), **kw}


RECORDS = [
    _rec("base", 100, hours_ago=200),
    _rec("child", 50, parent="base", hours_ago=100),
    _rec("cachemount", 1000, type="exec.cachemount", hours_ago=10),
    _rec("shared", 400, shared=True, hours_ago=300),
    _rec("busy", 7, in_use=True, hours_ago=300),
    _rec("front", 3, type="frontend", hours_ago=300),
    _rec("on-busy", 9, hours_ago=300),
    _rec("busy-kid", 1, parent="on-busy", in_use=True),
]


def _ids(records):
    return sorted(r["ID"] for r in records)


def test_plan_prune_default_spares_in_use_shared_frontend_and_parents_of_kept():
    assert _ids(_clean.plan_prune(RECORDS, now=NOW)) == ["base", "cachemount", "child"]


def test_plan_prune_all_takes_shared_and_frontend_but_never_in_use():
    assert _ids(_clean.plan_prune(RECORDS, all=True, now=NOW)) == [
        "base", "cachemount", "child", "front", "shared"]


def test_plan_prune_older_than_keeps_recently_used():
    # child was used 100h ago: with 150h, the child stays, and so does its parent
    assert _ids(_clean.plan_prune(RECORDS, unused_for=150 * 3600, now=NOW)) == []
    assert _ids(_clean.plan_prune(RECORDS, unused_for=72 * 3600, now=NOW)) == ["base", "child"]


def test_plan_prune_keep_storage_goes_least_recently_used_first():
    total = _clean.cache_size([r for r in RECORDS if not r["Shared"]])  # 1170
    doomed = _clean.plan_prune(RECORDS, keep_storage=1100, now=NOW)
    assert [r["ID"] for r in doomed] == ["child", "base"]  # base waits for its child
    assert total - _clean.cache_size(doomed) < 1100
    assert _clean.plan_prune(RECORDS, keep_storage=10**9, now=NOW) == []


@pytest.mark.parametrize("key", ["Parents", " Parents"])
def test_plan_prune_reads_the_parents_list_of_api_1_42_and_later(key):
    """API 1.42+ gives `Parents` (a list) instead of `Parent`; Docker 28.5.2 (Debian's
    28.5.2+dfsg4, moby api/types/build) still spells the JSON key " Parents". A record
    whose child is in use is never planned, whichever shape names the child's parents."""
    records = [_rec("root", 10, hours_ago=300), _rec("layer", 20, hours_ago=300),
               {**_rec("busy-top", 1, in_use=True), key: ["root", "layer"]},
               {**_rec("free-top", 2, hours_ago=300), key: ["layer"]}]
    for record in records:
        record.pop("Parent")
    assert _ids(_clean.plan_prune(records, now=NOW)) == ["free-top"]
    assert _engine.cache_parents(records[2]) == ["root", "layer"]
    assert _engine.cache_parents(_rec("old", 1, parent="root")) == ["root"]


def test_cache_records_survive_a_snapshot_that_went_meanwhile():
    """The containerd store failed `GET /system/df` with "NotFound: snapshot ... does not
    exist" when a snapshot went while it counted (Docker 28.5.2, containerd 2.1.9): the
    kit asks again (an engine that keeps failing is still one line)."""
    from tasks._errors import EngineError

    class Engine:  # answers like the engine: fails once, then has the records
        api = object()  # not the SDK's: the plain df() path

        def __init__(self, failures):
            self.failures = failures

        def df(self):
            if self.failures:
                self.failures -= 1
                raise EngineError("reading disk usage: NotFound: snapshot "
                                  "sha256:4f3a does not exist")
            return {"BuildCache": [_rec("only", 1)]}

    assert _ids(_engine.build_cache_records(Engine(failures=1))) == ["only"]
    with pytest.raises(EngineError, match="does not exist"):
        _engine.build_cache_records(Engine(failures=3))


IMAGES = [
    {"Id": "i1", "Created": 100, "RepoTags": ["demo-op-node:v1.0.1"], "Size": 1},
    {"Id": "i2", "Created": 200, "RepoTags": ["demo-op-node:v1.0.2"], "Size": 1},
    {"Id": "i3", "Created": 300, "RepoTags": ["demo-op-node:v1.0.3", "demo-op-node:latest"]},
    {"Id": "i4", "Created": 300, "RepoTags": ["demo-op-node:v1.0.4"]},
    {"Id": "i0", "Created": 50, "RepoTags": ["demo-op-node:v1.0.0"]},
    {"Id": "x", "Created": 10, "RepoTags": ["someone-else:v0.1"]},
]


def test_plan_image_removal_keeps_newest_pinned_and_in_use():
    remove, kept = _clean.plan_image_removal(IMAGES, {"demo-op-node"}, keep=2, in_use={"i1"},
                                            pinned={"demo-op-node:v1.0.0"})
    assert remove == ["demo-op-node:v1.0.2"]
    assert dict(kept) == {"demo-op-node:v1.0.4": "one of the 2 newest",
                          "demo-op-node:v1.0.3": "one of the 2 newest",
                          "demo-op-node:v1.0.1": "used by a container",
                          "demo-op-node:v1.0.0": "pinned in the compose config"}


def test_plan_image_removal_keeps_what_the_release_file_pins_by_digest():
    released = [{**image, "RepoDigests": [f"r.io/demo-op-node@sha256:{image['Id'] * 32}"]}
                for image in IMAGES if image["Id"] in ("i1", "i2")]
    images = released + [image for image in IMAGES if image["Id"] not in ("i1", "i2")]
    remove, kept = _clean.plan_image_removal(
        images, {"demo-op-node"}, keep=2, in_use=set(), pinned=set(),
        released={"sha256:" + "i1" * 32: Path("/srv/node/other/x.yml")})
    assert remove == ["demo-op-node:v1.0.2", "demo-op-node:v1.0.0"]
    assert dict(kept)["demo-op-node:v1.0.1"] == "pinned by digest in x.yml"


def test_bad_values_are_one_line_errors():
    done = inv_process("clean.cache", "--older-than", "3 days")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: --older-than '3 days' is not valid")
    done = inv_process("clean.cache", "--keep-storage", "ten", "--dry-run")
    assert done.returncode == 1 and "'ten'" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- real engine
@pytest.fixture
def cached(engine, fixture_project):
    """A fixture project whose build left BLOB bytes in a cache mount of its own."""
    project = fixture_project(dockerfiles={"op-node": CACHED_OP_NODE})
    _compose.run_compose(Context(), "build", "base-op-node", hide=True)
    return project


def _ours(engine, project):
    return [r for r in _engine.build_cache_records(engine)
            if project.name in (r.get("Description") or "")]


def test_dry_run_reports_and_frees_nothing(engine, cached):
    before = _ours(engine, cached)
    blob = [r for r in before if r["Type"] == "exec.cachemount"]
    assert blob and blob[0]["Size"] >= BLOB
    done = inv("clean.cache", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dry run: would free ") and "Nothing was removed" in done.stdout
    after = _ours(engine, cached)
    assert {(r["ID"], r["Size"]) for r in after} == {(r["ID"], r["Size"]) for r in before}
    planned = _clean.plan_prune(_engine.build_cache_records(engine))
    assert blob[0]["ID"] in {r["ID"] for r in planned}  # unused and unshared: prunable


@pytest.fixture
def bystanders(engine, cached, tmp_path):
    """A named volume holding data, and a running container of the project's image."""
    volume = engine.volumes.create(f"{cached.name}-data", labels={TEST_LABEL: "1"})
    container = engine.containers.run(
        cached.image("base-op-node"), ["sh", "-c", "echo kept > /data/proof; sleep 600"],
        detach=True, labels={TEST_LABEL: "1"}, volumes={volume.name: {"bind": "/data"}},
        name=f"{cached.name}-running")
    for _ in range(50):
        code, _out = container.exec_run(["cat", "/data/proof"])
        if code == 0:
            break
    yield volume, container
    container.remove(force=True)
    volume.remove(force=True)


def test_prune_shrinks_cache_and_spares_volumes_images_containers(wipe_allowed, engine, cached,
                                                                  bystanders):
    volume, container = bystanders
    before = _ours(engine, cached)
    assert before
    done = inv("clean.cache")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("freed ") and "not touched" in done.stdout
    after = _ours(engine, cached)
    assert _clean.cache_size(after) < _clean.cache_size(before)
    assert not [r for r in after if r["Type"] == "exec.cachemount"]

    done = inv("clean.cache", "--all")  # the widest prune still spares them
    assert done.returncode == 0, done.stderr
    container.reload()
    assert container.status == "running"
    assert container.exec_run(["cat", "/data/proof"]).output.decode().strip() == "kept"
    assert engine.volumes.get(volume.name).name == volume.name
    assert engine.images.get(cached.image("base-op-node")).id == container.image.id


def test_older_than_spares_fresh_cache(wipe_allowed, engine, cached, capsys):
    before = _ours(engine, cached)
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    stale = [r for r in _engine.build_cache_records(engine) if not r.get("InUse")
             and (_clean._time(r.get("LastUsedAt")) or hour_ago) <= hour_ago]
    freed = clean.prune_cache(Context(), older_than="1h")
    assert {r["ID"] for r in _ours(engine, cached)} == {r["ID"] for r in before}
    # what was freed can only be what had been unused for an hour: not our fresh cache
    assert freed <= _clean.cache_size(stale)
    assert capsys.readouterr().out.startswith(f"freed {format_bytes(freed)} of build cache "
                                              "(unused, unshared records, unused for 1h)")


def test_clean_images_keeps_newest_and_in_use(wipe_allowed, engine, fixture_project):
    project = fixture_project()
    versions = ["v1.0.1", "v1.0.2", "v1.0.3", "v1.0.4"]
    for version in versions:
        _compose.run_compose(Context(), "build", "base-op-node",
                            env={"OP_NODE_VERSION": version}, hide=True)
    stopped = engine.containers.create(project.image("base-op-node", "v1.0.1"), ["true"],
                                       labels={TEST_LABEL: "1"},
                                       name=f"{project.name}-{uuid.uuid4().hex[:6]}")
    try:
        dry = inv("clean.images", "--keep", "2", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would remove {project.image('base-op-node', 'v1.0.2')}" in dry.stdout
        tags = {t for i in engine.images.list(name=project.repo("base-op-node")) for t in i.tags
                if not t.endswith(":latest")}  # the build's :latest tag is never removed
        assert tags == {project.image("base-op-node", v) for v in versions}

        done = inv("clean.images", "--keep", "2")
        assert done.returncode == 0, done.stderr
        tags = {t for i in engine.images.list(name=project.repo("base-op-node")) for t in i.tags
                if not t.endswith(":latest")}  # the build's :latest tag is never removed
        assert tags == {project.image("base-op-node", v) for v in ("v1.0.1", "v1.0.3", "v1.0.4")}
        assert "used by a container" in done.stdout
    finally:
        stopped.remove(force=True)



class _Refusing:
    """An engine client stand-in whose removal of REFUSED answers 409 "in use"."""

    def __init__(self, images, refused):
        self.removed, self.refused, self._images = [], refused, images
        self.api = self

    def images(self):
        return self._images

    def containers(self, all):
        return []

    def remove_image(self, ref, force, noprune):
        from docker.errors import APIError

        class Response:
            status_code, reason, url = 409, "Conflict", "http+docker://localhost/images"

        if ref == self.refused:
            raise APIError("409", response=Response(), explanation=(
                f'conflict: unable to remove repository reference "{ref}" (must force) - '
                "container 0123abcd is using its referenced image 4567ef01"))
        self.removed.append(ref)


def test_clean_images_returns_only_what_it_removed(monkeypatch, capsys):
    """A tag the engine refuses (a container started using it after the listing) is kept
    and said so, and is not in the list of removed tags."""
    config = {"name": "demo", "services": {"base-op-node": {"build": {"context": "."},
                                                            "image": "demo-op-node:v1.0.4"}}}
    monkeypatch.setenv("COMPOSE_FILE", "/nonexistent/compose.yml")
    c = MockContext(run={"docker compose config --format json":
                         Result(stdout=json.dumps(config))}, repeat=True)
    images = [{"Id": f"i{n}", "Created": n, "RepoTags": [f"demo-op-node:v1.0.{n}"]}
              for n in range(1, 5)]
    client = _Refusing(images, refused="demo-op-node:v1.0.2")
    removed = clean.clean_images(c, keep=1, client=client)
    assert removed == ["demo-op-node:v1.0.3", "demo-op-node:v1.0.1"] == client.removed
    out = capsys.readouterr().out
    assert "keep    demo-op-node:v1.0.2  (in use: removing demo-op-node:v1.0.2: conflict" in out
    assert clean.clean_images(c, keep=1, dry_run=True, client=client) == [
        "demo-op-node:v1.0.3", "demo-op-node:v1.0.2", "demo-op-node:v1.0.1"]


def test_clean_images_keeps_what_a_container_holds_even_unplanned(wipe_allowed, engine,
                                                                   fixture_project, monkeypatch):
    """On the engine: the planner is told no container uses anything, so it plans to remove
    the tag a stopped container uses; the engine refuses, and the tag is not reported as
    removed."""
    project = fixture_project()
    for version in ("v1.0.1", "v1.0.2"):
        _compose.run_compose(Context(), "build", "base-op-node",
                             env={"OP_NODE_VERSION": version}, hide=True)
    old = project.image("base-op-node", "v1.0.1")
    stopped = engine.containers.create(old, ["true"], labels={TEST_LABEL: "1"},
                                       name=f"{project.name}-{uuid.uuid4().hex[:6]}")
    monkeypatch.setattr(_engine, "images_in_use", lambda client: set())
    try:
        assert clean.clean_images(Context(), keep=1) == []
        assert engine.images.get(old).id == stopped.image.id
    finally:
        stopped.remove(force=True)


def test_clean_images_keeps_the_image_the_release_file_pins(wipe_allowed, engine, registry,
                                                           fixture_project, monkeypatch):
    """An old version pushed and pinned by digest in compose.release.yml (beside the
    compose file) survives `clean.images --keep 1`; an old one not pinned goes."""
    project = fixture_project()
    monkeypatch.setenv("IMAGE_REGISTRY", registry.address)
    for version in ("v1.0.1", "v1.0.2", "v1.0.3"):
        _compose.run_compose(Context(), "build", *(["--push"] if version == "v1.0.1" else []),
                             "base-op-node", env={"OP_NODE_VERSION": version}, hide=True)
    old = f"{registry.address}/{project.image('base-op-node', 'v1.0.1')}"
    digest = next(d for d in engine.images.get(old).attrs["RepoDigests"])
    (project.path / "compose.release.yml").write_text(
        f"services:\n  base-op-node:\n    image: {digest}\n")
    done = inv("clean.images", "--keep", "1")
    assert done.returncode == 0, done.stderr
    assert f"keep    {old}  (pinned by digest in compose.release.yml)" in done.stdout
    assert f"removed {registry.address}/{project.image('base-op-node', 'v1.0.2')}" in done.stdout
    assert engine.images.get(old).attrs["RepoDigests"] == [digest]


def test_release_files_of_a_project_are_the_default_the_recorded_and_the_given(tmp_path):
    """clean.images protected only compose.release.yml beside compose.yml: a release file
    written with `inv release --output` elsewhere, or one given on the command line, now
    counts too; a recorded file that is gone pins nothing."""
    from tasks import _release

    compose = tmp_path / "node" / "compose.yml"
    compose.parent.mkdir()
    compose.write_text("services: {}\n")
    pins = {name: f"sha256:{n * 64}" for n, name in zip(
        "abcd", ("default", "out", "given", "gone"), strict=True)}
    (compose.parent / "compose.release.yml").write_text(f"image: r/x@{pins['default']}\n")
    out = tmp_path / "elsewhere" / "x.yml"
    out.parent.mkdir()
    out.write_text(f"image: r/x@{pins['out']}\n")
    given = tmp_path / "given.yml"
    given.write_text(f"image: r/x@{pins['given']}\n")
    gone = tmp_path / "gone.yml"
    gone.write_text(f"image: r/x@{pins['gone']}\n")
    for path in (out, gone, out):
        _release.record_release(compose, path)
    assert _release.recorded_releases(compose) == [out, gone]  # once each
    gone.unlink()
    found = _release.release_pins(compose, [str(given)])
    assert found == {pins["default"]: compose.parent / "compose.release.yml",
                     pins["out"]: out, pins["given"]: given}


def test_clean_images_refuses_a_release_file_that_is_not_there(tmp_path):
    done = inv("clean.images", "--release-file", str(tmp_path / "nope.yml"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: --release-file '{tmp_path / 'nope.yml'}' is no file")


def test_clean_images_keeps_the_pinned_image_of_the_client_not_in_use(engine, fixture_project):
    """With Nethermind in use, op-reth's pinned image stays (switching back needs it) and
    only its older tags may go; on 83371fe the kit knew one execution image, and
    op-reth's repository was not even looked at. A dry run: nothing is removed."""
    project = fixture_project().build().build(client="op-reth")
    pinned = project.image("base-execution", client="op-reth")
    older = [project.image("base-execution", v, client="op-reth") for v in ("v0.8.0", "v0.9.0")]
    for ref in older:
        engine.images.get(pinned).tag(*ref.rsplit(":", 1))
    done = inv("clean.images", "--keep", "0", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"keep    {pinned}  (pinned for EXECUTION_CLIENT=op-reth, not in use)" in done.stdout
    assert f"keep    {project.image('base-execution')}  (pinned in the compose config)" \
        in done.stdout
    for ref in older:
        assert f"would remove {ref}" in done.stdout
    assert all(engine.images.get(ref) for ref in [pinned, *older])
