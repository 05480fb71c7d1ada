"""Pure version logic: which tags count, how they order, what a spec picks."""

import pytest

from tasks._errors import KitError
from tasks._versions import go_version, parse_spec, parse_tag, releases, select

OPTIMISM_TAGS = [
    "op-node/v1.16.2", "op-node/v1.16.11", "op-node/v1.16.9", "op-node/v1.19.4",
    "op-node/v1.19.5", "op-node/v1.20.0-rc.1", "op-node/v1.20.0-rc.2",
    "op-node/v1.19.6-synctest.1", "op-node/v1.19.7-hotfix", "op-node/v1.21.0-dev.0",
    "op-node/v1.19", "op-node/1.19.8", "op-batcher/v1.99.0", "op-contracts/v9.0.0",
    "v1.99.0",
]


def test_only_proper_op_node_releases_count():
    found = [r.tag for r in releases("op-node", OPTIMISM_TAGS)]
    assert found == [
        "op-node/v1.20.0-rc.2", "op-node/v1.20.0-rc.1", "op-node/v1.19.5", "op-node/v1.19.4",
        "op-node/v1.16.11", "op-node/v1.16.9", "op-node/v1.16.2",
    ]


def test_versions_order_numerically_not_as_text():
    assert select("op-node", releases("op-node", OPTIMISM_TAGS), "v1.16").version == "v1.16.11"
    newer, older = parse_tag("op-node", "op-node/v1.16.11"), parse_tag("op-node", "op-node/v1.16.2")
    assert newer.key > older.key


def test_release_outranks_its_own_release_candidates():
    available = releases("op-node", ["op-node/v1.20.0-rc.1", "op-node/v1.20.0"])
    assert select("op-node", available, "latest", pre=True).version == "v1.20.0"


@pytest.mark.parametrize("spec, pre, expected", [
    ("latest", False, "v1.19.5"),
    ("latest", True, "v1.20.0-rc.2"),
    ("", False, "v1.19.5"),
    ("v1.19", False, "v1.19.5"),
    ("1.19", False, "v1.19.5"),
    ("v1.16.2", False, "v1.16.2"),
    ("1.16.9", False, "v1.16.9"),
    ("op-node/v1.19.4", False, "v1.19.4"),
    ("v1.20.0-rc.1", False, "v1.20.0-rc.1"),  # an explicit pre-release needs no --pre
    ("v1.20", True, "v1.20.0-rc.2"),
])
def test_spec_selection(spec, pre, expected):
    chosen = select("op-node", releases("op-node", OPTIMISM_TAGS), spec, pre)
    assert chosen.version == expected
    assert chosen.tag == f"op-node/{expected}"


def test_partial_spec_without_pre_skips_release_candidates():
    with pytest.raises(KitError) as info:
        select("op-node", releases("op-node", OPTIMISM_TAGS), "v1.20")
    assert "v1.20" in str(info.value) and "v1.19.5" in str(info.value)


def test_unknown_version_names_it_and_the_nearest():
    with pytest.raises(KitError) as info:
        select("op-node", releases("op-node", OPTIMISM_TAGS), "v1.18.0")
    message = str(info.value)
    assert message.startswith("error: op-node v1.18.0 does not exist")
    assert "v1.19.4, v1.19.5" not in message  # newest first
    assert "v1.19.5, v1.19.4, v1.16.11, v1.16.9" in message
    assert "\n" not in message


@pytest.mark.parametrize("spec", ["1", "v1.x", "1.19.5.1", "v1.20.0-synctest.1", "stable",
                                  "op-batcher/v1.2.3", "1.19.5-rc"])
def test_malformed_spec_says_what_is_accepted(spec):
    with pytest.raises(KitError) as info:
        parse_spec("op-node", spec)
    assert "malformed" in str(info.value) and "latest, vX.Y, vX.Y.Z" in str(info.value)


def test_unknown_component_says_what_is_accepted():
    with pytest.raises(KitError) as info:
        parse_spec("op-geth", "latest")
    assert str(info.value) == ("error: unknown component 'op-geth': use op-node, execution "
                               "or op-reth")


def test_execution_tags_are_bare_nethermind_versions():
    found = releases("execution", ["1.38.1", "1.38.0", "1.9.0", "1.10.0", "v1.39.0",
                                   "1.39.0-beta", "op-node/v1.0.0", "1.39.0-rc.1"])
    assert [r.version for r in found] == ["1.39.0-rc.1", "1.38.1", "1.38.0", "1.10.0", "1.9.0"]
    assert select("execution", found, "v1.38").version == "1.38.1"  # a leading v is fine
    assert select("execution", found, "latest").tag == "1.38.1"


@pytest.mark.parametrize("gomod, expected", [
    ("module github.com/ethereum-optimism/optimism\n\ngo 1.22\n", "1.22"),
    ("module m\n\ngo 1.24.0\n\ntoolchain go1.24.3\n", "1.24"),
    ("module m\n\ngo 1.23.0\n\ntoolchain go1.24.3\n", "1.24"),  # toolchain pins newer
    ("module m\n\ngo 1.26.1 // comment\ntoolchain go1.25.0\n", "1.26"),  # go directive newer
    ("module m\ngo 1.26rc1\n", "1.26rc1"),
    ("module m\n\nrequire (\n\tgolang.org/x/go 1.2.3\n)\n", None),
])
def test_go_version_from_go_mod(gomod, expected):
    assert go_version(gomod) == expected
