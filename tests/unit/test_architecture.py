"""docs/architecture.md names modules and interfaces; they must exist in the code as named."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "architecture.md").read_text()


def test_every_module_the_page_names_exists():
    named = set(re.findall(r"`(buildopt/[\w/]+(?:\.py)?/?)`", PAGE))
    assert len(named) > 25, named  # the page really names the modules
    missing = sorted(path for path in named if not (ROOT / path.rstrip("/")).exists())
    assert missing == []


def test_relative_module_names_exist_in_their_package():
    """`plan.py`, `render.py`, `checks/registry.py`... in a row are relative to the row's package."""
    missing = []
    for line in PAGE.splitlines():
        package = re.match(r"\| `(buildopt/[\w/]+/)` \|", line)
        if not package:
            continue
        for name in re.findall(r"`([\w/]+\.py)`", line):
            candidates = [ROOT / package.group(1) / name, ROOT / "buildopt" / name, ROOT / name]
            if not any(path.exists() for path in candidates):
                missing.append(f"{package.group(1)}{name}")
    assert missing == []


def test_the_interfaces_it_describes():
    from buildopt import engine
    from buildopt.compare import CompareOptions, CompareResult
    from buildopt.optimize import optimize

    assert list(inspect.signature(optimize).parameters) == ["parsed", "findings", "options"]
    for name in ("resolve", "connect", "current", "docker_errors", "run_labels", "run_helper_container",
                 "empty_image", "compose_cli", "local_image_config"):
        assert callable(getattr(engine, name)), name
    fields = {field: str(kind) for field, kind in CompareOptions.__annotations__.items()}
    assert fields["build"] == "BuildSettings" and fields["scan"] == "ScanOptions | None"
    hints = CompareResult.__annotations__
    assert hints["analysis"] == "AnalysisResult" and hints["optimization"] == "OptimizationResult | None"
    for module in ("buildopt.rules.registry", "buildopt.audit.checks.registry", "buildopt.report.sarif",
                   "buildopt.report.markdown", "buildopt.report.compare_schema", "buildopt.shell"):
        importlib.import_module(module)
