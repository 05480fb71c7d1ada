"""Fork readiness (`inv source.forks`, doctor's forks check, the build warning) against a
stand-in GitHub API serving registry files, op-node tags of each era and Nethermind chain
specs (tests/forks_upstream.py says which upstream structure each fixture reproduces).

"Today's case", which most tests here start from: NETWORK=op-sepolia, op-node v1.19.5
and Nethermind 1.39.3 pinned. op-node/v1.19.5's superchain-registry gitlink
(ethereum-optimism/optimism, from op-node/v1.19.1) names a registry revision whose
superchain/configs/sepolia/op.toml [hardforks] (superchain-registry 8336d2aedd19) stops
at karst_time; the registry's main adds lagoon_time (Lagoon in 10 days, the clock being
fixed at forks_upstream.NOW). Nethermind 1.39.3's src/Nethermind/Chains/op-sepolia.json.zst
(laid out as Nethermind's scripts/superchain.py writes it) stops at Karst too. So both
pins lack Lagoon; op-node v1.21.0 and the fixture's Nethermind 2.2.1 carry it.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tasks import _components, _embedded, _readiness, _registry, doctor, forks, source
from tasks._errors import KitError
from tests import forks_upstream as up
from tests.helpers import ROOT, inv, inv_process
from tests.helpers import assert_one_line_error as one_line_error

PINS_TODAY = {"OP_NODE_VERSION": "v1.19.5", "OP_NODE_COMMIT": up.OP_NODE_TAGS["op-node/v1.19.5"],
              "NETHERMIND_VERSION": "1.39.3"}


@pytest.fixture
def upstream(github_api, monkeypatch):
    up.serve_all(github_api)
    monkeypatch.setenv("OPKIT_NOW", up.NOW_ISO)
    for name in ("NETWORK", *forks.pin_names(), "GO_VERSION"):
        monkeypatch.delenv(name, raising=False)
    return github_api


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """A copy of the project's compose.yml pinned like today's case: op-node v1.19.5."""
    path = tmp_path / "stack" / "compose.yml"
    path.parent.mkdir()
    shutil.copy2(ROOT / "compose.yml", path)
    source.write_pins(path, PINS_TODAY)
    monkeypatch.setenv("COMPOSE_FILE", str(path))
    return path


@pytest.fixture
def network_project(fixture_project, monkeypatch):
    """Factory: a fixture project (`fixture_project(**pins)`) whose op-node service gets
    NETWORK as compose.yml hands it over (OP_NODE_NETWORK), from a second compose file in
    COMPOSE_FILE: the network a build checks is the one compose resolves."""

    def make(**pins):
        project = fixture_project(**pins)
        extra = project.path / "compose.network.yml"
        service = _components.get("op-node").service
        extra.write_text(f"services:\n  {service}:\n    environment:\n"
                         "      OP_NODE_NETWORK: ${NETWORK:-}\n")
        monkeypatch.setenv("COMPOSE_FILE", f"{project.compose_file}{os.pathsep}{extra}")
        return project

    return make


def row_of(rows: list[dict], fork: str) -> dict:
    return next(row for row in rows if row["fork"] == fork)


# --------------------------------------------------------------------- today's case
def test_v1_19_pin_lacks_lagoon_then_ready_after_pinning(upstream, stack):
    """Today's case end to end: both pins are NOT READY for Lagoon (exit 1, one error
    line naming op-node and "+1 more"); pinning op-node v1.21.0 makes op-node ready and
    names Nethermind 2.2.1 as the carrier; pinning that too makes every row ready."""
    done = inv("source.forks", "--network", "op-sepolia")
    assert done.returncode == 1, done.stdout + done.stderr
    lagoon = next(line for line in done.stdout.splitlines() if line.startswith("lagoon "))
    assert "2026-12-10 16:00:01" in lagoon and "in 10 days" in lagoon
    assert lagoon.split()[-4:] == ["NOT", "READY", "NOT", "READY"]
    karst = next(line for line in done.stdout.splitlines() if line.startswith("karst "))
    assert "active since 2026-06-17" in karst and karst.split()[-2:] == ["ready", "ready"]
    assert "op-node v1.19.5 lacks lagoon" in done.stdout
    assert "inv source.pin --version v1.21.0" in done.stdout
    error = one_line_error(done)
    assert "op-node v1.19.5 lacks lagoon" in error and "2026-12-10 16:00:01 UTC" in error
    assert "(+1 more)" in error  # Nethermind 1.39.3 lacks it too

    assert inv("source.pin", "--version", "v1.21.0").returncode == 0
    after = inv("source.forks", "--network", "op-sepolia", "--json")
    row = row_of(json.loads(after.stdout), "lagoon")
    assert row["op-node"]["status"] == "ready" and row["op-node"]["version"] == "v1.21.0"
    assert row["execution"]["status"] == "not-ready"
    assert row["execution"]["carried_by"] == "2.2.1"
    assert after.returncode == 1 and "Nethermind 1.39.3 lacks lagoon" in after.stderr

    assert inv("source.pin", "--component", "execution", "--version", "2.2.1").returncode == 0
    ready = inv("source.forks", "--network", "op-sepolia")
    assert ready.returncode == 0, ready.stderr
    assert "NOT READY" not in ready.stdout and ready.stderr == ""


def test_within_decides_the_exit_code_not_the_verdict(upstream, stack):
    """Lagoon is 10 days away: --within 5 does not fail, the default 30 does."""
    soon = inv("source.forks", "--network", "op-sepolia", "--within", "5")
    assert soon.returncode == 0, soon.stderr
    assert "NOT READY" in soon.stdout
    assert inv("source.forks", "--network", "op-sepolia").returncode == 1


def test_json_shape(upstream, stack):
    """`--json` on today's case: one object per fork, in activation order, each with the
    activation time and a verdict per component. Nethermind's spec carries deltaTimestamp
    (scripts/superchain.py writes it), so Delta is ready by its time; it never carries
    pectra_blob_schedule (no line for it in superchain.py: a rollup-node setting), which
    is ready for the execution client as consensus-only."""
    done = inv("source.forks", "--network", "op-sepolia", "--json")
    rows = json.loads(done.stdout)
    assert [r["fork"] for r in rows][-2:] == ["karst", "lagoon"]
    for row in rows:
        assert {"fork", "activation", "op-node", "execution"} <= set(row)
        assert isinstance(row["activation"], int)
        for name in ("op-node", "execution"):
            assert row[name]["status"] in ("ready", "not-ready", "unknown")
            assert row[name]["reason"]
    lagoon = row_of(rows, "lagoon")
    assert lagoon["activation"] == up.LAGOON
    assert lagoon["op-node"]["diverges_at"] == up.LAGOON
    assert lagoon["op-node"]["carried_by"] == "v1.21.0"
    delta = row_of(rows, "delta")["execution"]
    assert delta["status"] == "ready" and "carries delta at the same time" in delta["reason"]
    blobs = row_of(rows, "pectra_blob_schedule")["execution"]
    assert blobs["status"] == "ready"  # nothing for the EL to carry
    assert "derivation setting of the rollup node" in blobs["reason"]


def test_network_comes_from_the_env_file_beside_compose(upstream, stack):
    """compose's own precedence: shell environment, then .env beside compose.yml, then the
    `${VAR:-default}`. The network (quoted, with trailing blanks) and then the op-node
    pins come from .env: today's case turns ready for op-node once .env pins v1.21.0."""
    (stack.parent / ".env").write_text("# settings\nNETWORK='op-sepolia'  \n")
    done = inv("source.forks", "--json")
    assert row_of(json.loads(done.stdout), "lagoon")["op-node"]["status"] == "not-ready"
    newer = {"OP_NODE_VERSION": "v1.21.0", "OP_NODE_COMMIT": "2ad3799"}
    env = inv("source.forks", "--json", env=newer)
    assert row_of(json.loads(env.stdout), "lagoon")["op-node"]["status"] == "ready"
    (stack.parent / ".env").write_text("NETWORK=op-sepolia\n" + "".join(
        f"{k}={v}\n" for k, v in newer.items()))
    dotenv = inv("source.forks", "--json")
    assert row_of(json.loads(dotenv.stdout), "lagoon")["op-node"]["status"] == "ready"


def test_a_moved_tag_is_unknown_not_ready(upstream, stack):
    """OP_NODE_COMMIT no longer the tag's commit: the build refuses it, so: unknown."""
    source.write_pins(stack, {"OP_NODE_COMMIT": "0123456"})
    rows = json.loads(inv("source.forks", "--network", "op-sepolia", "--json").stdout)
    verdict = row_of(rows, "lagoon")["op-node"]
    assert verdict["status"] == "unknown" and "tag moved: op-node/v1.19.5" in verdict["reason"]


# ----------------------------------------------------------------- networks and input
def test_unknown_network_is_one_line(upstream, stack):
    """chainList.json identifiers <superchain>/<chain> (superchain-registry 8336d2aedd19)
    give the names; op-sepolia-x is none of them."""
    line = one_line_error(inv("source.forks", "--network", "op-sepoliaa"))
    assert "'op-sepoliaa' is not in the superchain registry" in line and "op-sepolia" in line


def test_name_mapping_comes_from_the_registry(upstream):
    """Names from chainList.json identifiers <superchain>/<chain> (superchain-registry
    8336d2aedd19, chainList.json; e.g. mainnet/xterio-eth and sepolia/soneium-minato)."""
    from tasks._github import GitHub

    index = _registry.Registry(GitHub()).networks()
    assert index["xterio-eth-mainnet"].path == "superchain/configs/mainnet/xterio-eth.toml"
    assert index["soneium-minato-sepolia"].superchain == "sepolia"


def test_dropped_network_is_said_plainly(upstream, stack):
    """op-node v1.21.0 dropped lisk-sepolia (doctor.DROPPED_NETWORKS); v1.19.5 still embeds
    it (the registry's superchain/configs/sepolia/lisk.toml). Only the message is checked
    here: that a rollup config reaches op-node is the stack's test, not this one."""
    source.write_pins(stack, {"OP_NODE_VERSION": "v1.21.0"})
    line = one_line_error(inv("source.forks", "--network", "lisk-sepolia"))
    assert "lisk-sepolia" in line and "op-node v1.21.0 and newer" in line
    source.write_pins(stack, {"OP_NODE_VERSION": "v1.19.5"})
    older = inv("source.forks", "--network", "lisk-sepolia", "--within", "0")
    assert "lisk-sepolia" in older.stdout
    assert "Nethermind 1.39.3 ships no config for lisk-sepolia" in older.stdout


@pytest.mark.parametrize("network", ["base-mainnet", "base-sepolia"])
def test_base_is_said_plainly_without_a_request(upstream, stack, network):
    """Base left op-node and Nethermind at Azul; the registry removed mainnet/base and
    sepolia/base (superchain-registry 0d9aefc4). Said before any request."""
    line = one_line_error(inv("source.forks", "--network", network))
    assert "Azul" in line and "2026-04-20" in line and "2026-05-28" in line
    assert upstream.requests == []


@pytest.mark.parametrize("within", ["soon", "-3", "nan"])
def test_malformed_within_is_one_line(upstream, stack, within):
    """Bad input fails before any request (no upstream structure involved)."""
    line = one_line_error(inv("source.forks", "--network", "op-sepolia", "--within", within))
    assert "malformed --within" in line
    assert upstream.requests == []


def test_no_network_anywhere_is_one_line(upstream, stack):
    """No --network, no NETWORK in the environment or .env: one line (no upstream read)."""
    assert "no network" in one_line_error(inv("source.forks"))


# ------------------------------------------------------------- cache, offline, counts
def test_request_counts_cold_warm_offline(upstream):
    """Cold: every read once; warm: only the three revalidations (registry head and the
    two tag listings), all conditional; offline: the same answer from the cache."""
    cold = _readiness.assess("op-sepolia", PINS_TODAY, now=up.NOW)
    assert len(upstream.requests) == 15
    upstream.requests.clear()
    warm = _readiness.assess("op-sepolia", PINS_TODAY, now=up.NOW)
    assert len(upstream.requests) == 3
    assert all("If-None-Match" in r["headers"] for r in upstream.requests)
    assert forks.rows_json(warm) == forks.rows_json(cold)


@pytest.mark.parametrize("outage", ["503", "stopped"])
def test_offline_after_a_warm_run_gives_the_same_answer(upstream, stack, outage):
    """The stand-in answering 503, or gone, after a warm run of today's case: the same
    JSON and exit code from the cache, and one note saying so."""
    first = inv("source.forks", "--network", "op-sepolia", "--json")
    assert first.returncode == 1 and json.loads(first.stdout)
    if outage == "503":
        upstream.fail_with(503)
    else:
        upstream.close()
    again = inv("source.forks", "--network", "op-sepolia", "--json")
    assert again.stdout == first.stdout and again.returncode == 1
    notes = [line for line in again.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "answering from the cache" in notes[0]


def test_offline_with_nothing_cached_is_one_line(upstream, stack):
    """Nothing cached and the stand-in gone: one line naming the cause (the real `inv`)."""
    upstream.close()
    assert "cannot reach the GitHub API" in one_line_error(
        inv_process("source.forks", "--network", "op-sepolia"))


# ---------------------------------------------------------------- op-node eras
@pytest.mark.parametrize("version, registry, how", [
    ("v1.21.0", up.REG_MAIN, "submodule"),
    ("v1.18.2", up.REG_AUG, "op-core/superchain/superchain-registry-commit.txt"),
    ("v1.13.2", up.REG_2025, "op-geth v1.101503.4"),
    ("v1.9.0", up.REG_2024, "registry Go module"),
])
def test_each_op_node_era_finds_its_registry_revision(upstream, version, registry, how):
    """Structures: the superchain-registry gitlink (optimism, op-node/v1.19.1 on);
    op-core/superchain/superchain-registry-commit.txt (optimism, v1.18.x, beside the
    bundle); go.mod `replace github.com/ethereum/go-ethereum => .../op-geth vX` and op-geth's
    root superchain-registry-commit.txt (what optimism's check-prestate reads); go.mod
    `require .../superchain-registry/superchain v0.0.0-<date>-<12 hex>` (optimism go.mod of
    Dec 2023, commit 00a8737058f2)."""
    from tasks._github import GitHub

    github = GitHub()
    available, refs = source.list_releases("op-node", github)
    release = next(r for r in available if r.version == version)
    commit = github.commit_of(up.OPTIMISM, refs[release.tag])
    sha, found = _embedded.op_node_registry_commit(github, up.OPTIMISM, release, commit,
                                                   up.REGISTRY)
    assert sha == registry and how in found


def test_old_op_node_inherits_times_and_lacks_later_forks(upstream):
    """v1.9.0's registry revision uses the inline layout (superchain-registry 8a45400fa7a7):
    granite comes from superchain.toml through superchain_time; holocene and later are
    missing and already active, so the divergence is in the past."""
    report = _readiness.assess("op-sepolia", {"OP_NODE_VERSION": "v1.9.0"},
                               now=up.NOW, components=("op-node",))
    status = {row["fork"]: row["op-node"].status for row in report.rows}
    assert status["granite"] == "ready" and status["fjord"] == "ready"
    assert status["holocene"] == "not-ready"
    assert report.blocking(0)[0][0]["fork"] == "holocene"


def test_a_component_without_a_reader_is_not_assessed(upstream, monkeypatch):
    """A component of the table whose fork schedule readiness cannot read (no entry in
    _readiness.READERS) is built and audited, but left out of the report."""
    sidecar = _components.Component(name="sidecar", service="base-sidecar",
                                     upstream="example-org/sidecar", version_var="SIDECAR_VERSION",
                                     budget="1MB", probe=_components.Probe(("sidecar",)))
    monkeypatch.setitem(_components.COMPONENTS, sidecar.name, sidecar)
    assert _readiness.readable() == ("op-node", "execution")
    report = _readiness.assess("op-sepolia", {**PINS_TODAY, "SIDECAR_VERSION": "1.0.0"},
                               now=up.NOW, components=("op-node", "sidecar"))
    assert list(report.views) == ["op-node"]
    assert not any(r["path"].startswith("/repos/example-org/") for r in upstream.requests)


def test_a_pin_that_is_no_release_is_unknown(upstream):
    """v1.0.0 is no tag in the stand-in's op-node/v listing (matching-refs, as
    ethereum-optimism/optimism serves it): unknown, never a guess."""
    report = _readiness.assess("op-sepolia", {**PINS_TODAY, "OP_NODE_VERSION": "v1.0.0"},
                               now=up.NOW, components=("op-node",))
    verdicts = {row["op-node"].status for row in report.rows}
    assert verdicts == {"unknown"}
    assert "not an upstream release" in report.rows[0]["op-node"].reason
    assert report.blocking(30) == []


def test_an_unreadable_chain_spec_is_unknown_not_ready(upstream):
    """A .json.zst that does not decompress with the release's dictionary: unknown, why."""
    chains = "src/Nethermind/Chains"
    upstream.serve_file(up.NETHERMIND, f"{chains}/op-sepolia.json.zst", up.NM_TAGS["1.38.0"],
                        b"\x28\xb5\x2f\xfd not really zstd")
    report = _readiness.assess("op-sepolia", {**PINS_TODAY, "NETHERMIND_VERSION": "1.38.0"},
                               now=up.NOW, components=("execution",))
    verdict = report.rows[0]["execution"]
    assert verdict.status == "unknown" and "cannot decompress" in verdict.reason
    assert report.blocking(30) == []


# ------------------------------------------------------------------ the GitHub client
def test_an_absent_path_at_a_commit_is_asked_once(upstream):
    """op-node/v1.9.0 has no superchain-registry gitlink (go.mod era, optimism go.mod of
    Dec 2023, 00a8737058f2): the contents endpoint's 404 is cached as an answer."""
    from tasks._github import GitHub

    commit = up.OP_NODE_TAGS["op-node/v1.9.0"]
    assert GitHub().submodule_at(up.OPTIMISM, "superchain-registry", commit) is None
    assert len(upstream.requests) == 1
    upstream.fail_with(503)
    assert GitHub().file_at(up.OPTIMISM, "superchain-registry", commit, missing_ok=True) is None
    assert len(upstream.requests) == 1  # a 404 at a commit is cached like any answer


def test_files_over_a_megabyte_come_from_the_blob_endpoint(upstream):
    """Contents endpoint: over 1 MB, "content" is empty and /git/blobs/{sha} has it."""
    from tasks._github import GitHub

    data = os.urandom(64)
    upstream.serve_file(up.NETHERMIND, "big.json.zst", up.NM_TAGS["2.2.1"], data, large=True)
    assert GitHub().file_bytes_at(up.NETHERMIND, "big.json.zst", up.NM_TAGS["2.2.1"]) == data
    assert [r["path"].split("/")[-2] for r in upstream.requests] == ["contents", "blobs"]
    assert GitHub().file_bytes_at(up.NETHERMIND, "big.json.zst", up.NM_TAGS["2.2.1"]) == data
    assert len(upstream.requests) == 2


# ------------------------------------------------------------------- pure parts
def test_inline_layout_inherits_by_the_registry_rules():
    """The rules of superchain-registry docs/hardfork-activation-inheritance.md: only with
    superchain_time, only times at or after it, 0 when not after genesis l2_time."""
    chain = {"superchain_time": 100, "canyon_time": 5, "block_time": 2,
             "genesis": {"l2_time": 150}}
    shared = {"canyon_time": 1, "delta_time": 50, "ecotone_time": 120, "fjord_time": 200}
    assert _registry.chain_schedule(chain, shared) == {"canyon": 5, "ecotone": 0, "fjord": 200}
    assert _registry.chain_schedule({"canyon_time": 5}, shared) == {"canyon": 5}
    hardforks = {"superchain_time": 0, "hardforks": {"karst_time": 9,
                                                     "keep_karst_upgrade_gas": True}}
    assert _registry.chain_schedule(hardforks, shared) == {"karst": 9}  # 2.0: no inheritance


def test_interop_time_is_lagoon():
    """superchain-registry ac4e48516794 renamed interop_time to lagoon_time."""
    assert _registry.fork_times({"interop_time": 7}) == {"lagoon": 7}
    assert _registry.fork_times({"lagoon_time": 8, "interop_time": 7}) == {"lagoon": 8}


def test_chainspec_times_reads_engine_and_params():
    """The reader's rules on a hand-made spec: engine times win over params' op*
    transitions, integers and hex both count, other transitions (eip*) are no forks,
    interop is lagoon."""
    spec = {"engine": {"Optimism": {"params": {"canyonTimestamp": "0x10",
                                               "graniteTimestamp": 20,
                                               "interopTimestamp": "0x30"}}},
            "params": {"opGraniteTransitionTimestamp": "0x99", "opHoloceneTransitionTimestamp":
                       "0x40", "eip4895TransitionTimestamp": "0x10"}}
    assert _embedded.chainspec_times(spec) == {"canyon": 16, "granite": 20, "holocene": 64,
                                               "lagoon": 48}


def test_nethermind_reader_reads_the_generators_layout(upstream):
    """The reader against the layout of a real Nethermind chain spec:
    NethermindEth/nethermind scripts/superchain.py @898d9a27, the generator of
    src/Nethermind/Chains/<chain>-<l1>.json.zst (forks_upstream.chainspec reproduces what
    it writes, in our words), compressed as it compresses (copy_stream with the
    dictionary: the frame header states no size), read through the stand-in GitHub API
    at the fixture's Nethermind 1.39.3 tag with that tag's dictionary. Expected: one time
    per fork the spec carries, from engine.Optimism.params (Regolith at genesis, Delta
    included), and nothing from the keys that are no fork (bedrockBlockNumber,
    canyonBaseFeeChangeDenominator, the eip*/rip* transitions, OptimismCL)."""
    import zstandard

    from tasks._github import GitHub

    shipped = up.compress(up.chainspec(up.SEPOLIA_TIMES), up.zstd_dictionary())
    assert zstandard.get_frame_parameters(shipped).content_size == \
        zstandard.CONTENTSIZE_UNKNOWN
    times, path = _embedded.nethermind_times(GitHub(), up.NETHERMIND, "1.39.3",
                                             up.NM_TAGS["1.39.3"], "op-sepolia")
    assert path == "src/Nethermind/Chains/op-sepolia.json.zst"
    assert times == {"regolith": 0, "canyon": 1699981200, "delta": 1703203200,
                     "ecotone": 1708534800, "fjord": 1716998400, "granite": 1723478400,
                     "holocene": 1732633200, "isthmus": 1744905600, "jovian": 1763568001,
                     "karst": 1781712001}


def test_registry_pin_from_gomod():
    """go.mod shapes: `require github.com/ethereum-optimism/superchain-registry/superchain
    v0.0.0-<date>-<12 hex>` (optimism 00a8737058f2, go.mod) and `replace
    github.com/ethereum/go-ethereum => github.com/ethereum-optimism/op-geth vX` (what
    optimism's op-chain-ops check-prestate reads to find op-geth)."""
    assert _embedded.registry_pin_from_gomod(up.GOMOD_REGISTRY_MODULE) == \
        ("registry", up.REG_2024[:12])
    assert _embedded.registry_pin_from_gomod(up.GOMOD_OP_GETH) == ("op-geth", "v1.101503.4")
    assert _embedded.registry_pin_from_gomod(up.GOMOD) is None


@pytest.mark.parametrize("when, text", [
    (up.NOW + 10 * 86400 + 1, "in 10 days"), (up.NOW + 5 * 3600, "in 5 hours"),
    (up.NOW + 90, "in 1 minute"), (up.NOW - 1, "active since 2026-11-30"),
    (0, "active since genesis"), (None, "not scheduled"),
])
def test_relative_times(when, text):
    """The clock is fixed (OPKIT_NOW / now=); no upstream structure."""
    assert _readiness.relative(when, up.NOW) == text


def test_opkit_now_accepts_seconds_and_iso(monkeypatch):
    """The injectable clock; no upstream structure."""
    monkeypatch.setenv("OPKIT_NOW", str(up.NOW))
    assert forks.now() == up.NOW
    monkeypatch.setenv("OPKIT_NOW", up.NOW_ISO)
    assert forks.now() == up.NOW
    monkeypatch.setenv("OPKIT_NOW", "yesterday")
    with pytest.raises(KitError):
        forks.now()


# ----------------------------------------------------------------------- doctor
def _doctor_probe(network: str, op_node: str = "v1.19.5",
                  nethermind: str = "1.39.3") -> doctor.EngineProbe:
    """What doctor's probe would read from a compose config with these settings."""
    node, execution = _components.get("op-node"), _components.get("execution")
    return doctor.EngineProbe(config={"services": {
        node.service: {"environment": {"OP_NODE_NETWORK": network},
                       "build": {"args": {node.version_var: op_node}}},
        execution.service: {"build": {"args": {execution.version_var: nethermind}}}}})


def test_doctor_forks_check_fails_with_the_pin_to_fix_it(upstream):
    """doctor's forks check on today's case: fail (Lagoon is within 30 days), the detail
    names the op-node pin and when, and the fix is the pin command, said once."""
    assert doctor.check_forks in doctor.CHECKS
    check = doctor.check_forks(_doctor_probe("op-sepolia"), None)
    assert check.status == "fail"
    assert "op-node v1.19.5 lacks lagoon" in check.detail and "in 10 days" in check.detail
    assert check.fix.startswith("inv source.pin --version v1.21.0")
    assert "inv source.pin" not in check.detail  # said once, in the fix


def test_doctor_forks_check_ok_and_warn(upstream):
    """op-node/v1.21.0's gitlink names registry main (with lagoon_time); the fixture's
    Nethermind 2.2.1 spec carries Lagoon as interopTimestamp (an assumed key: see
    forks_upstream). Base: warn without a request; no network at build time: skip."""
    ok = doctor.check_forks(_doctor_probe("op-sepolia", "v1.21.0", "2.2.1"), None)
    assert ok.status == "ok" and "next: lagoon in 10 days" in ok.detail
    base = doctor.check_forks(_doctor_probe("base-mainnet"), None)
    assert base.status == "warn" and "Azul" in base.detail
    unset = doctor.check_forks(_doctor_probe(""), None)  # compose.yml: ${NETWORK:-}
    assert unset.status == "skip"


def test_doctor_forks_check_offline_with_nothing_cached_skips(upstream):
    """GitHub unreachable and nothing cached: doctor skips the check, it does not fail."""
    upstream.close()
    check = doctor.check_forks(_doctor_probe("op-sepolia"), None)
    assert check.status == "skip" and "cannot reach the GitHub API" in check.detail


def test_doctor_forks_check_asks_the_mirror_source_config_names(upstream):
    """`source.op_node_repo` (a mirror) counts for doctor as for `inv source.forks`: the
    requests go to the mirror, which the stand-in does not serve (404), so the check
    says so instead of reading upstream's answer."""
    from invoke import Config, Context

    config = Config(overrides={"source": {"op_node_repo": "someorg/optimism-mirror"}})
    check = doctor.check_forks(_doctor_probe("op-sepolia"), Context(config=config))
    asked = {r["path"].split("/")[2:4] == ["someorg", "optimism-mirror"]
             for r in upstream.requests if r["path"].startswith("/repos/someorg/")}
    assert asked == {True}, [r["path"] for r in upstream.requests]
    assert not any(r["path"].startswith("/repos/ethereum-optimism/optimism/")
                   for r in upstream.requests)
    # the mirror answered, with a 404: a setting to fix (warn), not an outage (skip)
    assert check.status == "warn", check
    assert "someorg/optimism-mirror" in check.detail and "(404)" in check.detail


# ---------------------------------------------------------------- build warning
def test_build_warning_is_one_line_and_free_without_network(upstream, stack):
    """No NETWORK: no request at all. With it, today's op-node pin gives one line naming
    the fork, its time and v1.21.0 as the carrier; with v1.21.0 as the pin, none."""
    assert forks.build_warning(("op-node", "execution")) is None
    assert upstream.requests == []
    os.environ["NETWORK"] = "op-sepolia"
    try:
        line = forks.build_warning(("op-node",))
        resolved = forks.build_warning(("op-node",), {  # what a resolved build hands compose
            "OP_NODE_VERSION": "v1.21.0", "OP_NODE_COMMIT": up.OP_NODE_TAGS["op-node/v1.21.0"]})
    finally:
        del os.environ["NETWORK"]
    assert line.startswith("warning: op-node v1.19.5 lacks lagoon, which op-sepolia "
                           "activates at 2026-12-10 16:00:01 UTC (in 10 days)")
    assert "v1.21.0 carries it" in line and "\n" not in line
    assert resolved is None


def test_inv_build_without_network_sends_no_request(network_project, upstream):
    """`inv build` of the pinned versions with NETWORK unset: the stand-in API sees nothing."""
    network_project()
    done = inv("build", "--progress", "quiet")
    assert done.returncode == 0, done.stderr
    assert upstream.requests == []
    assert "warning:" not in done.stderr


def test_build_op_node_version_prints_one_warning_line(network_project, upstream):
    """`inv build.op-node --version v1.19.5` with NETWORK=op-sepolia: one warning line."""
    network_project()
    done = inv("build.op-node", "--version", "v1.19.5", "--progress", "quiet",
               env={"NETWORK": "op-sepolia"})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "op-node v1.19.5 lacks lagoon" in warnings[0] and "v1.21.0" in warnings[0]


def test_inv_build_with_network_prints_one_warning_line(network_project, upstream):
    """`inv build` of pins that both lack Lagoon (op-node v1.19.5's registry gitlink,
    Nethermind 1.39.3's src/Nethermind/Chains/op-sepolia.json.zst): one line for both."""
    network_project(**PINS_TODAY)
    done = inv("build", "--progress", "quiet", env={"NETWORK": "op-sepolia"})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, done.stderr
    assert "lacks lagoon" in warnings[0] and "(+1 more: inv source.forks)" in warnings[0]


# ------------------------------------------------ settings: what compose resolves
def test_a_quoted_network_with_a_comment_in_env(upstream, stack):
    """`NETWORK="op-sepolia"  # testnet` is op-sepolia to compose (docs.docker.com/compose/
    env-file/: a comment follows the closing quote), so to `inv source.forks` too.
    Fixtures as in today's case (op-node v1.19.5 lacks lagoon)."""
    (stack.parent / ".env").write_text('NETWORK="op-sepolia"  # testnet\n')
    done = inv("source.forks", "--json")
    assert done.returncode == 1, done.stderr
    assert row_of(json.loads(done.stdout), "lagoon")["op-node"]["status"] == "not-ready"
    assert "op-node v1.19.5 lacks lagoon" in done.stderr


def test_the_build_warning_reads_a_quoted_network_with_a_comment(upstream, stack):
    """The build's fork warning sees the network compose sees (it was silently off)."""
    (stack.parent / ".env").write_text('NETWORK="op-sepolia"  # testnet\n')
    line = forks.build_warning(("op-node",))
    assert line is not None and line.startswith("warning: op-node v1.19.5 lacks lagoon")


def test_a_env_in_the_current_directory_wins_as_compose_says(upstream, stack, tmp_path,
                                                            monkeypatch):
    """With COMPOSE_FILE set, compose 2.40 reads a .env in the current directory over the
    one beside the compose file; so does every reader of the kit (compose is asked)."""
    (stack.parent / ".env").write_text("NETWORK=op-mainnet\n")
    here = tmp_path / "elsewhere"
    here.mkdir()
    (here / ".env").write_text("NETWORK=op-sepolia\n")
    monkeypatch.chdir(here)
    rows = json.loads(inv("source.forks", "--json").stdout)
    assert row_of(rows, "lagoon")["activation"] == up.LAGOON  # op-sepolia's, not mainnet's


def test_a_missing_pin_is_no_pre_release(upstream):
    """No OP_NODE_VERSION at all (compose default removed, nothing set): readiness says
    so, instead of judging the newest pre-release (op-node/v1.22.0-rc.1 here)."""
    report = _readiness.assess("op-sepolia", {"NETHERMIND_VERSION": "1.39.3"},
                               now=up.NOW, components=("op-node",))
    view = report.views["op-node"]
    assert view.version == "?" and "no op-node pin: OP_NODE_VERSION is unset" in view.problem
    assert all(row["op-node"].status == "unknown" for row in report.rows if "op-node" in row)


def test_the_build_warning_says_when_readiness_is_unknown(upstream, stack):
    """A version handed to the build whose commit pin does not match (the build refuses
    it) was judged `unknown` and the build said nothing: now one note line."""
    os.environ["NETWORK"] = "op-sepolia"
    try:
        line = forks.build_warning(("op-node",), {"OP_NODE_VERSION": "v1.21.0"})
    finally:
        del os.environ["NETWORK"]
    assert line.startswith("note: whether op-node v1.21.0 follows op-sepolia's forks is "
                           "unknown: tag moved: op-node/v1.21.0")
    assert "\n" not in line


def test_inv_build_warns_about_an_older_version_set_in_env(network_project, upstream):
    """An operator changes OP_NODE_VERSION in .env (with a comment, as one does) to a
    release that predates Lagoon: `inv build` says so in one line (it said nothing: the
    quotes stayed in the version, which was then 'unknown'). Fixtures as in today's case:
    op-node/v1.19.5's registry gitlink stops at karst."""
    project = network_project()
    commit = up.OP_NODE_TAGS["op-node/v1.19.5"]
    (project.path / ".env").write_text(
        'NETWORK=op-sepolia\nOP_NODE_VERSION="v1.19.5"  # known good\n'
        f"OP_NODE_COMMIT={commit}\n")
    done = inv("build.op-node", "--progress", "quiet")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, done.stderr
    assert "op-node v1.19.5 lacks lagoon" in warnings[0] and "v1.21.0" in warnings[0]
