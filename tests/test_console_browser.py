"""The operator console in a real browser (issue 22, items 3 and 4): headless
Chromium, driven by Playwright, against a real `om serve` on 127.0.0.1
running the Acme demo (docs/console_screenshots.py's `Demo`: the systems'
HTTP simulator, the example orders submitted over the API, ORD-1001 held by
a fatally failed call). One browser and one demo for the module; each test
has its own browser context (its own cookies).

Without Chromium these tests fail, saying how to install it
(tests/support/browser.py); OM_SKIP_BROWSER=1 skips them, outside CI only."""

from __future__ import annotations

import json

import pytest

from support import PATIENCE_S
from support.browser import Demo, chromium, horizontal_overflow, unlabelled_controls

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def demo(tmp_path_factory, browser):
    with Demo(tmp_path_factory.mktemp("console-demo"), PATIENCE_S) as d:
        yield d


@pytest.fixture
def page(browser, demo):
    context = browser.new_context(base_url=demo.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PATIENCE_S * 1000)
    page = context.new_page()
    yield page
    context.close()


def test_the_browser_reaches_om_serve(page, demo):
    """The smoke test of the set-up: Chromium loads the service's health page over 127.0.0.1."""
    response = page.goto("/health")
    assert response.status == 200
    assert json.loads(page.locator("body").inner_text()).get("ok") is True


def test_the_page_checks_find_what_they_look_for(page):
    """The checks every console page goes through catch what they are for:
    a page wider than its window, a button without a name, a field named
    only by its placeholder; and pass a page without them."""
    page.set_viewport_size({"width": 800, "height": 600})
    page.set_content("<main><button>Retry</button><label>Reason <input name=reason></label>"
                     "<div style='overflow-x:auto'><table style='width:2000px'><tr><td>wide, in its own scroller</td></tr></table></div></main>")
    assert horizontal_overflow(page) is None and unlabelled_controls(page) == []
    page.set_content("<main><div style='width:1200px'>too wide</div><button></button><input name=q placeholder=Customer></main>")
    assert "div reaches 1208 px" in (horizontal_overflow(page) or "")  # 1200 px and the body's 8 px margin
    found = unlabelled_controls(page)
    assert len(found) == 2 and found[0].startswith("button without a name") and "named only by placeholder" in found[1], found


@pytest.mark.parametrize("ci, skip, outcome", [("true", "1", "failed"), ("", "1", "skipped"), ("", "", "failed"), ("0", "1", "skipped")])
def test_without_chromium_the_tests_fail_and_skip_only_when_told_outside_ci(monkeypatch, tmp_path, ci, skip, outcome):
    import support.browser as b

    monkeypatch.setattr(b, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("OM_SKIP_BROWSER", skip)
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)) as raised:
        b.require_browser()
    assert {pytest.fail.Exception: "failed", pytest.skip.Exception: "skipped"}[raised.type] == outcome
    message = str(raised.value)
    assert f"no Chromium at {tmp_path / 'no-chromium'}: apt-get install chromium" in message
    assert ("never skipped there" in message) == (outcome == "failed" and ci == "true")
