"""Workflow (a), inside the composite action: compare every Dockerfile and write the output dir
(gate.json, comment.md, buildopt.sarif, the job summary) that is uploaded as the artifact."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, ExitCode
from ..report import compare_report, sarif, typed_json
from ..report.compare_schema import CompareReport
from . import git
from .comment import render_comment
from .events import PullRequest, load_event, pull_request_from_event
from .inputs import GateInputs
from .model import COMMENT_FILE, GATE_FILE, GATE_SCHEMA, SARIF_FILE, GateEntry
from .outputs import append_step_summary, write_file


@dataclass
class GateResult:
    output_dir: Path
    pull_request: PullRequest | None
    repository: str | None
    entries: list[GateEntry]

    @property
    def exit_code(self) -> int:
        return combined_exit_code([entry.exit_code for entry in self.entries])

    def to_doc(self) -> dict:
        pr = self.pull_request
        return {
            "schema": GATE_SCHEMA,
            "repository": self.repository,
            "pull_request": None if pr is None else {
                "number": pr.number, "head_sha": pr.head_sha, "head_repo": pr.head_repo, "base_ref": pr.base_ref,
            },
            "exit_code": self.exit_code,
            "passed": self.exit_code == 0,
            "entries": [typed_json.dump(entry) for entry in self.entries],
        }


def combined_exit_code(codes: list[int]) -> int:
    """One code for the whole gate: a broken setup (2, 4) first, then a failed build (3), then a failed budget."""
    for wanted in (ExitCode.ENVIRONMENT, ExitCode.BAD_INPUT, ExitCode.BUILD_FAILED, ExitCode.FINDINGS):
        if int(wanted) in codes:
            return int(wanted)
    return max(codes, default=0)


CompareRunner = Callable[[list[str], dict[str, str]], tuple[int, str]]


def run_buildopt(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `buildopt ARGS` in a child process: the same code path, messages and exit codes as the CLI.

    stdout and stderr go to the job log; the last `buildopt: error:` line is returned for the report."""
    process = subprocess.run([sys.executable, "-m", "buildopt.cli", *args], env=env, stderr=subprocess.PIPE,
                             text=True, errors="replace")
    sys.stderr.write(process.stderr)
    errors = [line for line in process.stderr.splitlines() if line.startswith("buildopt: error:")]
    return process.returncode, errors[-1].removeprefix("buildopt: error:").strip() if errors else ""


def run_gate(inputs: GateInputs, environ: Mapping[str, str] = os.environ,
             runner: CompareRunner = run_buildopt, log: Callable[[str], None] = print) -> GateResult:
    """Compare every Dockerfile (against the base branch's build when `baseline_ref` is set)."""
    output_dir = inputs.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    event_path = environ.get("GITHUB_EVENT_PATH")
    pull_request = pull_request_from_event(load_event(event_path, environ)) if event_path else None
    names = entry_names(inputs.dockerfiles)
    entries: list[GateEntry] = []
    with tempfile.TemporaryDirectory(prefix="buildopt-base-") as base_tree:
        exported = None
        for dockerfile, name in zip(inputs.dockerfiles, names):
            context = inputs.context or str(Path(dockerfile).parent)
            entry_dir = output_dir / name
            entry = GateEntry(name=name, dockerfile=dockerfile, context=context, exit_code=0)
            baseline = inputs.baseline
            if baseline and baseline.endswith(".json") and not Path(baseline).exists():
                entry.baseline_note = "no baseline yet: the base branch's report was not found"
                baseline = None
            elif not baseline and inputs.baseline_ref:
                if exported is None:
                    exported = git.export_ref(inputs.baseline_ref, Path(base_tree), log)
                baseline, entry.baseline_note = _baseline_from_tree(
                    inputs, dockerfile, context, exported, entry_dir / "baseline", environ, runner, log)
            entry.baseline = baseline
            if baseline:
                entry.baseline_label = None if inputs.baseline else inputs.baseline_ref
                entry.baseline_size = _report_size(baseline)
            log(f"buildopt gate: comparing {dockerfile}" + (f" against {baseline}" if baseline else ""))
            args = _compare_args(inputs, dockerfile, context, entry_dir, baseline)
            # The gate writes the job summary itself, once, for all Dockerfiles (write_gate_files).
            env = {key: value for key, value in environ.items() if key != "GITHUB_STEP_SUMMARY"}
            entry.exit_code, error = runner(args, env)
            entry.error = error or None
            if (entry_dir / "report.json").is_file():
                entry.report = f"{name}/report.json"
            elif not entry.error:
                entry.error = f"buildopt compare exited {entry.exit_code} without a report"
            entries.append(entry)
    return GateResult(output_dir=output_dir, pull_request=pull_request,
                      repository=environ.get("GITHUB_REPOSITORY"), entries=entries)


def entry_names(dockerfiles: list[str]) -> list[str]:
    """A short unique directory name per Dockerfile: its directory, or the file name at the root."""
    names: list[str] = []
    for dockerfile in dockerfiles:
        path = Path(dockerfile)
        parts = [part for part in path.parent.parts if part not in (".", "..", "/")]
        stem = "-".join(parts[-2:]) if parts else ""
        if path.name != "Dockerfile" or not stem:
            stem = f"{stem}-{path.name}" if stem else path.name
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "image"
        candidate, n = name, 2
        while candidate in names:
            candidate, n = f"{name}-{n}", n + 1
        names.append(candidate)
    return names


def _scan_args(inputs: GateInputs) -> list[str]:
    if not inputs.scan:
        return ["--no-scan"]
    args = []
    if inputs.trivy_cache_dir:
        args += ["--trivy-cache-dir", inputs.trivy_cache_dir]
    if inputs.trivy_db_repository:
        args += ["--db-repository", inputs.trivy_db_repository]
    if inputs.trivy_offline:
        args.append("--offline")
    for severity in inputs.trivy_severity:
        args += ["--severity", severity]
    if inputs.trivy_ignorefile:
        args += ["--ignorefile", inputs.trivy_ignorefile]
    return args


def _build_args(inputs: GateInputs) -> list[str]:
    args = []
    for pair in inputs.build_args:
        args += ["--build-arg", pair]
    if inputs.network:
        args += ["--network", inputs.network]
    return args


def _compare_args(inputs: GateInputs, dockerfile: str, context: str, out: Path, baseline: str | None) -> list[str]:
    args = ["compare", dockerfile, "--context", context, "--output-dir", str(out), "--format", "table"]
    if inputs.budget:
        args += ["--budget", inputs.budget]
    if baseline:
        args += ["--baseline", baseline]
    return args + _build_args(inputs) + _scan_args(inputs)


def _baseline_from_tree(inputs: GateInputs, dockerfile: str, context: str, tree: Path | None, out: Path,
                        environ: Mapping[str, str], runner: CompareRunner,
                        log: Callable[[str], None]) -> tuple[str | None, str | None]:
    """Build the base branch's version of this Dockerfile and keep its report.json as the baseline.

    `--optimized` is the same file, so the second build is a cache hit; no smoke tests, no budget
    verdict needed. Returns (baseline path, None) or (None, why there is no baseline)."""
    if tree is None:
        return None, f"no baseline: {inputs.baseline_ref} could not be read"
    relative_df, relative_ctx = git.relative_to_repo(dockerfile), git.relative_to_repo(context)
    if relative_df is None or relative_ctx is None:
        return None, "no baseline: the Dockerfile is outside the repository"
    base_df, base_ctx = tree / relative_df, tree / relative_ctx
    if not base_df.is_file():
        return None, f"no baseline yet: {relative_df} does not exist on {inputs.baseline_ref}"
    log(f"buildopt gate: building the baseline {relative_df} from {inputs.baseline_ref}")
    env = {key: value for key, value in environ.items() if key != "GITHUB_STEP_SUMMARY"}
    args = ["compare", str(base_df), "--context", str(base_ctx), "--optimized", str(base_df), "--no-smoke",
            "--output-dir", str(out), "--format", "table", *_build_args(inputs), *_scan_args(inputs)]
    code, error = runner(args, env)
    report = out / "report.json"
    if code in (ExitCode.OK, ExitCode.FINDINGS) and report.is_file():
        return str(report), None
    return None, f"no baseline: the base branch's build failed ({error or f'exit {code}'})"


def _report_size(baseline: str) -> int | None:
    """The original image's size in a saved report.json; None for an image ref or an unreadable file."""
    report = _read_own_report(Path(baseline))
    size = report.variants.original.size if report is not None else None
    return size if size and size > 0 else None


def _read_own_report(path: Path) -> CompareReport | None:
    try:
        return CompareReport.from_json(path.read_bytes(), str(path))
    except (OSError, BadInput):
        return None


def write_gate_files(result: GateResult, comment: bool, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """gate.json, comment.md (when asked), the merged SARIF and the job summary (the comment's text,
    which needs no token, so fork PRs see it too); returns the action's outputs."""
    out = result.output_dir
    write_file(out / GATE_FILE, json.dumps(result.to_doc(), indent=2) + "\n")
    reports = {entry.name: report for entry in result.entries if entry.report
               for report in [_read_own_report(out / entry.report)] if report is not None}
    outputs = {
        "exit-code": str(result.exit_code),
        "passed": "true" if result.exit_code == 0 else "false",
        "report-json": "\n".join(str(out / entry.report) for entry in result.entries if entry.report),
        "report-markdown": "",
        "sarif": "",
        "gate-json": str(out / GATE_FILE),
    }
    # The same documents workflow (b) reads back, so both render the same comment.
    body = render_comment(result.entries, reports)
    append_step_summary(body.replace(compare_report.COMMENT_MARKER + "\n", "", 1) + "\n", environ)
    if comment:
        write_file(out / COMMENT_FILE, body)
        outputs["report-markdown"] = str(out / COMMENT_FILE)
    if reports:
        write_file(out / SARIF_FILE, sarif.dumps(sarif.compare_log([(name, report.to_dict())
                                                                   for name, report in reports.items()])))
        outputs["sarif"] = str(out / SARIF_FILE)
    return outputs
