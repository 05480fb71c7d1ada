"""Sizes and durations as people type them (pure, no engine)."""

import pytest

from tasks._units import BadValue, format_bytes, format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0), ("500", 500), (500, 500), ("500b", 500), ("500B", 500),
        ("50MB", 50_000_000), ("50mb", 50_000_000), ("50Mb", 50_000_000), ("50m", 50_000_000),
        ("50 MB", 50_000_000), ("1kB", 1000), ("1KiB", 1024), ("1kib", 1024), ("1Ki", 1024),
        ("1.5GiB", 1536 * 1024**2), ("1.5gib", 1536 * 1024**2), ("1.5GB", 1_500_000_000),
        ("10g", 10**10), ("2TB", 2 * 10**12), ("1TiB", 1024**4), (".5MB", 500_000),
        (" 60MB ", 60_000_000),
    ],
)
def test_parse_size_accepts_decimal_binary_any_case(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "fifty", "50XB", "50 M B", "-5MB", "1e6", "5MBs",
                                  "1,5GB", -1, True])
def test_parse_size_rejects_with_one_line_naming_the_value(text):
    with pytest.raises(BadValue) as info:
        parse_size(text, what="--keep-storage")
    message = info.value.message
    assert message.startswith("error: --keep-storage ")
    assert repr(text) in message
    assert "1.5GiB" in message  # says what is accepted
    assert "\n" not in message


@pytest.mark.parametrize(
    "text, seconds",
    [("30s", 30), ("30m", 1800), ("72h", 259200), ("7d", 604800), ("2w", 1209600),
     ("1h30m", 5400), ("72H", 259200), ("1.5h", 5400), (" 7d ", 604800)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "72", "h", "7days", "7 d", "-1h", "0h", "1y", "1h 30m"])
def test_parse_duration_rejects_with_one_line(text):
    with pytest.raises(BadValue) as info:
        parse_duration(text, what="--older-than")
    assert info.value.message.startswith("error: --older-than ")
    assert repr(text) in info.value.message
    assert "72h" in info.value.message and "\n" not in info.value.message


@pytest.mark.parametrize(
    "size, text",
    [(None, "-"), (0, "0 B"), (999, "999 B"), (1000, "1.00 kB"), (1_985_472, "1.99 MB"),
     (52_300_000, "52.3 MB"), (612_000_000, "612 MB"), (1_500_000_000, "1.50 GB")],
)
def test_format_bytes(size, text):
    assert format_bytes(size) == text


def test_format_duration():
    assert [format_duration(s) for s in (604800, 259200, 5400, 61)] == ["1w", "3d", "90m", "61s"]


@pytest.mark.parametrize("text", ["55", 55.0, " 7 ", "0"])
def test_a_size_that_needs_a_unit_refuses_bare_numbers(text):
    """Where bytes are never meant (a budget, --keep-storage), `55` is an error."""
    with pytest.raises(BadValue) as info:
        parse_size(text, what="--budget x", unit_required=True)
    assert "has no unit" in info.value.message and "b = bytes" in info.value.message


def test_a_size_with_a_unit_passes_where_one_is_needed():
    assert parse_size("55b", unit_required=True) == 55
    assert parse_size("60MB", unit_required=True) == 60_000_000
    assert parse_size(55, unit_required=True) == 55  # an int from code is bytes
