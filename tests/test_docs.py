"""Every `om` example in the docs and in `om explain` texts does what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from om_dsl.check import check_paths, check_texts
from om_dsl.diagnostics.codes import CODES
from om_dsl.diagnostics.render import render_text

ROOT = Path(__file__).resolve().parents[1]
EXPLANATIONS = ROOT / "om_dsl" / "diagnostics" / "explanations"
FENCE = re.compile(r"^```om\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A docs block marked `om-error` shows a mistake: it must fail with the code it names first.
ERROR_FENCE = re.compile(r"^```om-error (?P<code>[EW]\d{3})\n(?P<text>.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(path: Path) -> list[str]:
    return blocks_of(path.read_text(encoding="utf-8"))


def blocks_of(text: str) -> list[str]:
    return FENCE.findall(text)


FILE_NAME = re.compile(r"^# (\S+\.om)\n")
# A ```python block that starts with `# PATH.py` is a file of a catalog's task package, beside the examples.
PY_FILE = re.compile(r"^```python\n# (?P<name>\S+\.py)\n(?P<text>.*?)^```", re.MULTILINE | re.DOTALL)


def python_files(text: str) -> dict[str, str]:
    return {m.group("name"): m.group("text") for m in PY_FILE.finditer(text)}


def _files(examples: list[str]) -> dict[str, str]:
    """One example; blocks that start with `# NAME.om` are the files of one example."""
    named = {}
    for example in examples:
        m = FILE_NAME.match(example)
        if not m:
            break
        named[m.group(1)] = example
    return named or {"example.om": examples[0]}


DOC_EXAMPLES = [(p.relative_to(ROOT).as_posix(), i, text) for p in sorted((ROOT / "docs").rglob("*.md")) for i, text in enumerate(blocks(p))]
DOC_PYTHON = {p.relative_to(ROOT).as_posix(): python_files(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "docs").rglob("*.md"))}


DOC_ERRORS = [(p.relative_to(ROOT).as_posix(), m.group("code"), m.group("text")) for p in sorted((ROOT / "docs").rglob("*.md")) for m in ERROR_FENCE.finditer(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path,code,text", DOC_ERRORS, ids=[f"{p}:{c}" for p, c, _ in DOC_ERRORS])
def test_doc_mistake_reports_its_code(path, code, text):
    result = check_texts({"example.om": text, **DOC_PYTHON[path]})
    assert code in {d.code for d in result.diagnostics}, render_text(result.diagnostics, result.sources)


def test_the_language_reference_has_examples():
    assert sum(1 for path, _, _ in DOC_EXAMPLES if path == "docs/language.md") >= 20


@pytest.mark.parametrize("path,index,text", DOC_EXAMPLES, ids=[f"{p}#{i}" for p, i, _ in DOC_EXAMPLES])
def test_doc_example_checks_clean(path, index, text):
    result = check_texts({f"example{index}.om": text, **DOC_PYTHON[path]})
    assert result.errors == [], render_text(result.diagnostics, result.sources)


@pytest.mark.parametrize("code", sorted(CODES))
def test_explanation_exists_and_its_example_fails_with_its_code(code):
    path = EXPLANATIONS / f"{code}.md"
    assert path.is_file(), f"{code} has no explanation"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"{code}: {CODES[code]}\n")
    examples = blocks(path)
    if code in ("E005", "E006"):  # an unreadable file, a huge expression: shown in words
        return
    assert examples, f"{code}.md has no example"
    result = check_texts(_files(blocks_of(text.split("Fixed", 1)[0])) | python_files(text))
    assert code in {d.code for d in result.diagnostics}, render_text(result.diagnostics, result.sources)
    fixed = text.split("Fixed", 1)
    if len(fixed) == 2 and FENCE.search(fixed[1]):
        result = check_texts(_files(blocks_of(fixed[1])) | python_files(text))
        assert result.errors == [], render_text(result.diagnostics, result.sources)


# TMF622 JSON in docs/tmf622.md: each order is accepted and plans, and validates
# against its version's create schema; each Error validates in both versions;
# each event (one a line) validates in its version (v5's have `@baseType`).
JSON_FENCE = re.compile(r"^```json\n(.*?)^```", re.MULTILINE | re.DOTALL)
TMF622_JSON = JSON_FENCE.findall((ROOT / "docs" / "tmf622.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(TMF622_JSON)))
def test_tmf622_doc_json_is_what_it_says(index):
    import json

    from om_dsl.lower import lower
    from om_dsl.planning.intake import parse_document
    from om_dsl.planning.pipeline import plan_order
    from om_dsl.planning.request import version_of
    from om_dsl.rules.interpreter import Interpreter

    from support.tmf622_schemas import errors_of, event_problems

    text = TMF622_JSON[index]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:  # events, one a line
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert events and all("eventType" in e for e in events)
        for e in events:
            assert event_problems(e, "v5" if e.get("@baseType") else "v4") == [], e
        return
    if "productOrderItem" in doc:
        version = version_of(doc)
        assert errors_of(version, "ProductOrder_Create" if version == "v4" else "ProductOrder_FVO", doc) == []
        catalog = lower(check_paths([str(ROOT / "specs")]).catalog("acme"))
        assert plan_order(catalog, Interpreter(catalog), parse_document(text)).plan.items
    else:
        assert errors_of("v4", "Error", doc) == [] and errors_of("v5", "Error", doc) == []


def test_tmf622_doc_has_its_examples():
    assert len(TMF622_JSON) >= 2


# ---- docs/order-dependencies.md: its session runs, with the output it shows -----------------------


def session(path: Path, db_dir: str) -> list[tuple[list[str], str]]:
    """(om arguments, the output shown) for each `$ om ...` line of a page's text blocks."""
    import shlex

    runs = []
    for block in re.findall(r"^```text\n(.*?)^```", path.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL):
        for part in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = part.partition("\n")
            runs.append((shlex.split(command.replace(db_dir, "{tmp}"))[1:], output))
    return runs


def test_the_order_dependencies_session_shows_real_output(tmp_path, in_repo):
    from click.testing import CliRunner

    from om_dsl.cli import main

    runs = session(ROOT / "docs" / "order-dependencies.md", "/tmp/deps")
    assert len(runs) >= 5
    for args, shown in runs:
        r = CliRunner().invoke(main, [a.replace("{tmp}", str(tmp_path)) for a in args], catch_exceptions=False)
        assert (r.exit_code, r.stdout) == (0, shown), " ".join(args)


# docs/console.md: each `$` line of its console block, against a fresh `om serve`.
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def console_examples() -> list[tuple[str, str]]:
    out = []
    for block in CONSOLE_BLOCK.findall((ROOT / "docs" / "console.md").read_text(encoding="utf-8")):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, printed = chunk.partition("\n")
            out.append((command, printed))
    return out


def test_the_console_page_has_its_examples():
    assert len(console_examples()) >= 4


@pytest.mark.skipif(__import__("shutil").which("curl") is None, reason="the examples use curl")
def test_the_console_examples_print_what_the_page_shows(tmp_path, in_repo):
    import os
    import subprocess

    from support.api_server import TOKENS, Server

    server = Server(tmp_path)
    try:
        env = {**os.environ, "OM": server.url, "TOKEN": TOKENS["operator"], "JAR": str(tmp_path / "cookies.txt")}
        for command, printed in console_examples():
            done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert (done.returncode, done.stdout) == (0, printed), f"$ {command}\n{done.stderr}"
    finally:
        server.close()


# ---- docs/metrics.md: its session runs against a served database, with the output it shows ----------


def test_the_metrics_session_shows_real_output(tmp_path, in_repo):
    import os
    import shutil
    import subprocess
    import sys

    from support.api_server import TOKENS, Server

    if shutil.which("curl") is None:
        pytest.skip("the examples use curl")
    runs = []
    for block in re.findall(r"^```console\n(.*?)^```", (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL):
        for part in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = part.partition("\n")
            runs.append((command, output))
    assert len(runs) >= 4
    server = Server(tmp_path)
    try:
        path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        env = {**os.environ, "OM": server.url, "TOKEN": TOKENS["viewer"], "OM_DB": str(tmp_path / "om.db"), "PYTHONPATH": str(ROOT), "PATH": path}
        env.pop("OM_CONFIG", None)
        for command, shown in runs:
            done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert (done.returncode, done.stdout) == (0, shown), f"$ {command}\n{done.stderr}"
    finally:
        server.close()
