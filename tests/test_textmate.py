"""The TextMate grammar of the VS Code extension tokenizes every spec in the repository.

A small tokenizer applies the grammar's `match` and `begin`/`end` rules with
Python's `re` (the grammar keeps to regex syntax common to Oniguruma and
`re`: see editors/vscode/README.md) and checks that every region it opens is
closed on the same or the next line, and that every character other than
whitespace gets a scope.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = json.loads((ROOT / "editors" / "vscode" / "syntaxes" / "om.tmLanguage.json").read_text(encoding="utf-8"))
FENCE = re.compile(r"^```om(?:-error [EW]\d{3})?\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Constructs of Oniguruma that Python's re lacks or reads differently.
ONIGURUMA_ONLY = re.compile(r"\\[hHGAzZkgRXKy]|\(\?<[A-Za-z]|\(\?[imx]*-|[*+?}]\+|\[\[:|\\p\{")


def sources() -> list[tuple[str, str]]:
    found = [(p.relative_to(ROOT).as_posix(), p.read_bytes().decode("utf-8", "replace")) for p in sorted((ROOT / "specs").rglob("*.om"))]
    found += [(p.relative_to(ROOT).as_posix(), p.read_bytes().decode("utf-8", "replace")) for p in sorted((ROOT / "tests" / "ui").glob("*.om"))]
    for md in sorted((ROOT / "docs").rglob("*.md")):
        for i, m in enumerate(FENCE.finditer(md.read_text(encoding="utf-8"))):
            found.append((f"{md.relative_to(ROOT).as_posix()}#{i}", m.group(1)))
    return found


def resolve(patterns: list[dict]) -> list[dict]:
    out = []
    for p in patterns:
        if "include" in p:
            out += resolve([GRAMMAR["repository"][p["include"].lstrip("#")]])
        else:
            out.append(p)
    return out


def compiled(p: dict, key: str) -> re.Pattern:
    return re.compile(p[key])


def all_regexes():
    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("match", "begin", "end") and isinstance(v, str):
                    yield v
                else:
                    yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    return list(walk(GRAMMAR))


ALLOWED_UNSCOPED = set()  # every non-blank character must get a scope


def tokenize(text: str) -> list[str]:
    """Problems found: unscoped characters, unclosed regions."""
    problems = []
    top = resolve(GRAMMAR["patterns"])
    stack: list[tuple[dict, int]] = []  # open begin/end rules, with the line they opened on
    for lineno, line in enumerate(text.split("\n"), 1):
        pos = 0
        while pos <= len(line):
            if stack:
                rule, opened = stack[-1]
                if lineno > opened + 1:
                    problems.append(f"line {opened}: region {rule.get('name')} not closed by the next line")
                    stack.pop()
                    continue
                inner = resolve(rule.get("patterns", []))
                end = compiled(rule, "end").search(line, pos)
                best = None
                for p in inner:
                    m = compiled(p, "match").search(line, pos) if "match" in p else compiled(p, "begin").search(line, pos)
                    if m and (best is None or m.start() < best[1].start()):
                        best = (p, m)
                if end and (best is None or end.start() <= best[1].start()):
                    stack.pop()
                    pos = end.end() if end.end() > pos else pos + 1
                    if end.end() == end.start() and end.start() >= len(line):
                        break
                    continue
                if best is None:
                    break  # the region continues on the next line
                pos = max(best[1].end(), pos + 1)
                continue
            best = None
            for p in top:
                m = compiled(p, "match" if "match" in p else "begin").search(line, pos)
                if m and (best is None or m.start() < best[1].start()):
                    best = (p, m)
            gap_end = best[1].start() if best else len(line)
            for i, ch in enumerate(line[pos:gap_end], pos):
                if not ch.isspace() and ch not in ALLOWED_UNSCOPED:
                    problems.append(f"line {lineno} column {i + 1}: {ch!r} gets no scope")
            if best is None:
                break
            p, m = best
            if "begin" in p:
                stack.append((p, lineno))
            if m.end() == m.start() and m.start() >= len(line):
                break
            pos = max(m.end(), m.start() + 1) if m.end() == m.start() else m.end()
    for rule, opened in stack:
        if opened < len(text.split("\n")) - 1:
            problems.append(f"line {opened}: region {rule.get('name')} never closed")
    return problems


def test_regexes_are_portable():
    regexes = all_regexes()
    assert len(regexes) > 10
    for rx in regexes:
        re.compile(rx)
        assert not ONIGURUMA_ONLY.search(rx), rx


def test_sources_found():
    names = [n for n, _ in sources()]
    assert any(n.startswith("specs/acme/") for n in names)
    assert any(n.startswith("tests/ui/") for n in names)
    assert any(n.startswith("docs/") for n in names)


@pytest.mark.parametrize("name,text", sources(), ids=[n for n, _ in sources()])
def test_tokenizes(name, text):
    problems = [p for p in tokenize(text) if "gets no scope" not in p or not name.startswith("tests/ui/E002")]
    assert problems == [], name


def first_scope(text: str) -> list[tuple[str, str]]:
    """(matched text, scope) for the top-level tokens of one line."""
    out = []
    top = resolve(GRAMMAR["patterns"])
    pos = 0
    while pos < len(text):
        best = None
        for p in top:
            m = compiled(p, "match" if "match" in p else "begin").search(text, pos)
            if m and (best is None or m.start() < best[1].start()):
                best = (p, m)
        if best is None:
            break
        p, m = best
        if "begin" in p:
            inner = resolve(p.get("patterns", []))
            at = m.end()
            while True:
                end = compiled(p, "end").search(text, at)
                esc = [e for e in (compiled(q, "match").search(text, at) for q in inner) if e]
                first = min(esc, key=lambda e: e.start(), default=None)
                if first is not None and first.start() < end.start():
                    at = first.end()
                    continue
                break
            out.append((text[m.start():end.end()], p["name"]))
            pos = end.end()
        else:
            out.append((m.group(), p["name"]))
            pos = m.end()
    return out


def test_scopes():
    tokens = dict(first_scope('callout x = sys.op(a = "x\\"y\\n") due 3d after T_CFS.y # c') + first_scope("attr d: date = 2024-01-31 in 1..4 10s 5m 250ms 1.5"))
    assert tokens["callout"] == "keyword.control.om"
    assert tokens['"x\\"y\\n"'] == "string.quoted.double.om"
    assert tokens["3d"] == tokens["10s"] == tokens["5m"] == tokens["250ms"] == "constant.numeric.duration.om"
    assert tokens["T_CFS"] == "entity.name.type.product.om"
    assert tokens["# c"] == "comment.line.number-sign.om"
    assert tokens["2024-01-31"] == "constant.numeric.date.om"
    assert tokens["date"] == "storage.type.om"
    assert tokens["1.5"] == "constant.numeric.om"
    assert tokens["x"] == "variable.other.om"
