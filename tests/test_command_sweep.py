"""The command sweep: every `om` command and subcommand, enumerated from the
click group (a new command is swept without a line here), is run with bad
paths, unknown ids and bad numbers. Whatever the input: no traceback, a
non-zero exit for input that is bad, and an end in bounded time. A read
command never creates a database.

Commands run in-process (click's CliRunner); a watchdog (SIGALRM) ends one
that would not stop. Those that serve until stopped (serve, simulate serve,
worker, lsp) are run only with input that must make them exit at once.
The Temporal side of each command is swept in one subprocess, against an
address where nothing listens (exit 3, quickly)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click
import click.testing
import pytest
from click.testing import CliRunner

from om_dsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
CATALOG = "generated/acme"
ORDER = "examples/orders/tv-alone.json"
CLOCK_OPTIONS = {"clock": ["--clock", "simulated"], "start": ["--start", "2026-11-27"], "tasks_path": ["--tasks-path", "examples"]}
FOREVER = {("serve",), ("simulate", "serve"), ("worker",), ("lsp",)}  # serve until stopped
ENGINE = {"engine", "address", "namespace", "task_queue"}
WATCHDOG_S = 30


def commands(group=main, path=()):
    """Every leaf command: (its words, the click command)."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, path + (name,))
        else:
            yield path + (name,), command


ALL = list(commands())


KINDS = ["missing", "a folder", "a text file", "an empty file", "a read-only place", "under a file"]


def bad_path(work: Path, kind: str) -> str:
    """A fresh bad path of this kind in `work` (a command may create what is missing: each case has its own)."""
    bad = work / "bad"
    bad.mkdir()
    (bad / "adir").mkdir()
    (bad / "text.txt").write_text("hello, not a database\n")
    (bad / "empty").write_bytes(b"")
    return {
        "missing": bad / "missing.x", "a folder": bad / "adir", "a text file": bad / "text.txt", "an empty file": bad / "empty",
        "a read-only place": Path("/proc/nope/x"), "under a file": bad / "text.txt" / "x",
    }[kind].as_posix()


class Paths:
    def __init__(self, root: Path):
        self.root = root


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        r = CliRunner().invoke(main, ["run", CATALOG, ORDER, "--db", str(root / "made.db"), "-q", *sum(CLOCK_OPTIONS.values(), [])])
        assert r.exit_code == 0, r.output
        shutil.copytree(ROOT / "specs", root / "specs")
        yield Paths(root)
    finally:
        os.chdir(old)


# What each parameter gets when it is not the one being made bad: enough for
# the command to get past its checks (these values are valid, or unknown ids).
def good_values(env: Paths, n: int) -> dict:
    work = env.root / f"w{n}"
    work.mkdir()
    db = work / "om.db"
    shutil.copy(env.root / "made.db", db)
    return {
        "source": [CATALOG], "sources": [CATALOG], "catalog_dir": [CATALOG], "old": ["specs"], "new": ["specs"],
        "paths": [str(env.root / "specs")], "orders": [ORDER], "order": [ORDER], "revision": [ORDER],
        "order_id": ["ORD-1002"], "task_id": ["1/D1:nope"], "correlation_id": ["ORD-1002:nope"], "system": ["billing"],
        "url": ["http://127.0.0.1:9/hook"], "name": ["demo"], "reason": ["why"], "code": [],
        "db_path": [str(db)], "output": [str(work / "out")], "directory": [str(work)], "state_path": [str(work / "sim.db")],
        "listen": ["127.0.0.1:0"], "port": ["0"],
    }


def argv(command: click.Command, values: dict, bad: tuple = ()) -> list:
    """The command line: each argument and option that has a value, `bad` (param, tokens) in place of its own."""
    out = []
    for p in command.params:
        if p.name in ENGINE or p.name == "help":
            continue
        tokens = bad[1] if bad and p.name == bad[0] else values.get(p.name, CLOCK_OPTIONS.get(p.name, [])[1:] if p.name in CLOCK_OPTIONS else None)
        if tokens is None:
            continue
        if isinstance(p, click.Argument):
            out += tokens
        elif tokens:
            out += [p.opts[-1] if p.opts[-1].startswith("--") else p.opts[0], *tokens]
    return out


class Stuck(BaseException):
    pass


def invoke(args: list):
    def alarm(*_):
        raise Stuck()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(WATCHDOG_S)
    try:
        return CliRunner().invoke(main, args)
    except Stuck as exc:  # (CliRunner keeps only an Exception)
        return click.testing.Result(CliRunner(), b"", b"", b"", None, -1, exc)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def problem(result) -> str | None:
    if isinstance(result.exception, Stuck):
        return f"did not end within {WATCHDOG_S} s"
    if "Traceback (most recent call last)" in result.output or (result.exception is not None and not isinstance(result.exception, SystemExit)):
        return f"traceback: {result.exception!r}"
    return None


def path_params(command) -> list:
    names = {"db_path", "systems_db", "state_path", "config_path", "tasks_path", "output", "directory", "orders_dir"}
    return [p.name for p in command.params if p.name in names or (isinstance(p, click.Argument) and isinstance(p.type, click.Path))]


def number_params(command) -> list:
    return [p.name for p in command.params if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType)) or p.name == "start"]


def id_params(command) -> list:
    return [p.name for p in command.params if p.name in ("order_id", "task_id", "correlation_id", "system", "url") and isinstance(p, click.Argument)]


BAD_NUMBERS = ["-1", "nan", "1e400", "99999999999999999999999999", "abc"]

# Bad-looking input a command accepts, and why: these may exit 0.
ACCEPTED = {
    ("systems_db", "missing"): "a command that writes creates the systems database; read commands do not use it",
    ("systems_db", "an empty file"): "an empty file is an empty database: the simulators make their tables in it",
    ("tasks_path", "missing"): "a search path for auto tasks' packages: one that does not exist holds none",
    ("tasks_path", "a read-only place"): "a search path for auto tasks' packages: one that does not exist holds none",
    ("tasks_path", "under a file"): "a search path for auto tasks' packages: one that does not exist holds none",
    ("tasks_path", "a folder"): "a search path for auto tasks' packages: an empty folder holds none",
    ("output", "missing"): "the output folder (compile) or file (graph) is created",
    ("directory", "missing"): "om init creates the folder the project goes into",
    ("directory", "a folder"): "om init writes the project into an existing folder",
    ("output", "a folder"): "om compile writes into an existing folder",
    ("orders_dir", "a folder"): "an empty folder of orders: nothing to plan",
    ("state_path", "missing"): "simulate serve creates its state",
    ("state_path", "an empty file"): "an empty file is an empty database",
    ("config_path", "an empty file"): "an empty configuration: every system is simulated",
    ("output", "a text file"): "om graph -o writes (over) that file",
    ("output", "an empty file"): "om graph -o writes (over) that file",
    ("paths", "a folder"): "om check and om fmt of a folder without .om files: nothing to do (om compile says there is no catalog)",
    ("paths", "an empty file"): "an empty .om file is a valid, empty spec (om fmt leaves it; om check reports no catalog where one is needed)",
}
WRITERS_CREATE = {("run",), ("hub", "register"), ("systems", "offline"), ("systems", "online")}  # make a missing (or empty) database
UNKNOWN_ID_ACCEPTED = {("callbacks", "deliver"): "a callback for no known call is recorded and ignored (it may come before its call is known)", ("hub", "register"): "any http URL can be registered"}


def sweep_cases(env: Paths):
    n = 0
    for words, command in ALL:
        forever = words in FOREVER
        if words == ("lsp",):
            continue  # no paths, ids or numbers: it reads LSP messages from stdin until EOF
        for name in path_params(command):
            for kind in KINDS:
                accepted = (name, kind) in ACCEPTED or (name == "db_path" and words in WRITERS_CREATE and kind in ("missing", "an empty file"))
                if name == "systems_db" and kind not in ("missing", "an empty file") and not any(p.name == "clock" for p in command.params):
                    accepted = True  # read commands take --systems-db and do not use it
                if forever and accepted:
                    continue  # it would serve: good input for it
                n += 1
                yield words, command, (name, kind), f"{name}={kind}", accepted, n
        for name in number_params(command):
            for number in BAD_NUMBERS:
                n += 1
                yield words, command, (name, [number]), f"{name}={number}", False, n
        for name in id_params(command):
            if forever:
                continue
            n += 1
            yield words, command, (name, ["NOPE-404" if name != "url" else "http://127.0.0.1:9/never-registered"]), f"{name} unknown", words in UNKNOWN_ID_ACCEPTED, n


def test_every_command_is_swept():
    swept = {words for words, _ in ALL}
    assert {("run",), ("orders", "show"), ("simulate", "serve"), ("compile",), ("init",)} <= swept and len(swept) >= 30


def test_sweep(env, in_repo):
    failures = []
    count = 0
    for words, command, bad, label, accepted, n in sweep_cases(env):
        values = good_values(env, n)
        if bad[1] in KINDS:
            bad = (bad[0], [bad_path(env.root / f"w{n}", bad[1])])
        args = [*words, *argv(command, values, bad)]
        result = invoke(args)
        count += 1
        trouble = problem(result)
        if trouble is None and result.exit_code == 0 and not accepted:
            trouble = "exit 0 for bad input"
        if trouble is None and bad[0] == "db_path" and not any(p.name == "clock" for p in command.params):
            folder = env.root / f"w{n}" / "bad"
            made = sorted(p.name for p in folder.iterdir() if p.name not in ("adir", "text.txt", "empty"))
            if made or (folder / "empty").stat().st_size:
                trouble = f"a read command wrote {made or 'into the empty file'}"
        if trouble:
            failures.append(f"om {' '.join(args)}\n    {label}: {trouble} (exit {result.exit_code})\n    {result.output.strip()[-400:]}")
    assert count > 200
    assert not failures, f"{len(failures)} of {count}:\n" + "\n".join(failures)


def test_baseline_runs(env, in_repo):
    """Each command that ends by itself, with good (or unknown-id) input: no traceback."""
    failures = []
    for n, (words, command) in enumerate(ALL):
        if words in FOREVER:
            continue
        args = [*words, *argv(command, good_values(env, 10_000 + n))]
        trouble = problem(invoke(args))
        if trouble:
            failures.append(f"om {' '.join(args)}: {trouble}")
    assert not failures, "\n".join(failures)


TEMPORAL_SWEEP = r"""
import json, os, sys
from click.testing import CliRunner
from om_dsl.cli import main
cases = json.loads(sys.argv[1])
out = []
for args in cases:
    r = CliRunner().invoke(main, args)
    out.append([args, r.exit_code, "Traceback" in r.output or (r.exception is not None and not isinstance(r.exception, SystemExit)), r.output[-300:]])
print(json.dumps(out))
sys.stdout.flush()
os._exit(0)  # the Temporal client's threads (om_dsl.cli.entry)
"""


def test_temporal_unreachable(env, in_repo):
    """Every command with --engine, on Temporal where nothing listens: exit 3
    (2 when its own input is refused first), quickly, no traceback."""
    cases = []
    for n, (words, command) in enumerate(ALL):
        if not any(p.name == "engine" for p in command.params):
            continue
        cases.append([*words, *argv(command, good_values(env, 20_000 + n)), "--engine", "temporal", "--address", "127.0.0.1:1"])
    assert len(cases) >= 12
    done = subprocess.run([sys.executable, "-c", TEMPORAL_SWEEP, json.dumps(cases)], capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    results = json.loads(done.stdout)
    bad = [r for r in results if r[2] or r[1] not in (2, 3)]
    assert not bad, json.dumps(bad, indent=1)
    assert sum(r[1] == 3 for r in results) >= len(results) - 3


def test_temporal_that_never_answers(in_repo):
    """A server that accepts the connection and says nothing (a hung frontend,
    a wrong port behind a proxy): the command gives up after
    OM_TEMPORAL_CONNECT_TIMEOUT_S with exit 3; it used to wait for ever."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = "127.0.0.1:%d" % silent.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", "from om_dsl.cli import entry; entry()", "orders", "list", "--engine", "temporal", "--address", address],
            capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "OM_TEMPORAL_CONNECT_TIMEOUT_S": "1"},
        )
    assert done.returncode == 3, done.stderr
    assert f"cannot reach Temporal at {address}: no answer in 1 s" in done.stderr and "Traceback" not in done.stderr
