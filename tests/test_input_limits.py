"""Input from outside within om's limits (om_dsl/limits.py), through the real
`om` command: orders, revisions, operator data and `om diff --orders`.

Each case was a hang or a traceback before (issue 16, item 5). Cases that hung
run `om` in a subprocess with a timeout, so a regression fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from om_dsl import limits
from om_dsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "examples" / "orders"
CATALOG = str(ROOT / "generated" / "acme")
CLOCK = ["--clock", "simulated", "--start", "2026-11-27", "--tasks-path", str(ROOT / "examples")]


def om(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def om_process(*args, timeout=20):
    """`om` in its own process: a hang is a TimeoutExpired, not a stuck test run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", "from om_dsl.cli import entry; entry()", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
    )


def tv_order(value='"basic"', order_id='"ORD-1002"', item_id='"1"', customer='"ACC-57"', product='"TV_PACKAGE"', name='"package"') -> str:
    """tv-alone.json with one piece replaced by raw JSON text."""
    return (
        f'{{"id": {order_id}, "relatedParty": [{{"id": {customer}, "role": "customer"}}], "productOrderItem": '
        f'[{{"id": {item_id}, "action": "add", "productOffering": {{"id": {product}}}, '
        f'"product": {{"productCharacteristic": [{{"name": {name}, "value": {value}}}]}}}}]}}'
    )


def write(tmp_path, text, name="order.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(result) -> list[dict]:
    data = json.loads(result.stdout)
    assert data["status"] == "rejected"
    return data["problems"]


def test_the_helper_order_is_accepted(tmp_path):
    """The orders below differ from an accepted one only in what they break."""
    r = om("plan", CATALOG, write(tmp_path, tv_order()))
    assert r.exit_code == 0, r.output


# ---- numbers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e999999", "-1e-999999", '"1e999999"', "1" + "0" * 5000, '"' + "9" * 5000 + '"'])
def test_an_extreme_number_is_a_rejection_not_a_hang(tmp_path, value):
    """`set_top_boxes` is an int: `int(Decimal("1e999999"))` never ended; 5,000 digits were a traceback."""
    order = write(tmp_path, tv_order(value, name='"set_top_boxes"'))
    r = om_process("plan", CATALOG, order, "--format", "json")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    [problem] = problems_of(r)
    assert problem["rule"] in ("input_limit", "attribute_type")
    assert "limits" in problem["message"]
    if value.startswith('"'):  # a string value is read, then refused when it is converted
        assert problem["rule"] == "attribute_type" and problem["path"] == "/productOrderItem/0/product/productCharacteristic/0/value"
        assert problem["item"] == "1"
    else:  # refused as the JSON is read: where it is, as for malformed JSON
        assert problem["rule"] == "input_limit" and problem["path"].startswith("line 1, column ")


def test_a_long_integer_rejects_the_order_in_om_run(tmp_path):
    order = write(tmp_path, tv_order("1" + "0" * 5000, name='"set_top_boxes"'))
    r = om("run", CATALOG, order, "--db", tmp_path / "om.db", "-q", *CLOCK)
    assert r.exit_code == 1
    assert "a number has 5001 digits; at most 40 are accepted (rule: input_limit)" in r.stderr
    assert om("orders", "list", "--db", tmp_path / "om.db").stdout.strip() in ("", "no orders")


def test_a_long_integer_rejects_the_revision(tmp_path):
    db = tmp_path / "om.db"
    amend = ROOT / "examples" / "orders" / "amend"
    assert om("run", CATALOG, amend / "order.json", "-q", "--db", db, *CLOCK).exit_code == 0
    revision = (amend / "speed-1000.json").read_text().replace(": 1000", ": 1" + "0" * 5000)
    r = om("orders", "amend", "ORD-3000", write(tmp_path, revision), "-q", "--db", db, "--tasks-path", ROOT / "examples")
    assert r.exit_code == 1
    assert "the revision is rejected" in r.stderr and "(rule: input_limit)" in r.stderr
    assert json.loads(om("orders", "show", "ORD-3000", "--db", db, "--format", "json").stdout)["status"] == "inProgress"


@pytest.mark.parametrize(
    "pair, reason",
    [
        ("serial=" + "1" * 5000, "a number has 5000 digits"),
        ("serial=1e999999", "exponent is beyond"),
        ("serial=NaN", "NaN is not a JSON number"),
        ("serial=" + "[" * 100_000, "nests deeper"),
        ('serial="\\ud800"', "lone surrogate"),
        ("serial\nforged=1", "control character"),
    ],
)
def test_task_data_beyond_the_limits_is_a_usage_error(tmp_path, pair, reason):
    db = tmp_path / "om.db"
    assert om("run", CATALOG, ORDERS / "fiber-minimal.json", "-q", "--db", db, *CLOCK).exit_code == 0
    r = om("tasks", "complete", "ORD-1004", "1/D1:install_visit", "--data", pair, "-q", "--db", db, *CLOCK)
    assert r.exit_code == 2
    assert reason in r.stderr
    shown = json.loads(om("orders", "show", "ORD-1004", "--db", db, "--format", "json").stdout)
    assert {t["id"]: t["status"] for t in shown["tasks"]}["1/D1:install_visit"] == "ready"


def test_a_long_integer_in_diff_orders_is_a_rejection(tmp_path):
    folder = tmp_path / "orders"
    folder.mkdir()
    write(folder, tv_order("1" + "0" * 5000, name='"set_top_boxes"'), "big.json")
    write(folder, tv_order(order_id='"ORD-1\\nforged"'), "forged.json")
    r = om("diff", "specs/acme", "specs/acme", "--orders", folder, "--format", "json")
    assert r.exit_code == 0, r.output
    orders = {o["file"]: o for o in json.loads(r.stdout)["orders"]["orders"]}
    assert "a number has 5001 digits" in json.dumps(orders["big.json"])
    assert "bad_id" in json.dumps(orders["forged.json"])
    text = om("diff", "specs/acme", "specs/acme", "--orders", folder).stdout
    assert not any(line.startswith("forged") for line in text.splitlines())


# ---- odd text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_lone_surrogate_is_a_rejection(tmp_path, fmt):
    """`"\\ud800"` broke the printing of the plan (UnicodeEncodeError)."""
    order = write(tmp_path, tv_order(value='"\\ud800"'))
    r = om("plan", CATALOG, order, "--format", fmt)
    assert r.exit_code == 1
    out = r.stdout if fmt == "json" else r.stderr
    assert "lone surrogate" in out and "input_limit" in out
    assert "/productOrderItem/0/product/productCharacteristic/0/value" in out


@pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform == "darwin", reason="POSIX file names of any bytes")
def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path):
    name = os.fsdecode(b"order-\xff.json")
    os.mkfifo(tmp_path / name)
    r = om_process("plan", CATALOG, tmp_path / name)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "order-\\udcff.json: it is a FIFO" in r.stderr


# ---- files that are not orders ------------------------------------------------------------------------


def fifo(tmp_path, name="order.json") -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_plan_and_run_refuse_what_is_not_a_regular_file(tmp_path, kind):
    path = fifo(tmp_path) if kind == "fifo" else Path("/dev/zero")
    what = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    for args in (["plan", CATALOG, path], ["run", CATALOG, path, "--db", tmp_path / "om.db", *CLOCK]):
        r = om_process(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert f"cannot read {path}: it is {what}, not a regular file" in r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_amend_refuses_a_fifo(tmp_path):
    db = tmp_path / "om.db"
    assert om("run", CATALOG, ORDERS / "amend" / "order.json", "-q", "--db", db, *CLOCK).exit_code == 0
    for path in (fifo(tmp_path), Path("/dev/zero")):
        r = om_process("orders", "amend", "ORD-3000", path, "--db", db, "--tasks-path", ROOT / "examples")
        assert r.returncode == 2, r.stderr
        assert "not a regular file" in r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_diff_orders_skips_a_fifo_and_refuses_one_as_a_side(tmp_path):
    folder = tmp_path / "orders"
    folder.mkdir()
    fifo(folder, "a.json")
    (folder / "zero.json").symlink_to("/dev/zero")
    write(folder, (ORDERS / "tv-alone.json").read_text(), "tv.json")
    r = om_process("diff", "specs/acme", "specs/acme", "--orders", folder, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [o["file"] for o in json.loads(r.stdout)["orders"]["orders"]] == ["tv.json"]
    r = om_process("diff", fifo(tmp_path, "plan.json"), "specs")
    assert r.returncode == 2 and "neither a regular file nor a folder" in r.stderr


def test_an_order_larger_than_max_document_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_DOCUMENT", 1000)
    small = write(tmp_path, tv_order(), "small.json")
    big = write(tmp_path, tv_order() + " " * 1000, "big.json")
    assert om("plan", CATALOG, small).exit_code == 0
    r = om("plan", CATALOG, big)
    assert r.exit_code == 2
    assert f"cannot read {big}: it is larger than 1000 bytes, the most accepted" in r.stderr


def test_an_order_that_is_not_utf8_is_a_usage_error(tmp_path):
    order = tmp_path / "latin1.json"
    order.write_bytes(tv_order(value='"caf\u00e9"').encode("latin-1"))
    r = om("plan", CATALOG, order)
    assert r.exit_code == 2 and "is not UTF-8 text" in r.stderr


# ---- ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "piece, path, item",
    [
        ({"order_id": '"ORD-1\\nORD-2 completed"'}, "/id", None),
        ({"item_id": '"1\\norder ORD-1002: completed"'}, "/productOrderItem/0/id", "1\\norder ORD-1002: completed"),
        ({"item_id": json.dumps("x" * 300)}, "/productOrderItem/0/id", "x" * 40 + "..."),
        ({"customer": '"ACC-57\\u2028forged"'}, "/relatedParty/0/id", None),
        ({"customer": '"ACC\\u0085"'}, "/relatedParty/0/id", None),
    ],
)
def test_an_id_that_could_forge_lines_is_rejected(tmp_path, piece, path, item):
    order = write(tmp_path, tv_order(**piece))
    r = om("plan", CATALOG, order, "--format", "json")
    assert r.exit_code == 1
    [problem] = problems_of(r)
    assert problem["rule"] == "bad_id" and problem["path"] == path
    assert problem.get("item") == item
    r = om("plan", CATALOG, order)
    assert r.exit_code == 1
    assert len(r.stderr.splitlines()) == 2  # the head line and the one problem: nothing forged


def test_a_rejected_id_is_never_stored(tmp_path):
    db = tmp_path / "om.db"
    r = om("run", CATALOG, write(tmp_path, tv_order(order_id='"ORD-1\\nforged"')), "-q", "--db", db, *CLOCK)
    assert r.exit_code == 1 and "(rule: bad_id) [at /id]" in r.stderr
    r = om("run", CATALOG, write(tmp_path, tv_order(item_id='"1\\nforged"'), "item.json"), "-q", "--db", db, *CLOCK)
    assert r.exit_code == 1
    listed = om("orders", "list", "--db", db, "--format", "json").stdout
    assert "forged" not in listed.replace("\\nforged", "")
    shown = om("orders", "show", "ORD-1002", "--db", db).stdout
    assert shown and not any(line.startswith("forged") for line in shown.splitlines())


def test_control_characters_in_codes_and_names_stay_on_their_line(tmp_path):
    """Unknown product codes and attribute names are quoted in messages: escaped, on one line."""
    r = om("plan", CATALOG, write(tmp_path, tv_order(product='"TV\\nforged"')))
    assert r.exit_code == 1
    assert "`TV\\nforged` is not a product of this catalog" in r.stderr
    r = om("plan", CATALOG, write(tmp_path, tv_order(name='"pack\\u2028age"'), "name.json"))
    assert "`pack\\u2028age` is not an attribute of TV_PACKAGE" in r.stderr
    assert len(r.stderr.splitlines()) == 2


# ---- the reader itself -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, path",
    [
        ("[" + "9" * 41 + "]", ""),
        ("[-" + "9" * 41 + "]", ""),
        ("[0." + "0" * 40 + "1]", ""),
        ("[1e101]", ""),
        ("[1E-101]", ""),
        ('{"a": [1, {"b": "\\ud800"}]}', "/a/1/b"),
        ('{"a~/b": {"\\udfff": 1}}', "/a~0~1b"),
        ('{"a": ["x", "' + "y" * (limits.MAX_STRING + 1) + '"]}', "/a/1"),
        ('{"a": ' + "[" * 64 + "]" * 64 + "}", "/a" + "/0" * 63),
        ("[NaN]", ""),
    ],
)
def test_load_json_refuses_with_the_path(text, path):
    with pytest.raises(limits.InputLimit) as caught:
        limits.load_json(text, decimals=True)
    assert caught.value.path == path


def test_load_json_takes_what_is_within_the_limits():
    from decimal import Decimal

    big = "9" * 40
    text = f'{{"n": [{big}, -{big}, 0.{"1" * 39}, 1e100, 1.5E-100], "s": "{"y" * limits.MAX_STRING}", "e": "\\ud83d\\ude00 \u00e9", "d": {"[" * 62}{"]" * 62}}}'
    value = limits.load_json(text, decimals=True)
    assert value["n"] == [int(big), -int(big), Decimal("0." + "1" * 39), Decimal("1e100"), Decimal("1.5E-100")]
    assert value["e"] == "\U0001f600 \u00e9" and len(value["s"]) == limits.MAX_STRING


def test_read_file_reads_a_regular_file_as_open_does(tmp_path):
    path = tmp_path / "order.json"
    path.write_bytes(b'{"a":\r\n"\xc3\xa9"}\r')
    assert limits.read_file(path) == '{"a":\n"\u00e9"}\n'
    with pytest.raises(limits.InputLimit, match="larger than 5 bytes"):
        limits.read_file(path, limit=5)
    with pytest.raises(limits.InputLimit, match="a directory"):
        limits.read_file(tmp_path)
