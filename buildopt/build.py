"""Build stage: build image variants with docker buildx (through python-on-whales), concurrently.

Each variant's log is streamed to its own file and to an optional callback (for the progress display),
and its build time is recorded. A failed build does not stop the others: its result carries the error
and the log tail, and the caller decides the exit code (3).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

from .engine import Engine, current, docker_errors
from .errors import EnvironmentMissing
from .files import ensure_dir, open_for_writing

LOG_TAIL_LINES = 25


@dataclass
class BuildSettings:
    """How to build, the same for every variant (`compare`'s --build-arg, --network, --builder, --cache-*...)."""

    build_args: dict[str, str] = field(default_factory=dict)
    network: str | None = None
    builder: str | None = None
    platform: str | None = None
    cache_from: list[str] = field(default_factory=list)
    cache_to: str | None = None
    cache_push: str | None = None  # after the build, push the image here (its inline cache, for --cache-from)
    no_cache: bool = False
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # set on the image (run labels, see engine.run_labels)

    def for_variant(self, variant: str) -> BuildSettings:
        """"{variant}" in a cache ref becomes the variant's name: two builds must not export to one ref at once."""
        return replace(
            self,
            build_args=dict(self.build_args),
            cache_from=[source.replace("{variant}", variant) for source in self.cache_from],
            cache_to=self.cache_to.replace("{variant}", variant) if self.cache_to else None,
            cache_push=self.cache_push.replace("{variant}", variant) if self.cache_push else None,
            labels=dict(self.labels),
        )


@dataclass
class BuildRequest:
    name: str  # "original", "optimized", "baseline"...
    dockerfile: Path
    context: Path
    tag: str
    log_path: Path
    settings: BuildSettings = field(default_factory=BuildSettings)


@dataclass
class BuildResult:
    name: str
    tag: str
    ok: bool
    duration_s: float
    log_path: Path
    image_id: str | None = None
    error: str | None = None
    log_tail: list[str] = field(default_factory=list)
    failed_step: FailedStep | None = None  # the step that failed and its last output line, from the log


@dataclass(frozen=True)
class FailedStep:
    step: str  # BuildKit's name for it: "[runtime 7/8] RUN sh scripts/verify-deps.sh"
    message: str  # the step's last output line (its error), or BuildKit's error when it printed nothing
    exit_code: int | None = None
    line: int | None = None  # the Dockerfile line BuildKit points at

    def __str__(self) -> str:
        code = f" (exit code {self.exit_code})" if self.exit_code is not None else ""
        return f"{self.message}{code}"


LineCallback = Callable[[str, str], None]  # (variant name, log line)


def build_all(requests: list[BuildRequest], on_line: LineCallback | None = None, concurrent: bool = True, *,
              engine: Engine | None = None) -> list[BuildResult]:
    """Build every request; results come back in request order. Concurrent unless the builder can't."""
    engine = engine or current()
    require_buildx(engine)
    if not concurrent or len(requests) < 2:
        return [build_one(request, on_line, engine=engine) for request in requests]
    with ThreadPoolExecutor(max_workers=len(requests), thread_name_prefix="buildopt-build") as pool:
        futures = [pool.submit(build_one, request, on_line, engine=engine) for request in requests]
        return [future.result() for future in futures]


def build_one(request: BuildRequest, on_line: LineCallback | None = None, *, engine: Engine | None = None) -> BuildResult:
    from python_on_whales.exceptions import DockerException

    docker = (engine or current()).cli

    ensure_dir(request.log_path.parent)
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    started = time.monotonic()
    error = None
    settings = request.settings
    with open_for_writing(request.log_path) as log:
        cache_args = buildx_cache_args(settings)
        if cache_args:
            log.write(f"[buildopt] buildx cache: {' '.join(cache_args)}\n")
        try:
            stream = docker.buildx.build(
                request.context,
                file=request.dockerfile,
                tags=[request.tag],
                load=True,
                build_args=settings.build_args,
                network=settings.network,
                builder=settings.builder,
                platforms=[settings.platform] if settings.platform else None,
                cache=not settings.no_cache,
                cache_from=[{"type": "registry", "ref": ref} if "=" not in ref else _kv(ref) for ref in settings.cache_from] or None,
                cache_to=_kv(settings.cache_to) if settings.cache_to and "=" in settings.cache_to else settings.cache_to,
                target=settings.target,
                labels=settings.labels or {},
                progress="plain",
                stream_logs=True,
            )
            for line in stream:
                line = line.rstrip("\n")
                log.write(line + "\n")
                tail.append(line)
                if on_line:
                    on_line(request.name, line)
        except DockerException as err:
            error = _failure_reason(err, list(tail))
            log.write(f"\n[buildopt] build failed: {error}\n")
        duration = time.monotonic() - started
        if not error and settings.cache_push:
            _push_cache(docker, request.tag, settings.cache_push, log)
    if error:
        return BuildResult(request.name, request.tag, False, duration, request.log_path, error=error, log_tail=list(tail),
                           failed_step=failed_step(request.log_path.read_text(encoding="utf-8", errors="replace")))
    with docker_errors(f"the image just built ({request.tag})"):
        image_id = docker.image.inspect(request.tag).id
    return BuildResult(request.name, request.tag, True, duration, request.log_path, image_id=image_id, log_tail=list(tail))


def buildx_cache_args(settings: BuildSettings) -> list[str]:
    """The builder and cache flags a build hands buildx, as `docker buildx build` spells them."""
    args = ["--builder", settings.builder] if settings.builder else []
    if settings.no_cache:
        return [*args, "--no-cache"]
    args += [arg for source in settings.cache_from for arg in ("--cache-from", source)]
    if settings.cache_to:
        args += ["--cache-to", settings.cache_to]
    if settings.cache_push:
        args += ["(then docker push", f"{settings.cache_push})"]
    return args


def _push_cache(docker, tag: str, cache_push: str, log) -> None:
    """Push the image (with its inline cache) for later builds' --cache-from; a failed push is only logged:
    the build itself succeeded. `docker` is the engine's CLI client."""
    from python_on_whales.exceptions import DockerException

    pushed = time.monotonic()
    repository = cache_push.rsplit(":", 1)[0]
    try:
        docker.image.tag(tag, cache_push)
        try:
            docker.image.push(cache_push, quiet=True)
        finally:
            # Only the extra references go: the tag, then any digest of that repository the push recorded
            # and the tag's removal left (it would keep the image alive after the build's own tag is gone).
            docker.image.remove(cache_push)
            for digest in docker.image.inspect(tag).repo_digests:
                if digest.startswith(repository + "@"):
                    with suppress(DockerException):  # already gone with the tag
                        docker.image.remove(digest)
        log.write(f"[buildopt] pushed {cache_push} for the build cache ({time.monotonic() - pushed:.1f} s)\n")
    except DockerException as err:
        log.write(f"[buildopt] cache push to {cache_push} failed: {_failure_reason(err, [])}\n")


def require_buildx(engine: Engine | None = None) -> None:
    from python_on_whales.exceptions import DockerException

    try:
        (engine or current()).cli.buildx.version()
    except DockerException as err:
        raise EnvironmentMissing(
            "docker buildx is not available", hint="install the buildx plugin or run scripts/setup-toolchain.sh"
        ) from err
    except FileNotFoundError as err:
        raise EnvironmentMissing("the docker CLI is not installed", hint="run scripts/setup-toolchain.sh") from err


def _kv(text: str) -> dict[str, str]:
    """`type=local,src=/tmp/cache` -> {"type": "local", "src": "/tmp/cache"} as python-on-whales expects."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


_HEADER = re.compile(r"^#(\d+) (\[.+)$")
_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
_ERROR = re.compile(r"^#(\d+) ERROR: (.*)$")
_WHERE = re.compile(r"^\S+:(\d+)$")


def failed_step(log: str) -> FailedStep | None:
    """The step that failed in a BuildKit plain-progress log, with its last output line."""
    headers: dict[str, str] = {}
    last_output: dict[str, str] = {}
    failed: tuple[str, str] | None = None
    line_number = None
    for line in log.splitlines():
        line = line.rstrip()
        if match := _ERROR.match(line):
            failed = failed or (match.group(1), match.group(2))
        elif match := _OUTPUT.match(line):
            if match.group(2).strip():
                last_output[match.group(1)] = match.group(2).strip()
        elif match := _HEADER.match(line):
            headers.setdefault(match.group(1), match.group(2).strip())
        elif failed and line_number is None and (match := _WHERE.match(line)):
            line_number = int(match.group(1))
    if failed is None:
        return None
    step_id, error = failed
    code = re.search(r"exit code: (\d+)", error)
    message = last_output.get(step_id) or error
    return FailedStep(headers.get(step_id, f"step #{step_id}")[:200], message[:300], int(code.group(1)) if code else None,
                      line_number)


def _failure_reason(err: Exception, tail: list[str]) -> str:
    for line in reversed(tail):
        if "ERROR" in line or "error:" in line.lower():
            return line.strip()[:300]
    stderr = getattr(err, "stderr", None) or str(err)
    lines = [line for line in str(stderr).splitlines() if line.strip()]
    return (lines[-1] if lines else "unknown error")[:300]
