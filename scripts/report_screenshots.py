"""Screenshots of the HTML reports for docs/ (linked from the README), taken in headless Chromium.

- docs/report-compare.png: the demo's compare report (run `make demo` first: build/demo/report.html);
- docs/report-audit.png: the audit report of the audit document recorded on a real engine
  (tests/data/audit/audit-document.json, see its README);
- docs/report-paperflow.png, when build/bench-html/report-bench.html exists (`make bench-html`): the
  paperflow-worker compare, whose original is 6.33 GB of mostly CUDA wheels.

Usage: .venv/bin/python scripts/report_screenshots.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from buildopt.report import html  # noqa: E402  (after the sys.path line above)
from tests.chromium import Chromium  # noqa: E402

DOCS = ROOT / "docs"


def shoot(page: Path, target: Path, *, start: str | None = None, height: int = 1900) -> None:
    with Chromium(width=1320, height=1000) as browser:
        browser.open(page.resolve().as_uri())
        errors = browser.console_errors()
        if errors:
            raise SystemExit(f"{page}: console errors: {errors}")
        if start:  # begin the picture at this element (scrolls the page up to it)
            browser.evaluate(f"document.querySelector({json.dumps(start)}).scrollIntoView()")
            offset = browser.evaluate("window.scrollY")
            browser.evaluate(f"document.body.style.marginTop = '-{offset}px'; window.scrollTo(0, 0)")
        browser.screenshot(target, max_height=height)
    print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1000} kB)")


def main() -> int:
    demo = ROOT / "build" / "demo" / "report.html"
    if not demo.exists():
        raise SystemExit("no build/demo/report.html: run `make demo` first")
    shoot(demo, DOCS / "report-compare.png", height=2000)
    audit = ROOT / "build" / "audit-sample.html"
    audit.parent.mkdir(exist_ok=True)
    audit.write_text(html.render_audit(json.loads((ROOT / "tests/data/audit/audit-document.json").read_text())))
    shoot(audit, DOCS / "report-audit.png", height=1500)
    paperflow = ROOT / "build" / "bench-html" / "report-bench.html"
    if paperflow.exists():
        shoot(paperflow, DOCS / "report-paperflow.png", start="#bytes", height=1150)
    return 0


if __name__ == "__main__":
    sys.exit(main())
