"""The pytest plugin for spec projects (om_dsl.testing), run for real on
small user projects with pytester.

Each test writes a project (specs/, orders/, a test file using the plugin's
fixtures), runs pytest in it in-process and checks the outcome.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

# Imported out here, so that the pytester runs below reuse them (a run drops
# the modules it imported itself).
import om_dsl.build
import om_dsl.testing.snapshot  # noqa: F401
from om_dsl.check import check_texts
from om_dsl.lower import lower
from om_dsl.planning import report
from om_dsl.planning.pipeline import plan_order
from om_dsl.rules.interpreter import Interpreter

pytest_plugins = ["pytester"]

# hypothesis's plugin would import all of hypothesis again in every run.
QUIET = ("-p", "no:hypothesispytest")
# The plugin, loaded by module name: the entry point may not be installed.
PLUGIN = ("-p", "om_dsl.testing", *QUIET)

CATALOG = """\
catalog shop version "1.0"

retry standard = staggered 10s, 60s
default retry standard
default timeout 30s

commercial INTERNET "Home Internet" root {
  attr speed_mbps: int in {100, 500} = 100
  attr address_id: string required
}

technical ACCESS_CFS "Internet access" cfs {
  attr down_mbps: int required
  attr address_id: string required
}

decompose access: INTERNET -> ACCESS_CFS {
  down_mbps = speed_mbps
  address_id = address_id
}

system network "Network" {
  operation activate_line(address_id: string, down_mbps: int)
}

plan ACCESS_CFS on add {
  callout activate = network.activate_line(address_id, down_mbps)
  milestone active after activate
}
"""


def order(item_id: str = "1", **chars) -> dict:
    return {
        "id": f"ORD-{item_id}",
        "relatedParty": [{"id": "ACC-1", "role": "customer"}],
        "productOrderItem": [
            {
                "id": item_id,
                "action": "add",
                "productOffering": {"id": "INTERNET"},
                "product": {"productCharacteristic": [{"name": k, "value": v} for k, v in chars.items()]},
            }
        ],
    }


USER_TESTS = '''
import json
from pathlib import Path

import pytest

from om_dsl.planning.order import Rejected
from om_dsl.testing import OmPlanExtension


def test_catalog(om_catalog):
    assert om_catalog.name == "shop"


def test_plan_from_a_path(om_plan):
    planned = om_plan("orders/fast.json")
    assert [l.product for l in planned.lines] == ["ACCESS_CFS"]
    assert planned.lines[0].values["down_mbps"] == 500


def test_plan_from_a_dict_json_text_and_path_object(om_plan, pytestconfig):
    doc = json.loads(Path("orders/fast.json").read_text())
    by_dict = om_plan(doc)
    by_text = om_plan(json.dumps(doc))
    by_path = om_plan(pytestconfig.rootpath / "orders" / "fast.json")
    assert by_dict.order.id == by_text.order.id == by_path.order.id == "ORD-1"


def test_a_rejected_order_raises(om_plan):
    with pytest.raises(Rejected) as caught:
        om_plan({"productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "INTERNET"}}]})
    assert [p.rule for p in caught.value.problems] == ["required"]


def test_rejection(om_rejection):
    problems = om_rejection("orders/no-address.json")
    assert [(p.item, p.rule) for p in problems] == [("1", "required")]


def test_rejection_of_malformed_json(om_rejection):
    assert [p.rule for p in om_rejection('{"id": ')] == ["malformed_json"]


def test_plan_snapshot(om_plan, snapshot):
    assert om_plan("orders/fast.json") == snapshot(extension_class=OmPlanExtension)


def test_om_snapshot(om_plan, om_rejection, om_snapshot):
    assert om_plan("orders/slow.json") == om_snapshot
    assert om_rejection("orders/no-address.json") == om_snapshot
'''


@pytest.fixture
def project(pytester):
    """A user's spec project: specs/shop, orders/, tests/test_user.py."""
    pytester.makefile(".om", **{"specs/shop/catalog": CATALOG})
    (pytester.path / "orders").mkdir()
    for name, doc in {"fast": order(speed_mbps=500, address_id="ADDR-1"), "slow": order("7", address_id="ADDR-7"), "no-address": order()}.items():
        (pytester.path / "orders" / f"{name}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_user.py").write_text(USER_TESTS, encoding="utf-8")
    return pytester


def snapshots(pytester) -> dict[str, str]:
    folder = pytester.path / "tests" / "__snapshots__"
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*")) if p.is_file()} if folder.is_dir() else {}


def build_catalog(text: str = CATALOG):
    result = check_texts({"catalog.om": text})
    assert result.ok
    return lower(next(s for s in result.scopes if s.kind == "catalog"))


# The parser is built once, out here, for every run.
SHOP = build_catalog()


def expected_text(doc: dict) -> str:
    return report.to_text(plan_order(SHOP, Interpreter(SHOP), doc, doc["id"]))


def test_fixtures_and_snapshots_end_to_end(project):
    # First run: the snapshots do not exist yet.
    result = project.runpytest(*PLUGIN)
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(["*Snapshot 'test_plan_snapshot' does not exist!*"])

    # --snapshot-update writes one .plan file per snapshot: what `om plan` prints.
    result = project.runpytest(*PLUGIN, "--snapshot-update")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*3 snapshots generated*"])
    files = snapshots(project)
    assert sorted(files) == ["test_user/test_om_snapshot.1.plan", "test_user/test_om_snapshot.plan", "test_user/test_plan_snapshot.plan"]
    assert files["test_user/test_plan_snapshot.plan"] == expected_text(order(speed_mbps=500, address_id="ADDR-1"))
    assert files["test_user/test_om_snapshot.plan"] == expected_text(order("7", address_id="ADDR-7"))
    assert files["test_user/test_om_snapshot.1.plan"] == (
        "order rejected: 1 problem\n"
        "  - order item 1 (INTERNET): the required attribute `address_id` is missing (rule: required) [at /productOrderItem/0/product/productCharacteristic]\n"
    )
    assert "└─ 1/access  ACCESS_CFS  add" in files["test_user/test_plan_snapshot.plan"]

    # Then they pass.
    result = project.runpytest(*PLUGIN)
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*3 snapshots passed*"])
    assert result.ret == 0

    # A rule changes: the snapshots of the plans it changes fail, with the difference.
    project.makefile(".om", **{"specs/shop/catalog": CATALOG.replace("down_mbps = speed_mbps", "down_mbps = speed_mbps * 2")})
    result = project.runpytest(*PLUGIN)
    result.assert_outcomes(passed=5, failed=3)  # test_plan_from_a_path checks 500 too
    result.stdout.fnmatch_lines(["*FAILED tests/test_user.py::test_plan_snapshot*", "*FAILED tests/test_user.py::test_om_snapshot*"])
    assert "down_mbps = 1000" in result.stdout.str()
    assert snapshots(project) == files  # nothing written without --snapshot-update


def test_om_rejection_fails_a_test_whose_order_is_accepted(project):
    project.makepyfile(
        test_accepted="""
        def test_it(om_rejection):
            om_rejection("orders/fast.json")
        """
    )
    result = project.runpytest(*PLUGIN, "test_accepted.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the order was accepted, but it should be rejected; its plan:*", "*order ORD-1 against catalog shop 1.0*"])


def test_a_spec_error_stops_the_session_with_the_diagnostics(project):
    project.runpytest(*PLUGIN, "--snapshot-update").assert_outcomes(passed=8)
    before = snapshots(project)
    project.makepyfile(test_aaa_plain="def test_no_specs_needed():\n    pass\n")
    project.makefile(".om", **{"specs/shop/catalog": CATALOG.replace("down_mbps = speed_mbps", "down_mbps = speed_mbs")})
    # Even under --snapshot-update, the snapshots of the tests that did not run are kept.
    for args in ((), ("--snapshot-update",)):
        result = project.runpytest(*PLUGIN, "tests", "test_aaa_plain.py", *args)
        outcomes = result.parseoutcomes()
        assert outcomes.get("errors") == 1 and outcomes.get("passed", 0) <= 1 and "failed" not in outcomes, outcomes
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(
            [
                "*om-dsl: the specs in specs have errors (1 error, 0 warnings):*",
                "error[E102]: unknown attribute `speed_mbs`",
                "*--> specs/shop/catalog.om:18:15",
                "*= help: did you mean `speed_mbps`?",
                "*om-dsl: the specs do not compile*",
            ]
        )
        assert snapshots(project) == before


def test_spec_folder_from_the_ini_file_and_the_command_line(project):
    (project.path / "specs").rename(project.path / "catalog")
    result = project.runpytest(*PLUGIN, "tests/test_user.py::test_catalog")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*om-dsl: no specs at specs (set `om_specs` in the pytest configuration, or pass --om-specs)*"])

    project.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["tests"]\nom_specs = "catalog"\n')
    result = project.runpytest(*PLUGIN, "tests/test_user.py::test_catalog")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["om-dsl *: specs catalog (engine interpreter)"])

    # The command line wins, relative to the folder pytest runs in.
    (project.path / "catalog").rename(project.path / "elsewhere")
    result = project.runpytest(*PLUGIN, "--om-specs", "elsewhere/shop", "tests/test_user.py::test_catalog")
    result.assert_outcomes(passed=1)


def test_several_catalogs_need_a_name(project):
    project.makefile(".om", **{"specs/other/catalog": 'catalog other version "1"\n'})
    result = project.runpytest(*PLUGIN, "tests/test_user.py::test_catalog")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the specs hold 2 catalogs (other, shop); choose one with `om_catalog_name`*"])
    project.runpytest(*PLUGIN, "--om-catalog-name", "shop", "tests/test_user.py").assert_outcomes(passed=6, failed=2)


def test_the_generated_engine_gives_the_same_plans(project):
    project.runpytest(*PLUGIN, "--snapshot-update").assert_outcomes(passed=8)
    result = project.runpytest(*PLUGIN, "--om-engine", "generated")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["om-dsl *: specs specs (engine generated)"])


def test_the_json_extension(project):
    project.makepyfile(
        test_json="""
        from om_dsl.testing import OmPlanJSONExtension

        def test_json(om_plan, om_rejection, snapshot):
            assert om_plan("orders/fast.json") == snapshot(extension_class=OmPlanJSONExtension)
            assert om_rejection("orders/no-address.json") == snapshot(extension_class=OmPlanJSONExtension)
        """
    )
    project.runpytest(*PLUGIN, "--snapshot-update", "test_json.py").assert_outcomes(passed=1)
    folder = project.path / "__snapshots__" / "test_json"
    planned = json.loads((folder / "test_json.plan.json").read_text(encoding="utf-8"))
    assert planned["status"] == "accepted" and planned["fulfillment_requests"][0]["lines"][0]["attributes"] == {"address_id": "ADDR-1", "down_mbps": 500}
    rejected = json.loads((folder / "test_json.1.plan.json").read_text(encoding="utf-8"))
    assert rejected["status"] == "rejected" and rejected["problems"][0]["rule"] == "required"
    project.runpytest(*PLUGIN, "test_json.py").assert_outcomes(passed=1)


@pytest.fixture
def entry_point(pytester, monkeypatch):
    """Install the `pytest11` entry point `om_dsl` as pyproject.toml declares it,
    in a folder on sys.path (a distribution's metadata, no code)."""
    site = pytester.path / "site"
    info = site / "om_dsl_entry_point_probe-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: om-dsl-entry-point-probe\nVersion: 0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[pytest11]\nom_dsl = om_dsl.testing._autoload\n", encoding="utf-8")
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.syspathinsert(site)
    return site


def test_the_entry_point_loads_the_plugin(project, entry_point):
    result = project.runpytest(*QUIET, "tests/test_user.py::test_catalog")
    result.assert_outcomes(passed=1)
    # om_dsl.testing is imported before pytest loads it: no "cannot be rewritten" warning.
    assert "warning" not in result.stdout.str().lower()
    # Named on the command line or in a conftest.py as well: loaded once, no clash.
    project.runpytest(*PLUGIN, "tests/test_user.py::test_catalog").assert_outcomes(passed=1)
    project.makeconftest('pytest_plugins = ["om_dsl.testing"]\n')
    project.runpytest(*QUIET, "tests/test_user.py::test_catalog").assert_outcomes(passed=1)
    # And it can be turned off.
    (project.path / "conftest.py").unlink()
    result = project.runpytest(*QUIET, "-p", "no:om_dsl", "tests/test_user.py::test_catalog")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'om_catalog' not found*"])


# ---- docs/testing.md: its example project, run ---------------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
DOC_FILE = re.compile(r"^File `(?P<path>[^`]+)`:\n\n```[a-z]*\n(?P<text>.*?)^```", re.MULTILINE | re.DOTALL)
DOC_BLOCK = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<text>.*?)^```", re.MULTILINE | re.DOTALL)


def doc_blocks(starting: str) -> list[str]:
    """The text of the docs' fenced blocks that start with `starting`."""
    return [m.group("text") for m in DOC_BLOCK.finditer(DOC.read_text(encoding="utf-8")) if m.group("text").startswith(starting)]


def lines_in_order(result, lines: list[str]) -> None:
    result.stdout.re_match_lines([rf"^{re.escape(line.rstrip())}\s*$" for line in lines])


def test_the_docs_example_project_does_what_the_docs_say(pytester):
    files = {m.group("path"): m.group("text") for m in DOC_FILE.finditer(DOC.read_text(encoding="utf-8"))}
    shown = {path: text for path, text in files.items() if path.startswith("tests/__snapshots__/")}
    assert sorted(shown) == ["tests/__snapshots__/test_plans/test_an_address_is_required.plan", "tests/__snapshots__/test_plans/test_plan[fast.json].plan"]
    for path, text in files.items():
        if path not in shown:
            (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
            (pytester.path / path).write_text(text, encoding="utf-8")

    first = pytester.runpytest(*PLUGIN)
    first.assert_outcomes(passed=3, failed=2)
    first.stdout.fnmatch_lines(["*Snapshot 'test_plan[[]fast.json[]]' does not exist!*"])
    result = pytester.runpytest(*PLUGIN, "--snapshot-update")
    result.assert_outcomes(passed=5)
    lines_in_order(result, ["2 snapshots generated."])
    assert snapshots(pytester) == {path.removeprefix("tests/__snapshots__/"): text for path, text in shown.items()}
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=5)
    lines_in_order(result, ["2 snapshots passed."])
    (header,) = doc_blocks("om-dsl 0.1.0: specs")
    result.stdout.fnmatch_lines([header.strip().replace("0.1.0", "*")])

    # A plan changes: the difference the docs show.
    catalog = pytester.path / "specs/shop/catalog.om"
    original = catalog.read_text(encoding="utf-8")
    (changed_plan,) = doc_blocks("plan ACCESS_CFS on add {\n  callout activate")
    assert "manual check_line" in changed_plan
    head = original[: original.index("plan ACCESS_CFS on add {")]
    catalog.write_text(head.replace("default timeout 30s\n", 'default timeout 30s\nqueue field_ops "Field operations"\n') + changed_plan, encoding="utf-8")
    result = pytester.runpytest(*PLUGIN, "-vv")
    result.assert_outcomes(passed=3, failed=2)
    (diff,) = doc_blocks("$ python -m pytest -vv\n")
    lines_in_order(result, [line for line in diff.splitlines() if line.startswith((">", "E"))])

    # A snapshot whose test is gone fails the run; --snapshot-update deletes it.
    catalog.write_text(original, encoding="utf-8")
    pytester.makefile(".plan", **{"tests/__snapshots__/test_plans/test_gone": "old\n"})
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=5)
    assert result.ret == 1
    lines_in_order(result, ["2 snapshots passed. 1 snapshot unused."])
    pytester.runpytest(*PLUGIN, "--snapshot-update").assert_outcomes(passed=5)
    assert "test_plans/test_gone.plan" not in snapshots(pytester)

    # The specs have an error: the session stops with the diagnostics, as shown.
    before = snapshots(pytester)
    catalog.write_text(original.replace("down_mbps = speed_mbps", "down_mbps = speed_mbs"), encoding="utf-8")
    (stopped,) = doc_blocks("$ python -m pytest\n...\n______")
    for args in ((), ("--snapshot-update",)):
        result = pytester.runpytest(*PLUGIN, *args)
        result.assert_outcomes(errors=1)
        lines_in_order(result, [line for line in stopped.splitlines()[2:] if line not in ("", "...")])
        assert snapshots(pytester) == before


def test_the_docs_ci_workflow_is_the_one_om_init_writes():
    from om_dsl.scaffold import render

    (workflow,) = doc_blocks("name: specs\n")
    written = render("shop")[".github/workflows/specs.yml"]
    assert [line for line in written.splitlines() if line.strip() and not line.lstrip().startswith("#")] == [line for line in workflow.splitlines() if line.strip()]
