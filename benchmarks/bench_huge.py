"""Benchmark: `buildopt analyze` and `buildopt optimize` on 5 MB Dockerfiles of the two hostile shapes (issue 18).

Shapes (generated into a temp dir, removed afterwards):
- one-run: one RUN of 120,000 continuation lines (BuildKit's parser is quadratic in them);
- many-runs: tens of thousands of one-line RUNs (apt-get, pip install, echo, mkdir), the shape whose shell words
  the rules and optimize re-split.

Measured in the same run, for each shape:
- the parse stage on 1/4, 1/2 and all of the file (in-process CPU time): 4x the size should cost about 4x;
- references: BuildKit's parser alone on the file as it is (what buildopt called before continuation runs were
  joined) and hadolint on the same file;
- `buildopt analyze` and `buildopt optimize` as CLI processes, wall and CPU time (children included).
Prints the ratios against the references and the issue's target (each command under 10 s). A benchmark, not a
test: nothing is asserted. A process still running after --timeout is killed and reported as such.

Usage: python benchmarks/bench_huge.py [--mb 5] [--timeout 900] [--reference-timeout 120] [--shapes one-run,many-runs]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 10.0  # issue 18: each command on a 5 MB file of either shape


def one_run(size: int) -> str:
    lines = ["FROM python:3.12-slim", "RUN echo start \\"]
    total = sum(len(line) + 1 for line in lines)
    i = 0
    while total < size:
        line = f"    && echo line-{i:06d} some words here \\"
        lines.append(line)
        total += len(line) + 1
        i += 1
    lines.append("    && true")
    return "\n".join(lines) + "\n"


_RUNS = [
    "RUN apt-get update && apt-get install -y --no-install-recommends tool{i} && rm -rf /var/lib/apt/lists/*",
    "RUN pip install --no-cache-dir package{i}==1.{i}",
    "RUN echo step {i} > /tmp/step-{i}",
    "RUN mkdir -p /opt/app/{i} && chmod 755 /opt/app/{i}",
]


def many_runs(size: int) -> str:
    lines = ["FROM python:3.12-slim", "WORKDIR /app"]
    total = sum(len(line) + 1 for line in lines)
    i = 0
    while total < size:
        line = _RUNS[i % len(_RUNS)].format(i=i)
        lines.append(line)
        total += len(line) + 1
        i += 1
    lines.append('CMD ["python", "-m", "app"]')
    return "\n".join(lines) + "\n"


SHAPES = {"one-run": one_run, "many-runs": many_runs}


def cpu_timed(fn, *args) -> float:
    started = time.process_time()
    fn(*args)
    return time.process_time() - started


def process(argv: list[str], timeout: float, cwd: Path) -> tuple[float | None, float, int | None]:
    """(wall seconds or None when killed at the timeout, CPU seconds of the process, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        code = child.wait(timeout=timeout)
        wall: float | None = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, 9)
        child.wait()
        wall, code = None, None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), code


def show(wall: float | None, timeout: float) -> str:
    return f"> {timeout:.0f} s (killed)" if wall is None else f"{wall:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a buildopt process counts as hung")
    parser.add_argument("--reference-timeout", type=float, default=120.0,
                        help="seconds given to each reference (hadolint is quadratic on both shapes)")
    parser.add_argument("--shapes", default="one-run,many-runs")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from buildopt.dockerfile import parse_string

    size = int(args.mb * 1_000_000)
    hadolint = str(Path(sys.executable).parent / "hadolint") if (Path(sys.executable).parent / "hadolint").exists() \
        else shutil.which("hadolint")
    buildopt = [sys.executable, "-m", "buildopt.cli"]
    print(f"load average before the runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for shape in args.shapes.split(","):
        make = SHAPES[shape]
        with tempfile.TemporaryDirectory(prefix="bench-huge-") as tmp:
            root = Path(tmp)
            text = make(size)
            path = root / "Dockerfile"
            path.write_text(text)
            parsed = parse_string(text)
            print(f"\n== {shape}: {len(text.encode()) / 1e6:.2f} MB, {text.count(chr(10))} lines, "
                  f"{len(parsed.instructions)} instructions")

            print("parse stage (in-process CPU s): ", end="")
            quarter = None
            for fraction in (0.25, 0.5, 1.0):
                part = make(int(size * fraction))
                spent = cpu_timed(parse_string, part)
                quarter = quarter or spent
                print(f"{fraction:g} of the size {spent:.2f} s ({spent / quarter:.1f}x)", end="; " if fraction < 1 else "\n")

            script = "import sys, dockerfile; dockerfile.parse_string(open(sys.argv[1]).read())"
            raw_wall, raw_cpu, _ = process([sys.executable, "-c", script, str(path)], args.reference_timeout, REPO)
            print(f"reference, BuildKit's parser on the file as it is: {show(raw_wall, args.reference_timeout)} wall, "
                  f"{raw_cpu:.2f} s CPU")
            hadolint_wall = None
            if hadolint:
                hadolint_wall, hadolint_cpu, _ = process([hadolint, "-f", "json", "--no-fail", str(path)],
                                                         args.reference_timeout, REPO)
                print(f"reference, hadolint: {show(hadolint_wall, args.reference_timeout)} wall, {hadolint_cpu:.2f} s CPU")
            commands = {
                "analyze": [*buildopt, "analyze", str(path), "--format", "json", "--fail-on", "never"],
                "optimize": [*buildopt, "optimize", str(path), "-o", str(root / "Dockerfile.optimized"), "--force"],
            }
            for name, argv in commands.items():
                wall, cpu, code = process(argv, args.timeout, REPO)
                ratios = []
                if wall is not None and raw_wall:
                    ratios.append(f"{wall / raw_wall:.2f}x BuildKit's parser alone")
                elif wall is not None and raw_wall is None:
                    ratios.append(f"BuildKit's parser alone did not finish in {args.reference_timeout:.0f} s")
                if wall is not None and hadolint_wall:
                    ratios.append(f"{wall / hadolint_wall:.2f}x hadolint")
                elif wall is not None and hadolint:
                    ratios.append(f"hadolint did not finish in {args.reference_timeout:.0f} s")
                verdict = "met" if wall is not None and wall < TARGET_S else "NOT met"
                print(f"buildopt {name}: {show(wall, args.timeout)} wall, {cpu:.2f} s CPU, exit {code}; "
                      f"{'; '.join(ratios) or 'no ratio'}; target < {TARGET_S:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
