"""LINE_MAP (codegen/emit.py: with_line_map), found by one regex over the
module's text, is the one a line-by-line reading gives."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from om_dsl.codegen.emit import with_line_map

_MARKER = re.compile(r"^\s*# @om (\S+)")


def line_by_line(text: str) -> str:
    """with_line_map as it was: a match and five startswith per line."""
    regions = []
    current = None
    start = 0
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        m = _MARKER.match(line)
        if m:
            if current is not None:
                regions.append((start, n - 1, current))
            current, start = m.group(1), n
        elif current is not None and line.startswith(("def ", "VALIDATE", "ENRICH", "DECOMPOSE", "PLANS", "ATTRIBUTES")):
            regions.append((start, n - 1, current))
            current = None
    if current is not None:
        regions.append((start, len(lines), current))
    body = "".join(f"    ({a}, {b}, {e!r}),\n" for a, b, e in regions)
    return text + f"\n# Generated lines -> the model elements they come from (see sources.json).\nLINE_MAP = (\n{body})\n"


LINES = st.sampled_from(
    [
        "# @om plan:HOME/add",
        "    # @om task:HOME/add/x",
        "\t# @om v:P/r  trailing",
        "\r# @om r:1",
        "#  @om not-a-marker",
        "# @om",
        "def f(x):",
        " def indented():",
        "    return x",
        "VALIDATE = {",
        "ENRICH = {}",
        "DECOMPOSE = {}",
        "PLANS = (",
        "ATTRIBUTES = {",
        "x = 'def '",
        "",
        "\r",
        "\f",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(LINES, max_size=30), st.booleans())
def test_the_line_map_is_the_line_by_line_one(lines, trailing_newline):
    text = "\n".join(lines) + ("\n" if trailing_newline else "")
    assert with_line_map(text) == line_by_line(text)


def test_a_marker_on_the_first_line_and_regions_ended_by_definitions():
    text = "# @om a\nx = 1\ndef f():\n    pass\n    # @om b\n    y\nVALIDATE = {}\n# @om c\nz\n"
    assert "(1, 2, 'a'),\n    (5, 6, 'b'),\n    (8, 10, 'c'),\n" in with_line_map(text)
    assert with_line_map(text) == line_by_line(text)
