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
pins lack Lagoon; op-node v1.21.0 carries it, no Nethermind release does (2.2.1, the
newest, lacks it in code and data, as upstream), and op-reth v2.10.0 does: so an operator
on Nethermind is told to switch (EXECUTION_CLIENT=op-reth, then `inv build`).

Tests of the execution client in use run against `client_stack`: a compose project wired
as CONTRACTS-17 §2 says (compose.yml extends docker/${EXECUTION_CLIENT:-nethermind}.yml),
written here, with the component table of §4 (`clients`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest

from tasks import (
    _chain_checks,
    _check,
    _components,
    _doctor,
    _embedded,
    _forks,
    _pins,
    _readiness,
    _registry,
    _upstream,
)
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
    for name in ("NETWORK", *_forks.pin_names(), "GO_VERSION"):
        monkeypatch.delenv(name, raising=False)
    return github_api


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """A copy of the project's compose.yml (and the per-client files it extends, when
    there are any) pinned like today's case: op-node v1.19.5; Nethermind at compose's
    default, 1.39.3."""
    path = tmp_path / "stack" / "compose.yml"
    path.parent.mkdir()
    shutil.copy2(ROOT / "compose.yml", path)
    for client in ("nethermind", "op-reth"):
        extended = ROOT / "docker" / f"{client}.yml"
        if extended.exists():
            (path.parent / "docker").mkdir(exist_ok=True)
            shutil.copy2(extended, path.parent / "docker" / extended.name)
    _pins.write_pins(path, {k: v for k, v in PINS_TODAY.items() if k.startswith("OP_NODE")})
    monkeypatch.setenv("COMPOSE_FILE", str(path))
    return path


@dataclasses.dataclass(frozen=True)
class _ClientComponent(_components.Component):
    client: str | None = None


@pytest.fixture
def clients(monkeypatch):
    """The component table as CONTRACTS-17 §4 has it: `execution` with client
    "nethermind" and `op-reth` (monorepo tags op-reth/vX.Y.Z, OP_RETH_VERSION). The kit's
    table carries them once merged; until then this supplies them."""
    table = _components.COMPONENTS
    for name in ("OP_RETH_VERSION", "EXECUTION_CLIENT", "OP_NODE_L2_FOLLOW_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    if "op-reth" in table and getattr(table["execution"], "client", None):
        return table
    execution = table["execution"]
    fields = {f.name: getattr(execution, f.name) for f in dataclasses.fields(execution)}
    monkeypatch.setitem(table, "execution", _ClientComponent(**fields, client="nethermind"))
    monkeypatch.setitem(table, "op-reth", _ClientComponent(
        name="op-reth", title="op-reth", service=execution.service,
        upstream="ethereum-optimism/optimism", tag_namespace="op-reth/", v_prefix=True,
        version_var="OP_RETH_VERSION", budget="1GB", client="op-reth",
        probe=_components.Probe(("/usr/local/bin/op-reth",))))
    return table


@pytest.fixture
def client_stack(tmp_path, monkeypatch, clients):
    """Factory: forks_upstream.write_client_stack's project (CONTRACTS-17 §2 wiring),
    pinned op-node v1.21.0, Nethermind 1.39.3 and op-reth v2.10.0 unless given, in
    COMPOSE_FILE; `env` lines go to its .env."""

    def make(op_node="v1.21.0", nethermind="1.39.3", op_reth="v2.10.0", env=""):
        root = up.write_client_stack(tmp_path / "client-stack", op_node, nethermind, op_reth,
                                     env)
        monkeypatch.setenv("COMPOSE_FILE", str(root / "compose.yml"))
        return root

    return make


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
    line naming op-node and "+1 more"); pinning op-node v1.21.0 makes op-node ready; no
    Nethermind release carries Lagoon (2.2.1, the newest, has neither the property in
    OptimismChainSpecEngineParameters.cs nor the key in its chain spec)."""
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
    assert row["execution"]["status"] == "not-ready" and row["execution"]["carried_by"] is None
    assert row["execution"]["missing"] == "both"
    assert "Nethermind 2.2.1, does not carry it either" in row["execution"]["reason"]
    assert after.returncode == 1 and "Nethermind 1.39.3 lacks lagoon" in after.stderr


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
    _pins.write_pins(stack, {"OP_NODE_COMMIT": "0123456"})
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
    """op-node v1.21.0 dropped lisk-sepolia (docker/lib/chain-policy); v1.19.5 still embeds
    it (the registry's superchain/configs/sepolia/lisk.toml). Only the message is checked
    here: that a rollup config reaches op-node is the stack's test, not this one."""
    _pins.write_pins(stack, {"OP_NODE_VERSION": "v1.21.0"})
    line = one_line_error(inv("source.forks", "--network", "lisk-sepolia"))
    assert "lisk-sepolia" in line and "op-node v1.21.0 and newer" in line
    _pins.write_pins(stack, {"OP_NODE_VERSION": "v1.19.5"})
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
    pair = ("op-node", "execution")
    cold = _readiness.assess("op-sepolia", PINS_TODAY, now=up.NOW, components=pair)
    assert len(upstream.requests) == 19  # 15 + each op-node's and Nethermind's code file
    upstream.requests.clear()
    warm = _readiness.assess("op-sepolia", PINS_TODAY, now=up.NOW, components=pair)
    assert len(upstream.requests) == 3
    assert all("If-None-Match" in r["headers"] for r in upstream.requests)
    assert _forks.rows_json(warm) == _forks.rows_json(cold)


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


def test_offline_with_nothing_cached_nor_known_is_one_line(upstream, stack, tmp_path):
    """Nothing cached, no known-forks file and the stand-in gone: one line naming both
    (the real `inv`)."""
    upstream.close()
    line = one_line_error(inv_process("source.forks", "--network", "op-sepolia", env={
        "OPKIT_FORKS_KNOWN": str(tmp_path / "none.json")}))
    assert "cannot reach the GitHub API" in line and "none.json to answer from" in line


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
    available, refs = _upstream.list_releases("op-node", github)
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
    assert _readiness.readable() == tuple(n for n in ("op-node", "execution", "op-reth")
                                          if n in _components.COMPONENTS)
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
    assert _forks.now() == up.NOW
    monkeypatch.setenv("OPKIT_NOW", up.NOW_ISO)
    assert _forks.now() == up.NOW
    monkeypatch.setenv("OPKIT_NOW", "yesterday")
    with pytest.raises(KitError):
        _forks.now()


# ----------------------------------------------------------------------- doctor
def _doctor_probe(network: str, op_node: str = "v1.19.5", nethermind: str = "1.39.3",
                  client: str | None = None, op_reth: str = "v2.10.0",
                  follow: str = "") -> _check.EngineProbe:
    """What doctor's probe would read from a compose config with these settings (CLIENT:
    EXECUTION_CLIENT as base-execution's environment carries it; its pin only)."""
    node, execution = _components.get("op-node"), _components.get("execution")
    args = {"OP_RETH_VERSION": op_reth} if client == "op-reth" else \
        {execution.version_var: nethermind}
    env = {"EXECUTION_CLIENT": client} if client else {}
    return _check.EngineProbe(config={"services": {
        node.service: {"environment": {"OP_NODE_NETWORK": network,
                                       "OP_NODE_L2_FOLLOW_SOURCE": follow},
                       "build": {"args": {node.version_var: op_node}}},
        execution.service: {"build": {"args": args}, "environment": env}}})


def test_doctor_forks_check_fails_with_the_pin_to_fix_it(upstream):
    """doctor's forks check on today's case: fail (Lagoon is within 30 days), the detail
    names the op-node pin and when, and the fix is the pin command, said once."""
    assert _chain_checks.check_forks in _doctor.CHECKS
    check = _chain_checks.check_forks(_doctor_probe("op-sepolia"), None)[0]
    assert check.status == "fail"
    assert "op-node v1.19.5 lacks lagoon" in check.detail and "in 10 days" in check.detail
    assert check.fix.startswith("inv source.pin --version v1.21.0")
    assert "inv source.pin" not in check.detail  # said once, in the fix


def test_doctor_forks_check_ok_and_warn(upstream, clients):
    """op-node/v1.21.0's gitlink names registry main (with lagoon_time) and its
    op-core/superchain/types.go reads lagoon_time; op-reth v2.10.0 (in use) reads it in
    chain_metadata.rs and builds from the same gitlink. Base: warn without a request; no
    network at build time: skip."""
    ok = _chain_checks.check_forks(_doctor_probe("op-sepolia", "v1.21.0", client="op-reth"), None)
    assert ok[0].status == "ok" and "next: lagoon in 10 days" in ok[0].detail
    assert "op-node v1.21.0, op-reth v2.10.0 carry" in ok[0].detail
    base = _chain_checks.check_forks(_doctor_probe("base-mainnet"), None)
    assert base[0].status == "warn" and "Azul" in base[0].detail
    unset = _chain_checks.check_forks(_doctor_probe(""), None)  # compose: ${NETWORK:-}
    assert unset[0].status == "skip"


def test_doctor_names_the_switch_for_nethermind_on_a_lagoon_chain(upstream, clients,
                                                                   client_stack):
    """Nethermind in use on op-sepolia (no release carries Lagoon: 2.2.1's
    OptimismChainSpecEngineParameters.cs has no property for it): fail, and the fix is
    the switch to op-reth (its pin read from compose with EXECUTION_CLIENT=op-reth)."""
    client_stack()
    check = _chain_checks.check_forks(_doctor_probe("op-sepolia", "v1.21.0", client="nethermind"),
                               None)[0]
    assert check.status == "fail" and "Nethermind 1.39.3 lacks lagoon" in check.detail
    assert "neither its code nor its data" in check.detail
    assert "op-reth v2.10.0" in check.fix and "EXECUTION_CLIENT=op-reth in .env" in check.fix
    assert "`inv build`" in check.fix


def test_doctor_offline_answers_from_the_known_file(upstream, clients, client_stack,
                                                    tmp_path, monkeypatch):
    """GitHub unreachable and nothing cached: doctor no longer skips (it did, and exited
    0, for a Lagoon chain on Nethermind); it fails from the known-forks file and says
    the file's date."""
    client_stack()
    known = tmp_path / "known.json"
    monkeypatch.setenv("OPKIT_FORKS_KNOWN", str(known))
    assert inv("source.forks", "--network", "op-sepolia", "--refresh").returncode == 1
    upstream.close()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    check = _chain_checks.check_forks(_doctor_probe("op-sepolia", "v1.21.0", client="nethermind"),
                               None)[0]
    assert check.status == "fail", check
    assert "Nethermind 1.39.3 lacks lagoon" in check.detail
    assert "known.json, written 2026-11-30: GitHub unreachable" in check.detail
    assert "EXECUTION_CLIENT=op-reth" in check.fix


def test_doctor_forks_check_asks_the_mirror_source_config_names(upstream):
    """`source.op_node_repo` (a mirror) counts for doctor as for `inv source.forks`: the
    requests go to the mirror, which the stand-in does not serve (404), so the check
    says so instead of reading upstream's answer."""
    from invoke import Config, Context

    config = Config(overrides={"source": {"op_node_repo": "someorg/optimism-mirror"}})
    check = _chain_checks.check_forks(_doctor_probe("op-sepolia"), Context(config=config))[0]
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
    assert _forks.build_warning(("op-node", "execution")) is None
    assert upstream.requests == []
    os.environ["NETWORK"] = "op-sepolia"
    try:
        line = _forks.build_warning(("op-node",))
        resolved = _forks.build_warning(("op-node",), {  # what a resolved build hands compose
            "OP_NODE_VERSION": "v1.21.0", "OP_NODE_COMMIT": up.OP_NODE_TAGS["op-node/v1.21.0"]})
    finally:
        del os.environ["NETWORK"]
    assert line.startswith("warning: op-node v1.19.5 lacks lagoon (its data does not "
                           "schedule it), which op-sepolia activates at 2026-12-10 16:00:01 "
                           "UTC (in 10 days)")
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
    line = _forks.build_warning(("op-node",))
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
        line = _forks.build_warning(("op-node",), {"OP_NODE_VERSION": "v1.21.0"})
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


# ------------------------------------------------------- the execution client in use
def test_nethermind_on_a_lagoon_chain_names_the_switch(upstream, client_stack):
    """EXECUTION_CLIENT unset (Nethermind) on op-sepolia, op-node v1.21.0: exit 1, the
    error names the switch (EXECUTION_CLIENT=op-reth in .env, then `inv build`), and one
    line says what op-reth v2.10.0 would give. Structures: Nethermind 1.39.3's
    OptimismChainSpecEngineParameters.cs (@01dd031e shape, KarstTimestamp the newest) and
    its chain spec (scripts/superchain.py @898d9a27 shape); op-reth's root gitlink and
    chain_metadata.rs HardforkConfig (@0b879adf shape, plus lagoon_time at v2.10.0)."""
    client_stack()
    done = inv("source.forks", "--network", "op-sepolia")
    assert done.returncode == 1, done.stdout + done.stderr
    error = one_line_error(done)
    assert "Nethermind 1.39.3 lacks lagoon (neither its code nor its data has it)" in error
    assert "switch to op-reth v2.10.0, which carries it: put EXECUTION_CLIENT=op-reth in " \
           ".env (or Portainer's env editor), then run `inv build`" in error
    instead = [line for line in done.stdout.splitlines() if line.startswith("instead:")]
    assert instead == ["instead: op-reth v2.10.0 (not in use; EXECUTION_CLIENT=op-reth) "
                       "carries every fork op-sepolia schedules"]
    header = next(line for line in done.stdout.splitlines() if line.startswith("fork "))
    assert header.split()[-2:] == ["op-node", "execution"]  # the components in use


def test_op_reth_v2_10_reports_lagoon_ready(upstream, client_stack):
    """EXECUTION_CLIENT=op-reth in .env: op-reth v2.10.0 is judged (ready for Lagoon:
    its gitlink's registry schedules lagoon_time and its chain_metadata.rs reads it), exit
    0; Nethermind, not in use, is only compared. pectra_blob_schedule_time has no field in
    op-reth's struct: a rollup-node setting, ready for an execution client."""
    client_stack(env="EXECUTION_CLIENT=op-reth\n")
    done = inv("source.forks", "--network", "op-sepolia", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    lagoon = row_of(rows, "lagoon")
    assert lagoon["op-reth"]["status"] == "ready" and lagoon["op-reth"]["in_use"] is True
    assert lagoon["execution"]["status"] == "not-ready"
    assert lagoon["execution"]["in_use"] is False
    assert row_of(rows, "pectra_blob_schedule")["op-reth"]["status"] == "ready"
    text = inv("source.forks", "--network", "op-sepolia")
    assert text.returncode == 0
    assert "instead: Nethermind 1.39.3 (not in use; EXECUTION_CLIENT=nethermind) would not " \
           "be ready either: lacks lagoon" in text.stdout


def test_a_wrong_client_is_one_line(upstream, client_stack):
    """EXECUTION_CLIENT=geth reaches base-execution as `nethermind.yml`-less compose would
    refuse; the kit names the accepted values (here compose resolves a file we give)."""
    root = client_stack()
    (root / "docker" / "geth.yml").write_text(up.CLIENT_FILE.format(
        context=".", var="GETH_VERSION", version="1", client="geth"))
    line = one_line_error(inv("source.forks", "--network", "op-sepolia",
                              env={"EXECUTION_CLIENT": "geth"}))
    assert ("EXECUTION_CLIENT='geth' is not an execution client this kit runs: set it to "
            "nethermind or op-reth") in line


def test_op_reth_whose_code_lacks_the_key_is_not_ready(upstream, clients):
    """The trap the issue names: the invented op-reth v2.9.1 builds from a gitlink whose
    registry schedules lagoon_time, but its chain_metadata.rs HardforkConfig stops at
    karst_time (every stored version up to Sep 2026, @0b879adf): NOT READY, the code is
    what lacks it; v2.10.0 (newest stable) carries it."""
    report = _readiness.assess("op-sepolia", {"OP_RETH_VERSION": "v2.9.1"}, now=up.NOW,
                               components=("op-reth",))
    verdict = row_of(report.rows, "lagoon")["op-reth"]
    assert verdict.status == "not-ready" and verdict.missing == "code"
    assert "schedules it at 2026-12-10 16:00:01 UTC, but its code" in verdict.reason
    assert "does not read lagoon_time" in verdict.reason
    assert "chain_metadata.rs at op-reth/v2.9.1" in verdict.reason
    assert verdict.carried_by == "v2.10.0"
    assert report.views["op-reth"].unread["lagoon"] == up.LAGOON


@pytest.mark.parametrize("version, registry, how, missing", [
    ("v2.10.0", up.REG_MAIN, "superchain-registry gitlink", None),
    ("v2.3.3", up.REG_AUG, "superchain-registry gitlink", "both"),
    ("v2.3.1", up.REG_2025, "res/superchain_registry_commit", "both"),
])
def test_each_op_reth_era_finds_its_registry_revision(upstream, clients, version, registry,
                                                      how, missing):
    """op-reth eras: the root gitlink (optimism PR #21474 on; build.rs reads it, E4) and
    the pin file rust/op-reth/crates/chainspec/res/superchain_registry_commit before it
    (@4f3298990a6e). v2.3.3's registry (Aug 2026) and struct both stop at Karst; v2.3.1's
    struct stops at isthmus_time and its pin predates Lagoon."""
    report = _readiness.assess("op-sepolia", {"OP_RETH_VERSION": version}, now=up.NOW,
                               components=("op-reth",))
    view = report.views["op-reth"]
    assert registry[:12] in view.source and how in view.source
    verdict = row_of(report.rows, "lagoon")["op-reth"]
    assert verdict.missing == missing
    assert (verdict.status == "ready") == (missing is None)


@pytest.mark.parametrize("code, data, status, missing", [
    (True, True, "ready", None), (False, True, "not-ready", "code"),
    (True, False, "not-ready", "data"),
])
def test_nethermind_needs_the_property_and_the_key(upstream, clients, code, data, status,
                                                   missing):
    """A Nethermind release of the test's own: a chain spec's interopTimestamp (the name
    gen2spec.jq gives) binds only to an InteropTimestamp property of
    src/Nethermind/Nethermind.Optimism/OptimismChainSpecEngineParameters.cs (bound by
    name, case-insensitively): both must be there."""
    up.serve_nethermind_lagoon(upstream, "2.4.0", code=code, data=data)
    report = _readiness.assess("op-sepolia", {"NETHERMIND_VERSION": "2.4.0"}, now=up.NOW,
                               components=("execution",))
    verdict = row_of(report.rows, "lagoon")["execution"]
    assert (verdict.status, verdict.missing) == (status, missing)
    if missing == "code":
        assert "does not read interoptimestamp" in verdict.reason


def test_op_node_code_must_read_the_registry_key(upstream):
    """op-node maps registry keys through op-core/superchain/types.go HardforkConfig toml
    tags (@03794207: lagoon_time; op-node/rollup applyHardforks copies every field by
    name). A types.go that still says interop_time while the gitlink's registry writes
    lagoon_time (renamed in superchain-registry ac4e48516794) reads nothing: code lacks."""
    keys = [f"{f}_time" for f in (*up.THROUGH_KARST, "interop")]
    upstream.serve_file(up.OPTIMISM, up.OP_NODE_FORK_CODE, up.OP_NODE_TAGS["op-node/v1.21.0"],
                        up.go_hardforks(keys))
    report = _readiness.assess("op-sepolia", {"OP_NODE_VERSION": "v1.21.0"}, now=up.NOW,
                               components=("op-node",))
    verdict = row_of(report.rows, "lagoon")["op-node"]
    assert verdict.status == "not-ready" and verdict.missing == "code"
    assert "does not read lagoon_time" in verdict.reason


def test_code_key_parsers():
    """The three shapes, in our words: Go toml tags in `type HardforkConfig struct`, Rust
    `pub <fork>_time` fields in `struct HardforkConfig` (not the extra-fields struct's
    twins, with serde aliases), C# `public ulong? <Fork>Timestamp { get; set; }`."""
    assert _embedded.go_toml_fork_keys(up.go_hardforks(["karst_time", "lagoon_time"])) == {
        "karst": {"karst_time"}, "lagoon": {"lagoon_time"},
        "pectra_blob_schedule": {"pectra_blob_schedule_time"}}
    rust = up.rust_hardforks(["karst"]).replace(
        "    pub karst_time", '    #[serde(alias = "interop_time")]\n    pub karst_time')
    assert _embedded.rust_fork_keys(rust) == {"regolith": {"regolith_time"},
                                              "karst": {"karst_time"},
                                              "lagoon": {"interop_time"}}
    assert _embedded.cs_fork_keys(up.cs_engine_parameters(["karst", "interop"])) == {
        "regolith": {"regolithtimestamp"}, "karst": {"karsttimestamp"},
        "lagoon": {"interoptimestamp"}}


# --------------------------------------------------------------- the known-forks file
def test_refresh_writes_the_known_file(upstream, client_stack, tmp_path, monkeypatch):
    """`--refresh` on a host that reaches GitHub writes the file (dated by the clock,
    every Lagoon network the stand-in registry has, each pinned release's view and
    verdicts with reasons); offline, `--refresh` is one line and leaves it alone."""
    client_stack()
    known = tmp_path / "known.json"
    monkeypatch.setenv("OPKIT_FORKS_KNOWN", str(known))
    done = inv("source.forks", "--network", "op-sepolia", "--refresh")
    assert done.returncode == 1 and f"wrote {known}" in done.stderr
    data = json.loads(known.read_text())
    assert data["written"] == "2026-11-30" and data["registry"] == up.REG_MAIN
    assert data["networks"]["op-sepolia"]["lagoon"] == up.LAGOON
    assert data["networks"]["unichain-mainnet"]["lagoon"] == up.LAGOON_MAINNET
    assert set(data["networks"]) == {up.network_of(i) for i in up.LAGOON_CHAINS}
    nm = data["releases"]["execution"]["1.39.3"]["op-sepolia"]["verdicts"]["lagoon"]
    assert nm["status"] == "not-ready" and "neither its data" in nm["reason"]
    assert data["releases"]["op-reth"]["v2.10.0"]["ink-sepolia"]["verdicts"]["lagoon"] == \
        "ready"
    assert not list(tmp_path.glob(".forks-known-*"))  # the temporary file is gone
    before = known.read_text()
    upstream.close()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    line = one_line_error(inv("source.forks", "--network", "op-sepolia", "--refresh"))
    assert "cannot refresh known.json" in line and known.read_text() == before


def test_offline_answers_from_the_known_file_with_its_date(upstream, client_stack, tmp_path,
                                                           monkeypatch):
    """A host that cannot reach GitHub (nothing cached) answers from the file: the same
    verdicts, a note with the file's date, exit 1 and the switch for Nethermind."""
    client_stack()
    known = tmp_path / "known.json"
    monkeypatch.setenv("OPKIT_FORKS_KNOWN", str(known))
    online = inv("source.forks", "--network", "op-sepolia", "--refresh", "--json")
    upstream.close()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    offline = inv("source.forks", "--network", "op-sepolia", "--json")
    assert offline.returncode == 1
    notes = [line for line in offline.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "answering from known.json, written 2026-11-30" in notes[0]
    lagoon_on, lagoon_off = (row_of(json.loads(d.stdout), "lagoon") for d in (online, offline))
    for name in ("op-node", "execution", "op-reth"):
        assert lagoon_off[name]["status"] == lagoon_on[name]["status"]
    assert "EXECUTION_CLIENT=op-reth" in offline.stderr


def test_the_shipped_file_answers_a_host_without_github(clients, tmp_path, monkeypatch):
    """GITHUB_API_URL at a closed port, an empty cache, the repository's own
    tasks/forks-known.json and compose's pins (CONTRACTS-17: op-node v1.21.0, Nethermind
    1.39.3, op-reth v2.10.0, stood in by client_stack's defaults): Nethermind on OP
    Sepolia is NOT READY for Lagoon, from the file, with its date and the switch."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("OPKIT_FORKS_KNOWN", raising=False)
    monkeypatch.setenv("OPKIT_NOW", up.NOW_ISO)
    root = up.write_client_stack(tmp_path / "client-stack", "v1.21.0", "1.39.3", "v2.10.0")
    monkeypatch.setenv("COMPOSE_FILE", str(root / "compose.yml"))
    shipped = json.loads((ROOT / "tasks" / "forks-known.json").read_text())
    done = inv("source.forks", "--network", "op-sepolia")
    assert done.returncode == 1, done.stdout + done.stderr
    note, error = done.stderr.strip().splitlines()
    assert note.startswith("note: cannot reach the GitHub API")
    assert note.endswith(f"answering from forks-known.json, written {shipped['written']}")
    assert error.startswith("error: not ready: ")
    assert "Nethermind 1.39.3 lacks lagoon" in error and "EXECUTION_CLIENT=op-reth" in error
    reth = inv("source.forks", "--network", "ink-sepolia", env={"EXECUTION_CLIENT": "op-reth"})
    assert reth.returncode == 0, reth.stdout + reth.stderr


def test_build_warning_offline_comes_from_the_file(upstream, client_stack, tmp_path,
                                                   monkeypatch):
    """`inv build`'s warning line, GitHub unreachable: from the file, naming it."""
    client_stack()
    monkeypatch.setenv("OPKIT_FORKS_KNOWN", str(tmp_path / "known.json"))
    inv("source.forks", "--network", "op-sepolia", "--refresh")
    upstream.close()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("NETWORK", "op-sepolia")
    line = _forks.build_warning(("op-node", "execution"))
    assert line.startswith("warning: Nethermind 1.39.3 lacks lagoon"), line
    assert "EXECUTION_CLIENT=op-reth" in line
    assert line.endswith("(known.json, written 2026-11-30)") and "\n" not in line


# ------------------------------------------------------------------------ interop
def test_interop_chains_say_what_the_node_verifies(upstream, client_stack):
    """OP Sepolia (with Unichain Sepolia, from Lagoon): without OP_NODE_L2_FOLLOW_SOURCE
    the report says the node does not cross-validate interop dependencies (OP's notice,
    marked as predating the December date); with it, that op-node follows the
    supernode. Ink Sepolia is in no dependency set: nothing said."""
    client_stack(env="EXECUTION_CLIENT=op-reth\n")
    plain = inv("source.forks", "--network", "op-sepolia").stdout
    line = next(x for x in plain.splitlines() if x.startswith("interop:"))
    assert "op-sepolia and unichain-sepolia form an interop dependency set" in line
    assert "does not cross-validate interop dependencies" in line
    assert "not use it as a verifier or RPC source" in line and "unconfirmed" in line
    follow = inv("source.forks", "--network", "op-sepolia", env={
        "OP_NODE_L2_FOLLOW_SOURCE": "http://op-supernode:8545/11155420"}).stdout
    assert "follows the op-supernode at http://op-supernode:8545/11155420" in follow
    ink = inv("source.forks", "--network", "ink-sepolia").stdout
    assert "interop:" not in ink


def test_doctor_interop_check(upstream, clients):
    """doctor adds an interop line on OP Sepolia: warn without a follow source, ok with."""
    probe = _doctor_probe("op-sepolia", "v1.21.0", client="op-reth")
    checks = _chain_checks.check_forks(probe, None)
    assert [c.name for c in checks] == ["forks", "interop"]
    assert checks[1].status == "warn" and "OP_NODE_L2_FOLLOW_SOURCE" in checks[1].fix
    followed = _chain_checks.check_forks(_doctor_probe("op-sepolia", "v1.21.0", client="op-reth",
                                                follow="http://sn:8545/11155420"), None)
    assert followed[1].status == "ok" and "http://sn:8545/11155420" in followed[1].detail
