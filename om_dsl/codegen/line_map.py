"""The line map of a generated module: `LINE_MAP`, (first line, last line,
element id) for each region marked `# @om ELEMENT`, which the loader reads to
name the spec element behind a failing line. Made from a module's text, or,
after the compile cache splices functions into a module (om_dsl.recompile),
moved to match them without reading the rest of the module.
"""

from __future__ import annotations

import re

# A marked region starts at `# @om ELEMENT` and ends before the next marker or top-level definition.
# Searched from a line break (a literal first: the regex engine skips to each one), the first line apart.
_REGION_EDGE = re.compile(r"\n(?:[^\S\n]*# @om (\S+)|def |VALIDATE|ENRICH|DECOMPOSE|PLANS|ATTRIBUTES)")


def _regions(text: str) -> list:
    """(first line, last line, element id) for each marked region of TEXT."""
    regions = []
    current = None
    start = 0
    n, at = 1, 0  # line n starts after offset `at`: lines are counted between edges, not split
    edges = _REGION_EDGE.finditer("\n" + text)  # offsets one ahead: m.start() is where the line starts in text
    for m in edges:
        n += text.count("\n", at, m.start())
        at = m.start()
        if m.group(1) is not None:
            if current is not None:
                regions.append((start, n - 1, current))
            current, start = m.group(1), n
        elif current is not None:
            regions.append((start, n - 1, current))
            current = None
    if current is not None:
        regions.append((start, text.count("\n") + 1, current))
    return regions


def with_line_map(text: str) -> str:
    """Append `LINE_MAP`: (first line, last line, element id) for each marked region."""
    body = "".join(f"    ({a}, {b}, {e!r}),\n" for a, b, e in _regions(text))
    return text + f"{_LINE_MAP_HEAD}(\n{body})\n"


_LINE_MAP_HEAD = "\n# Generated lines -> the model elements they come from (see sources.json).\nLINE_MAP = "


def with_new_line_map(module_text: str) -> str | None:
    """A generated module whose functions moved (one spliced in has more or fewer
    marked lines) with its LINE_MAP made again; None without one."""
    at = module_text.rfind(_LINE_MAP_HEAD)
    return with_line_map(module_text[:at]) if at >= 0 else None


_ENTRY = re.compile(r"    \((\d+), (\d+), ('[^'\\\n]*')\),\n")


def spliced_line_map(module_text: str, pieces: list) -> str | None:
    """MODULE_TEXT with functions replaced (pieces: (start, end, new text) from
    function_segment) and its LINE_MAP made to match, without reading the rest of the
    module: the regions before a function stay, its own are those of its new text,
    the last ending where its old last one did (before the next definition), moved by
    the lines it gained; those after it move as much (and are kept as they are when
    no line moved). None when the map is not as expected (then with_new_line_map
    makes it again from the whole text)."""
    at = module_text.rfind(_LINE_MAP_HEAD)
    if at < 0 or not module_text.endswith(")\n") or not module_text.startswith("(\n", at + len(_LINE_MAP_HEAD)):
        return None
    head, body = module_text[:at], module_text[at + len(_LINE_MAP_HEAD) + 2 : -2]
    entries = _ENTRY.finditer(body)
    out: list = []  # text of the map so far
    pending = None  # an entry read and not yet placed
    shift, line, offset, read = 0, 1, 0, 0  # `read`: where in body the entries read so far end

    def next_entry():
        nonlocal read
        m = next(entries, None)
        if m is None or m.start() != read:
            return None
        read = m.end()
        return int(m.group(1)), int(m.group(2)), m.group(3)

    for start, end, new in sorted(pieces):
        line += head.count("\n", offset, start)
        offset = start
        if not new.startswith("\n\n\ndef "):  # not a function (plans.py's DEFINITIONS): no region at it or after it
            while (entry := pending or next_entry()) is not None:
                pending = None
                if entry[0] >= line:
                    return None
                out.append(f"    ({entry[0] + shift}, {entry[1] + shift}, {entry[2]}),\n")
            if read != len(body):
                return None
            continue
        first, last = line + 3, line + head.count("\n", start, end)  # its `def` line, its last line
        mine = []
        while True:
            entry = pending or next_entry()
            pending = None
            if entry is None:
                break
            if entry[0] < first:
                out.append(f"    ({entry[0] + shift}, {entry[1] + shift}, {entry[2]}),\n")
            elif entry[0] <= last:
                mine.append(entry)
            else:
                pending = entry
                break
        regions = _regions(new + "\ndef _(")  # the next definition ends its last region
        if not mine or not regions:
            return None
        delta = new.count("\n") - head.count("\n", start, end)
        made = [(line + a - 1 + shift, line + b - 1 + shift, repr(e)) for a, b, e in regions]
        made[-1] = (made[-1][0], mine[-1][1] + shift + delta, made[-1][2])
        out += [f"    ({a}, {b}, {e}),\n" for a, b, e in made]
        shift += delta
    if pending is not None:
        out.append(f"    ({pending[0] + shift}, {pending[1] + shift}, {pending[2]}),\n")
    if shift == 0:
        out.append(body[read:])
    else:
        while (entry := next_entry()) is not None:
            out.append(f"    ({entry[0] + shift}, {entry[1] + shift}, {entry[2]}),\n")
        if read != len(body):
            return None
    return "".join(_replaced_pieces(head, pieces)) + _LINE_MAP_HEAD + "(\n" + "".join(out) + ")\n"


def _replaced_pieces(text: str, pieces: list) -> list:
    out, at = [], 0
    for start, end, new in sorted(pieces):
        out += [text[at:start], new]
        at = end
    return out + [text[at:]]
