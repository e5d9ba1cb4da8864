"""Command-line entry point. It only wires pipeline stages together: no logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from . import __version__
from .errors import BuildoptError, ExitCode

app = typer.Typer(
    name="buildopt",
    help="Make Docker images for Python and ML services small and safe, and keep them that way in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"buildopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool | None = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """buildopt: analyze, optimize, compare, diff and audit Docker images."""


# --- doctor -------------------------------------------------------------------------------------------
@app.command()
def doctor(
    images: list[str] = typer.Option([], "--image", help="Base image the examples need (repeatable)."),
    trivy_cache_dir: Path | None = typer.Option(None, "--trivy-cache-dir", help="Trivy cache dir holding the vulnerability DB."),
    check_update: bool = typer.Option(False, "--check-update", help="Also test whether trivy can reach its DB registry."),
) -> None:
    """Check the Docker engine, buildx, trivy and base images; print the fix for anything missing.

    Exit 0 when everything `compare` needs is there, 4 otherwise.
    """
    from . import doctor as doctor_stage
    from .report.doctor_report import doctor_table

    checks = doctor_stage.run_checks(images=images or None, trivy_cache_dir=trivy_cache_dir, check_update=check_update)
    typer.echo(doctor_table(checks))
    raise typer.Exit(ExitCode.OK if doctor_stage.all_required_ok(checks) else ExitCode.ENVIRONMENT)


# --- plan ---------------------------------------------------------------------------------------------
@app.command()
def plan(
    base: str | None = typer.Option(None, "--base", help="Base ref (e.g. origin/main); changes are taken from its merge-base."),
    head: str = typer.Option("HEAD", "--head", help="Head ref."),
    every: bool = typer.Option(False, "--all", help="Every Dockerfile at --head, changed or not (no --base needed)."),
    repo: Path = typer.Option(Path("."), "--repo", help="Git repository."),
    output_format: str = typer.Option("json", "--format", help="json (a strategy.matrix) or text."),
) -> None:
    """Print the Dockerfiles changed between two refs (or whose context changed) as a JSON matrix.

    Each entry's `name` is unique and stable (made from the path alone): use it for artifact names.
    """
    import json

    from .errors import BadInput
    from .plan import make_plan

    if output_format not in ("json", "text"):
        raise BadInput(f"--format {output_format!r}: use json or text")
    result = make_plan(base, head, str(repo), every=every)
    if output_format == "json":
        typer.echo(json.dumps(result.matrix()))
    else:
        for entry in result.entries:
            typer.echo(f"{entry.dockerfile}\t{entry.context}\t{entry.reason}")


# --- analyze ------------------------------------------------------------------------------------------
@app.command("analyze")
def analyze_command(
    dockerfile: Path = typer.Argument(..., readable=False, help="The Dockerfile to analyze."),
    context: Path | None = typer.Option(
        None, "--context", readable=False, help="Build context dir: read the requirements and pyproject extras pip installs, "
        ".dockerignore and model files. Without it, context checks are skipped."),
    output_format: str = typer.Option("table", "--format", help="table, json, sarif or markdown."),
    fail_on: str | None = typer.Option(
        None, "--fail-on", help="Exit 1 when a finding is at or above: info, low, medium, high, critical, or never. "
        "Default: fail_on from the config, else high."),
    config_file: Path | None = typer.Option(
        None, "--config", readable=False, help="Config file (buildopt.toml or a pyproject.toml with [tool.buildopt]). Default: "
        "searched from the Dockerfile's directory up to the context (or repository) root."),
    output: Path | None = typer.Option(None, "--output", "-o", readable=False, help="Write the report to FILE instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite --output if it exists."),
    no_engine: bool = typer.Option(
        False, "--no-engine", help="Don't ask the local Docker engine for the base image's USER and ENV (it is never "
        "pulled either way); use the table of well-known images only. Same as BUILDOPT_ENGINE_LOOKUP=0."),
) -> None:
    """Report every problem in a Dockerfile with line numbers, severity, a fix and the bytes it costs.

    Exit 0 when no finding is at or above --fail-on, 1 when there are, 2 on bad input.
    """
    from .config import FAIL_ON_CHOICES, load_config
    from .dockerfile import parse_file
    from .errors import BadInput
    from .files import check_output, write_text
    from .report.findings import FORMATS, render
    from .rules import analyze
    from .runtime import paused_gc

    if output_format not in FORMATS:
        raise BadInput(f"--format {output_format!r}: use {', '.join(FORMATS)}")
    if fail_on is not None and fail_on.lower() not in FAIL_ON_CHOICES:
        raise BadInput(f"--fail-on {fail_on!r}: use {', '.join(FAIL_ON_CHOICES)}")
    if output is not None:
        check_output(output, force=force)
    with paused_gc():
        parsed = parse_file(dockerfile)
        _warn(parsed.warnings)
        config = load_config(dockerfile.parent, explicit=config_file, stop_at=context)
        result = analyze(parsed, context_dir=context, config=config, engine=not no_engine)
    threshold = (fail_on or config.fail_on or "high").lower()
    text = render(result, output_format, fail_on=threshold)
    if output is not None:
        write_text(output, text, force=force)
    else:
        typer.echo(text, nl=False)
    # A file `docker build` would reject (the warnings above) fails like a critical finding.
    failed = result.fails(threshold) or (bool(parsed.warnings) and threshold != "never")
    raise typer.Exit(ExitCode.FINDINGS if failed else ExitCode.OK)


# --- optimize -----------------------------------------------------------------------------------------
@app.command("optimize")
def optimize_command(
    dockerfile: Path = typer.Argument(..., readable=False, help="The Dockerfile to optimize."),
    context: Path | None = typer.Option(
        None, "--context", readable=False, help="Build context dir (default: the Dockerfile's directory): read the requirements, "
        "pyproject and model files."),
    output: Path | None = typer.Option(
        None, "--output", "-o", readable=False, help="Where to write the optimized Dockerfile (default: Dockerfile.optimized next to "
        "the input). docker-compose.buildopt.yml and <output>.dockerignore go next to it when needed."),
    force: bool = typer.Option(False, "--force", help="Overwrite output files that exist."),
    diff: bool = typer.Option(False, "--diff", help="Also print a unified diff of the original and the optimized file."),
    output_format: str = typer.Option("text", "--format", help="text or json (schema buildopt.optimize/v1)."),
    python: str | None = typer.Option(None, "--python", help="Move the base Python to this version (e.g. 3.12). "
                                         "Without it the base Python stays as it is."),
    keep_extras: bool = typer.Option(False, "--keep-extras", help="Keep `pip install .[all]` instead of the core package."),
    no_trim: bool = typer.Option(False, "--no-trim", help="Keep test suites and torch's C++ tests and headers in the venv."),
    skip: list[str] | None = typer.Option(None, "--skip", help="Don't apply the change with this key (repeatable; the keys are in the output, e.g. non-root, cpu-torch, multi-stage)."),
) -> None:
    """Write an optimized Dockerfile: multi-stage, CPU torch, models in a volume, non-root, caches off.

    Files it can't model (non-Python, already multi-stage, ONBUILD/SHELL/heredocs) get only safe in-place
    fixes, or come back unchanged. Exit 0 on success, 2 on bad input or an output that exists without --force.
    """
    from .dockerfile import parse_file
    from .errors import BadInput
    from .optimize import OptimizeOptions, change_keys, optimize
    from .optimize.output import OutputPaths, check_output_dir, write_outputs
    from .report.optimize_report import render, unified_diff
    from .rules import analyze
    from .runtime import paused_gc

    if output_format not in ("text", "json"):
        raise BadInput(f"--format {output_format!r}: use text or json")
    with paused_gc():
        parsed = parse_file(dockerfile)
    _warn(parsed.warnings)
    paths = OutputPaths.for_input(dockerfile, output)
    check_output_dir(paths)
    options = OptimizeOptions(python=python, keep_all_extras=keep_extras, trim=not no_trim, skip=change_keys(skip),
                              output_name=paths.dockerfile.name,
                              output_dir=str(paths.dockerfile.parent), context_dir=str(context) if context else None)
    with paused_gc():
        findings = analyze(parsed, context_dir=context if context is not None else dockerfile.parent).findings
        result = optimize(parsed, findings, options)
    written = write_outputs(result, paths, force=force, source=dockerfile)
    patch = unified_diff(parsed.text, result.text, str(dockerfile), str(paths.dockerfile)) if diff else None
    typer.echo(render(result, dockerfile, written, output_format, diff=patch), nl=False)


# --- compare ------------------------------------------------------------------------------------------
@app.command()
def compare(
    dockerfile: Path = typer.Argument(..., readable=False, help="The Dockerfile as written."),
    context: Path | None = typer.Option(None, "--context", readable=False, help="Build context (default: the Dockerfile's directory)."),
    optimized: Path | None = typer.Option(None, "--optimized", readable=False, help="Optimized Dockerfile to compare (default: generated)."),
    output_dir: Path = typer.Option(Path("buildopt-report"), "--output-dir", readable=False, help="Where reports, logs and the generated Dockerfile go."),
    output_format: str = typer.Option("table", "--format", help="table, json, markdown or html (all are written to --output-dir)."),
    budget: Path | None = typer.Option(None, "--budget", readable=False, help="TOML file with a [budget] table."),
    baseline: str | None = typer.Option(None, "--baseline", help="Baseline image, or a report.json saved from the base branch."),
    build_arg: list[str] = typer.Option([], "--build-arg", help="KEY=VALUE passed to both builds (repeatable)."),
    network: str | None = typer.Option(None, "--network", help="Network mode for RUN steps (e.g. host)."),
    builder: str | None = typer.Option(None, "--builder", help="buildx builder (any driver)."),
    platform: str | None = typer.Option(None, "--platform", help="Target platform, e.g. linux/amd64."),
    cache_from: list[str] = typer.Option([], "--cache-from", help="buildx cache source (repeatable), e.g. type=local,src=DIR. "
                                         "{variant} in it becomes original or optimized."),
    cache_to: str | None = typer.Option(None, "--cache-to", help="buildx cache destination, e.g. type=local,dest=DIR "
                                           "(type=gha and type=registry need a docker-container builder). {variant} as above."),
    cache_push: str | None = typer.Option(None, "--cache-push", help="Push each built image to this ref ({variant} as "
                                             "above), so later builds can use its inline cache: --cache-to type=inline "
                                             "--cache-from type=registry,ref=REF."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Build both variants without the build cache (cold builds)."),
    trivy_cache_dir: Path | None = typer.Option(None, "--trivy-cache-dir", help="Trivy cache dir (holds the vulnerability DB)."),
    db_repository: str | None = typer.Option(None, "--db-repository", help="Trivy DB repository (a mirror)."),
    offline: bool = typer.Option(False, "--offline", help="No DB download: use the DB in the trivy cache dir."),
    skip_db_update: bool = typer.Option(False, "--skip-db-update", help="Use the DB in the trivy cache dir as it is "
                                        "(downloaded before, e.g. by the PR gate); unlike --offline, trivy may still go online."),
    no_scan: bool = typer.Option(False, "--no-scan", help="Skip trivy scans."),
    no_smoke: bool = typer.Option(False, "--no-smoke", help="Skip smoke tests."),
    severity: list[str] = typer.Option([], "--severity", help="Only count these vulnerability severities (repeatable)."),
    ignore_file: Path | None = typer.Option(None, "--ignorefile", help="A .trivyignore file."),
    package_secrets: bool = typer.Option(False, "--package-secrets", help="Also look for secrets inside installed "
                                         "packages (site-packages, /usr/lib, /usr/share...); slower on ML images."),
    keep_images: bool = typer.Option(False, "--keep-images", help="Keep the built images (tagged buildopt-tmp/...)."),
    python: str | None = typer.Option(None, "--python", help="Move the optimized variant to this Python (e.g. 3.12)."),
    no_fallback: bool = typer.Option(False, "--no-fallback", help="Keep the optimized variant even when it fails to "
                                     "build (exit 3) or fails a smoke check the original passes; by default compare "
                                     "finds the changes that break it, drops them and rebuilds."),
) -> None:
    """Build the Dockerfile and its optimized variant, scan, smoke-test and diff them, and judge the budget.

    When the generated optimized variant fails to build, or fails a smoke check that passes in the original,
    compare drops the changes that cause it (delta debugging over the change keys) and keeps the variant that
    passes; report.json's `fallback` says what was dropped and why.

    Exit codes: 0 pass, 1 budget failed, 2 bad input, 3 build failed, 4 environment missing.
    """
    from .build import BuildSettings
    from .compare import CompareOptions, run_compare, write_outputs
    from .errors import BadInput
    from .progress import StageProgress
    from .report import compare_report as report, html
    from .scan import ScanOptions

    if output_format not in ("table", "json", "markdown", "html"):
        raise BadInput(f"--format {output_format!r}: use table, json, markdown or html")
    build = BuildSettings(build_args=_key_values(build_arg, "--build-arg"), network=network, builder=builder,
                          platform=platform, cache_from=list(cache_from), cache_to=cache_to, cache_push=cache_push,
                          no_cache=no_cache)
    scan = None if no_scan else ScanOptions(
        cache_dir=trivy_cache_dir, db_repository=db_repository, offline=offline, skip_db_update=skip_db_update,
        severities=[s.upper() for s in severity] or None, ignore_file=ignore_file, package_secrets=package_secrets)
    options = CompareOptions(dockerfile=dockerfile, context=context, optimized=optimized, output_dir=output_dir,
                             budget_file=budget, baseline=baseline, build=build, scan=scan, no_smoke=no_smoke,
                             keep_images=keep_images, python=python, no_fallback=no_fallback)
    with StageProgress() as progress:
        result = run_compare(options, progress=progress.stage, on_build_line=progress.build_line)
    document = report.compare_document(result)
    markdown = report.render_markdown(document)
    page = html.render_compare(document, {variant.name: variant.profile for variant in result.variants})
    write_outputs(result, {
        "report.json": lambda _: report.render_json(document),
        "report.md": lambda _: markdown,
        "report.sarif": lambda _: report.render_sarif(document),
        "report.html": lambda _: page,
    })
    report.write_step_summary(markdown)
    rendered = {"table": report.render_table, "json": report.render_json, "markdown": lambda doc: markdown,
                "html": lambda doc: page}[output_format](document)
    typer.echo(rendered, nl=False)
    raise typer.Exit(int(result.exit_code))


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        typer.echo(f"buildopt: warning: {warning}", err=True)


def _key_values(pairs: list[str], flag: str) -> dict[str, str]:
    from .errors import BadInput

    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"{flag} {pair!r}: use KEY=VALUE")
        values[key] = value
    return values


# --- inspect ------------------------------------------------------------------------------------------
@app.command("inspect")
def inspect_command(
    image: str = typer.Argument(..., help="Image reference or id the local engine holds."),
    output_format: str = typer.Option("table", "--format", help="table or json."),
    reader: str = typer.Option("auto", "--reader", help="auto, overlay2 (layer dirs; root) or archive (docker save stream)."),
    compressed: bool = typer.Option(False, "--compressed", help="Also estimate the pushed (gzip -6) size; CPU-heavy."),
    files: bool = typer.Option(False, "--files", help="JSON: include every file (path, size, mode, uid, layer, kind)."),
) -> None:
    """Profile one image: sizes, layers, wasted bytes, top directories, packages, model files, CUDA, config."""
    from .errors import BadInput
    from .inspect import inspect_image
    from .report.diff_report import render_profile

    if output_format not in ("table", "json"):
        raise BadInput(f"--format {output_format!r}: use table or json")
    profile = inspect_image(image, reader, compressed=compressed)
    typer.echo(render_profile(profile, output_format, files=files), nl=False)


# --- diff ---------------------------------------------------------------------------------------------
@app.command("diff")
def diff_command(
    image_a: str = typer.Argument(..., help="First image (the before)."),
    image_b: str = typer.Argument(..., help="Second image (the after)."),
    output_format: str = typer.Option("table", "--format", help="table, json, markdown or html (a self-contained page)."),
    reader: str = typer.Option("auto", "--reader", help="auto, overlay2 (layer dirs; root) or archive (docker save stream)."),
    compressed: bool = typer.Option(False, "--compressed", help="Also compare pushed (gzip -6) size estimates; CPU-heavy."),
) -> None:
    """Where the bytes went between two images: sizes, layers, directories, packages, models, CUDA, config."""
    from .diff import diff_profiles
    from .engine import current
    from .errors import BadInput
    from .inspect import inspect_image
    from .report import html
    from .report.diff_report import FORMATS, render_diff

    if output_format not in (*FORMATS, "html"):
        raise BadInput(f"--format {output_format!r}: use table, json, markdown or html")
    engine = current()
    profile_a = inspect_image(image_a, reader, compressed=compressed, engine=engine)
    profile_b = inspect_image(image_b, reader, compressed=compressed, engine=engine)
    diff = diff_profiles(profile_a, profile_b)
    if output_format == "html":
        typer.echo(html.render_diff(diff, profile_a, profile_b), nl=False)
    else:
        typer.echo(render_diff(diff, output_format), nl=False)


# --- audit --------------------------------------------------------------------------------------------
@app.command("audit")
def audit_command(
    context: str | None = typer.Option(None, "--context", help="Docker context to audit (default: DOCKER_HOST or the current one)."),
    output_format: str = typer.Option("table", "--format", help="table, markdown, json (schema buildopt.audit/v1) or html."),
    min_size: str = typer.Option("0", "--min-size", help="Detail only images at least this big (e.g. 100MB); smaller ones are only counted."),
    fail_over: str | None = typer.Option(None, "--fail-over", help="Exit 1 when a custom image is larger (e.g. 5GB)."),
    deep: bool | None = typer.Option(None, "--deep/--no-deep", help="Read every image's files (any reader), or none. Default: custom images on a local overlay2 engine."),
    prune_dangling: bool = typer.Option(False, "--prune-dangling", help="Remove the dangling images listed (only those), after confirmation."),
    yes: bool = typer.Option(False, "--yes", help="Confirm --prune-dangling without a prompt."),
    output: Path | None = typer.Option(None, "--output", readable=False, help="Write the report to this file instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite --output if it exists."),
) -> None:
    """Audit every image and container of an engine: sizes, categories, findings, savings, priorities,
    security scores, dangling images and an action plan (the structure of a hand-written audit).

    Exit codes: 0 ok, 1 a custom image is over --fail-over, 2 bad input (or --prune-dangling without
    --yes when stdin is not a terminal), 4 engine unreachable.
    """
    from .audit import AuditOptions, apply_prune, run_audit
    from .errors import BadInput
    from .files import check_output, write_text
    from .progress import StageProgress
    from .report import audit_report, html
    from .units import format_size, parse_size

    renderers = {"table": audit_report.render_table, "markdown": audit_report.render_markdown, "json": audit_report.render_json,
                 "html": html.render_audit}
    if output_format not in renderers:
        raise BadInput(f"--format {output_format!r}: use table, markdown, json or html")
    if output is not None:
        check_output(output, force=force)
    if prune_dangling and not yes and not sys.stdin.isatty():
        raise BadInput("--prune-dangling removes images: pass --yes to confirm (stdin is not a terminal)")
    options = AuditOptions(context=context, min_size=parse_size(min_size),
                           fail_over=parse_size(fail_over) if fail_over is not None else None, deep=deep)
    with StageProgress() as progress:
        report = run_audit(options, progress=progress.stage)
    if prune_dangling and not report.dangling:
        typer.echo("buildopt: no dangling images to remove", err=True)
    if prune_dangling and report.dangling:
        size = format_size(sum(d.record.unique_size for d in report.dangling))
        if yes or typer.confirm(f"Remove {len(report.dangling)} dangling images (frees ~{size})?", err=True):
            result = apply_prune(report)
            kept = f"; kept {len(result.kept)}: {result.kept[0][1]}" if result.kept else ""
            typer.echo(f"buildopt: removed {len(result.removed)} of {len(report.dangling)} dangling images, "
                       f"freed {format_size(result.freed)}{kept}", err=True)
    rendered = renderers[output_format](audit_report.audit_document(report))
    if output is not None:
        write_text(output, rendered, force=force)
        typer.echo(f"buildopt: wrote {output}", err=True)
    else:
        typer.echo(rendered, nl=False)
    raise typer.Exit(ExitCode.FINDINGS if report.failed else ExitCode.OK)


# --- promote ------------------------------------------------------------------------------------------
@app.command("promote")
def promote_command(
    service: str = typer.Argument(..., help="The compose service to swap to the optimized image."),
    compose: Path | None = typer.Option(None, "--compose", help="The compose file (default: the one docker compose picks here)."),
    image: str | None = typer.Option(None, "--image", help="The optimized image (a local reference)."),
    from_report: Path | None = typer.Option(None, "--from-report", help="Take the optimized image from a compare report.json (compare --keep-images)."),
    rollback: bool = typer.Option(False, "--rollback", help="Go back to the backup of the service's last promote."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Run the preflight, print the plan, change nothing."),
    project_name: str | None = typer.Option(None, "--project-name", "-p", help="Compose project name, if not the file's."),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for healthy (and again after a rollback)."),
    health_cmd: str | None = typer.Option(None, "--health-cmd", help="Healthy when this shell command exits 0 in the container."),
    config_file: Path | None = typer.Option(None, "--config", help="buildopt.toml whose \\[smoke].http is the health probe (default: searched from the compose file's directory)."),
    settle: float = typer.Option(10.0, "--settle", help="Without any health probe: seconds the container must keep running."),
) -> None:
    """Swap a running compose service to the optimized image: preflight, backup tag, override file,
    `docker compose up -d SERVICE`, wait for healthy, roll back on failure (docs/promote.md).

    Exit codes: 0 promoted (or rolled back with --rollback, or a clean --dry-run), 1 refused by the
    preflight or rolled back after the new image failed, 2 bad input, 4 engine or compose missing,
    5 the rollback failed too.
    """
    from .errors import BadInput
    from .progress import StageProgress
    from .promote import PromoteRequest, promote, rollback as promote_rollback
    from .report.promote_report import render, verdict_line

    if timeout <= 0 or settle < 0:
        raise BadInput("--timeout must be positive and --settle not negative")
    request = PromoteRequest(service=service, compose_file=compose, image=image, from_report=from_report,
                             project_name=project_name, dry_run=dry_run, timeout_s=timeout, health_cmd=health_cmd,
                             config_file=config_file, settle_s=settle)
    with StageProgress() as progress:
        outcome = (promote_rollback if rollback else promote)(request, say=progress.stage)
    typer.echo(render(outcome), nl=False)
    line = verdict_line(outcome)
    if line:
        typer.echo(line, err=True)
    raise typer.Exit(int(outcome.exit_code))


# --- github -------------------------------------------------------------------------------------------
gh_app = typer.Typer(help="The PR gate's GitHub steps, used by action.yml and .github/workflows.", no_args_is_help=True)
app.add_typer(gh_app, name="gh", hidden=True)


@gh_app.command("gate")
def gh_gate() -> None:
    """Run the PR gate from the action's INPUT_* variables (workflow a).

    Compares each Dockerfile (against the base branch's build when INPUT_BASELINE_REF is set), writes
    gate.json, comment.md and buildopt.sarif to the output dir and the action's outputs to GITHUB_OUTPUT.
    Exit code: the worst of the comparisons (0 pass, 1 over budget, 2 bad input, 3 build failed, 4 environment).
    """
    from .gate.inputs import gate_inputs_from_env
    from .gate.outputs import write_github_output
    from .gate.run import run_gate, write_gate_files

    inputs = gate_inputs_from_env()
    result = run_gate(inputs)
    write_github_output(write_gate_files(result, comment=inputs.comment))
    for entry in result.entries:
        typer.echo(f"buildopt gate: {entry.dockerfile}: exit {entry.exit_code}" + (f" ({entry.error})" if entry.error else ""))
    raise typer.Exit(result.exit_code)


@gh_app.command("comment")
def gh_comment(
    artifacts: Path = typer.Option(..., "--artifacts", help="Downloaded artifact dir (or a dir of them) from the gate run."),
    sarif_out: Path | None = typer.Option(None, "--sarif-out", help="Write SARIF rendered from the validated reports here."),
    author: str = typer.Option("github-actions[bot]", "--author", help="Login that owns the sticky comment."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the comment; call no API."),
) -> None:
    """Post or update the sticky PR comment from an untrusted gate artifact (workflow b, workflow_run).

    Reads GITHUB_EVENT_PATH (the workflow_run event), GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL.
    A bad artifact (size caps, PR number, head sha, schema) exits 2 and posts nothing.
    """
    from .gate.comment import comment_from_artifacts
    from .gate.outputs import write_github_output

    outcome = comment_from_artifacts(artifacts, sarif_out=sarif_out, author=author, dry_run=dry_run)
    write_github_output(outcome.outputs())
    if outcome.message:
        typer.echo(outcome.message, err=dry_run)


def main() -> None:
    """Console-script entry: expected failures become one line on stderr and a documented exit code.

    Usage errors exit 2 as click shows them; Ctrl-C exits 130 after the stages' cleanup has run
    (an exit 1 would read as "budget failed").
    """
    try:
        code = app(standalone_mode=False)
    except BuildoptError as err:
        message = f"buildopt: error: {err}"
        if err.hint:
            message += f" ({err.hint})"
        typer.echo(message, err=True)
        sys.exit(int(err.exit_code))
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("buildopt: interrupted; temporary images and containers were removed", err=True)
        sys.exit(130)
    except Exception as err:
        if hasattr(err, "show") and hasattr(err, "exit_code"):  # click's UsageError and friends
            err.show()
            sys.exit(ExitCode.BAD_INPUT if err.exit_code == 2 else err.exit_code)
        raise
    if code == 130:  # typer turns Ctrl-C into a silent Exit(130), after the stages' cleanup has run
        typer.echo("buildopt: interrupted; temporary images and containers were removed", err=True)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
