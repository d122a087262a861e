"""The operator console in a real browser (issue 22, items 3 and 4): headless
Chromium, driven by Playwright, against a real `om serve` on 127.0.0.1
running the Acme demo (docs/console_screenshots.py's `Demo`: the systems'
HTTP simulator, the example orders submitted over the API, ORD-1001 held by
a fatally failed call). One browser for the module, and one demo for the
tests that only read; a test that takes orders on has a demo of its own.
Each test has its own browser context (its own cookies).

Without Chromium these tests fail, saying how to install it
(tests/support/browser.py); OM_SKIP_BROWSER=1 skips them, outside CI only."""

from __future__ import annotations

import json

import pytest

from support import PATIENCE_S
from support.browser import HELD_TASK, Demo, chromium, horizontal_overflow, sign_in, unlabelled_controls, unreachable_by_tab

pytestmark = pytest.mark.browser
# playwright is imported inside the tests and fixtures: without it the tests fail saying
# how to install it (support.browser.require_browser), not the whole run at collection.
WAIT_MS = PATIENCE_S * 1000  # how long an expectation waits for the page (it passes as soon as it holds)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:  # fails (or skips) first, saying why, when no browser can run here
        from playwright.sync_api import expect

        expect.set_options(timeout=WAIT_MS)  # an expectation's patience (5 s by default: short on a busy machine)
        yield b


@pytest.fixture(scope="module")
def demo(tmp_path_factory, browser):
    with Demo(tmp_path_factory.mktemp("console-demo"), PATIENCE_S) as d:
        yield d


def new_page(browser, demo, width: int = 1280):
    """A page of a new browser context (its own cookies) on `demo`'s console."""
    context = browser.new_context(base_url=demo.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


@pytest.fixture
def page(browser, demo):
    page = new_page(browser, demo)
    yield page
    page.context.close()


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
    page.set_content("<main><a href='#a'>First</a><div style='overflow:auto;height:40px'><p style='height:400px'>a scroller</p></div>"
                     "<button tabindex='-1'>Mouse only</button><button>Last</button></main>")
    assert unreachable_by_tab(page) == ['<button tabindex="-1">Mouse only</button>']


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


# ---- the "Done when": from submitted to completed with only a browser ----------------------


@pytest.fixture(params=["embedded", "temporal"])
def own_demo(request, tmp_path):
    """A demo of the test's own (it is taken to the end), on each engine."""
    address = request.getfixturevalue("temporal_server").address if request.param == "temporal" else None
    with Demo(tmp_path, PATIENCE_S, temporal=address) as d:
        d.settled()
        yield d


def test_an_operator_takes_the_demo_to_completed_with_only_a_browser(browser, own_demo):
    """Sign in with a token; find the held order by its state; read why on its
    page; retry its task from the fallout page; complete every field visit
    through the worklist's form; meanwhile the held order's page, left open
    in another tab, goes from held to completed by itself (it refreshes);
    every order ends completed, and the history says who retried and why."""
    from playwright.sync_api import expect

    demo = own_demo
    held = demo.held_order
    page = new_page(browser, demo)
    sign_in(page, demo.operator_token)
    expect(page.locator("#whoami")).to_have_text("noc-operator (operator)")

    page.select_option("#f-state", "held")
    page.click("#filter")
    rows = page.locator("tr.order-row")
    expect(rows).to_have_count(1)
    assert rows.get_attribute("data-order") == held
    rows.locator("a.order-link").click()
    expect(page.locator("#order-status")).to_have_text("held")
    failed = page.locator(f'#tasks tr.task[data-task="{HELD_TASK}"]')
    expect(failed).to_have_attribute("data-state", "fatallyFailed")
    expect(failed).to_contain_text("422")
    watch = page.context.new_page()  # the held order's page, left open in a second tab while the operator works
    watch.goto(f"/console/orders/{held}")
    expect(watch.locator("#order-status")).to_have_text("held")
    watch.evaluate("() => { window.notReloaded = true; }")

    page.click("#nav-fallout")
    item = page.locator(f'li.fallout-task[data-order="{held}"][data-task="{HELD_TASK}"]')
    item.get_by_role("checkbox").check()
    page.get_by_label("Reason (required to skip)").fill("the number pool was refilled")
    page.get_by_role("button", name="Retry selected").click()
    expect(page.locator("#outcomes tr.outcome.ok")).to_have_count(1)
    expect(page.locator("#outcomes tr.outcome.not-ok")).to_have_count(0)

    visits = demo.visits()
    assert sorted(o for o, _ in visits) == sorted(demo.id(o) for o in ("ORD-1001", "ORD-1003", "ORD-1004"))
    page.click("#nav-worklists")  # the technician claims the first visit, saying why
    first = page.locator(f'tr.manual-task[data-order="{visits[0][0]}"][data-task="{visits[0][1]}"]')
    first.get_by_label(f"Why claim {visits[0][1]}").fill("on my way")
    first.get_by_role("button", name="Claim").click()
    page.click("#nav-worklists")
    expect(first.locator("td.claimed")).to_have_text("noc-operator")
    for order_id, task_id in visits:
        page.click("#nav-worklists")
        row = page.locator(f'tr.manual-task[data-order="{order_id}"][data-task="{task_id}"]')
        row.get_by_role("link", name="Complete").click()
        expect(page.locator("h1")).to_have_text(f"Complete {task_id}")
        page.get_by_role("button", name="Complete task").click()
        expect(page.locator("#outcomes tr.outcome.ok")).to_have_count(1)
    page.click("#nav-worklists")
    expect(page.locator("#no-work")).to_be_visible()

    expect(watch.locator("#order-status")).to_have_text("completed", timeout=WAIT_MS)
    assert watch.evaluate("() => window.notReloaded === true")  # the same page, refreshed in place, never reloaded
    expect(watch.locator('#tasks tr.task:not([data-state="completed"]):not([data-state="skipped"])')).to_have_count(0)

    demo.wait_until("every order completed", lambda: set(demo.statuses().values()) == {"completed"})
    history = demo.om("orders", "history", held)
    retried = [line for line in history.splitlines() if HELD_TASK in line and "noc-operator" in line]
    assert retried and "the number pool was refilled" in retried[0], history
    assert "claimed by noc-operator: on my way" in demo.om("orders", "history", visits[0][0])
    page.context.close()


def test_an_operator_brings_an_offline_system_online_and_the_call_it_held_goes_out(browser, tmp_path):
    """Billing offline: the TV order's billing call waits on hold; the fallout
    and systems pages show it; "Bring online" on the systems page sends it,
    and the TV order completes (the embedded engine: on Temporal a worker's
    configuration takes a system offline, not the console)."""
    from playwright.sync_api import expect

    with Demo(tmp_path, PATIENCE_S, offline=("billing",)) as demo:
        demo.settled()
        tv = demo.id("ORD-1002")
        page = new_page(browser, demo)
        sign_in(page, demo.operator_token)
        page.click("#nav-fallout")
        expect(page.locator(f'li.fallout-task[data-order="{tv}"][data-task="order/D9:start_billing"]')).to_be_visible()
        page.click("#nav-systems")
        billing = page.locator('tr.system[data-system="billing"]')
        expect(billing.locator(".system-state")).to_have_text("offline")
        expect(billing).to_contain_text(f"{tv} order/D9:start_billing")
        billing.get_by_role("button", name="Bring online").click()
        expect(page.locator("#outcomes tr.outcome.ok").first).to_contain_text("billing")
        expect(page.locator("#outcomes tr.outcome.not-ok")).to_have_count(0)
        page.click("#nav-systems")
        expect(billing.locator(".system-state")).to_have_text("online")
        demo.wait_until("the TV order completed", lambda: demo.statuses()[tv] == "completed")
        page.context.close()


# ---- usable at 1280 and 800 pixels, labelled, by keyboard (issue 22, item 4) -----------------------

MAIN_PAGES = {
    "login": "/console/login",
    "orders": "/console/orders",
    "order": "/console/orders/ORD-1001",
    "fallout": "/console/fallout",
    "worklists": "/console/worklists",
    "complete": "/console/tasks/complete?order=ORD-1001&task=1/D1:install_visit",
    "systems": "/console/systems",
}


@pytest.fixture(scope="module")
def operator(browser, demo):
    """A browser context signed in as the module demo's operator (settled: its held order, its visits)."""
    demo.settled()
    page = new_page(browser, demo)
    sign_in(page, demo.operator_token)
    page.close()
    yield page.context
    page.context.close()


@pytest.fixture
def signed_in(operator):
    """A new page of the operator's session (its own listeners and window size)."""
    page = operator.new_page()
    yield page
    page.close()


def test_the_main_pages_load_without_a_browser_error_and_the_order_page_refreshes(signed_in):
    """No page logs an error in the browser (a script error, a resource or a
    fetch the Content-Security-Policy blocks, a missing file), and the order
    page's script fetches its live part and swaps it in."""
    page = signed_in
    errors = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    for path in MAIN_PAGES.values():
        page.goto(path)
    page.goto(MAIN_PAGES["order"])
    page.evaluate("() => { document.getElementById('order-status').dataset.stale = 'yes'; }")
    from playwright.sync_api import TimeoutError, expect

    try:
        with page.expect_response(lambda r: r.url.endswith("/ORD-1001/live")) as answer:
            pass  # the page's own timer asks
    except TimeoutError:
        pytest.fail(f"the order page never fetched its live part; the browser said: {errors}")
    assert answer.value.status == 200
    expect(page.locator("#order-status")).not_to_have_attribute("data-stale", "yes")  # swapped in: a new element
    assert errors == []


@pytest.mark.parametrize("width", [1280, 800])
def test_the_main_pages_have_no_horizontal_overflow(signed_in, width):
    """At 1280 and 800 px wide no page is wider than its window: a wide table
    scrolls inside its own box, the rest wraps."""
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    found = {}
    for name, path in MAIN_PAGES.items():
        page.goto(path)
        found[name] = horizontal_overflow(page)
    assert found == dict.fromkeys(MAIN_PAGES), found


def test_every_control_of_the_main_pages_has_a_label_and_is_reached_by_tab(signed_in):
    """Every link, button and field has an accessible name, and no field is
    named by its placeholder alone (Chromium's accessibility tree); Tab,
    once round each page, reaches every visible control."""
    page = signed_in
    unlabelled, unreachable = {}, {}
    for name, path in MAIN_PAGES.items():
        page.goto(path)
        assert page.locator("a[href], button, input:not([type=hidden]), select, textarea").count() > 0, f"{name}: no control at all"
        unlabelled[name] = unlabelled_controls(page)
        page.goto(path)
        unreachable[name] = unreachable_by_tab(page)
    assert unlabelled == {name: [] for name in MAIN_PAGES}, unlabelled
    assert unreachable == {name: [] for name in MAIN_PAGES}, unreachable


@pytest.fixture
def fresh_demo(tmp_path):
    with Demo(tmp_path, PATIENCE_S) as d:
        d.settled()
        yield d


def test_the_main_actions_work_by_keyboard_alone(browser, fresh_demo):
    """Sign in, go to the fallout page, select the held task and retry it, go
    to the worklists and complete a field visit: Tab, Space and Enter only."""
    from playwright.sync_api import expect

    from support.browser import tab_to

    demo = fresh_demo
    page = new_page(browser, demo)
    page.goto("/console/login")
    expect(page.locator("#token")).to_be_focused()  # the login form's field has the focus at once
    page.keyboard.type(demo.operator_token)
    page.keyboard.press("Enter")
    expect(page.locator("#whoami")).to_have_text("noc-operator (operator)")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()  # the first stop: past the header
    tab_to(page, page.locator("#nav-fallout"))
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Fallout")
    checkbox = page.locator(f'li.fallout-task[data-order="{demo.held_order}"][data-task="{HELD_TASK}"] input[type=checkbox]')
    tab_to(page, checkbox)
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    tab_to(page, page.locator("#retry"))
    page.keyboard.press("Enter")
    expect(page.locator("#outcomes tr.outcome.ok")).to_have_count(1)

    tab_to(page, page.locator("#nav-worklists"))
    page.keyboard.press("Enter")
    order_id, task_id = demo.visits()[0]
    tab_to(page, page.locator(f'tr.manual-task[data-order="{order_id}"][data-task="{task_id}"] a.complete-link'))
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(f"Complete {task_id}")
    tab_to(page, page.locator("#complete"))
    page.keyboard.press("Enter")
    expect(page.locator("#outcomes tr.outcome.ok")).to_have_count(1)
    assert (order_id, task_id) not in demo.visits()
    assert demo.statuses()[demo.held_order] != "held"
    page.context.close()


def test_a_viewer_sees_the_fallout_and_the_work_but_has_no_control_to_act(browser, demo):
    """The viewer role reads every page; the pages offer it no retry, skip,
    claim or complete (the server refuses them too: tests/test_console.py)."""
    from playwright.sync_api import expect

    demo.settled()
    page = new_page(browser, demo)
    sign_in(page, demo.viewer_token)
    expect(page.locator("#whoami")).to_have_text("bi-viewer (viewer)")
    page.goto("/console/fallout")
    expect(page.locator(f'li.fallout-task[data-order="{demo.held_order}"][data-task="{HELD_TASK}"]')).to_be_visible()
    expect(page.locator("#retry, #skip, input[name=select]")).to_have_count(0)
    page.goto(f"/console/orders/{demo.held_order}")
    expect(page.locator(f'#tasks tr.task[data-task="{HELD_TASK}"]')).to_have_attribute("data-state", "fatallyFailed")
    expect(page.locator("form.task-action, a.complete-link")).to_have_count(0)
    page.goto("/console/worklists")
    expect(page.locator("tr.manual-task")).to_have_count(3)
    expect(page.locator("form.claim-form, a.complete-link")).to_have_count(0)
    page.context.close()


# ---- the screenshots of docs/console.md ---------------------------------------------------------


def png_size(path) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk (checking that it is a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_the_console_page_shows_each_main_page_as_a_committed_screenshot():
    """docs/console.md shows a PNG of every page the script takes, each committed, 1280 px wide."""
    from support import ROOT
    from support.browser import console_screenshots

    page = (ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    for name, _ in console_screenshots.PAGES:
        assert f"](console/{name}.png)" in page, name
        width, height = png_size(ROOT / "docs" / "console" / f"{name}.png")
        assert width == 1280 and 300 < height <= console_screenshots.MAX_HEIGHT, (name, width, height)


def test_the_screenshot_script_writes_every_page(browser, tmp_path):
    """docs/console_screenshots.py, run as the docs say (on free ports here), writes a PNG of each main page."""
    import subprocess
    import sys

    from support import ROOT
    from support.browser import console_screenshots, free_port

    out = tmp_path / "shots"
    done = subprocess.run(
        [sys.executable, "docs/console_screenshots.py", "-o", str(out), "--port", str(free_port()), "--systems-port", str(free_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=PATIENCE_S * 3,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = [name for name, _ in console_screenshots.PAGES]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in names)
    assert {png_size(out / f"{n}.png")[0] for n in names} == {1280}


def test_the_order_page_does_not_take_the_focus_from_an_operator_when_it_refreshes(signed_in):
    """A refresh whose answer lands after the operator tabbed into the tasks
    table leaves the table (and the focus) alone: a keyboard user keeps
    their place. The answer is held back until the focus is in the table;
    the test counts the answers the page has read, so it knows the page has
    decided before it looks."""
    page = signed_in
    page.add_init_script("""(() => {
      const text = Response.prototype.text;
      Response.prototype.text = function () {
        return text.call(this).then(t => { if (this.url.endsWith('/live')) window.liveAnswersRead = (window.liveAnswersRead || 0) + 1; return t; });
      };
    })()""")
    held_back = []
    page.route("**/ORD-1001/live", lambda route: held_back.append(route))
    page.goto(MAIN_PAGES["order"])
    with page.expect_request("**/ORD-1001/live"):
        pass  # the page's own timer asks; the answer waits in held_back
    retry = page.locator(f'#tasks tr.task[data-task="{HELD_TASK}"] button', has_text="Retry")
    retry.evaluate("e => { e.dataset.before = 'refresh'; e.focus(); }")
    held_back[0].continue_()
    page.wait_for_function("() => window.liveAnswersRead === 1")
    page.evaluate("() => new Promise(r => setTimeout(r, 0))")  # after the answer's handler: it has swapped the table in, or not
    assert page.evaluate("() => document.activeElement.dataset.before === 'refresh'"), "the refresh replaced the table under the focus"
