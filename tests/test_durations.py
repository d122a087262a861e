"""The one reading of duration text, shared by the spec language and om.toml."""

from __future__ import annotations

import pytest

from om_dsl.durations import parse_duration


@pytest.mark.parametrize("text,ms", [("500ms", 500), ("10s", 10_000), ("5m", 300_000), ("1h", 3_600_000), ("2d", 172_800_000), ("1w", 604_800_000), ("0s", 0)])
def test_reads_every_unit(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "s", "10", "10x", "1.5s", "-1s", " 1s", "1s\n", "\u0663s", "10 s"])
def test_rejects_what_is_not_a_duration(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_units_can_be_narrowed():
    assert parse_duration("3ms", ("ms", "s")) == 3
    with pytest.raises(ValueError):
        parse_duration("1w", ("ms", "s", "m", "h", "d"))
