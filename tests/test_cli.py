"""The `om` command: exit codes, formats, explain."""

from __future__ import annotations

import json

from click.testing import CliRunner

from om_dsl.cli import main
from om_dsl.diagnostics.codes import CODES


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_check_clean_specs_exits_0(in_repo):
    result = run("check", "specs/")
    assert result.exit_code == 0, result.output
    assert "check ok" in result.output


def test_check_errors_exit_1_and_render_rustc_style(write_spec):
    write_spec('catalog c version "1"\ncommercial A "A" root { has NOPE [1] }\n')
    result = run("check", "spec.om")
    assert result.exit_code == 1
    assert "error[E101]: unknown product `NOPE`" in result.output
    assert " --> spec.om:2:29" in result.output
    assert "^^^^" in result.output


def test_warnings_alone_exit_0_unless_denied(write_spec):
    write_spec('catalog c version "1"\ntable t: int -> int { 1: 2 }\n')
    assert run("check", "spec.om").exit_code == 0
    assert run("check", "--deny-warnings", "spec.om").exit_code == 1


def test_json_format(write_spec):
    write_spec('catalog c version "1"\ncommercial A "A" root { has NOPE [1] }\n')
    result = run("check", "--format", "json", "spec.om")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["summary"] == {"files": 1, "errors": 1, "warnings": 0}
    diag = data["diagnostics"][0]
    assert (diag["code"], diag["file"], diag["line"], diag["column"]) == ("E101", "spec.om", 2, 29)


def test_usage_errors_exit_2(in_repo):
    assert run("check", "no/such/path").exit_code == 2
    assert run("check").exit_code == 2
    assert run("check", "--format", "xml", "specs").exit_code == 2
    assert run("explain", "E999").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_explain_every_code():
    for code in CODES:
        result = run("explain", code)
        assert result.exit_code == 0
        assert result.output.startswith(f"{code}: {CODES[code]}"), code
    listing = run("explain")
    assert listing.exit_code == 0 and "E501" in listing.output
