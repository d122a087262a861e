"""One cache of rules per catalog version, shared by the embedded runner and Temporal workers."""

from __future__ import annotations

import hashlib

import pytest
from conftest import ROOT

from om_dsl.rules.versions import RulesByVersion
from om_dsl.temporal.catalogs import CatalogMismatch, engine_for


def plan_text() -> str:
    return (ROOT / "generated" / "acme" / "plan.json").read_text(encoding="utf-8")


def test_a_version_is_built_once_and_unknown_ones_are_none():
    versions, calls = RulesByVersion(), []
    text = plan_text()

    def texts():
        calls.append(1)
        return text, None

    first = versions.rules("v1", texts)
    assert versions.rules("v1", texts) is first and len(calls) == 1
    assert first.catalog.name == "acme"
    assert versions.rules("v2", lambda: None) is None


def test_a_registered_version_serves_itself():
    versions, rules = RulesByVersion(), object()
    versions.register("v1", rules)
    assert versions.rules("v1", lambda: pytest.fail("not loaded again")) is rules


def test_temporal_refuses_a_plan_that_is_not_the_version_named():
    text = plan_text()
    with pytest.raises(CatalogMismatch):
        engine_for("0" * 64, text)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert engine_for(sha, text).catalog.name == "acme"
