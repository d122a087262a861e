"""Fuzz: random text and mutated valid specs give diagnostics, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from om_dsl.check import check_texts
from om_dsl.diagnostics.render import render_json, render_text

from support.mutations import BASIC, mutate

ROOT = Path(__file__).resolve().parents[1]
SPECS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted((ROOT / "specs").rglob("*.om"))}
NAMES = sorted(SPECS)

# Fragments of the language, so random text reaches deep into the grammar.
TOKENS = (
    "catalog library version use default retry commercial technical root child cfs rfs attr has "
    "required optional in table validate when require message enrich decompose per order system "
    "operation async timeout queue plan on add modify delete callout manual auto python milestone wait "
    "for until after before every task bundle sets compensate point_of_no_return soft hard due none "
    "fixed times forever staggered exponential from factor cap if then else and or not is null true false "
    "map int decimal string bool date HOME_FIBER speed_mbps x y parent children count changed "
    "{ } ( ) [ ] : , . .. -> = == != < <= > >= + - * / % 1 0 300 1.5 2026-01-31 10s 3d \"s\" \" # \n"
).split(" ")


def assert_well_formed(texts: dict[str, str]) -> None:
    result = check_texts(texts)
    for diag in result.diagnostics:
        assert diag.code and diag.message
        span = diag.primary.span
        assert span.file in texts
        assert 1 <= span.line <= texts[span.file].count("\n") + 2
        assert span.column >= 1
    render_text(result.diagnostics, result.sources)
    render_json(result.diagnostics, len(texts))


# OM_FUZZ_EXAMPLES: examples per fuzz test (1000 by default; fewer for a quick local run, more for a long one).
FUZZ = settings(max_examples=int(os.environ.get("OM_FUZZ_EXAMPLES", "1000")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text):
    assert_well_formed({"fuzz.om": text})


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=80), st.sampled_from([" ", "\n", ""]))
def test_random_token_soup(tokens, sep):
    assert_well_formed({"fuzz.om": 'catalog fuzz version "1"\n' + sep.join(tokens)})


MUTATIONS = st.sampled_from(BASIC)


@pytest.mark.slow
@FUZZ
@given(st.sampled_from(NAMES), st.lists(st.tuples(MUTATIONS, st.integers(0, 10**6), st.integers(0, 40), st.sampled_from(TOKENS)), min_size=1, max_size=4))
def test_mutated_specs(name, mutations):
    text = mutate(SPECS[name], mutations)
    assert_well_formed({**SPECS, name: text})
