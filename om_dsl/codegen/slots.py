"""Slots in generated text: where an element's `file:line` and a spec file's
sha256 go. codegen.emit writes a catalog's files as a skeleton with slots, and
`filled` writes them in; the compile cache (om_dsl.build) keeps skeletons and
fills them again after an edit of comments or layout, without loading the
code generator.
"""

from __future__ import annotations


def comment_text(value) -> str:
    """Text for a `#` comment of generated code: printable text as it is, anything
    else (a newline, a carriage return, a NUL, a line separator) as its `repr`, so
    that a version or a file name can never end the comment and start code. A
    slot stays a slot: `fill` writes its text through here later."""
    if type(value) is Slot:
        return value
    text = str(value)
    return text if text.isprintable() else repr(text)


class Slot(str):
    """A place in a skeleton that `fill` writes: NUL, S + an element id (where
    it is defined) or H + an index into the catalog's files (that file's
    sha256), NUL. Generated text holds no other NUL: every string from a spec
    reaches it through repr, JSON or comment_text, which all escape it."""


def slot(kind: str, name: str) -> Slot:
    if "\0" in name:
        raise ValueError(f"not an element id: {name!r}")  # pragma: no cover - ids are made of spec names
    return Slot(f"\0{kind}{name}\0")


def fill(text: str, sources: dict[str, str], digests: list[str]) -> str:
    """A skeleton's text with its slots written: `sources` maps an element id to
    its `file:line`, `digests` are the sha256s of the catalog's files in order."""
    parts = text.split("\0")
    for n in range(1, len(parts), 2):
        place = parts[n]
        parts[n] = comment_text(sources.get(place[1:], "") if place[0] == "S" else digests[int(place[1:])])
    return "".join(parts)


def filled(skeleton_files: dict[str, str], sources: dict[str, str], digests: list[str]) -> dict[str, str]:
    """A skeleton's files with their slots written (plan.json has none)."""
    return {name: text if name == "plan.json" else fill(text, sources, digests) for name, text in skeleton_files.items()}
