"""The console in a real browser: Debian's Chromium, headless, driven by
Playwright (the wheel's own driver; no browser is downloaded), against the
Acme demo of docs/console_screenshots.py (`Demo`: `om serve` on 127.0.0.1).

Without Chromium (or Playwright) a browser test fails, saying how to get
it. `OM_SKIP_BROWSER=1` skips them instead, on a developer's machine only:
under CI (`CI` set, as `.ci/run` sets it) they never skip.

The checks any page must pass, whatever its content (issue 22, item 4), are
here: no horizontal overflow at a width, an accessible name on every
control, every control reached by Tab.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

import pytest

from support import ROOT

sys.path.insert(0, str(ROOT / "docs"))

import console_screenshots  # noqa: E402  (docs/console_screenshots.py: the demo and the launch, shared with the screenshots)

CHROMIUM = console_screenshots.CHROMIUM
Demo = console_screenshots.Demo
HELD_TASK = console_screenshots.HELD_TASK
free_port = console_screenshots.free_port
sign_in = console_screenshots.sign_in


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing() -> str | None:
    """Why no browser can run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright is not installed ({exc}): python -m pip install '.[test]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian's package; .ci/run installs it), or point OM_CHROMIUM at one"
    return None


def require_browser() -> None:
    """Fail (or, on request and outside CI, skip) when no browser can run."""
    problem = missing()
    if problem is None:
        return
    if under_ci():
        pytest.fail(f"{problem}. The browser tests run under CI (CI={os.environ['CI']!r}): they are never skipped there.", pytrace=False)
    if os.environ.get("OM_SKIP_BROWSER") == "1":
        pytest.skip(f"{problem} (OM_SKIP_BROWSER=1)")
    pytest.fail(f"{problem}. To skip the browser tests on this machine instead: OM_SKIP_BROWSER=1.", pytrace=False)


@contextlib.contextmanager
def chromium() -> Iterator:
    """One headless Chromium (a fresh profile, removed at the end), for a test module to share."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = console_screenshots.launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


# ---- what every page must be ---------------------------------------------------------------------

# The widest element whose right edge passes the viewport's, with its tag, id and classes:
# what an operator at that width would have to scroll sideways for.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const scroll = document.documentElement.scrollWidth;
  let worst = null;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 1 && (!worst || r.right > worst.right)) {
      let scrolls = false;
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX;
        if ((o === 'auto' || o === 'scroll' || o === 'hidden') && a.getBoundingClientRect().right <= width + 1) { scrolls = true; break; }
      }
      if (!scrolls) worst = {right: Math.round(r.right), what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')};
    }
  }
  return {width, scroll, worst};
}"""


def horizontal_overflow(page) -> str | None:
    """What sticks out past the viewport's right edge (a page wider than its
    window), or None. An element inside a box that scrolls or clips on its
    own (a wide table in an `overflow-x: auto` wrapper) does not count."""
    found = page.evaluate(OVERFLOW_JS)
    if found["scroll"] <= found["width"] and found["worst"] is None:
        return None
    worst = found["worst"]
    return f"the page is {found['scroll']} px wide in a {found['width']} px window" + (f"; {worst['what']} reaches {worst['right']} px" if worst else "")


# The roles of controls in Chromium's accessibility tree: each needs a name (its label).
CONTROL_ROLES = {"link", "button", "textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "spinbutton", "slider", "switch", "menuitem", "tab"}
FIELD_ROLES = CONTROL_ROLES - {"link", "button", "menuitem", "tab"}


def unlabelled_controls(page) -> list[str]:
    """Each control of the page without an accessible name, as Chromium's
    accessibility tree computes it (what a screen reader says), and each
    form field named only by its placeholder or title: a field needs a
    label (`<label>`, aria-label or aria-labelledby) that stays when typed
    in. Each as its role and outer HTML, cut short."""
    cdp = page.context.new_cdp_session(page)
    try:
        out = []
        for node in cdp.send("Accessibility.getFullAXTree")["nodes"]:
            role = node.get("role", {}).get("value")
            if node.get("ignored") or role not in CONTROL_ROLES:
                continue
            name = node.get("name", {})
            sources = {src.get("type") if src.get("type") != "attribute" else src.get("attribute") for src in name.get("sources", []) if src.get("value")}
            weak = role in FIELD_ROLES and sources and sources <= {"placeholder", "title"}
            if not str(name.get("value", "")).strip() or weak:
                html = cdp.send("DOM.getOuterHTML", {"backendNodeId": node["backendDOMNodeId"]})["outerHTML"] if "backendDOMNodeId" in node else "?"
                out.append(f"{role} {'named only by ' + '/'.join(sorted(sources)) if weak else 'without a name'}: {html[:160]}")
        return out
    finally:
        cdp.detach()


def tab_to(page, target, presses: int = 300) -> int:
    """Press Tab (from where the focus is: the top of a page just loaded)
    until `target` (a locator) has the focus; answers how many presses it
    took, and fails when it never does."""
    handle = target.element_handle()
    for n in range(1, presses + 1):
        page.keyboard.press("Tab")
        if page.evaluate("e => document.activeElement === e", handle):
            return n
    raise AssertionError(f"Tab never reached {target} in {presses} presses")


# Controls as the page lists them, in document order: a control's index is its identity
# across the order page's refresh (which replaces the tasks' nodes with equal ones).
CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])"
_FOCUSED_INDEX = "sel => Array.from(document.querySelectorAll(sel)).indexOf(document.activeElement)"
_VISIBLE = """sel => Array.from(document.querySelectorAll(sel)).map((e, i) => [i, e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden' && !e.disabled, e.outerHTML.slice(0, 120)])"""


def unreachable_by_tab(page, presses: int = 400) -> list[str]:
    """The visible controls that Tab never reaches, going once round the page
    from a fresh load (each as its outer HTML, cut short). Focus may also
    stop on what is not a control (a scrolling box: Chromium lets the
    keyboard scroll it) and leave the page (to the browser) before it comes
    round to the top again; a control reached twice ends the round."""
    reached, elsewhere = set(), 0
    for _ in range(presses):
        page.keyboard.press("Tab")
        index = page.evaluate(_FOCUSED_INDEX, CONTROLS)
        if index in reached:
            break
        if index < 0:
            elsewhere += 1
            if elsewhere > 20:  # no control takes the focus at all
                break
            continue
        reached.add(index)
        elsewhere = 0
    return [html for i, visible, html in page.evaluate(_VISIBLE, CONTROLS) if visible and i not in reached]
