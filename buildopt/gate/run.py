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
from ..files import ensure_dir, read_text
from ..plan import entry_name
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
    event: str = ""  # GITHUB_EVENT_NAME: pull_request, or push on the default branch (SARIF only)
    head_sha: str = ""
    ref: str = ""

    @property
    def exit_code(self) -> int:
        return combined_exit_code([entry.exit_code for entry in self.entries])

    def to_doc(self) -> dict:
        pr = self.pull_request
        return {
            "schema": GATE_SCHEMA,
            "repository": self.repository,
            "event": self.event,
            "head_sha": self.head_sha,
            "ref": self.ref,
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


@dataclass
class ScanPlan:
    """What the compares are told about scanning, decided once for all Dockerfiles."""

    args: list[str]
    note: str | None = None  # shown in the comment (scan-failure: warn)
    error: str | None = None  # the gate fails with exit 4 (scan-failure: fail)


def run_gate(inputs: GateInputs, environ: Mapping[str, str] = os.environ,
             runner: CompareRunner = run_buildopt, log: Callable[[str], None] = print) -> GateResult:
    """Compare every Dockerfile: against the base branch's build when `baseline_ref` is set, judged by the
    base branch's budget unless `budget_from` is "pr", with the build cache and the scan set up once."""
    output_dir = inputs.output_dir
    ensure_dir(output_dir)
    event_path = environ.get("GITHUB_EVENT_PATH")
    pull_request = pull_request_from_event(load_event(event_path, environ)) if event_path else None
    names = [entry_name(git.relative_to_repo(dockerfile) or dockerfile) for dockerfile in inputs.dockerfiles]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadInput(f"input dockerfiles: {repeated[0]} is listed twice")
    scan = _prepare_scan(inputs, log)
    budget_ref = _budget_ref(inputs, pull_request)
    env = {key: value for key, value in environ.items() if key != "GITHUB_STEP_SUMMARY"}  # written once, below
    entries: list[GateEntry] = []
    with tempfile.TemporaryDirectory(prefix="buildopt-base-") as base_trees:
        trees: dict[str, Path | None] = {}

        def tree(ref: str) -> Path | None:
            if ref not in trees:
                destination = Path(base_trees) / str(len(trees))
                destination.mkdir()
                trees[ref] = git.export_ref(ref, destination, log)
            return trees[ref]

        for dockerfile, name in zip(inputs.dockerfiles, names, strict=True):
            context = inputs.context or str(Path(dockerfile).parent)
            entry_dir = output_dir / name
            entry = GateEntry(name=name, dockerfile=dockerfile, context=context, exit_code=0, scan_note=scan.note)
            entries.append(entry)
            if scan.error:
                entry.exit_code, entry.error = int(ExitCode.ENVIRONMENT), scan.error
                continue
            baseline = inputs.baseline
            if baseline and baseline.endswith(".json") and not Path(baseline).exists():
                entry.baseline_note = "no baseline yet: the base branch's report was not found"
                baseline = None
            elif not baseline and inputs.baseline_ref:
                baseline, entry.baseline_note = _baseline_from_tree(
                    inputs, name, dockerfile, context, tree(inputs.baseline_ref), entry_dir / "baseline", scan, env,
                    runner, log)
            entry.baseline = baseline
            if baseline:
                entry.baseline_label = None if inputs.baseline else inputs.baseline_ref
                entry.baseline_size = _report_size(baseline)
            budget_args, entry.budget_source, entry.budget_note = _budget(
                inputs, dockerfile, context, tree(budget_ref) if budget_ref else None, budget_ref)
            log(f"buildopt gate: comparing {dockerfile}" + (f" against {baseline}" if baseline else "")
                + (f", budget: {entry.budget_source}" if entry.budget_source else ""))
            args = ["compare", dockerfile, "--context", context, "--output-dir", str(entry_dir), "--format", "table",
                    *budget_args, *(["--baseline", baseline] if baseline else []), *_build_args(inputs, name), *scan.args]
            entry.exit_code, error = runner(args, env)
            entry.error = error or None
            if (entry_dir / "report.json").is_file():
                entry.report = f"{name}/report.json"
            elif not entry.error:
                entry.error = f"buildopt compare exited {entry.exit_code} without a report"
    return GateResult(output_dir=output_dir, pull_request=pull_request, repository=environ.get("GITHUB_REPOSITORY"),
                      entries=entries, event=environ.get("GITHUB_EVENT_NAME", ""),
                      head_sha=pull_request.head_sha if pull_request else environ.get("GITHUB_SHA", ""),
                      ref=environ.get("GITHUB_REF", ""))


def _prepare_scan(inputs: GateInputs, log: Callable[[str], None]) -> ScanPlan:
    """The trivy flags for every compare. The vulnerability DB is downloaded here, once, with retries (the
    compares then use it as it is); when that fails, scan-failure decides: fail (exit 4) or warn (no scan)."""
    if not inputs.scan:
        return ScanPlan(["--no-scan"])
    args = []
    if inputs.trivy_cache_dir:
        args += ["--trivy-cache-dir", inputs.trivy_cache_dir]
    if inputs.trivy_db_repository:
        args += ["--db-repository", inputs.trivy_db_repository]
    for severity in inputs.trivy_severity:
        args += ["--severity", severity]
    if inputs.trivy_ignorefile:
        args += ["--ignorefile", inputs.trivy_ignorefile]
    if inputs.trivy_offline:
        return ScanPlan([*args, "--offline"])
    from ..scan import DBUnavailable, ScanOptions, ensure_db

    log("buildopt gate: bringing the trivy vulnerability DB up to date")
    try:
        ensure_db(ScanOptions(cache_dir=Path(inputs.trivy_cache_dir) if inputs.trivy_cache_dir else None,
                              db_repository=inputs.trivy_db_repository), log=lambda line: log(f"buildopt gate: {line}"))
    except DBUnavailable as err:
        message = f"{err} ({err.hint})" if err.hint else str(err)
        if inputs.scan_failure == "warn":
            log(f"::warning title=buildopt: images not scanned::{err} (scan-failure: warn)")
            return ScanPlan(["--no-scan"], note=f"Not scanned: {err} (scan-failure: warn)")
        log(f"::error title=buildopt: no vulnerability DB::{err}")
        return ScanPlan([], error=message)
    return ScanPlan([*args, "--skip-db-update"])


def _build_args(inputs: GateInputs, name: str, cache_write: bool = True) -> list[str]:
    args = []
    for pair in inputs.build_args:
        args += ["--build-arg", pair]
    if inputs.network:
        args += ["--network", inputs.network]
    if inputs.builder:
        args += ["--builder", inputs.builder]
    return args + inputs.cache.compare_args(name, cache_write)


def _baseline_from_tree(inputs: GateInputs, name: str, dockerfile: str, context: str, tree: Path | None, out: Path,
                        scan: ScanPlan, env: dict[str, str], runner: CompareRunner,
                        log: Callable[[str], None]) -> tuple[str | None, str | None]:
    """Build the base branch's version of this Dockerfile and keep its report.json as the baseline.

    `--optimized` is the same file, so the second build is a cache hit; no smoke tests, no budget
    verdict needed. It shares the PR's cache keys (CacheSpec). Returns (baseline path, None) or
    (None, why there is no baseline)."""
    if tree is None:
        return None, f"no baseline: {inputs.baseline_ref} could not be read"
    relative_df, relative_ctx = git.relative_to_repo(dockerfile), git.relative_to_repo(context)
    if relative_df is None or relative_ctx is None:
        return None, "no baseline: the Dockerfile is outside the repository"
    base_df, base_ctx = tree / relative_df, tree / relative_ctx
    if not base_df.is_file():
        return None, f"no baseline yet: {relative_df} does not exist on {inputs.baseline_ref}"
    log(f"buildopt gate: building the baseline {relative_df} from {inputs.baseline_ref}")
    args = ["compare", str(base_df), "--context", str(base_ctx), "--optimized", str(base_df), "--no-smoke",
            "--output-dir", str(out), "--format", "table", *_build_args(inputs, name, cache_write=False), *scan.args]
    code, error = runner(args, env)
    report = out / "report.json"
    if code in (ExitCode.OK, ExitCode.FINDINGS) and report.is_file():
        return str(report), None
    return None, f"no baseline: the base branch's build failed ({error or f'exit {code}'})"


def _budget_ref(inputs: GateInputs, pull_request: PullRequest | None) -> str | None:
    """The ref whose budget judges the PR: the base branch (baseline-ref, else the event's base commit)."""
    if inputs.budget_from != "base":
        return None
    if inputs.baseline_ref:
        return inputs.baseline_ref
    return pull_request.base_sha if pull_request and re.fullmatch(r"[0-9a-f]{40}", pull_request.base_sha) else None


def _budget(inputs: GateInputs, dockerfile: str, context: str, tree: Path | None,
            ref: str | None) -> tuple[list[str], str | None, str | None]:
    """(compare's --budget flags, where the budget comes from, a note when it isn't the base branch's).

    From the base branch by default, so a PR can't raise its own budget: the `budget` input's file as the
    base branch has it, else the buildopt.toml/pyproject.toml compare would find next to the Dockerfile
    there. The PR's own budget only when the base branch has none (a new Dockerfile or a first budget), or
    with budget-from: pr."""
    own_args = ["--budget", inputs.budget] if inputs.budget else []
    own = _describe_own_budget(inputs, dockerfile, context)
    if inputs.budget_from != "base":
        return own_args, own, None
    if ref is None:  # not a pull request (a push to the default branch): its own budget is the base's
        return own_args, own, None
    label = (ref[:12] if re.fullmatch(r"[0-9a-f]{40}", ref) else ref) or "the base branch"
    if tree is None:
        return own_args, own, f"budget from this PR: {label} could not be read"
    relative = git.relative_to_repo(inputs.budget) if inputs.budget else None
    if inputs.budget:
        if relative and (tree / relative).is_file():
            return ["--budget", str(tree / relative)], f"{relative} on {label}", None
        return own_args, own, f"budget from this PR: {inputs.budget} does not exist on {label}"
    relative_df, relative_ctx = git.relative_to_repo(dockerfile), git.relative_to_repo(context)
    if relative_df is None or relative_ctx is None or not (tree / relative_df).is_file():
        return own_args, own, f"budget from this PR: the Dockerfile is new on {label}" if own else None
    from ..config import load_config

    try:
        config = load_config(tree / Path(relative_df).parent, stop_at=tree / relative_ctx)
    except BadInput as err:
        return own_args, own, f"budget from this PR: {label}'s config is unreadable ({err})"
    if config.budget and config.source:
        return ["--budget", str(config.source)], f"{Path(config.source).relative_to(tree)} on {label}", None
    return own_args, own, f"budget from this PR: {label} has no budget for this Dockerfile" if own else None


def _describe_own_budget(inputs: GateInputs, dockerfile: str, context: str) -> str | None:
    if inputs.budget:
        return f"{inputs.budget} (this PR)"
    from ..config import load_config

    try:
        config = load_config(Path(dockerfile).parent, stop_at=context)
    except BadInput:
        return None
    if not (config.budget and config.source):
        return None
    return f"{git.relative_to_repo(str(config.source)) or config.source} (this PR)"


def _report_size(baseline: str) -> int | None:
    """The original image's size in a saved report.json; None for an image ref or an unreadable file."""
    report = _read_own_report(Path(baseline))
    size = report.variants.original.size if report is not None else None
    return size if size and size > 0 else None


def _read_own_report(path: Path) -> CompareReport | None:
    try:
        return CompareReport.from_json(read_text(path, what="report"), str(path))
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
    body = render_comment(result.entries, reports, result.pull_request.head_sha if result.pull_request else None)
    append_step_summary(body.replace(compare_report.COMMENT_MARKER + "\n", "", 1) + "\n", environ)
    if comment:
        write_file(out / COMMENT_FILE, body)
        outputs["report-markdown"] = str(out / COMMENT_FILE)
    if reports:
        write_file(out / SARIF_FILE, sarif.dumps(sarif.compare_log([(name, report.to_dict())
                                                                   for name, report in reports.items()])))
        outputs["sarif"] = str(out / SARIF_FILE)
    return outputs
