"""`make bench-realworld` (issue 13, not run in CI): `buildopt compare` on every buildable app of the real-world
corpus (tests/corpus/realworld, `buildable = true` in MANIFEST.toml), one row per app in docs/benchmarks.md.

For each app it runs

    buildopt compare <app>/Dockerfile --context <app> --no-scan --output-dir build/bench-realworld/<app>

(add `--no-cache` for cold builds) and reads report.json (schema buildopt.compare/v1): whether each variant
built, whether its smoke tests passed, the sizes, and the changes applied and dropped. Per change,
`"status": "applied" | "advised" | "dropped"` and the top-level `"fallback": {"dropped": [{"key", "reason", ...}]}`
are read when compare writes them; without them every change counts as applied and nothing as dropped. The table goes
between the bench-realworld markers of docs/benchmarks.md, with the median size reduction and the number of
apps where a change had to be dropped. `--from-reports` re-renders it from an earlier run's reports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from buildopt.report.compare_report import account_bytes  # noqa: E402  (after the sys.path line above: runs from a checkout)
from buildopt.units import format_size  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "realworld"
OUT = ROOT / "build" / "bench-realworld"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench-realworld:start -->", "<!-- bench-realworld:end -->"
HEADING = "## The real-world corpus apps (`make bench-realworld`)"


def buildable_apps() -> list[str]:
    manifest = tomllib.loads((CORPUS / "MANIFEST.toml").read_text())["case"]
    return sorted(name for name, entry in manifest.items() if entry.get("buildable"))


@dataclass
class Outcome:
    app: str
    report: dict | None = None
    exit_code: int | None = None
    error: str = ""
    wall_s: float = 0.0


def run_compare(app: str, buildopt: Path, cold: bool) -> Outcome:
    out = OUT / app
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "report.json"
    report_path.unlink(missing_ok=True)
    cmd = [str(buildopt), "compare", str(CORPUS / app / "Dockerfile"), "--context", str(CORPUS / app), "--no-scan",
           "--output-dir", str(out), "--format", "json"]
    if cold:
        cmd.append("--no-cache")
    print(f"== {app}: {' '.join(cmd[1:])}", flush=True)
    started = time.monotonic()
    env = {**os.environ, "BUILDOPT_RUN_LABEL": os.environ.get("BUILDOPT_RUN_LABEL", "bench-realworld")}
    with open(out / "compare.log", "w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env, check=False).returncode
    outcome = Outcome(app, exit_code=code, wall_s=time.monotonic() - started)
    if report_path.exists():
        outcome.report = json.loads(report_path.read_text())
    if outcome.report is None:
        tail = (out / "compare.log").read_text(errors="replace").strip().splitlines()[-3:]
        outcome.error = f"compare exited {code}: " + " | ".join(line.strip() for line in tail)
    print(f"   exit {code} after {outcome.wall_s:.0f} s" + (f"; {outcome.error}" if outcome.error else ""), flush=True)
    return outcome


def load_report(app: str) -> Outcome:
    path = OUT / app / "report.json"
    if not path.exists():
        return Outcome(app, error="not run")
    report = json.loads(path.read_text())
    return Outcome(app, report=report, exit_code=(report.get("verdict") or {}).get("exit_code"))


# --- reading report.json ---

def variant(report: dict | None, name: str) -> dict:
    return ((report or {}).get("variants") or {}).get(name) or {}


def changes(report: dict | None) -> tuple[list[str], list[str]]:
    """(applied, advised) change descriptions; without a status every change was applied (today's compare)."""
    applied, advised = [], []
    for change in (report or {}).get("changes") or []:
        (advised if change.get("status") == "advised" else applied).append(change.get("description", ""))
    return applied, advised


def dropped(report: dict | None) -> list[dict]:
    return list((((report or {}).get("fallback") or {}).get("dropped")) or [])


def smoke_cell(v: dict) -> str:
    smoke = v.get("smoke")
    if not v.get("built"):
        return "-"
    if not smoke:
        return "not run"
    checks = smoke.get("checks") or []
    failed = [c for c in checks if not c.get("ok")]
    cell = f"{'yes' if smoke.get('passed') else 'NO'} ({len(checks) - len(failed)}/{len(checks)})"
    if failed:
        first = failed[0]
        cell += f": {first.get('kind')} `{str(first.get('name'))[:40]}` {str(first.get('detail'))[:80]}"
    return cell


def reduction(report: dict | None) -> float | None:
    """Size reduction in percent (positive: smaller), when both variants built."""
    original, optimized = variant(report, "original"), variant(report, "optimized")
    if original.get("built") and optimized.get("built") and original.get("size"):
        return (original["size"] - optimized["size"]) / original["size"] * 100
    return None


def size_change(report: dict) -> str:
    """The reduction in percent; a growth in bytes, with what the user account the non-root change adds."""
    original, optimized = variant(report, "original"), variant(report, "optimized")
    grown = optimized["size"] - original["size"]
    if grown <= 0:
        return f"{reduction(report):.1f} %"
    account = account_bytes(report)
    why = f", {format_size(account)} of it the new user account" if account else ""
    return f"+{format_size(grown)} (larger{why})"


def larger_than_account(report: dict | None) -> bool:
    """Larger than the original by more than the user account the non-root change adds."""
    original, optimized = variant(report, "original"), variant(report, "optimized")
    if not (original.get("built") and optimized.get("built")):
        return False
    return optimized["size"] - account_bytes(report or {}) > original["size"]


def row(outcome: Outcome) -> list[str]:
    report = outcome.report
    if report is None:
        return [outcome.app, outcome.error or "not run"] + ["-"] * 7
    original, optimized = variant(report, "original"), variant(report, "optimized")
    applied, advised = changes(report)
    drops = dropped(report)
    cut = reduction(report)
    return [
        outcome.app,
        f"{'yes' if original.get('built') else 'NO'} / {'yes' if optimized.get('built') else 'NO'}",
        smoke_cell(original),
        smoke_cell(optimized),
        format_size(original["size"]) if original.get("built") else "-",
        format_size(optimized["size"]) if optimized.get("built") else "-",
        size_change(report) if cut is not None else "-",
        f"{len(applied)}" + (f" (+{len(advised)} advised)" if advised else ""),
        "; ".join(f"{d.get('key', '?')}: {d.get('reason', '')}"[:120] for d in drops) or "none",
    ]


HEADER = ["app", "built orig / opt", "smoke orig", "smoke opt", "size orig", "size opt", "reduction",
          "changes applied", "changes dropped (why)"]


def render(outcomes: list[Outcome]) -> str:
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    lines = [
        (f"Measured {stamp} by `make bench-realworld` (benchmarks/bench_realworld.py): `buildopt compare --no-scan` "
         "on each buildable app of tests/corpus/realworld (our own apps, each reproducing a pattern of real "
         "projects; see its MANIFEST.toml), on the `python:3.11-slim` stand-in, 2 shared CPU cores. Smoke: each "
         "app's own buildopt.toml (its start command, migrations, an HTTP probe). Sizes are `docker image "
         "inspect` sizes, decimal units; a negative reduction means the optimized image is larger."),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row(o)) + " |" for o in outcomes]
    cuts = [c for c in (reduction(o.report) for o in outcomes) if c is not None]
    both_pass = [o for o in outcomes if all((variant(o.report, v).get("smoke") or {}).get("passed")
                                            for v in ("original", "optimized"))]
    larger = [o.app for o in outcomes if (reduction(o.report) or 0) < 0]
    beyond_account = [o.app for o in outcomes if larger_than_account(o.report)]
    with_drops = [o.app for o in outcomes if dropped(o.report)]
    lines += [
        "",
        f"- Apps: {len(outcomes)}; both variants built and passed the same smoke tests: {len(both_pass)} of "
        f"{len(outcomes)}.",
        "- Median size reduction (apps where both variants built): "
        + (f"**{statistics.median(cuts):.1f} %**" if cuts else "not measured") + ".",
        f"- Optimized image larger than the original: {len(larger)}" + (f" ({', '.join(larger)})" if larger else "")
        + f"; by more than the user account the non-root change adds: **{len(beyond_account)}**"
        + (f" ({', '.join(beyond_account)})" if beyond_account else "") + ".",
        f"- Apps where a change had to be dropped: **{len(with_drops)}**" + (f" ({', '.join(with_drops)})" if with_drops else "")
        + ". (Read from report.json's `fallback.dropped`; a compare without that field dropped nothing.)",
    ]
    failures = [o for o in outcomes if o.error]
    if failures:
        lines += ["", "Not measured:"] + [f"- {o.app}: {o.error}" for o in failures]
    return "\n".join(lines)


def splice(text: str, section: str) -> str | None:
    if START not in text or END not in text:
        return None
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{section}\n{END}{rest.split(END, 1)[1]}"


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    spliced = splice(text, section)
    if spliced is None:
        spliced = text.rstrip("\n") + f"\n\n{HEADING}\n\n{START}\n{section}\n{END}\n"
    DOC.write_text(spliced)


def main() -> int:
    apps = buildable_apps()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", nargs="+", choices=apps, help="apps to build (default: all); others keep their last report")
    parser.add_argument("--from-reports", action="store_true", help="build nothing: render from build/bench-realworld")
    parser.add_argument("--no-cache", action="store_true", help="cold builds (compare --no-cache)")
    parser.add_argument("--no-doc", action="store_true", help="print the table only; leave docs/benchmarks.md")
    args = parser.parse_args()
    selected = set(args.apps or apps)
    buildopt = Path(sys.executable).parent / "buildopt"
    outcomes = {}
    if not args.from_reports:
        for app in apps:
            if app in selected:
                outcomes[app] = run_compare(app, buildopt, args.no_cache)
    ordered = [outcomes.get(app) or load_report(app) for app in apps]
    section = render(ordered)
    print(section)
    if not args.no_doc:
        write_doc(section)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 1 if any(o.error for o in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
