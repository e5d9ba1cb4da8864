"""The compare pipeline: analyze → optimize → build both → inspect, scan, smoke → [fallback] → diff → budget.

`buildopt compare` and the PR gate both run this. It returns a `CompareResult`; rendering is the
report stage's job. Temporary image tags and containers are removed at the end, on error and on
Ctrl-C (SIGINT/SIGTERM), unless `keep_images` is set.

When the generated optimized variant fails to build, or fails a smoke check that passes in the original,
the fallback (buildopt/fallback.py) finds and drops the changes that cause it, building each candidate here
(`_Attempts`: temporary tags, the same smoke checks), and the variant that passed replaces the first one.
"""

from __future__ import annotations

import copy
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .budget import ImageFacts, Verdict, judge, parse_budgets
from .build import BuildRequest, BuildResult, BuildSettings, build_one, require_buildx
from .engine import Engine, current, run_labels
from .errors import BadInput, ExitCode
from .fallback import Failure, FailureKind, FallbackResult
from .files import MAX_CONTEXT_FILE_BYTES, check_output, ensure_dir, read_text, write_text
from .optimize.options import OptimizeMode
from .runtime import paused_gc
from .scan import ScanOptions, ScanResult
from .score import SecurityFacts, SecurityScore, security_score
from .smoke import (
    ContainerRunner,
    SmokeCheck,
    SmokeResult,
    SmokeSpec,
    align_imports,
    regressions,
    run_smoke,
    same_output_checks,
    same_start,
    shared_imports,
    spec_from_config,
)

if TYPE_CHECKING:  # the other stages' result types, for annotations: their modules load when their stage runs
    from .config import BuildoptConfig
    from .diff import ImageDiff
    from .inspect import ImageProfile
    from .optimize import OptimizationResult
    from .rules import AnalysisResult

TEMP_REPO = "buildopt-tmp"
# Everything compare writes into --output-dir (the CLI's reports and the optimized variant's files): checked before
# the builds, so a FIFO or a device in their place fails at once instead of after minutes of building.
OUTPUT_FILES = ("report.json", "report.md", "report.sarif", "Dockerfile.optimized", "Dockerfile.optimized.dockerignore",
                "docker-compose.buildopt.yml", "build-original.log", "build-optimized.log")


@dataclass
class CompareOptions:
    """What to compare and how: the build settings both variants share, the scan's options (None: --no-scan)
    and the smoke tests' switches. The smoke checks themselves (`SmokeSpec`) come from buildopt.toml."""

    dockerfile: Path
    context: Path | None = None
    optimized: Path | None = None
    output_dir: Path = Path("buildopt-report")
    budget_file: Path | None = None
    baseline: str | None = None  # an image ref or a saved report.json
    build: BuildSettings = field(default_factory=BuildSettings)
    scan: ScanOptions | None = field(default_factory=ScanOptions)
    no_smoke: bool = False
    smoke_timeout_s: float | None = None  # overrides [smoke].timeout
    keep_images: bool = False
    python: str | None = None
    no_fallback: bool = False  # a failing optimized variant stays as it is (a failed build exits 3)


@dataclass
class Variant:
    name: str
    dockerfile: Path
    build: BuildResult | None = None
    profile: ImageProfile | None = None
    scan: ScanResult | None = None
    scan_error: str | None = None
    smoke: SmokeResult | None = None
    smoke_spec: SmokeSpec | None = None  # the checks this variant is held to
    score: SecurityScore | None = None
    verdict: Verdict | None = None
    timings: dict[str, float] = field(default_factory=dict)  # inspect_s, scan_s, smoke_s

    @property
    def built(self) -> bool:
        return self.build is not None and self.build.ok

    @property
    def tag(self) -> str:
        """The built image's tag (only asked once the build succeeded)."""
        if self.build is None:
            raise RuntimeError(f"the {self.name} variant was not built")
        return self.build.tag


@dataclass
class CompareResult:
    options: CompareOptions
    analysis: AnalysisResult
    optimization: OptimizationResult | None  # None when --optimized was given
    original: Variant
    optimized: Variant
    diff: ImageDiff | None = None
    baseline: ImageFacts | None = None
    baseline_ref: str | None = None
    smoke_imports: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    overhead_s: float = 0.0  # wall-clock seconds outside the builds' window (work overlapping a build is hidden)
    fallback_s: float = 0.0  # the fallback search and the final variant's build and checks (not in overhead_s)
    stage_timings: dict[str, dict[str, float]] = field(default_factory=dict)  # variant -> its stage durations
    fallback: FallbackResult | None = None  # None: not run (--no-fallback, --optimized, or nothing failed)

    @property
    def variants(self) -> list[Variant]:
        return [self.original, self.optimized]

    @property
    def exit_code(self) -> ExitCode:
        if not all(variant.built for variant in self.variants):
            return ExitCode.BUILD_FAILED
        verdicts = [variant.verdict for variant in self.variants if variant.verdict]
        return ExitCode.OK if all(verdict.passed for verdict in verdicts) else ExitCode.FINDINGS


Progress = Callable[[str], None]


def run_compare(options: CompareOptions, progress: Progress | None = None, on_build_line=None) -> CompareResult:
    say = progress or (lambda message: None)
    started = time.monotonic()
    dockerfile_path = options.dockerfile
    context = options.context or dockerfile_path.parent
    _check_inputs(options, context)

    from .config import load_config
    from .dockerfile import parse_file
    from .rules import analyze

    config = load_config(dockerfile_path.parent, explicit=None, stop_at=context)
    budget_table = _budget_table(options, config)
    budget_original, budget_optimized = parse_budgets(budget_table)
    smoke_spec = spec_from_config(dict(config.smoke), _config_dir(config, dockerfile_path))
    if options.smoke_timeout_s:
        smoke_spec.timeout_s = options.smoke_timeout_s

    say("analyzing the Dockerfile")
    with paused_gc():
        parsed = parse_file(dockerfile_path)
        analysis = analyze(parsed, context_dir=context, config=config)

    ensure_dir(options.output_dir)
    for name in OUTPUT_FILES:
        check_output(options.output_dir / name, force=True)
    optimization = None
    if options.optimized:
        optimized_path = options.optimized
        parse_file(optimized_path)  # bad input is reported before anything is built
    else:
        say("writing the optimized variant")
        from .optimize import OptimizeOptions, optimize
        from .optimize.output import OutputPaths, write_outputs as write_optimized

        paths = OutputPaths.for_input(dockerfile_path, options.output_dir / "Dockerfile.optimized")
        with paused_gc():
            optimization = optimize(parsed, analysis.findings, OptimizeOptions(
                python=options.python, output_dir=str(options.output_dir), context_dir=str(context)))
        # Dockerfile, compose snippet and <Dockerfile>.dockerignore (keeps models out of a COPY . .).
        write_optimized(optimization, paths, force=True)
        optimized_path = paths.dockerfile

    result = CompareResult(options, analysis, optimization, Variant("original", dockerfile_path), Variant("optimized", optimized_path))
    result.original.smoke_spec = smoke_spec
    result.optimized.smoke_spec = _optimized_spec(smoke_spec, optimization)
    if options.baseline and _is_report(options.baseline):
        # A saved report is read (strictly) before anything is built; an image baseline after the builds.
        result.baseline, result.baseline_ref = _baseline_facts(options.baseline)
    scan_options = options.scan
    if scan_options is not None:
        # A missing trivy or DB fails before minutes of building; the DB is downloaded once, here.
        scan_options = _scan_preflight(scan_options, say)
    run_id = uuid.uuid4().hex[:10]
    engine = current()  # one engine builds, inspects, scans and runs both variants
    with _temporary_images(options.keep_images, engine) as temp_tags, _interrupts_as_keyboard():
        requests = [
            _request(options, variant, context, f"{TEMP_REPO}/{_slug(dockerfile_path)}:{variant.name}-{run_id}")
            for variant in result.variants
        ]
        temp_tags.extend(request.tag for request in requests)
        runner = ContainerRunner(run_id, engine) if not options.no_smoke else None
        say("building both variants with buildx")
        build_window = _run_variants(engine, result.variants, requests, scan_options, runner, say, on_build_line)
        try:
            # The original's own checks, before the alignment narrows its imports to the optimized variant's.
            reference = copy.deepcopy(result.original.smoke)
            if runner is not None:
                result.smoke_imports = _align_smoke(runner, result, smoke_spec)
            first_failure = _failure_of(result.optimized, result.original.smoke)
            if (optimization is not None and optimization.mode != OptimizeMode.UNCHANGED and first_failure is not None
                    and result.original.built and not options.no_fallback):
                fallback_started = time.monotonic()
                attempts = _Attempts(engine, options, context, dockerfile_path, runner, smoke_spec, reference, temp_tags,
                                     run_id, on_build_line)
                result.fallback = _fall_back(result, parsed, analysis, first_failure, attempts, say)
                if result.fallback.optimization is not optimization:
                    _rebuild_final(engine, result, requests[1], paths, temp_tags, scan_options, runner, reference,
                                   smoke_spec, say, on_build_line)
                result.fallback_s = time.monotonic() - fallback_started
        finally:
            if runner is not None:
                runner.cleanup()
            for leftover in options.output_dir.glob(".fallback-*"):  # an attempt cut short by Ctrl-C
                shutil.rmtree(leftover, ignore_errors=True)
        result.stage_timings = {variant.name: variant.timings for variant in result.variants}

        if result.original.profile is not None and result.optimized.profile is not None:
            from .diff import diff_profiles

            result.diff = diff_profiles(result.original.profile, result.optimized.profile)
        if options.baseline and result.baseline is None:
            result.baseline, result.baseline_ref = _baseline_facts(options.baseline, engine)

    for variant in result.variants:
        if variant.built:
            variant.score = security_score(_security_facts(variant))
    if result.original.built:
        original_facts = _facts(result.original)
        result.original.verdict = judge(
            budget_original, original_facts, variant="original", baseline=result.baseline,
            optimized=_facts(result.optimized) if result.optimized.built else None,
            reference_build_time_s=result.baseline.build_time_s if result.baseline else None)
        if result.optimized.built and not budget_optimized.empty:
            result.optimized.verdict = judge(budget_optimized, _facts(result.optimized), variant="optimized",
                                             reference_build_time_s=original_facts.build_time_s)
    result.duration_s = time.monotonic() - started
    result.overhead_s = result.duration_s - build_window - result.fallback_s
    return result


def _run_variants(engine: Engine, variants: list[Variant], requests: list[BuildRequest], scan_options,
                  runner: ContainerRunner | None, say: Progress, on_build_line) -> float:
    """Build both variants concurrently; each goes on to inspect, scan and smoke as soon as its own build ends,
    while the other may still be building. Trivy runs one scan at a time (it locks its cache DB), beside the
    smoke containers. When both are the same Dockerfile (`--optimized` names the original), it is built,
    inspected and scanned once for both. Returns the builds' window: seconds from the start until the last
    build ended.

    On Ctrl-C (or SIGTERM) the smoke containers are removed at once, so the threads wind down; the temporary
    tags go with the caller's context manager.
    """
    require_buildx(engine)
    started = time.monotonic()
    ends: list[float] = []
    cancelled = threading.Event()
    pool = ThreadPoolExecutor(max_workers=len(variants), thread_name_prefix="buildopt-variant")
    scans = ThreadPoolExecutor(max_workers=1, thread_name_prefix="buildopt-scan")
    smokes = ThreadPoolExecutor(max_workers=len(variants), thread_name_prefix="buildopt-smoke")
    followups: list[Future] = []

    def timed(variant: Variant, stage: str, action):
        stage_started = time.monotonic()
        try:
            return action()
        finally:
            variant.timings[stage] = round(time.monotonic() - stage_started, 2)

    def scan(variant: Variant) -> None:
        if not cancelled.is_set():
            say(f"scanning the {variant.name} image with trivy")
            variant.scan, variant.scan_error = timed(variant, "scan_s", lambda: _scan(engine, variant.tag, scan_options))

    def smoke(variant: Variant) -> None:
        if runner is not None and not cancelled.is_set():
            say(f"smoke-testing the {variant.name} image")
            spec = variant.smoke_spec or SmokeSpec()
            variant.smoke = timed(variant, "smoke_s", lambda: run_smoke(
                runner, variant.tag, spec, spec.imports, discover=spec.auto_imports))

    def pipeline(variant: Variant, request: BuildRequest) -> None:
        variant.build = build_one(request, on_build_line, engine=engine)
        ends.append(time.monotonic())
        if not variant.built or cancelled.is_set():
            return
        # Scan, smoke and inspect need only the image, not each other.
        if scan_options is not None:
            followups.append(scans.submit(scan, variant))
        if runner is not None:
            followups.append(smokes.submit(smoke, variant))
        say(f"inspecting the {variant.name} image")
        variant.profile = timed(variant, "inspect_s", lambda: _inspect(engine, variant.tag))

    executors = (pool, scans, smokes)
    twin = len(variants) == 2 and _same_build(*requests)
    try:
        # The same Dockerfile twice (the PR gate's base-branch run): one build, inspect and scan serve both.
        for future in [pool.submit(pipeline, variant, request)
                       for variant, request in list(zip(variants, requests, strict=True))[:1 if twin else None]]:
            future.result()
        for future in list(followups):
            future.result()
        if twin:
            first, second = variants
            second.build = replace(first.build, name=second.name) if first.build else None
            second.profile, second.scan, second.scan_error = first.profile, first.scan, first.scan_error
            if runner is not None and second.built:
                smoke(second)  # its own smoke tests: the optimized variant must run as non-root
    except BaseException:
        cancelled.set()
        if runner is not None:
            runner.cleanup()
        raise
    finally:
        for executor in executors:
            executor.shutdown(wait=True, cancel_futures=True)
    return (max(ends) if ends else time.monotonic()) - started


def _same_build(a: BuildRequest, b: BuildRequest) -> bool:
    """Would these two requests build the same image? (Same Dockerfile text, context and build settings.)"""
    try:
        same_file = a.dockerfile.read_bytes() == b.dockerfile.read_bytes()
    except OSError:
        return False
    return same_file and a.context == b.context and replace(a.settings, cache_to=None, cache_push=None) == \
        replace(b.settings, cache_to=None, cache_push=None)


def _align_smoke(runner: ContainerRunner, result: CompareResult, smoke_spec: SmokeSpec) -> list[str]:
    """Hold every variant to the same imports (see smoke.shared_imports), then compare `same_output` lines and
    judge the optimized variant's start against the original's."""
    smoked = [(variant, variant.smoke) for variant in result.variants if variant.smoke is not None]
    if not smoked:
        return []
    other = smoked[1][1] if len(smoked) > 1 else None
    imports = shared_imports(smoked[0][1], other, smoke_spec.imports)
    for variant, smoke in smoked:
        align_imports(runner, smoke, variant.smoke_spec or smoke_spec, imports)
    if result.original.smoke and result.optimized.smoke:
        if smoke_spec.same_output:
            result.optimized.smoke.checks.extend(
                same_output_checks(result.original.smoke, result.optimized.smoke, smoke_spec.same_output))
        same_start(runner, result.original.smoke, result.optimized.smoke, result.optimized.smoke_spec or smoke_spec)
    return imports


def _failure_of(variant: Variant, reference: SmokeResult | None) -> Failure | None:
    """Why a variant can't ship: its build failed, or a smoke check fails that passes in the original."""
    if variant.build is None:
        return None
    if not variant.built:
        step = variant.build.failed_step
        if step is None:
            return Failure(FailureKind.BUILD, "build failed", variant.build.error or "unknown error")
        return Failure(FailureKind.BUILD, f"build failed at step {step.step}", str(step))
    if reference is None or variant.smoke is None:
        return None
    return _smoke_failure(regressions(reference, variant.smoke))


def _smoke_failure(failed: list[SmokeCheck]) -> Failure | None:
    if not failed:
        return None
    names = ", ".join(f"{check.kind} `{check.name[:80]}`" for check in failed[:3]) + (" ..." if len(failed) > 3 else "")
    summary = f"smoke check {names} fails (passes in the original)" if len(failed) == 1 else \
        f"{len(failed)} smoke checks fail that pass in the original: {names}"
    return Failure(FailureKind.SMOKE, summary, failed[0].detail[:400])


class _Attempts:
    """Builds one candidate of the fallback search and runs the original's smoke checks on it.

    Each candidate's Dockerfile (and its .dockerignore) goes to a temp dir in the output dir, its build log to
    `<output-dir>/fallback/attempt-<n>.log`; its image carries a temporary tag (and the run label) and is
    removed as soon as its checks are done. BuildKit's cache keeps the unchanged steps."""

    def __init__(self, engine: Engine, options: CompareOptions, context: Path, dockerfile: Path,
                 runner: ContainerRunner | None, smoke_spec: SmokeSpec, reference: SmokeResult | None, temp_tags: list[str],
                 run_id: str, on_build_line):
        self.engine, self.options, self.context, self.dockerfile = engine, options, context, dockerfile
        self.runner, self.smoke_spec, self.reference = runner, smoke_spec, reference
        self.temp_tags, self.run_id, self.on_build_line = temp_tags, run_id, on_build_line
        self.logs = options.output_dir / "fallback"

    def __call__(self, variant, number: int) -> Failure | None:
        from .optimize.output import OutputPaths, write_outputs as write_optimized

        self.logs.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=".fallback-", dir=self.options.output_dir))
        tag = f"{TEMP_REPO}/{_slug(self.dockerfile)}:attempt{number}-{self.run_id}"
        self.temp_tags.append(tag)
        try:
            paths = OutputPaths.for_input(self.dockerfile, workdir / "Dockerfile.optimized")
            write_optimized(variant, paths, force=True)
            # An attempt is a candidate for the optimized variant: it reads and writes that variant's build cache.
            request = _request(self.options, Variant("optimized", paths.dockerfile), self.context, tag)
            request.name = f"attempt {number}"
            request.log_path = self.logs / f"attempt-{number}.log"
            build = build_one(request, self.on_build_line, engine=self.engine)
            spec = _optimized_spec(self.smoke_spec, variant)
            trial = Variant("optimized", paths.dockerfile, build=build, smoke_spec=spec)
            if not build.ok or self.runner is None or self.reference is None:
                return _failure_of(trial, None)
            trial.smoke = run_smoke(self.runner, tag, spec, spec.imports, discover=spec.auto_imports)
            align_imports(self.runner, trial.smoke, spec, shared_imports(self.reference, trial.smoke, spec.imports))
            trial.smoke.checks.extend(same_output_checks(self.reference, trial.smoke, spec.same_output))
            same_start(self.runner, self.reference, trial.smoke, spec)
            return _failure_of(trial, self.reference)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            _remove_tags(self.engine, [tag])
            self.temp_tags.remove(tag)


def _fall_back(result: CompareResult, parsed, analysis, first_failure: Failure, attempts: _Attempts,
               say: Progress) -> FallbackResult:
    from .dockerfile import parse_file
    from .fallback import search
    from .optimize import OptimizeOptions, optimize

    options = result.options
    context = options.context or options.dockerfile.parent

    def variant_for(skip: frozenset[str]):
        return optimize(parse_file(options.dockerfile), analysis.findings, OptimizeOptions(
            python=options.python, output_dir=str(options.output_dir), context_dir=str(context), skip=skip))

    assert result.optimization is not None  # the fallback only runs on a generated variant
    say(f"optimized {first_failure.summary}: {first_failure.evidence}; searching for the changes that cause it")
    found = search(result.optimization, variant_for, attempts, first_failure, parsed.text, say)
    kept = ", ".join(found.applied) or "no change"
    dropped = ", ".join(item.key for item in found.dropped) or "nothing"
    say(f"fallback: {len(found.attempts)} attempts in {found.seconds:.0f} s; dropped {dropped}; kept {kept}")
    return found


def _rebuild_final(engine: Engine, result: CompareResult, request: BuildRequest, paths, temp_tags: list[str], scan_options,
                   runner: ContainerRunner | None, reference: SmokeResult | None, smoke_spec: SmokeSpec, say: Progress,
                   on_build_line) -> None:
    """The variant that passed replaces the first one: its files in the output dir, then the same build,
    inspect, scan and smoke as any variant (BuildKit's cache makes the build quick)."""
    from .optimize.output import write_outputs as write_optimized

    assert result.fallback is not None  # called once the search found a variant that passed
    final = result.fallback.optimization
    written = set(write_optimized(final, paths, force=True))
    for stale in (paths.compose, paths.dockerignore):
        if stale not in written:
            stale.unlink(missing_ok=True)
    result.optimization = final
    _remove_tags(engine, [request.tag])  # the failed variant's image, when it built: the tag is reused
    result.optimized = Variant("optimized", paths.dockerfile, smoke_spec=_optimized_spec(smoke_spec, final))
    if request.tag not in temp_tags:
        temp_tags.append(request.tag)
    say("building the optimized variant that passed")
    _run_variants(engine, [result.optimized], [request], scan_options, runner, say, on_build_line)
    if runner is not None and reference is not None:
        result.original.smoke = copy.deepcopy(reference)
        result.smoke_imports = _align_smoke(runner, result, smoke_spec)


def _check_inputs(options: CompareOptions, context: Path) -> None:
    if not options.dockerfile.exists():
        raise BadInput(f"{options.dockerfile}: no such file")
    if not context.is_dir():
        raise BadInput(f"{context}: context is not a directory")
    if options.optimized and not options.optimized.exists():
        raise BadInput(f"{options.optimized}: no such file (--optimized)")
    if options.budget_file and not options.budget_file.exists():
        raise BadInput(f"{options.budget_file}: no such file (--budget)")


def _budget_table(options: CompareOptions, config: BuildoptConfig) -> dict:
    if options.budget_file:
        import tomllib

        try:
            table = tomllib.loads(read_text(options.budget_file, what="budget file"))
        except tomllib.TOMLDecodeError as err:
            raise BadInput(f"{options.budget_file}: invalid TOML: {err}") from None
        return table.get("budget", table.get("tool", {}).get("buildopt", {}).get("budget", table))
    return dict(config.budget)


def _config_dir(config: BuildoptConfig, dockerfile: Path) -> Path:
    return config.source.parent if config.source else dockerfile.parent


def _optimized_spec(spec: SmokeSpec, optimization) -> SmokeSpec:
    """The optimized variant must run as non-root, unless optimize advised against the non-root change (it
    couldn't show it safe) or the fallback dropped it. The original is only reported on."""
    from dataclasses import replace

    declined = optimization is not None and any(change.key == "non-root" for change in optimization.advice)
    return replace(spec, require_non_root=spec.require_non_root or not declined)


def _request(options: CompareOptions, variant: Variant, context: Path, tag: str) -> BuildRequest:
    settings = replace(options.build.for_variant(variant.name), labels={**options.build.labels, **run_labels()})
    return BuildRequest(name=variant.name, dockerfile=variant.dockerfile, context=context, tag=tag,
                        log_path=options.output_dir / f"build-{variant.name}.log", settings=settings)


def _inspect(engine: Engine, tag: str):
    from .inspect import inspect_image

    return inspect_image(tag, engine=engine)


def _scan_preflight(scan_options, say: Progress):
    """The scan options the scans will use: trivy found, the DB downloaded (retried) and then used as is."""
    from .scan import common_flags, ensure_db, find_trivy

    trivy = find_trivy()
    if not (scan_options.offline or scan_options.skip_db_update):
        say("downloading the trivy vulnerability DB (if it changed)")
    scan_options = ensure_db(scan_options, trivy, log=say)
    common_flags(scan_options)
    return scan_options


def _scan(engine: Engine, tag: str, scan_options):
    from .errors import EnvironmentMissing
    from .scan import scan_image

    try:
        return scan_image(tag, scan_options, engine=engine), None
    except EnvironmentMissing:
        raise
    except Exception as err:  # a scan failure is reported, it doesn't hide the size results
        return None, str(err).splitlines()[0][:300] if str(err) else type(err).__name__


def _facts(variant: Variant) -> ImageFacts:
    profile = variant.profile
    scan = variant.scan
    counts = _severity_counts(scan)
    return ImageFacts(
        size=profile.size if profile else 0,
        layers=len(profile.layers) if profile else 0,
        critical=counts.get("CRITICAL") if scan is not None else None,
        high=counts.get("HIGH") if scan is not None else None,
        critical_ids=frozenset(v.id for v in scan.vulnerabilities if v.severity == "CRITICAL") if scan else frozenset(),
        non_root=variant.smoke.non_root if variant.smoke else _config_non_root(profile),
        smoke_ok=variant.smoke.ok if variant.smoke else None,
        build_time_s=variant.build.duration_s if variant.build else None,
    )


def _severity_counts(scan: ScanResult | None) -> dict[str, int]:
    if scan is None:
        return {}
    counts = {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}
    for vulnerability in scan.vulnerabilities:
        counts[vulnerability.severity] = counts.get(vulnerability.severity, 0) + 1
    return counts


def _config_non_root(profile: ImageProfile | None) -> bool | None:
    return None if profile is None else not profile.config.runs_as_root


def _security_facts(variant: Variant) -> SecurityFacts:
    profile = variant.profile
    counts = _severity_counts(variant.scan)
    healthcheck = profile.config.healthcheck if profile else None
    from .healthcheck import healthcheck_kind

    return SecurityFacts(
        runs_as_root=(not variant.smoke.non_root) if variant.smoke else (
            None if _config_non_root(profile) is None else not _config_non_root(profile)),
        healthcheck=healthcheck_kind(healthcheck),
        critical=counts.get("CRITICAL") if variant.scan is not None else None,
        high=counts.get("HIGH") if variant.scan is not None else None,
        secrets=len(variant.scan.secrets) if variant.scan is not None else None,
        build_tools=bool(profile.build_tools) if profile is not None else None,
        eol_python=None,
    )


def _baseline_facts(baseline: str, engine: Engine | None = None) -> tuple[ImageFacts, str]:
    """A saved report.json (its original variant) or an image ref (inspected, not scanned)."""
    path = Path(baseline)
    if _is_report(baseline):
        if not path.exists():
            raise BadInput(f"{path}: no such file (--baseline)")
        from .report.compare_schema import CompareReport

        try:
            text = read_text(path, limit=MAX_CONTEXT_FILE_BYTES, what="baseline report")
        except OSError as err:
            raise BadInput(f"{path}: unreadable (--baseline): {err.strerror}") from None
        original = CompareReport.from_json(text, f"{path} (--baseline)").variants.original
        vulns = original.vulnerabilities
        return ImageFacts(
            size=original.size,
            layers=original.layers,
            critical=vulns.counts.get("CRITICAL") if vulns else None,
            high=vulns.counts.get("HIGH") if vulns else None,
            critical_ids=frozenset(vulns.critical_ids if vulns else ()),
            build_time_s=original.build_time_s,
        ), str(path)
    profile = _inspect(engine or current(), baseline)
    return ImageFacts(size=int(profile.size), layers=len(profile.layers)), baseline


def _is_report(baseline: str) -> bool:
    return baseline.endswith(".json") or Path(baseline).exists()


def _slug(path: Path) -> str:
    stem = path.parent.name or "image"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in stem.lower()) or "image"


@contextmanager
def _temporary_images(keep: bool, engine: Engine):
    tags: list[str] = []
    try:
        yield tags
    finally:
        if not keep and tags:
            _remove_tags(engine, tags)


def _remove_tags(engine: Engine, tags: list[str]) -> None:
    from python_on_whales.client_config import ClientNotFoundError
    from python_on_whales.exceptions import DockerException

    for tag in tags:
        try:
            engine.cli.image.remove(tag, force=True, prune=True)
        except DockerException:
            pass  # never built, or already gone
        except ClientNotFoundError:
            return  # no docker CLI: nothing was built (the environment error is already on its way)


@contextmanager
def _interrupts_as_keyboard():
    """SIGTERM (CI cancelling a job) cleans up like Ctrl-C does."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_outputs(result: CompareResult, renderers: dict[str, Callable[[CompareResult], str]]) -> dict[str, Path]:
    """Write every report format into the output dir; returns {format: path}."""
    written = {}
    for name, render in renderers.items():
        written[name] = write_text(result.options.output_dir / name, render(result), force=True)
    return written
