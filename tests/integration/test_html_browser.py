"""The HTML report in a real browser: headless Chromium from Debian's package (installed by
scripts/setup-toolchain.sh), driven over its DevTools pipe by tests/chromium.py.

The compare page is the demo's: `buildopt compare examples/telegram-bot/Dockerfile` as scripts/demo.sh
runs it (fixture trivy DB, offline), on the real engine. The audit page is rendered from the audit
document recorded on the real engine (tests/data/audit/README.md). Under CI=true a missing Chromium
fails these tests instead of skipping them (tests/conftest.require).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from buildopt.inspect.model import GROUP_SHORT
from buildopt.report import html
from tests.chromium import Chromium, chromium_binary
from tests.conftest import own_leftovers, require

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "telegram-bot"
AUDIT = REPO / "tests" / "data" / "audit" / "audit-document.json"
PNG = b"\x89PNG\r\n\x1a\n"

# Each treemap's visible view: its depth-0 cells as the browser laid them out (CSS pixels).
CELLS = """(() => Array.from(document.querySelectorAll("section.treemap")).map(box => {
  const view = Array.from(box.querySelectorAll("svg.treemap-view")).find(svg => !svg.hasAttribute("hidden"));
  const frame = view.getBoundingClientRect();
  return {side: box.dataset.side, view: view.id, bytes: Number(view.dataset.bytes), width: frame.width,
          height: frame.height, visible: Array.from(box.querySelectorAll("svg.treemap-view"))
            .filter(svg => getComputedStyle(svg).display !== "none").length,
          crumbs: Array.from(box.querySelectorAll(".crumbs button")).map(b => b.textContent),
          cells: Array.from(view.querySelectorAll("rect.d0")).map(rect => {
            const r = rect.getBoundingClientRect();
            return {key: rect.dataset.key, bytes: Number(rect.dataset.bytes), width: r.width, height: r.height,
                    opens: rect.parentNode.dataset.view || null};
          })};
}))()"""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_binary()
    require(path is not None, "chromium missing (scripts/setup-toolchain.sh installs Debian's chromium)")
    return path  # type: ignore[return-value]


@pytest.fixture(scope="module")
def demo_report(docker_engine, trivy_bin, fixture_trivy_cache, tmp_path_factory) -> Path:
    """The demo's compare: report.html written with the other reports."""
    out = tmp_path_factory.mktemp("demo") / "out"
    result = subprocess.run(
        [sys.executable, "-m", "buildopt.cli", "compare", str(APP / "Dockerfile"), "--context", str(APP),
         "--output-dir", str(out), "--trivy-cache-dir", str(fixture_trivy_cache), "--offline", "--format", "html"],
        capture_output=True, text=True, cwd=REPO)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: the example's budget fails, as in the demo
    assert result.stdout == (out / "report.html").read_text()  # --format html prints the same page
    return out


def check_proportions(view: dict) -> None:
    """Within 2 % of its bytes' share for every cell whose share the 0.01 px coordinates can express
    (at least 0.1 % of the view); smaller slivers within 0.02 % of the view's area."""
    area = sum(cell["width"] * cell["height"] for cell in view["cells"])
    total = sum(cell["bytes"] for cell in view["cells"])
    assert total == view["bytes"]
    assert area == pytest.approx(view["width"] * view["height"], rel=0.02)  # the cells tile the view
    for cell in view["cells"]:
        drawn, share = cell["width"] * cell["height"] / area, cell["bytes"] / total
        if share >= 0.001:
            assert drawn == pytest.approx(share, rel=0.02), cell
        else:
            assert abs(drawn - share) < 0.0002, cell


def click(browser: Chromium, x: float, y: float) -> None:
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        browser.page("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def test_demo_report_in_chromium(chromium, demo_report, tmp_path):
    doc = json.loads((demo_report / "report.json").read_text())
    page = demo_report / "report.html"
    with Chromium(chromium) as browser:
        browser.open(page.as_uri())
        views = browser.evaluate(CELLS)
        shot = browser.screenshot(tmp_path / "compare.png")
        # Drill down: click the largest group's header strip in the original's treemap.
        target = browser.evaluate("""(() => {
          const box = document.querySelector('section.treemap[data-side="original"]');
          const cell = box.querySelector('svg.treemap-view:not([hidden]) g.cell.opens');
          cell.scrollIntoView({block: "center"});
          const r = cell.querySelector("rect").getBoundingClientRect();
          return {x: r.left + r.width / 2, y: r.top + 4, view: cell.dataset.view,
                  key: cell.querySelector("rect").dataset.key};
        })()""")
        click(browser, target["x"], target["y"])
        opened = browser.evaluate(CELLS)[0]
        # Hover a cell: its tooltip text goes to the status line.
        hover = browser.evaluate("""(() => {
          const box = document.querySelector('section.treemap[data-side="original"]');
          const rect = box.querySelector('svg.treemap-view:not([hidden]) rect.d0').getBoundingClientRect();
          return {x: rect.left + 3, y: rect.top + 3};
        })()""")
        browser.page("Input.dispatchMouseEvent", type="mouseMoved", x=hover["x"], y=hover["y"])
        status = browser.evaluate("document.querySelector('section.treemap[data-side=\"original\"] .status').textContent")
        # Back to the root through the breadcrumb.
        crumb = browser.evaluate("""(() => {
          const b = document.querySelector('section.treemap[data-side="original"] .crumbs button');
          const r = b.getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2};
        })()""")
        click(browser, crumb["x"], crumb["y"])
        back = browser.evaluate(CELLS)[0]
        errors, urls = browser.console_errors(), browser.requested_urls()

    assert errors == []
    assert urls and all(url.startswith(("file:", "data:")) for url in urls), urls  # nothing from the network
    assert shot.read_bytes()[:8] == PNG and shot.stat().st_size > 20_000

    assert [view["side"] for view in views] == ["original", "optimized"]
    for view in views:
        variant = doc["variants"][view["side"]]
        expected = {key for key, size in variant["groups"].items() if size}
        if variant["wasted_bytes"]:
            expected.add("hidden")
        assert {cell["key"] for cell in view["cells"]} == expected
        assert {cell["key"]: cell["bytes"] for cell in view["cells"]} == {
            **{key: size for key, size in variant["groups"].items() if size},
            **({"hidden": variant["wasted_bytes"]} if variant["wasted_bytes"] else {})}
        assert view["bytes"] == variant["size"] and view["visible"] == 1
        check_proportions(view)

    assert opened["view"] == target["view"] and opened["visible"] == 1
    group = next(cell for cell in views[0]["cells"] if cell["opens"] == target["view"])
    assert opened["bytes"] == group["bytes"]
    assert len(opened["crumbs"]) == 2 and opened["crumbs"][1] == GROUP_SHORT[target["key"]]
    check_proportions(opened)
    assert status and "B" in status  # a size went to the status line
    assert back["view"] == views[0]["view"] and len(back["crumbs"]) == 1


def test_audit_report_in_chromium(chromium, tmp_path):
    doc = json.loads(AUDIT.read_text())
    page = tmp_path / "audit.html"
    page.write_text(html.render_audit(doc))
    with Chromium(chromium) as browser:
        browser.open(page.as_uri())
        [view] = browser.evaluate(CELLS)
        plan = browser.evaluate("Array.from(document.querySelectorAll('.plan-step')).map(s => s.dataset.priority)")
        shot = browser.screenshot(tmp_path / "audit.png")
        errors = browser.console_errors()
    assert errors == []
    assert plan == [step["priority"] for step in doc["action_plan"]]
    categories = {key for key, value in doc["summary"]["by_category"].items() if value["count"]}
    assert {cell["key"] for cell in view["cells"]} == categories | {"dangling"}
    check_proportions(view)
    assert shot.read_bytes()[:8] == PNG


def test_nothing_left_behind(demo_report):
    containers, images = own_leftovers()
    assert containers == [] and images == []
