"""Consistency check of the examples, and optionally of `buildopt analyze` against their expected findings.

    .venv/bin/python examples/check_examples.py             files, expected lines, buildopt.toml keys
    .venv/bin/python examples/check_examples.py --analyze   also run `buildopt analyze` on each original

Each app's expected_findings.toml lists (slug, line) pairs: [[finding]] must be reported, [[acceptable]]
may be, anything else must not. Exit 0 when everything holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
REPO = EXAMPLES.parent
sys.path.insert(0, str(REPO))

from buildopt.budget import parse_budgets  # noqa: E402
from buildopt.config import load_config  # noqa: E402
from buildopt.dockerfile import parse_file  # noqa: E402
from buildopt.rules.catalog import SLUG_TO_ID  # noqa: E402
from buildopt.smoke import spec_from_config  # noqa: E402

REQUIRED_FILES = ("Dockerfile", "buildopt.toml", "expected_findings.toml", "README.md")


def apps() -> list[Path]:
    return sorted(path.parent for path in EXAMPLES.glob("*/Dockerfile"))


def expected(app: Path) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    data = tomllib.loads((app / "expected_findings.toml").read_text())
    required = {(item["slug"], item["line"]) for item in data.get("finding", [])}
    acceptable = {(item["slug"], item["line"]) for item in data.get("acceptable", [])}
    return required, acceptable


def check_files(app: Path) -> list[str]:
    problems = [f"missing {name}" for name in REQUIRED_FILES if not (app / name).is_file()]
    if problems:
        return problems
    dockerfile = parse_file(app / "Dockerfile")
    by_line = {instruction.line: instruction for instruction in dockerfile.instructions}
    data = tomllib.loads((app / "expected_findings.toml").read_text())
    if data.get("app") != app.name:
        problems.append(f"expected_findings.toml: app = {data.get('app')!r}, directory is {app.name!r}")
    for kind in ("finding", "acceptable"):
        for item in data.get(kind, []):
            where = f"expected_findings.toml [[{kind}]] {item.get('slug')}@{item.get('line')}"
            if item.get("slug") not in SLUG_TO_ID:
                problems.append(f"{where}: unknown slug")
            instruction = by_line.get(item.get("line"))
            if instruction is None:
                problems.append(f"{where}: no instruction starts on that line")
            elif item.get("match") and item["match"] not in instruction.original:
                problems.append(f"{where}: {item['match']!r} is not in {instruction.original[:80]!r}")
    config = load_config(app / "Dockerfile", stop_at=app)
    if config.source != app / "buildopt.toml":
        problems.append(f"config resolved to {config.source}, not {app / 'buildopt.toml'}")
    try:
        parse_budgets(config.budget)
        spec_from_config(config.smoke, app)
    except Exception as err:  # BadInput: report it with the app's name
        problems.append(f"buildopt.toml: {err}")
    return problems


def check_analyze(app: Path) -> list[str]:
    command = [str(REPO / ".venv" / "bin" / "buildopt"), "analyze", "--context", str(app), str(app / "Dockerfile"),
               "--format", "json", "--fail-on", "never"]
    result = subprocess.run(command, capture_output=True, text=True)
    try:
        findings = json.loads(result.stdout)["findings"]
    except (ValueError, KeyError):
        return [f"analyze failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()[:200]}"]
    reported = {(finding["slug"], finding["line"]) for finding in findings}
    required, acceptable = expected(app)
    problems = [f"not reported: {slug} at line {line}" for slug, line in sorted(required - reported)]
    problems += [f"unexpected: {slug} at line {line}" for slug, line in sorted(reported - required - acceptable)]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyze", action="store_true", help="also compare `buildopt analyze` with the lists")
    args = parser.parse_args()
    failed = False
    for app in apps():
        problems = check_files(app)
        if args.analyze and not problems:
            problems = check_analyze(app)
        failed |= bool(problems)
        print(f"{app.name}: {'ok' if not problems else 'FAILED'}")
        for problem in problems:
            print(f"  - {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
