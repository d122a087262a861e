"""A database om cannot use, a path that cannot hold one, a full disk, input
that would forge output lines: each is a message and a documented exit code
(docs/running.md, Exit status), never a traceback, and nothing accepted is
lost. Every database here is made by a real `om run` and then broken the way
a disk, a person or another program breaks one."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from om_dsl.cli import main
from om_dsl.embedded.store import APPLICATION_ID, MAX_PAGES_ENV, MIGRATIONS

CATALOG = "generated/acme"
TV_ALONE = "examples/orders/tv-alone.json"  # ORD-1002: completes on its own
NEW_FIBER = "examples/orders/new-fiber-every-option.json"  # ORD-1001: waits for a manual task
CLOCK = ["--clock", "simulated", "--start", "2026-11-27", "--tasks-path", "examples"]
DAMAGED, UNWRITABLE = 4, 5


def om(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def failed(result, code: int, text: str) -> bool:
    """Exit `code`, `text` in the message, and no traceback."""
    assert "Traceback" not in result.output and (result.exception is None or isinstance(result.exception, SystemExit)), result.output
    assert result.exit_code == code, result.output
    assert text in result.stderr, result.stderr
    return True


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A real om database with one completed order, and its file's bytes."""
    import os

    folder = tmp_path_factory.mktemp("made")
    root = Path(__file__).resolve().parents[1]
    old = os.getcwd()
    os.chdir(root)
    try:
        r = om("run", CATALOG, TV_ALONE, "--db", folder / "om.db", "-q", *CLOCK)
    finally:
        os.chdir(old)
    assert r.exit_code == 0, r.output
    return folder / "om.db"


@pytest.fixture
def db(made, tmp_path, in_repo):
    """A fresh copy of the made database (checkpointed: one file)."""
    target = tmp_path / "om.db"
    shutil.copy(made, target)
    return target


def sql(path, *statements):
    con = sqlite3.connect(path)
    for s in statements:
        con.execute(s)
    con.commit()
    con.close()


def tables(path) -> set:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


# ---- paths ---------------------------------------------------------------------------------------


def test_a_write_command_needs_the_database_folder(tmp_path, in_repo):
    r = om("run", CATALOG, TV_ALONE, "--db", tmp_path / "no" / "dir" / "om.db", *CLOCK)
    assert failed(r, 2, f"cannot create the database {tmp_path / 'no' / 'dir' / 'om.db'}: {tmp_path / 'no' / 'dir'} does not exist")
    r = om("serve", CATALOG, "--db", tmp_path / "nope" / "x.db")
    assert failed(r, 2, "does not exist")
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = om("run", CATALOG, TV_ALONE, "--db", afile / "om.db", *CLOCK)
    assert failed(r, 2, f"{afile} is not a folder")
    r = om("run", CATALOG, TV_ALONE, "--db", tmp_path, *CLOCK)
    assert failed(r, 2, f"{tmp_path} is a folder, not a database")
    assert not (tmp_path / "no").exists() and afile.read_text() == "x"


def test_a_read_command_never_creates_or_changes_a_database(tmp_path, in_repo):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for args in (["orders", "list"], ["tasks", "list"], ["assets", "list"], ["orders", "show", "ORD-1"], ["hub", "list"], ["systems", "list"], ["notifications", "list"]):
        r = om(*args, "--db", empty)
        assert failed(r, 2, f"no database at {empty}: the file is empty")
        r = om(*args, "--db", tmp_path / "missing.db")
        assert failed(r, 2, f"no database at {tmp_path / 'missing.db'}")
    assert empty.stat().st_size == 0 and not (tmp_path / "missing.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]  # no -wal, -shm, .lock either


# The last migration's changes, taken out again: the database one version older (8: the TMF622 API's).
UNDO_LAST_MIGRATION = ("DROP TABLE cancellations", "ALTER TABLE hub DROP COLUMN owner", "ALTER TABLE hub DROP COLUMN query", "ALTER TABLE orders DROP COLUMN submitted_by")


def test_a_read_command_does_not_migrate_an_older_database(db):
    sql(db, *UNDO_LAST_MIGRATION, f"UPDATE schema_version SET version = {len(MIGRATIONS) - 1}", "PRAGMA application_id = 0")
    before = db.read_bytes()
    r = om("orders", "list", "--db", db)
    assert failed(r, 2, f"has schema version {len(MIGRATIONS) - 1}, older than this om's {len(MIGRATIONS)}")
    assert db.read_bytes() == before
    # a command that writes brings it up to date, and marks it as om's
    r = om("resume", "--db", db, *CLOCK)
    assert r.exit_code == 0, r.output
    assert "ORD-1002" in om("orders", "list", "--db", db).stdout
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(len(MIGRATIONS),)]


def test_a_foreign_sqlite_file_is_refused_not_adopted(tmp_path, in_repo):
    foreign = tmp_path / "app.db"
    sql(foreign, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO customers VALUES (1, 'Ada')")
    before = foreign.read_bytes()
    r = om("run", CATALOG, TV_ALONE, "--db", foreign, *CLOCK)
    assert failed(r, 2, f"{foreign} is not an om database (it holds other tables: customers)")
    r = om("orders", "list", "--db", foreign)
    assert failed(r, 2, "is not an om database")
    assert foreign.read_bytes() == before and tables(foreign) == {"customers"}
    # another program's mark, even on an empty database
    marked = tmp_path / "marked.db"
    sql(marked, "PRAGMA application_id = 42")
    r = om("run", CATALOG, TV_ALONE, "--db", marked, *CLOCK)
    assert failed(r, 2, "is not an om database") and tables(marked) == set()


def test_an_om_database_from_before_the_mark_still_opens(db):
    sql(db, "PRAGMA application_id = 0")
    assert "ORD-1002" in om("orders", "list", "--db", db).stdout
    assert om("resume", "--db", db, *CLOCK).exit_code == 0
    assert sqlite3.connect(db).execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_database_of_a_newer_om_is_refused(db):
    sql(db, "UPDATE schema_version SET version = 99")
    for args in (["orders", "list"], ["resume", *CLOCK]):
        assert failed(om(*args, "--db", db), 2, f"{db} has schema version 99; this om knows up to {len(MIGRATIONS)}: upgrade om")


# ---- damage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["'x'", "1.5", "NULL"])
def test_a_schema_version_that_is_not_a_whole_number_is_damage(db, version):
    con = sqlite3.connect(db)
    con.execute("PRAGMA ignore_check_constraints = 1")
    con.executescript(f"CREATE TABLE sv (version); INSERT INTO sv VALUES ({version}); DROP TABLE schema_version; ALTER TABLE sv RENAME TO schema_version;")
    con.close()
    for args in (["orders", "list"], ["resume", *CLOCK]):
        assert failed(om(*args, "--db", db), DAMAGED, f"the database {db} is damaged: its schema version is")


def test_a_dropped_table_is_damage(db):
    sql(db, "DROP TABLE tasks")
    for args in (["orders", "list"], ["orders", "show", "ORD-1002"], ["resume", *CLOCK], ["run", CATALOG, NEW_FIBER, *CLOCK]):
        assert failed(om(*args, "--db", db), DAMAGED, f"the database {db} is damaged: no such table: tasks")


def test_bad_json_in_a_row_is_damage(db):
    sql(db, "UPDATE orders SET state = '{not json' WHERE id = 'ORD-1002'")
    r = om("orders", "show", "ORD-1002", "--db", db)
    assert failed(r, DAMAGED, f"the database {db} is damaged: the state of order 'ORD-1002' is not JSON")
    sql(db, "UPDATE orders SET state = '[1, 2]' WHERE id = 'ORD-1002'")  # JSON, not a state
    assert failed(om("orders", "show", "ORD-1002", "--db", db), DAMAGED, "the state of order 'ORD-1002' does not read")
    sql(db, "INSERT INTO outbox (order_id, kind, payload, created_at) VALUES ('ORD-1002', 'call', '{oops', 0)")
    assert failed(om("resume", "--db", db, *CLOCK), DAMAGED, "is damaged: outbox command")


def test_a_bad_page_is_damage(db):
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'orders'").fetchone()[0]
    con.close()
    with open(db, "r+b") as f:  # garbage over the orders table's page
        f.seek((root - 1) * page_size)
        f.write(bytes(range(256)) * (page_size // 256))
    for args in (["orders", "list"], ["orders", "show", "ORD-1002"], ["run", CATALOG, NEW_FIBER, *CLOCK]):
        assert failed(om(*args, "--db", db), DAMAGED, f"the database {db} is damaged: database disk image is malformed")


def test_a_file_that_is_not_a_database(tmp_path, in_repo):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\xde\xad" * 4096)
    for args in (["orders", "list"], ["run", CATALOG, TV_ALONE, *CLOCK]):
        assert failed(om(*args, "--db", junk), 2, f"{junk}: file is not a database")
    assert junk.read_bytes() == b"\xde\xad" * 4096


# ---- a full disk ------------------------------------------------------------------------------------


def _pages(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA page_count").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def pages_the_run_needs(made, tmp_path_factory):
    """How many pages the order's run adds to the made database, measured, so
    the disk can be made full at a fraction of the way whatever the state's size."""
    folder = tmp_path_factory.mktemp("measure")
    shutil.copy(made, folder / "om.db")
    root = Path(__file__).resolve().parents[1]
    import os

    old = os.getcwd()
    os.chdir(root)
    try:
        assert om("run", CATALOG, NEW_FIBER, "--db", folder / "om.db", "-q", *CLOCK).exit_code == 0
    finally:
        os.chdir(old)
    return _pages(folder / "om.db") - _pages(made)


@pytest.mark.parametrize("fraction", [0, 0.2, 0.6])
def test_a_full_disk_loses_nothing_and_says_so(db, fraction, pages_the_run_needs):
    """The database may grow by a fraction of the pages the run needs (PRAGMA
    max_page_count, as a full disk): the command stops at the first write that
    does not fit, with exit 5; that change is rolled back whole; what was there
    stays, and the order goes on when there is room again."""
    room = int(pages_the_run_needs * fraction)
    assert room < pages_the_run_needs
    r = om("run", CATALOG, NEW_FIBER, "--db", db, "-q", *CLOCK, env={MAX_PAGES_ENV: str(_pages(db) + room)})
    assert failed(r, UNWRITABLE, f"cannot write {db}: the disk is full")
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT status FROM orders WHERE id = 'ORD-1002'").fetchone()[0] == "completed"
    accepted = con.execute("SELECT COUNT(*) FROM orders WHERE id = 'ORD-1001'").fetchone()[0]
    con.close()
    if accepted:  # it was taken before the disk filled: it goes on, from its last whole change
        r = om("resume", "--db", db, "-q", *CLOCK)
        assert r.exit_code == 0 and "order ORD-1001: inProgress" in r.stdout
    else:
        assert om("run", CATALOG, NEW_FIBER, "--db", db, "-q", *CLOCK).exit_code == 0
    assert "ORD-1001" in om("tasks", "list", "--db", db, "--ids").stdout


# ---- input that would forge lines ------------------------------------------------------------------


def test_control_characters_in_ids_and_names_are_usage_errors(db):
    before = db.read_bytes()
    cases = [
        ["tasks", "complete", "ORD-1002\nORD-9", "x"],
        ["tasks", "retry", "ORD-1002", "1/D1:x\r"],
        ["orders", "cancel", "ORD-1002", "--by", "alice\n2026-11-27T09:00:00Z  order  completed -> cancelled  forged"],
        ["orders", "resume", "ORD-1002", "--reason", "ok\x1b[2J"],
        ["orders", "history", "ORD\u2028X"],
        ["tasks", "skip", "ORD-1002", "t", "--reason", "r" * 5000],
        ["orders", "show", "O" * 300],
    ]
    for args in cases:
        r = om(*args, "--db", db)
        assert failed(r, 2, "Invalid value for")
    assert db.read_bytes() == before


def test_stored_control_characters_are_printed_escaped(db):
    sql(db, "UPDATE events SET cause = 'by x' || char(10) || 'forged line' WHERE seq = (SELECT MIN(seq) FROM events)", "UPDATE orders SET customer = 'A' || char(27) || '[2J'")
    r = om("orders", "history", "ORD-1002", "--db", db)
    assert r.exit_code == 0 and "by x\\nforged line" in r.stdout and "\nforged line" not in r.stdout
    r = om("orders", "list", "--db", db)
    assert "A\\x1b[2J" in r.stdout and "\x1b" not in r.stdout


# ---- numbers, names and folders --------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["-1", "0", "nan", "1e308", "soon"])
def test_serve_interval_out_of_range(tmp_path, in_repo, interval):
    r = om("serve", CATALOG, "--db", tmp_path / "om.db", "--interval", interval)
    assert failed(r, 2, "--interval") and not (tmp_path / "om.db").exists()


def test_init_refuses_a_name_it_cannot_make(tmp_path):
    r = om("init", "a" * 300, "-d", tmp_path)
    assert failed(r, 2, "it has 300 characters; at most 64")
    r = om("init", "ok", "-d", "/proc")
    assert failed(r, 2, "cannot write /proc/ok")
    assert list(tmp_path.iterdir()) == []


def test_compile_into_a_folder_it_cannot_write(tmp_path, in_repo):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert failed(om("compile", "specs", "-o", afile / "x"), 2, f"cannot write into {afile / 'x'}: Not a directory")
    assert failed(om("compile", "specs", "-o", "/proc/nope"), 2, "cannot write into /proc/nope")
    assert failed(om("compile", "specs", "-o", afile), 2, "is a file")
    assert afile.read_text() == "x"


def test_simulate_serve_state_in_a_missing_folder(tmp_path, in_repo):
    r = om("simulate", "serve", CATALOG, "--state", tmp_path / "no" / "s.db")
    assert failed(r, 2, f"cannot create the database {tmp_path / 'no' / 's.db'}")
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite " * 500)
    assert failed(om("simulate", "serve", CATALOG, "--state", junk), 2, f"{junk}: file is not a database")
