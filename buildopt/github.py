"""The PR gate's GitHub side: run the gate inside the action, and comment from a trusted workflow.

Two halves, matching the fork-safe two-workflow pattern (docs/ci.md):

- **gate** (workflow a, `pull_request`, read-only token, runs PR code): `run_gate` runs `buildopt compare`
  on each Dockerfile (after building the base branch's version as the baseline when asked), writes
  `gate.json` (PR number, head sha, one entry per Dockerfile), the comment payload and a merged SARIF
  into the output dir, and returns the combined exit code. The output dir is uploaded as an artifact.
- **comment** (workflow b, `workflow_run`, write token, never runs PR code): `load_artifacts` treats that
  artifact as untrusted data: size caps, no symlinks, a PR number made of digits, a head sha that must match
  the triggering run, and every report.json projected through a strict schema of the fields we render.
  The comment is rendered again by our own code from those documents (never the artifact's markdown), the
  PR is looked up through the API from the head commit (`workflow_run.pull_requests` is empty for forks),
  and one sticky comment, found by its hidden marker and author, is created or updated.

The REST client uses urllib and `GITHUB_API_URL`, so tests point it at a local fake server.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput, BuildoptError, ExitCode
from .files import ensure_dir, read_text, write_text
from .report import compare_report
from .units import format_size

GATE_SCHEMA = "buildopt.gate/v1"
GATE_FILE = "gate.json"
COMMENT_FILE = "comment.md"
SARIF_FILE = "buildopt.sarif"
BOT_LOGIN = "github-actions[bot]"

# Caps on the untrusted artifact. A real report.json is tens of KB; these leave room for big images with
# thousands of vulnerabilities while keeping a hostile artifact from exhausting the commenting job.
MAX_GATE_BYTES = 256 * 1024
MAX_REPORT_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_ARTIFACTS = 64
MAX_ENTRIES = 64
MAX_STRING = 4000
MAX_LIST = 20_000

_SHA = re.compile(r"^[0-9a-f]{40}$")
_DIGITS = re.compile(r"^[0-9]{1,10}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_OUTPUT_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class GitHubAPIError(BuildoptError):
    """The REST API refused or could not be reached: an environment problem, not bad input."""

    exit_code = ExitCode.ENVIRONMENT


class UntrustedArtifact(BadInput):
    """The downloaded artifact broke a rule: nothing from it is posted."""


# --- events -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PullRequest:
    number: int
    head_sha: str
    head_repo: str
    base_ref: str
    base_sha: str


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    event: str
    conclusion: str | None
    head_sha: str
    head_branch: str
    head_repo: str  # owner/name of the repository the head commit came from (a fork's for fork PRs)
    pull_request_numbers: tuple[int, ...]  # empty for fork PRs: GitHub only fills it for same-repo PRs

    @property
    def head_owner(self) -> str:
        return self.head_repo.split("/", 1)[0]


def load_event(path: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ) -> dict:
    """The webhook payload the job runs for (`GITHUB_EVENT_PATH`)."""
    where = path or environ.get("GITHUB_EVENT_PATH")
    if not where:
        raise BadInput("GITHUB_EVENT_PATH is not set: run inside GitHub Actions or pass the event file")
    try:
        event = json.loads(read_text(where, what="event payload"))
    except (BadInput, ValueError) as err:
        raise BadInput(f"{where}: unreadable event payload: {err}") from None
    if not isinstance(event, dict):
        raise BadInput(f"{where}: the event payload is not a JSON object")
    return event


def pull_request_from_event(event: dict) -> PullRequest | None:
    """The PR of a `pull_request` (or `pull_request_target`) event; None for other events."""
    pr = event.get("pull_request")
    if not isinstance(pr, dict):
        return None
    try:
        return PullRequest(
            number=int(pr.get("number") or event["number"]),
            head_sha=str(pr["head"]["sha"]),
            head_repo=str((pr["head"].get("repo") or {}).get("full_name") or ""),
            base_ref=str(pr["base"]["ref"]),
            base_sha=str(pr["base"].get("sha") or ""),
        )
    except (KeyError, TypeError, ValueError):
        raise BadInput("the pull_request event payload lacks number, head.sha or base.ref") from None


def workflow_run_from_event(event: dict) -> WorkflowRun:
    run = event.get("workflow_run")
    if not isinstance(run, dict):
        raise BadInput("not a workflow_run event: the payload has no workflow_run object")
    try:
        head_repo = run.get("head_repository") or {}
        numbers = tuple(int(pr["number"]) for pr in run.get("pull_requests") or []
                        if isinstance(pr, dict) and str(pr.get("number", "")).isdigit()
                        and (pr.get("head") or {}).get("sha", run["head_sha"]) == run["head_sha"])
        return WorkflowRun(
            id=int(run["id"]),
            event=str(run.get("event") or ""),
            conclusion=run.get("conclusion"),
            head_sha=str(run["head_sha"]),
            head_branch=str(run.get("head_branch") or ""),
            head_repo=str(head_repo.get("full_name") or ""),
            pull_request_numbers=numbers,
        )
    except (KeyError, TypeError, ValueError):
        raise BadInput("the workflow_run event payload lacks id or head_sha") from None


# --- the gate (workflow a: inside the composite action) ------------------------------------------------
@dataclass
class GateInputs:
    """The action's inputs. The action passes them as INPUT_* environment variables (never interpolated
    into the script, so a crafted input can't inject shell)."""

    dockerfiles: list[str]
    context: str | None = None
    budget: str | None = None
    baseline: str | None = None
    baseline_ref: str | None = None
    output_dir: Path = Path("buildopt-report")
    build_args: list[str] = field(default_factory=list)
    network: str | None = None
    trivy_cache_dir: str | None = None
    trivy_db_repository: str | None = None
    trivy_offline: bool = False
    trivy_severity: list[str] = field(default_factory=list)
    trivy_ignorefile: str | None = None
    scan: bool = True
    comment: bool = True


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip() and not line.strip().startswith("#")]


def _flag(value: str | None, name: str, default: bool) -> bool:
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise BadInput(f"input {name}: {value!r} is not true or false")


def gate_inputs_from_env(environ: Mapping[str, str] = os.environ) -> GateInputs:
    def get(name: str) -> str | None:
        value = environ.get(f"INPUT_{name}", "").strip()
        return value or None

    dockerfiles = _lines(environ.get("INPUT_DOCKERFILES"))
    if not dockerfiles:
        raise BadInput("input dockerfiles is empty: give one Dockerfile path per line")
    severities = [s.strip().upper() for s in re.split(r"[,\s]+", get("TRIVY_SEVERITY") or "") if s.strip()]
    return GateInputs(
        dockerfiles=dockerfiles,
        context=get("CONTEXT"),
        budget=get("BUDGET"),
        baseline=get("BASELINE"),
        baseline_ref=get("BASELINE_REF"),
        output_dir=Path(get("OUTPUT_DIR") or "buildopt-report"),
        build_args=_lines(environ.get("INPUT_BUILD_ARGS")),
        network=get("NETWORK"),
        trivy_cache_dir=get("TRIVY_CACHE_DIR"),
        trivy_db_repository=get("TRIVY_DB_REPOSITORY"),
        trivy_offline=_flag(get("TRIVY_OFFLINE"), "trivy-offline", False),
        trivy_severity=severities,
        trivy_ignorefile=get("TRIVY_IGNOREFILE"),
        scan=_flag(get("SCAN"), "scan", True),
        comment=_flag(get("COMMENT"), "comment", True),
    )


@dataclass
class GateEntry:
    name: str
    dockerfile: str
    context: str
    exit_code: int
    report: str | None = None  # relative to the output dir
    error: str | None = None
    baseline: str | None = None  # what the comparison used as its baseline
    baseline_note: str | None = None  # why there is none, when there is none
    baseline_label: str | None = None  # e.g. "origin/main", for the comment's "against" line
    baseline_size: int | None = None  # the baseline's image size, when the baseline is a report

    def to_dict(self) -> dict:
        return dict(self.__dict__)


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
            "entries": [entry.to_dict() for entry in self.entries],
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
    ensure_dir(output_dir)
    event_path = environ.get("GITHUB_EVENT_PATH")
    pull_request = pull_request_from_event(load_event(event_path, environ)) if event_path else None
    names = _entry_names(inputs.dockerfiles)
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
                    exported = _export_ref(inputs.baseline_ref, Path(base_tree), log)
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


def _entry_names(dockerfiles: list[str]) -> list[str]:
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


def _export_ref(ref: str, dest: Path, log: Callable[[str], None]) -> Path | None:
    """The base branch's tree, exported outside the workspace so it is never part of a build context."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], capture_output=True)
    if archive.returncode != 0:
        message = (archive.stderr.decode(errors="replace").strip().splitlines() or ["git archive failed"])[-1]
        log(f"buildopt gate: no baseline: cannot read {ref}: {message} "
            "(check out with fetch-depth: 0 so the base branch is there)")
        return None
    unpack = subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, capture_output=True)
    if unpack.returncode != 0:
        log(f"buildopt gate: no baseline: cannot unpack {ref}")
        return None
    return dest


def _baseline_from_tree(inputs: GateInputs, dockerfile: str, context: str, tree: Path | None, out: Path,
                        environ: Mapping[str, str], runner: CompareRunner,
                        log: Callable[[str], None]) -> tuple[str | None, str | None]:
    """Build the base branch's version of this Dockerfile and keep its report.json as the baseline.

    `--optimized` is the same file, so the second build is a cache hit; no smoke tests, no budget
    verdict needed. Returns (baseline path, None) or (None, why there is no baseline)."""
    if tree is None:
        return None, f"no baseline: {inputs.baseline_ref} could not be read"
    relative_df, relative_ctx = _relative_to_repo(dockerfile), _relative_to_repo(context)
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
    try:
        size = json.loads(read_text(baseline, what="report"))["variants"]["original"]["size"]
    except (BadInput, ValueError, KeyError, TypeError):
        return None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _relative_to_repo(path: str) -> str | None:
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path(top.stdout.strip()).resolve()))
    except ValueError:
        return None


def write_gate_files(result: GateResult, comment: bool, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """gate.json, comment.md (when asked), the merged SARIF and the job summary (the comment's text,
    which needs no token, so fork PRs see it too); returns the action's outputs."""
    out = result.output_dir
    doc = result.to_doc()
    _write(out / GATE_FILE, json.dumps(doc, indent=2) + "\n")
    reports = [(entry, _read_own_report(out / entry.report)) for entry in result.entries if entry.report]
    outputs = {
        "exit-code": str(result.exit_code),
        "passed": "true" if result.exit_code == 0 else "false",
        "report-json": "\n".join(str(out / entry.report) for entry in result.entries if entry.report),
        "report-markdown": "",
        "sarif": "",
        "gate-json": str(out / GATE_FILE),
    }
    # The same projection workflow (b) applies, so both render the same comment.
    entries = [_project(entry.to_dict(), _ENTRY_SPEC, "entry") for entry in result.entries]
    body = render_comment(entries, {entry.name: report for entry, report in reports if report is not None})
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(body.replace(compare_report.COMMENT_MARKER + "\n", "", 1) + "\n")
    if comment:
        _write(out / COMMENT_FILE, body)
        outputs["report-markdown"] = str(out / COMMENT_FILE)
    documents = [(entry.name, report) for entry, report in reports if report is not None]
    if documents:
        _write(out / SARIF_FILE, render_sarif(documents))
        outputs["sarif"] = str(out / SARIF_FILE)
    return outputs


def _read_own_report(path: Path) -> dict | None:
    try:
        return sanitize_report(json.loads(read_text(path, what="report")))
    except (OSError, ValueError, BadInput):
        return None


def _write(path: Path, text: str) -> None:
    write_text(path, text, force=True)


# --- the untrusted artifact (workflow b) ---------------------------------------------------------------
@dataclass
class Artifact:
    """What survived validation: nothing else from the artifact is used."""

    pr_number: int
    head_sha: str
    entries: list[dict]
    reports: dict[str, dict]  # entry name -> projected report document


def find_artifact_dirs(root: Path) -> list[Path]:
    """`root` itself when it holds gate.json, else each subdirectory that does (download-artifact puts each
    matrix job's artifact in its own directory)."""
    root = Path(root)
    if not root.is_dir():
        raise UntrustedArtifact(f"{root}: artifact directory not found")
    if (root / GATE_FILE).exists():
        return [root]
    dirs = sorted(child for child in root.iterdir() if child.is_dir() and not child.is_symlink()
                  and (child / GATE_FILE).exists())
    if len(dirs) > MAX_ARTIFACTS:
        raise UntrustedArtifact(f"{root}: {len(dirs)} artifacts, more than the {MAX_ARTIFACTS} allowed")
    return dirs


def load_artifacts(dirs: list[Path], expected_head_sha: str | None = None) -> Artifact | None:
    """Validate every artifact dir and merge them; None when there is nothing to report."""
    if not dirs:
        return None
    budget = [MAX_TOTAL_BYTES]
    numbers, shas = set(), set()
    entries: list[dict] = []
    reports: dict[str, dict] = {}
    for directory in dirs:
        gate = _parse_json(_read_capped(directory, GATE_FILE, MAX_GATE_BYTES, budget), GATE_FILE)
        number, sha, gate_entries = _validate_gate(gate)
        numbers.add(number)
        shas.add(sha)
        for entry in gate_entries:
            if entry["name"] in reports or any(e["name"] == entry["name"] for e in entries):
                raise UntrustedArtifact(f"entry name {entry['name']!r} appears twice")
            if entry["report"]:
                raw = _read_capped(directory, entry["report"], MAX_REPORT_BYTES, budget)
                reports[entry["name"]] = sanitize_report(_parse_json(raw, entry["report"]))
            entries.append(entry)
        if len(entries) > MAX_ENTRIES:
            raise UntrustedArtifact(f"more than {MAX_ENTRIES} Dockerfiles in the artifacts")
    if len(numbers) != 1 or len(shas) != 1:
        raise UntrustedArtifact("the artifacts disagree on the pull request number or head sha")
    head_sha = shas.pop()
    if expected_head_sha is not None and head_sha != expected_head_sha:
        raise UntrustedArtifact(f"the artifact's head sha {head_sha} is not the run's head sha {expected_head_sha}")
    return Artifact(pr_number=numbers.pop(), head_sha=head_sha, entries=entries, reports=reports)


def _read_capped(directory: Path, relative: str, cap: int, budget: list[int]) -> bytes:
    """Read one file of the artifact: a plain relative path to a regular file (no symlink, no '..'),
    at most `cap` bytes and within what is left of the total budget."""
    if not isinstance(relative, str) or not relative or relative.startswith("/") or "\\" in relative \
            or any(part in ("", ".", "..") for part in relative.split("/")):
        raise UntrustedArtifact(f"{relative!r}: not a plain relative path inside the artifact")
    path = directory
    for part in relative.split("/"):
        path = path / part
        if path.is_symlink():
            raise UntrustedArtifact(f"{relative}: symbolic links are not accepted in the artifact")
    if not path.is_file():
        raise UntrustedArtifact(f"{relative}: missing from the artifact")
    size = path.stat().st_size
    if size > cap:
        raise UntrustedArtifact(f"{relative}: {size} bytes, over the {cap}-byte cap")
    if size > budget[0]:
        raise UntrustedArtifact(f"{relative}: the artifacts exceed {MAX_TOTAL_BYTES} bytes in total")
    budget[0] -= size
    with path.open("rb") as handle:
        data = handle.read(cap + 1)  # the file may have grown since stat
    if len(data) > cap:
        raise UntrustedArtifact(f"{relative}: over the {cap}-byte cap")
    return data


def _parse_json(data: bytes, what: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UntrustedArtifact(f"{what}: not valid UTF-8 JSON") from None


def _validate_gate(gate) -> tuple[int, str, list[dict]]:
    if not isinstance(gate, dict) or gate.get("schema") != GATE_SCHEMA:
        raise UntrustedArtifact(f"{GATE_FILE}: not a buildopt gate file (schema {GATE_SCHEMA})")
    pr = gate.get("pull_request")
    if not isinstance(pr, dict):
        raise UntrustedArtifact(f"{GATE_FILE}: no pull request (was the gate run on a pull_request event?)")
    raw_number, sha = pr.get("number"), pr.get("head_sha")
    if isinstance(raw_number, bool) or not _DIGITS.match(str(raw_number)) or int(raw_number) < 1:
        raise UntrustedArtifact(f"{GATE_FILE}: pull request number {str(raw_number)[:40]!r} is not a number")
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise UntrustedArtifact(f"{GATE_FILE}: head sha {str(sha)[:60]!r} is not a 40-hex commit id")
    raw_entries = gate.get("entries")
    if not isinstance(raw_entries, list) or len(raw_entries) > MAX_ENTRIES:
        raise UntrustedArtifact(f"{GATE_FILE}: entries must be a list of at most {MAX_ENTRIES}")
    entries = []
    for raw in raw_entries:
        entry = _project(raw, _ENTRY_SPEC, "entry")
        if not _NAME.match(entry["name"]):
            raise UntrustedArtifact(f"{GATE_FILE}: entry name {entry['name'][:60]!r} is not a plain name")
        if entry["report"] is not None and entry["report"] != f"{entry['name']}/report.json":
            raise UntrustedArtifact(f"{GATE_FILE}: entry {entry['name']}: unexpected report path")
        entries.append(entry)
    return int(raw_number), sha, entries


# A tiny schema language for the projection: the parts of the documents our renderers read, with their
# types. Unknown keys are dropped, so nothing unvalidated reaches the comment or the SARIF.
class _Opt:
    def __init__(self, spec):
        self.spec = spec


class _Enum:
    def __init__(self, *values: str):
        self.values = values


class _Pattern:
    def __init__(self, pattern: str):
        self.regex = re.compile(pattern)


def _nullable(spec):
    return (spec, None)


_SEVERITY = _Enum("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_FINDING_SEVERITY = _Enum("info", "low", "medium", "high", "critical")
_VULN = {"id": str, "package": str, "installed": str, "fixed": _nullable(str), "severity": _SEVERITY,
         "target": _Opt(str)}
_VARIANT = {
    "built": bool, "size": int, "layers": int, "user": _Opt(str), "runs_as_root": _Opt(_nullable(bool)),
    "compressed_size": _Opt(_nullable(int)), "build_time_s": _nullable(float),
    "build_error": _nullable(str), "build_log_tail": [str],
    "vulnerabilities": _nullable({
        "counts": {severity: _Opt(int) for severity in compare_report.SEVERITIES},
        "critical_ids": _Opt([str]), "items": [_VULN], "method": _Opt(_nullable(str)),
    }),
    "secrets": _Opt(int),
    "smoke": _Opt(_nullable({"passed": bool, "checks": [{"kind": _Opt(str), "name": _Opt(str), "ok": bool}]})),
    "score": _Opt(_nullable({"score": int})),
    "budget": _Opt(_nullable({"passed": bool, "checks": [{"key": str, "ok": bool}]})),
}
_REPORT_SPEC = {
    "schema": _Enum(compare_report.SCHEMA),
    "buildopt_version": _Pattern(r"^[0-9A-Za-z.+-]{1,40}$"),
    "dockerfile": str,
    "baseline": _Opt(_nullable(str)),
    "verdict": {"passed": bool, "exit_code": int,
                "failures": [{"variant": str, "key": str, "actual": str, "limit": str, "reason": str}]},
    "variants": {"original": _VARIANT, "optimized": _VARIANT},
    "delta": _nullable({"size_bytes": int, "size_percent": _nullable(float), "layers": int,
                        "score": _nullable(int),
                        "vulnerabilities": _Opt(_nullable({"fixed": [_VULN], "new": [_VULN]}))}),
    "attribution": [{"group": _Opt(str), "label": str, "original": int, "optimized": int, "delta": int}],
    "diff": _Opt(_nullable({"packages": _Opt(_nullable({"removed": _Opt([{
        "manager": _Opt(str), "name": _Opt(str), "version_a": _Opt(_nullable(str)), "size_a": _Opt(int)}])}))})),
    "findings": [{"rule": _Pattern(r"^[A-Za-z0-9_.-]{1,40}$"), "slug": str, "severity": _FINDING_SEVERITY,
                  "line": _nullable(int), "message": str, "fix": _nullable(str)}],
}
_ENTRY_SPEC = {"name": str, "dockerfile": str, "context": _Opt(str), "exit_code": int,
               "report": _nullable(str), "error": _Opt(_nullable(str)), "baseline": _Opt(_nullable(str)),
               "baseline_note": _Opt(_nullable(str)), "baseline_label": _Opt(_nullable(str)),
               "baseline_size": _Opt(_nullable(int))}


def sanitize_report(doc) -> dict:
    """Project a report.json onto the fields we render, checking every type; raise UntrustedArtifact."""
    if not isinstance(doc, dict) or doc.get("schema") != compare_report.SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise UntrustedArtifact(f"report.json: schema {str(found)[:60]!r} is not {compare_report.SCHEMA}")
    projected = _project(doc, _REPORT_SPEC, "report")
    if projected["verdict"]["exit_code"] not in {int(code) for code in ExitCode}:
        raise UntrustedArtifact("report.json: verdict.exit_code is not a documented exit code")
    return projected


def _project(value, spec, where: str):
    if isinstance(spec, _Opt):
        spec = spec.spec
    if isinstance(spec, tuple):  # nullable
        return None if value is None else _project(value, spec[0], where)
    if spec is bool:
        if not isinstance(value, bool):
            raise UntrustedArtifact(f"{where}: expected true or false")
        return value
    if spec is int:
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**62:
            raise UntrustedArtifact(f"{where}: expected a whole number")
        return value
    if spec is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or abs(value) > 1e15:
            raise UntrustedArtifact(f"{where}: expected a number")
        return float(value)
    if spec is str:
        if not isinstance(value, str):
            raise UntrustedArtifact(f"{where}: expected a string")
        return neutralize(value)
    if isinstance(spec, _Enum):
        if value not in spec.values:
            raise UntrustedArtifact(f"{where}: {str(value)[:40]!r} is not one of {', '.join(spec.values)}")
        return value
    if isinstance(spec, _Pattern):
        if not isinstance(value, str) or not spec.regex.match(value):
            raise UntrustedArtifact(f"{where}: {str(value)[:40]!r} has an unexpected form")
        return value
    if isinstance(spec, list):
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise UntrustedArtifact(f"{where}: expected a list of at most {MAX_LIST} items")
        return [_project(item, spec[0], f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise UntrustedArtifact(f"{where}: expected an object")
        out = {}
        for key, sub in spec.items():
            if key not in value:
                if isinstance(sub, _Opt):
                    continue
                raise UntrustedArtifact(f"{where}.{key}: missing")
            out[key] = _project(value[key], sub, f"{where}.{key}")
        return out
    raise TypeError(f"bad spec {spec!r}")  # a programming error in this module, not bad input


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def neutralize(text: str) -> str:
    """Make an untrusted string inert in a comment: no control or bidi characters, no backticks (they
    could close a code span or fence), no @mentions, no inline links or images; at most MAX_STRING chars.
    `<`, `>` and `|` are escaped by the renderer itself."""
    text = _CONTROL.sub("", text.replace("\t", " "))[:MAX_STRING]
    return (text.replace("`", "'").replace("@", "@\u2060").replace("](", "] (").replace("![", "! ["))


# --- rendering, from validated documents only ----------------------------------------------------------
def render_comment(entries: list[dict], reports: dict[str, dict]) -> str:
    """One sticky comment for all the Dockerfiles of a PR, rendered by compare_report from each document."""
    marker = compare_report.COMMENT_MARKER
    sections = []
    for entry in entries:
        report = reports.get(entry["name"])
        if report is not None:
            body = compare_report.render_markdown(report).replace(marker + "\n", "", 1)
            note = _against_line(entry, report)
            if note:
                body = body.replace("\n\n", f"\n\n{note}\n\n", 1)
            sections.append(body.rstrip("\n"))
        else:
            error = compare_report._md(entry.get("error") or f"exit {entry['exit_code']}")
            sections.append(f"## buildopt: `{compare_report._md(entry['dockerfile'])}` — ❌ not compared\n\n"
                            f"exit {int(entry['exit_code'])}: {error}")
    if not sections:
        sections.append("## buildopt\n\nNo Dockerfile was compared.")
    body = marker + "\n" + "\n\n---\n\n".join(sections) + "\n"
    return compare_report._fit(body)


def _against_line(entry: dict, report: dict) -> str | None:
    """What the PR costs: the shipped image against the base branch's, right under the heading."""
    if entry.get("baseline_note"):
        return f"_{compare_report._md(entry['baseline_note'])}_"
    base, original = entry.get("baseline_size"), report["variants"]["original"]
    if not base or not original["built"] or not original["size"]:
        return None
    delta = original["size"] - base
    label = f"`{compare_report._md(entry['baseline_label'])}`" if entry.get("baseline_label") else "the baseline"
    return (f"**Against {label}:** {format_size(base)} → {format_size(original['size'])} "
            f"({format_size(delta, signed=True)}, {delta / base * 100:+.1f}%)")


def render_sarif(documents: list[tuple[str, dict]]) -> str:
    """One SARIF log, one run per Dockerfile, each with its own category so code scanning keeps them apart."""
    runs = []
    for name, doc in documents:
        run = json.loads(compare_report.render_sarif(doc))["runs"][0]
        run["automationDetails"] = {"id": f"buildopt/{name}/"}
        runs.append(run)
    return json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                       "runs": runs[:20]}, indent=2) + "\n"  # code scanning takes at most 20 runs per file


# --- the REST API --------------------------------------------------------------------------------------
class GitHubClient:
    """A minimal GitHub REST client: JSON in and out, pagination, one-line errors."""

    def __init__(self, token: str, repository: str, api_url: str | None = None, timeout: float = 30.0):
        if not token:
            raise BadInput("no token: set GITHUB_TOKEN (the workflow passes github.token)")
        if not _REPO.match(repository or ""):
            raise BadInput(f"repository {repository!r} is not owner/name")
        self.token = token
        self.repository = repository
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        url = path if path.startswith(self.api_url + "/") else self.api_url + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        return self._send(method, url, body)[0]

    def paginate(self, path: str, query: dict | None = None, limit: int = 50) -> Iterator[dict]:
        url = self.api_url + path + "?" + urllib.parse.urlencode({**(query or {}), "per_page": 100})
        for _ in range(limit):
            items, headers = self._send("GET", url, None)
            if not isinstance(items, list):
                raise GitHubAPIError(f"GET {path}: expected a list")
            yield from (item for item in items if isinstance(item, dict))
            url = _next_link(headers.get("Link", ""))
            # The token only ever goes to the API host it was configured for.
            if not url or not url.startswith(self.api_url + "/"):
                return

    def _send(self, method: str, url: str, body: dict | None):
        request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "buildopt-pr-gate")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                headers = dict(response.headers.items())
        except urllib.error.HTTPError as err:
            detail = ""
            try:
                detail = json.loads(err.read() or b"{}").get("message", "")
            except (ValueError, AttributeError):
                pass
            hint = " (a pull_request run from a fork has a read-only token: comment from workflow_run)" \
                if err.code == 403 else None
            raise GitHubAPIError(f"{where}: HTTP {err.code} {detail}".rstrip(), hint=hint) from None
        except (urllib.error.URLError, OSError) as err:
            raise GitHubAPIError(f"{where}: {getattr(err, 'reason', err)}") from None
        try:
            return (json.loads(raw) if raw else None), headers
        except ValueError:
            raise GitHubAPIError(f"{where}: the answer is not JSON") from None


def _next_link(link_header: str) -> str | None:
    for part in link_header.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def find_pull_request(client: GitHubClient, run: WorkflowRun) -> int | None:
    """The open PR whose head is the run's head commit.

    `workflow_run.pull_requests` is filled only for PRs from the same repository; for a fork, list the
    open PRs from `fork_owner:branch` and keep the one whose head sha matches, then fall back to the
    commit's associated PRs."""
    if run.pull_request_numbers:
        return run.pull_request_numbers[0]
    owner, name = client.repository.split("/")
    if run.head_owner and run.head_branch:
        for pr in client.paginate(f"/repos/{owner}/{name}/pulls",
                                  {"state": "open", "head": f"{run.head_owner}:{run.head_branch}"}, limit=5):
            if (pr.get("head") or {}).get("sha") == run.head_sha and isinstance(pr.get("number"), int):
                return pr["number"]
    for pr in client.paginate(f"/repos/{owner}/{name}/commits/{run.head_sha}/pulls", limit=5):
        if pr.get("state") == "open" and (pr.get("head") or {}).get("sha") == run.head_sha \
                and isinstance(pr.get("number"), int):
            return pr["number"]
    return None


def find_sticky_comment(comments: list[dict] | Iterator[dict], author: str = BOT_LOGIN,
                        marker: str = compare_report.COMMENT_MARKER) -> int | None:
    """The id of our comment: it carries the hidden marker and was written by the gate's own identity,
    so a comment in which someone quoted the marker is never overwritten."""
    for comment in comments:
        body = comment.get("body") or ""
        login = (comment.get("user") or {}).get("login")
        if isinstance(body, str) and marker in body and login == author and isinstance(comment.get("id"), int):
            return comment["id"]
    return None


def upsert_comment(client: GitHubClient, number: int, body: str, author: str = BOT_LOGIN) -> tuple[str, int]:
    """Create the sticky comment, or update it in place. Returns ("created"|"updated", comment id)."""
    owner, name = client.repository.split("/")
    existing = find_sticky_comment(client.paginate(f"/repos/{owner}/{name}/issues/{number}/comments"), author)
    if existing is not None:
        client.request("PATCH", f"/repos/{owner}/{name}/issues/comments/{existing}", {"body": body})
        return "updated", existing
    created = client.request("POST", f"/repos/{owner}/{name}/issues/{number}/comments", {"body": body})
    if not isinstance(created, dict) or not isinstance(created.get("id"), int):
        raise GitHubAPIError("POST comment: the answer has no comment id")
    return "created", created["id"]


@dataclass
class CommentOutcome:
    pr_number: int | None
    action: str  # created, updated, skipped, printed
    comment_id: int | None = None
    head_sha: str | None = None
    sarif: Path | None = None
    message: str = ""

    def outputs(self) -> dict[str, str]:
        return {
            "pr-number": str(self.pr_number or ""),
            "comment": self.action,
            "comment-id": str(self.comment_id or ""),
            "sha": self.head_sha or "",
            "ref": f"refs/pull/{self.pr_number}/head" if self.pr_number else "",
            "sarif": str(self.sarif) if self.sarif else "",
        }


def comment_from_artifacts(artifact_root: Path, environ: Mapping[str, str] = os.environ,
                           sarif_out: Path | None = None, author: str = BOT_LOGIN,
                           dry_run: bool = False) -> CommentOutcome:
    """Workflow (b): validate the downloaded artifacts, find the PR, write the sticky comment and SARIF."""
    # A dry run outside Actions (to preview a downloaded artifact) has no event to check the sha against.
    run = None if dry_run and not environ.get("GITHUB_EVENT_PATH") else workflow_run_from_event(load_event(None, environ))
    artifact = load_artifacts(find_artifact_dirs(artifact_root), expected_head_sha=run.head_sha if run else None)
    if artifact is None:
        return CommentOutcome(None, "skipped", message="no buildopt artifact in this run: nothing to comment")
    body = render_comment(artifact.entries, artifact.reports)
    sarif_path = None
    if sarif_out is not None and artifact.reports:
        sarif_out.parent.mkdir(parents=True, exist_ok=True)
        _write(sarif_out, render_sarif(list(artifact.reports.items())))
        sarif_path = sarif_out
    if dry_run:
        sys.stdout.write(body)
        return CommentOutcome(artifact.pr_number, "printed", head_sha=artifact.head_sha, sarif=sarif_path)
    client = GitHubClient(environ.get("GITHUB_TOKEN", ""), environ.get("GITHUB_REPOSITORY", ""),
                          environ.get("GITHUB_API_URL"))
    number = find_pull_request(client, run)
    if number is None:
        return CommentOutcome(None, "skipped", head_sha=artifact.head_sha, sarif=sarif_path,
                              message=f"no open pull request has head {run.head_sha}: nothing to comment")
    if number != artifact.pr_number:
        raise UntrustedArtifact(f"the artifact names PR #{artifact.pr_number} but head {run.head_sha} "
                                f"belongs to PR #{number}")
    action, comment_id = upsert_comment(client, number, body, author)
    return CommentOutcome(number, action, comment_id, artifact.head_sha, sarif_path,
                          message=f"{action} the buildopt comment on PR #{number}")


# --- GITHUB_OUTPUT -------------------------------------------------------------------------------------
def write_github_output(values: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> bool:
    """Append key=value lines to `$GITHUB_OUTPUT` (multi-line values with a random delimiter); False
    outside Actions."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return False
    lines = []
    for key, value in values.items():
        if not _OUTPUT_KEY.match(key):
            raise ValueError(f"bad output name {key!r}")
        value = str(value)
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            lines.append(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{key}={value}\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))
    return True
