"""Compile benchmarks (issue 23): `om compile` against a bare Lark parse, and
recompiles through the compile cache (om_dsl/check/cache.py).

    python bench/compile_bench.py [--lines 100000] [--runs 5]

Every figure is the median of `runs` after a warm-up round; the figures
are taken in turn, round after round, so that on a shared machine each sees
the same load, and every ratio is between figures of the same run. All in
one process (the grammar is built once, as in the language server; a fresh
`om compile` adds its start-up, about half a second):

- bare: Lark's parse of every file's text with om's grammar, no AST; the
  cyclic GC paused, as the compile pauses it (with the collector on, the
  bare parse is slower, and so the ratio would look better than it is)
- stages (no cache, `om compile --no-cache`): read and parse into the AST,
  check, lower, generate
- cold: a compile that fills an empty cache (the cost of writing it)
- warm: a compile after which nothing changed (every file and the catalog found)
- one file edited: a comment line appended to one file, then a compile: every
  other file's parse found; the catalog found by its files' shapes (what they
  say, not where), its generated files filled in again from its skeleton
- elements moved: a comment line put first in one file (every element of it
  one line down), then a compile: as above, the file's elements at their new lines
- a rule edited: one validation message changed in one file, then a compile:
  the rule checked, lowered and generated alone, in the part of the catalog it
  reads, and spliced into the cached output (om_dsl/recompile.py)
- a default edited: one attribute's default changed (another allowed value),
  then a compile: spliced as a rule is
- a task's retry edited: a retry policy written out on one callout, then a
  compile: spliced as a rule is
- an enrichment edited: one enrichment rule's condition changed, then a compile:
  spliced as a rule is (its product's `enrich__P`)
- a mapping edited: one decomposition's value changed, then a compile: spliced
  as a rule is (its source's `decompose__P` and `lines__P`)
- an interface edit: one attribute of a commercial product renamed, then a
  compile: what other declarations can see changed; its product's readers (the
  rules, enrichments and decompositions of it, its children and its parents)
  are checked, lowered and generated again with it, and spliced
- a technical attribute added (the figures keep the key `full`: it took the
  full path until the splice did it): an attribute added to a technical
  product, then a compile: its readers (the decompositions into it and from
  it, its plans, the plans that read its lines) are checked, lowered and
  generated again with it, and spliced
- the full path: a table's entry edited, then a compile: the other files'
  parses found; checked, lowered and generated again
- `om compile` as a process: nothing changed, one file edited (a comment), a
  rule edited, a default, a task's retry, an enrichment and a mapping edited,
  an interface edit, a technical attribute added, the full path, with
  start-up and writing
- lark-cython: the bare parse with lark-cython's plugin, when it is installed
  (it is not a dependency: see the README's benchmark notes)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from om_dsl.build import build  # noqa: E402
from om_dsl.check import _check, without_gc  # noqa: E402
from om_dsl.check.cache import Cache  # noqa: E402
from om_dsl.check.workspace import load  # noqa: E402
from om_dsl.codegen import generate as codegen  # noqa: E402
from om_dsl.lower import lower  # noqa: E402
from om_dsl.syntax.grammar import build_parser, get_parser  # noqa: E402

import generate as G  # noqa: E402


def compile_stages(folder: Path) -> dict:
    """What `om compile --no-cache` does, stage by stage (nothing written)."""
    with without_gc():
        c0 = time.process_time()
        t0 = time.perf_counter()
        ws = load([str(folder)])
        t1 = time.perf_counter()
        result = _check(ws)
        assert result.ok, [d.message for d in result.errors][:3]
        t2 = time.perf_counter()
        cats = [lower(s) for s in result.scopes if s.kind == "catalog"]
        t3 = time.perf_counter()
        for c in cats:
            codegen(c)
        t4 = time.perf_counter()
    return {"parse": t1 - t0, "check": t2 - t1, "lower": t3 - t2, "codegen": t4 - t3, "total": t4 - t0, "total_cpu": time.process_time() - c0}


def _cached_compile(folder: Path, cache_dir: Path) -> dict:
    """A compile through the cache, as `om compile` runs it (a new Cache: nothing remembered in memory; the GC paused throughout)."""
    with without_gc():
        result = build([str(folder)], cache=Cache(cache_dir))
        assert result.ok
        return result.files(folder.parent / "out")


def _om_compile(folder: Path, cache_dir: Path) -> tuple[float, float]:
    """`om compile` as a user runs it, a process of its own (start-up included), writing its output:
    (seconds, CPU seconds of the process: on a busy machine, what it cost apart from waiting for a CPU)."""
    env = dict(os.environ, OM_CACHE_DIR=str(cache_dir), PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from om_dsl.cli import entry; entry()", "compile", str(folder), "-o", str(folder.parent / "out")], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _timed(fn) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) of fn()."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _bare(texts: list[str], parser) -> None:
    with without_gc():
        for t in texts:
            parser.parse(t)


def _lark_cython_parser():
    try:
        import lark_cython
    except ImportError:
        return None
    from lark import Lark

    from om_dsl.syntax.grammar import grammar_text

    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=False, _plugins=lark_cython.plugins)


def bench_compile(lines: int, runs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="om-bench-"))
    folder = work / "specs"
    try:
        files = G.write_catalog(folder, lines)
        n = sum(t.count("\n") for t in files.values())
        texts = list(files.values())
        build_parser()  # the grammar, built once in this process
        plain = build([str(folder)]).files(work / "out")
        lc = _lark_cython_parser()
        cache_dir = work / "cache"
        edited = sorted(folder.glob("families_*.om"))[0]
        original = edited.read_text()
        counter = iter(range(10**6))

        def cold():
            cold_dir = work / f"cold-{next(counter)}"
            _cached_compile(folder, cold_dir)
            return cold_dir

        def edit():
            edited.write_text(original + f"# edit {next(counter)}\n")
            _cached_compile(folder, cache_dir)

        def move():
            edited.write_text(f"# moved {next(counter)}\n" + original)
            _cached_compile(folder, cache_dir)

        def rule(compile_=_cached_compile):
            edited.write_text(original.replace("a premium product needs 300 Mbps or more", f"a premium product needs 300 Mbps or more ({next(counter)})", 1))
            return compile_(folder, cache_dir)

        months = re.search(r"attr months: int in \{0, 12, 24\} = (\d+)", original)
        assert months, "the first family's `months` attribute"

        others = [v for v in ("0", "12", "24") if v != months.group(1)]

        def default(compile_=_cached_compile):
            edited.write_text(original[: months.start(1)] + others[next(counter) % 2] + original[months.end(1) :])
            return compile_(folder, cache_dir)

        callout = re.search(r"\n    compensate sys_0\.release\(port_id = reserve\.port_id\)\n", original)
        assert callout, "the first family's reserve callout"

        def task(compile_=_cached_compile):
            retry = f"    retry fixed {next(counter) % 5 + 1} times every 10s\n"
            edited.write_text(original[: callout.end()] + retry + original[callout.end() :])
            return compile_(folder, cache_dir)

        def enrichment(compile_=_cached_compile):
            edited.write_text(original.replace('if speed >= 1000 then "XGS-PON"', f'if speed >= {(100, 300)[next(counter) % 2]} then "XGS-PON"', 1))
            return compile_(folder, cache_dir)

        def mapping(compile_=_cached_compile):
            edited.write_text(original.replace("\n  down = speed\n", f"\n  down = speed + {next(counter) % 9 + 1}\n", 1))
            return compile_(folder, cache_dir)

        def full(compile_=_cached_compile):
            edited.write_text(original.replace("  attr port_id: string optional\n}", f"  attr port_id: string optional\n  attr vlan_{next(counter)}: int optional\n}}", 1))
            return compile_(folder, cache_dir)

        def table(compile_=_cached_compile):
            edited.write_text(original.replace("\n  300: 50\n", f"\n  300: {(60, 70)[next(counter) % 2]}\n", 1))
            return compile_(folder, cache_dir)

        def interface(compile_=_cached_compile):
            edited.write_text(original.replace("attr static_ip: bool", f"attr static_ip_{next(counter)}: bool", 1))
            return compile_(folder, cache_dir)

        assert "a premium product needs 300 Mbps or more" in original and "attr static_ip: bool" in original
        assert "\n  300: 50\n" in original and 'if speed >= 1000 then "XGS-PON"' in original and "\n  down = speed\n" in original and "  attr port_id: string optional\n}" in original
        edits = ("rule", "default", "task", "enrichment", "mapping")
        processes = ("process_warm", "process_edit", *(f"process_{k}" for k in edits), "process_interface", "process_full", "process_table")
        kinds = ("bare", "stages", "cold", "warm", "edit", "move", *edits, "interface", "full", "table", "lark_cython", *processes)
        samples: dict = {k: [] for k in kinds}
        cpu: dict = {k: [] for k in ("bare", "warm", "edit", "move", *edits, "interface", "full", "table", *processes)}
        # Interleaved, after one warm-up round: on a shared machine every figure sees the same load.
        for round_ in range(runs + 1):
            bare, bare_cpu = _timed(lambda: _bare(texts, get_parser()))
            stages = compile_stages(folder)
            t = time.perf_counter()
            cold_dir = cold()
            cold_s = time.perf_counter() - t
            shutil.rmtree(cold_dir)
            edited.write_text(original)
            _cached_compile(folder, cache_dir)
            warm = _timed(lambda: _cached_compile(folder, cache_dir))
            edit_s = _timed(edit)
            move_s = _timed(move)
            rule_s = _timed(rule)
            default_s = _timed(default)
            task_s = _timed(task)
            enrichment_s = _timed(enrichment)
            mapping_s = _timed(mapping)
            interface_s = _timed(interface)
            full_s = _timed(full)
            table_s = _timed(table)
            if lc is not None:
                t = time.perf_counter()
                _bare(texts, lc)
                samples["lark_cython"].append(time.perf_counter() - t)
            edited.write_text(original)
            _om_compile(folder, cache_dir)
            process = {"process_warm": _om_compile(folder, cache_dir)}
            edited.write_text(original + f"# edit {next(counter)}\n")
            process["process_edit"] = _om_compile(folder, cache_dir)
            for name, fn in (("rule", rule), ("default", default), ("task", task), ("enrichment", enrichment), ("mapping", mapping)):
                edited.write_text(original)
                _om_compile(folder, cache_dir)  # each edit from the catalog as it was, as in one process
                process[f"process_{name}"] = fn(_om_compile)
            process["process_interface"] = interface(_om_compile)
            process["process_full"] = full(_om_compile)
            process["process_table"] = table(_om_compile)
            for k, (wall, used) in process.items():
                samples[k].append(wall)
                cpu[k].append(used)
            if round_:
                timed = {"rule": rule_s, "default": default_s, "task": task_s, "enrichment": enrichment_s, "mapping": mapping_s, "interface": interface_s, "full": full_s, "table": table_s}
                for k, v in (("bare", (bare, bare_cpu)), ("warm", warm), ("edit", edit_s), ("move", move_s), *timed.items()):
                    samples[k].append(v[0])
                    cpu[k].append(v[1])
                samples["stages"].append(stages)
                samples["cold"].append(cold_s)
        edited.write_text(original)
        assert _cached_compile(folder, cache_dir) == plain  # the cache changed nothing
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(s[k] for s in samples["stages"]) for k in samples["stages"][0]}
    bare = statistics.median(samples["bare"])
    out = {"lines": n, "files": len(files), "bare_parse_s": bare, **{f"{k}_s": v for k, v in med.items()}}
    out["lines_per_s"] = {k: n / med[k] for k in ("parse", "check", "lower", "codegen", "total")}
    out["lines_per_s"]["bare_parse"] = n / bare
    out["total_over_bare"] = med["total"] / bare
    out["cold_cache_s"] = statistics.median(samples["cold"])
    out["warm_cache_s"] = statistics.median(samples["warm"])
    out["recompile_one_file_s"] = statistics.median(samples["edit"])
    out["recompile_over_bare"] = out["recompile_one_file_s"] / bare
    out["recompile_moved_s"] = statistics.median(samples["move"])
    out["recompile_rule_edited_s"] = statistics.median(samples["rule"])
    out["recompile_default_edited_s"] = statistics.median(samples["default"])
    out["recompile_task_edited_s"] = statistics.median(samples["task"])
    out["recompile_enrichment_edited_s"] = statistics.median(samples["enrichment"])
    out["recompile_mapping_edited_s"] = statistics.median(samples["mapping"])
    out["recompile_interface_edited_s"] = statistics.median(samples["interface"])
    out["recompile_full_path_s"] = statistics.median(samples["full"])  # a technical attribute added: spliced now
    out["recompile_table_edited_s"] = statistics.median(samples["table"])  # the full path
    out["lark_cython_bare_parse_s"] = statistics.median(samples["lark_cython"][1:]) if lc is not None else None
    out["om_compile_nothing_changed_s"] = statistics.median(samples["process_warm"][1:])
    out["om_compile_one_file_edited_s"] = statistics.median(samples["process_edit"][1:])
    for name in edits:
        out[f"om_compile_{name}_edited_s"] = statistics.median(samples[f"process_{name}"][1:])
    out["om_compile_interface_edited_s"] = statistics.median(samples["process_interface"][1:])
    out["om_compile_full_path_s"] = statistics.median(samples["process_full"][1:])
    out["om_compile_table_edited_s"] = statistics.median(samples["process_table"][1:])
    # CPU seconds, the same medians: what each took apart from waiting for a CPU on a shared machine.
    out["cpu_s"] = {k: statistics.median(v[1:] if k.startswith("process") else v) for k, v in cpu.items()}
    out["cpu_s"]["total_no_cache"] = med["total_cpu"]
    out["total_over_bare_cpu"] = med["total_cpu"] / out["cpu_s"]["bare"]
    return out


_PROCESS_EDITS = (("a default", "default"), ("a task's retry", "task"), ("an enrichment", "enrichment"), ("a mapping", "mapping"))


def rows(results: list[dict]) -> list[str]:
    out = [
        "| lines | files | bare Lark parse | parse | check | lower | codegen | total (no cache) | total / bare | cold cache | nothing changed | 1 file edited (a comment) "
        "| elements moved | a rule edited | a default edited | a task's retry edited | an enrichment edited | a mapping edited | an interface edit | a technical attribute added | the full path (a table's entry) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results:
        lps = c["lines_per_s"]
        out.append(
            f"| {c['lines']:,} | {c['files']} | {c['bare_parse_s']:.2f} s | {c['parse_s']:.2f} s | {c['check_s']:.2f} s | {c['lower_s']:.2f} s | {c['codegen_s']:.2f} s | "
            f"{c['total_s']:.2f} s ({lps['total']:,.0f} l/s) | {c['total_over_bare']:.2f}x | {c['cold_cache_s']:.2f} s | {c['warm_cache_s']:.2f} s | {c['recompile_one_file_s']:.2f} s | "
            f"{c['recompile_moved_s']:.2f} s | {c['recompile_rule_edited_s']:.2f} s | {c['recompile_default_edited_s']:.2f} s | {c['recompile_task_edited_s']:.2f} s | "
            f"{c.get('recompile_enrichment_edited_s', 0):.2f} s | {c.get('recompile_mapping_edited_s', 0):.2f} s | {c['recompile_interface_edited_s']:.2f} s | {c.get('recompile_full_path_s', 0):.2f} s | "
            f"{c.get('recompile_table_edited_s', 0):.2f} s |"
        )
    out += ["", "`om compile` as a process (start-up included, output written): " + ", ".join(
        f"{c['lines']:,} lines: nothing changed {c['om_compile_nothing_changed_s']:.2f} s, 1 file edited (a comment) {c['om_compile_one_file_edited_s']:.2f} s, "
        f"a rule edited {c['om_compile_rule_edited_s']:.2f} s, "
        + "".join(f"{what} {c[f'om_compile_{key}_edited_s']:.2f} s, " for what, key in _PROCESS_EDITS if f"om_compile_{key}_edited_s" in c)
        + f"an interface edit {c['om_compile_interface_edited_s']:.2f} s, a technical attribute added {c.get('om_compile_full_path_s', 0):.2f} s, "
        f"the full path (a table's entry) {c.get('om_compile_table_edited_s', 0):.2f} s" for c in results)]
    out += ["", "CPU seconds (the same medians; on a shared machine, the time each took apart from waiting for a CPU): " + "; ".join(
        f"{c['lines']:,} lines: " + ", ".join(f"{k} {v:.2f} s" for k, v in c["cpu_s"].items()) + f" (total / bare {c['total_over_bare_cpu']:.2f}x)" for c in results if "cpu_s" in c)]
    lc = [c for c in results if c.get("lark_cython_bare_parse_s")]
    if lc:
        out += ["", "lark-cython bare parse: " + ", ".join(f"{c['lines']:,} lines {c['lark_cython_bare_parse_s']:.2f} s ({c['lark_cython_bare_parse_s'] / c['bare_parse_s']:.2f}x Lark's)" for c in lc)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, action="append", help="catalog sizes (default 1,000, 10,000 and 100,000)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    results = [bench_compile(n, args.runs) for n in (args.lines or [1_000, 10_000, 100_000])]
    print(json.dumps(results, indent=2))
    print("\n".join(rows(results)))


if __name__ == "__main__":
    main()
