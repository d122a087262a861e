"""A pytest plugin for spec repositories: plan orders in tests, snapshot the plans.

Installed with om-dsl (entry point ``om_dsl`` in the ``pytest11`` group), so a
project that depends on om-dsl has it in every pytest run; without the entry
point, load it with ``pytest -p om_dsl.testing``.

Options (ini key, command-line option)::

    om_specs          --om-specs PATH         spec folders or files to compile (default: specs)
    om_catalog_name   --om-catalog-name NAME  which catalog, when the specs hold several
    om_engine         --om-engine ENGINE      interpreter (default) or generated

Fixtures::

    om_build      (session) the checked and lowered specs (om_dsl.build.Build)
    om_catalog    (session) the catalog (plan model) the other fixtures plan against
    om_rules      (session) its rules: the interpreter, or the generated modules
    om_plan       om_plan(order) -> PlannedOrder; raises Rejected
    om_rejection  om_rejection(order) -> [Problem]; fails the test when the order is accepted
    om_snapshot   syrupy's `snapshot`, writing planned orders as .plan text files

An order is a dict (a TMF622 productOrder), JSON text, or a path to a JSON
file; a relative path is relative to the pytest rootdir (the project folder).
The specs are compiled once per session, on first use: when they have errors
the session stops with the rendered diagnostics.

PYTEST_DONT_REWRITE: the plugin has no assertions for pytest to rewrite, and
the entry point imports this package before pytest is asked to load it (see
_autoload.py); the marker spares every run pytest's "already imported" warning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from om_dsl.planning.order import Problem, Rejected

__all__ = [
    "OmPlanExtension",
    "OmPlanJSONExtension",
    "OmPlanner",
    "OmRejection",
    "Problem",
    "Rejected",
    "load_order",
    "plan_text",
]

ENGINES = ("interpreter", "generated")


# ---- options ---------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("om", "om-dsl specs")
    group.addoption(
        "--om-specs",
        action="append",
        dest="om_specs",
        metavar="PATH",
        default=None,
        help="spec folder or .om file to compile for the om_* fixtures (repeatable; relative to the current folder). Default: the om_specs ini value, else `specs`.",
    )
    group.addoption(
        "--om-catalog-name",
        dest="om_catalog_name",
        metavar="NAME",
        default=None,
        help="the catalog the om_* fixtures plan against, when the specs hold several.",
    )
    group.addoption(
        "--om-engine",
        dest="om_engine",
        choices=ENGINES,
        default=None,
        help="run the rules with the interpreter (default) or with the generated modules (compiled into a temporary folder).",
    )
    parser.addini("om_specs", type="args", default=["specs"], help="om-dsl: spec folders or .om files, relative to the ini file (default: specs)")
    parser.addini("om_catalog_name", type="string", default="", help="om-dsl: which catalog of the specs to plan against, when they hold several")
    parser.addini("om_engine", type="string", default="interpreter", help="om-dsl: interpreter or generated")


def _base_dir(config: pytest.Config) -> Path:
    return config.inipath.parent if config.inipath is not None else config.rootpath


def spec_paths(config: pytest.Config) -> list[Path]:
    """The spec paths of the session, absolute."""
    given = config.getoption("om_specs", None)
    if given:
        base = config.invocation_params.dir
    else:
        given = config.getini("om_specs") or ["specs"]
        base = _base_dir(config)
    return [(base / p).resolve() if not os.path.isabs(p) else Path(p) for p in given]


def _engine(config: pytest.Config) -> str:
    engine = config.getoption("om_engine", None) or config.getini("om_engine") or "interpreter"
    if engine not in ENGINES:
        raise pytest.UsageError(f"om_engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return path.as_posix()


def pytest_report_header(config: pytest.Config) -> str | None:
    paths = spec_paths(config)
    if not any(p.exists() for p in paths):
        return None
    from om_dsl import __version__

    return f"om-dsl {__version__}: specs {', '.join(_shown(p) for p in paths)} (engine {_engine(config)})"


# ---- compiling the specs -----------------------------------------------------------------


def _fail_session(request: pytest.FixtureRequest, message: str, reason: str = "om-dsl: the specs do not compile"):
    # Stop after this test (like -x): every om test would fail the same way.
    request.session.shouldfail = reason
    # The tests that did not run did not use their snapshots: syrupy must not
    # take them for unused ones (and delete them under --snapshot-update).
    # (The options of syrupy 4 to 7; harmless without syrupy.)
    option = request.config.option
    option.disable_unused_snapshots = option.no_cleanup = option.warn_unused_snapshots = True
    option.update_snapshots = False
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def om_build(request: pytest.FixtureRequest):
    """The specs of the session, checked and lowered (an om_dsl.build.Build).

    Fails the first test that needs it, and stops the session, when the specs
    have errors: the failure shows the diagnostics as `om check` does."""
    from om_dsl.build import build
    from om_dsl.diagnostics.render import render_text, summary_line

    paths = spec_paths(request.config)
    missing = [p for p in paths if not p.exists()]
    if missing:
        _fail_session(request, f"om-dsl: no specs at {', '.join(_shown(p) for p in missing)} (set `om_specs` in the pytest configuration, or pass --om-specs)", "om-dsl: no specs")
    result = build([_shown(p) for p in paths])
    if not result.ok:
        text = render_text(result.check.diagnostics, result.check.sources)
        _fail_session(request, f"om-dsl: the specs in {', '.join(_shown(p) for p in paths)} have errors ({summary_line(result.check.diagnostics)}):\n\n{text}")
    if not result.catalogs:
        _fail_session(request, f"om-dsl: no catalog in {', '.join(_shown(p) for p in paths)} (only libraries?)", "om-dsl: no catalog")
    return result


@pytest.fixture(scope="session")
def om_catalog(request: pytest.FixtureRequest, om_build):
    """The catalog (om_dsl.model.Catalog, the plan model) of the specs."""
    wanted = request.config.getoption("om_catalog_name", None) or request.config.getini("om_catalog_name")
    cats = om_build.catalogs
    names = ", ".join(c.name for c in cats)
    if wanted:
        cats = [c for c in cats if c.name == wanted]
        if not cats:
            _fail_session(request, f"om-dsl: no catalog `{wanted}` in the specs (found: {names})", "om-dsl: no such catalog")
    if len(cats) != 1:
        _fail_session(request, f"om-dsl: the specs hold {len(cats)} catalogs ({names}); choose one with `om_catalog_name` in the pytest configuration or --om-catalog-name", "om-dsl: which catalog?")
    return cats[0]


@pytest.fixture(scope="session")
def om_rules(request: pytest.FixtureRequest, om_build, om_catalog, tmp_path_factory: pytest.TempPathFactory):
    """The rules of the catalog: the interpreter, or (om_engine = generated)
    the generated modules, compiled into a temporary folder."""
    if _engine(request.config) == "interpreter":
        from om_dsl.rules.interpreter import Interpreter

        return Interpreter(om_catalog)
    from om_dsl.build import write
    from om_dsl.rules.generated import GeneratedRules

    out = tmp_path_factory.mktemp("om_generated")
    write(out, om_build.files(out))
    return GeneratedRules(out / om_catalog.name)


# ---- orders ----------------------------------------------------------------------------


def load_order(order: Any, base: Path | None = None) -> tuple[dict, str]:
    """An order (dict, JSON text, or path to a JSON file) -> (the document, its id).

    Malformed JSON raises Rejected (rule `malformed_json`), as `om plan` does."""
    from om_dsl.planning.intake import document_id, parse_document

    if isinstance(order, dict):
        doc = order
    elif isinstance(order, (bytes, bytearray)):
        doc = parse_document(order.decode("utf-8"))
    elif isinstance(order, str) and order.lstrip().startswith(("{", "[")):
        doc = parse_document(order)
    elif isinstance(order, (str, os.PathLike)):
        path = Path(order)
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise FileNotFoundError(f"no order file at {path}")
        doc = parse_document(path.read_text(encoding="utf-8"))
    else:
        raise TypeError(f"an order is a dict, JSON text or a path, not {type(order).__name__}")
    if not isinstance(doc, dict):
        raise TypeError("an order document is a JSON object (a TMF622 productOrder)")
    return doc, document_id(doc)


class OmPlanner:
    """What the om_plan fixture gives: call it with an order to plan it."""

    def __init__(self, catalog, rules, base: Path):
        self.catalog = catalog
        self.rules = rules
        self.base = base

    def __call__(self, order, *, order_id: str | None = None, installed=None):
        """Plan `order` (a dict, JSON text or a path): the PlannedOrder, or
        Rejected. `installed`: an om_dsl.planning.installed.InstalledBase, for
        orders that modify or end what a customer has."""
        from om_dsl.planning.pipeline import plan_order

        doc, derived = load_order(order, self.base)
        return plan_order(self.catalog, self.rules, doc, order_id or derived, installed)

    def __repr__(self) -> str:
        return f"om_plan(catalog {self.catalog.name} {self.catalog.version}, {getattr(self.rules, 'kind', None) or type(self.rules).__name__.lower()})"


class OmRejection(OmPlanner):
    """What the om_rejection fixture gives: call it with an order that must be rejected."""

    def __call__(self, order, *, order_id: str | None = None, installed=None) -> list[Problem]:
        """The problems of `order`; fails the test when the order is accepted."""
        try:
            planned = super().__call__(order, order_id=order_id, installed=installed)
        except Rejected as exc:
            return list(exc.problems)
        pytest.fail(f"the order was accepted, but it should be rejected; its plan:\n\n{plan_text(planned)}", pytrace=False)

    def __repr__(self) -> str:
        return "om_rejection" + super().__repr__()[len("om_plan") :]


@pytest.fixture
def om_plan(request: pytest.FixtureRequest, om_catalog, om_rules) -> OmPlanner:
    """om_plan(order, *, order_id=None, installed=None) -> the PlannedOrder.

    Raises om_dsl.planning.order.Rejected (its `problems` say why) when the
    catalog rejects the order."""
    return OmPlanner(om_catalog, om_rules, request.config.rootpath)


@pytest.fixture
def om_rejection(request: pytest.FixtureRequest, om_catalog, om_rules) -> OmRejection:
    """om_rejection(order, *, order_id=None, installed=None) -> the problems
    ([om_dsl.planning.order.Problem]) of an order that must be rejected; the
    test fails when the order is accepted."""
    return OmRejection(om_catalog, om_rules, request.config.rootpath)


# ---- snapshots -------------------------------------------------------------------------


def plan_text(value) -> str:
    """The text a .plan snapshot holds: for a planned order, what `om plan`
    prints; for a rejection (Rejected, or a list of Problems), what `om plan`
    prints on standard error; text as it is."""
    from om_dsl.planning import report
    from om_dsl.planning.pipeline import PlannedOrder

    if isinstance(value, PlannedOrder):
        return report.to_text(value)
    if isinstance(value, Rejected):
        return report.rejection_text(value)
    if isinstance(value, (list, tuple)) and all(isinstance(p, Problem) for p in value):
        return report.rejection_text(Rejected(list(value)))
    if isinstance(value, str):
        return value if value.endswith("\n") or not value else value + "\n"
    raise TypeError(f"a .plan snapshot holds a planned order, a rejection or text, not {type(value).__name__}")


@pytest.fixture
def om_snapshot(request: pytest.FixtureRequest):
    """syrupy's `snapshot` fixture with OmPlanExtension: one .plan text file per assertion."""
    try:
        from om_dsl.testing.snapshot import OmPlanExtension
    except ImportError as exc:  # pragma: no cover - syrupy missing
        pytest.fail(f"om_snapshot needs syrupy ({exc}): pip install syrupy", pytrace=False)
    return request.getfixturevalue("snapshot").use_extension(OmPlanExtension)


def __getattr__(name: str):
    # The syrupy extensions import syrupy: only when asked for.
    if name in ("OmPlanExtension", "OmPlanJSONExtension"):
        from om_dsl.testing import snapshot

        return getattr(snapshot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
