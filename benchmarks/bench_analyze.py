"""Benchmark: `buildopt analyze` on a generated 20,000-line Dockerfile, against hadolint on the same file.

The file is a realistic mix repeated until it reaches the line count: many stages (builders and a final
chain), multi-line RUNs with apt/pip chains, ENV/ARG blocks, COPYs, heredocs, healthchecks, secrets-like
names. It is written to a temp dir and removed afterwards. (A blank line follows each heredoc: hadolint
2.15 fails with DL1000 on an instruction right after a heredoc terminator, and would then stop reading.)

Times, in the same run and alternating: the parse alone, parse + every rule (the `analyze` API), the whole
CLI process (`buildopt analyze --format json`, interpreter start included), and `hadolint -f json`.
Prints min/median per tool and the ratios. A benchmark, not a test: no assertion on time.

Usage: python benchmarks/bench_analyze.py [--lines 20000] [--runs 5] [--context]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BLOCK = """\
FROM python:3.11-slim AS builder{n}
ARG PIP_INDEX=https://mirror.example.invalid/simple
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \\
    && apt-get install -y --no-install-recommends build-essential gcc g++ libmagic-dev git \\
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements{n}.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --index-url ${{PIP_INDEX}} -r /tmp/requirements.txt
RUN <<EOF
set -e
pip install --no-cache-dir fastapi uvicorn
python -c "import fastapi"
EOF

FROM builder{n} AS stage{n}
WORKDIR /app/{n}
ENV API_TOKEN_{n}=${{TOKEN}} HF_HOME=/models/{n}
RUN mkdir -p /tmp/uploads{n} && chmod 777 /tmp/uploads{n}
COPY . .
RUN pip install -e .[all] torch sentence-transformers
HEALTHCHECK --interval=30s CMD python -c "import sys; sys.exit(0)"
USER app{n}
"""


def make_dockerfile(target_lines: int) -> str:
    parts = ["ARG TOKEN\n"]
    lines = 1
    n = 0
    while lines < target_lines - 12:
        block = BLOCK.format(n=n)
        parts.append(block)
        lines += block.count("\n")
        n += 1
    final = ("FROM python:3.12-slim\nRUN useradd --uid 10001 app\nCOPY --from=stage0 /opt/venv /opt/venv\n"
             "USER app\nCMD [\"python\", \"-m\", \"app\"]\n")
    parts.append(final)
    text = "".join(parts)
    while text.count("\n") < target_lines:  # pad to the exact count with harmless labels
        text += f"LABEL pad{text.count(chr(10))}=x\n"
    return text


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of fn: its own process's CPU, plus any child process's it waited for.

    CPU time is what to read on a shared, loaded machine: wall time there includes waiting for a core.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return time.perf_counter() - wall, time.process_time() - cpu + child_cpu


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--context", action="store_true", help="also give analyze a small context dir")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from buildopt.dockerfile import parse_file
    from buildopt.rules import analyze

    hadolint = hadolint_binary()
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        root = Path(tmp)
        dockerfile = root / "Dockerfile"
        dockerfile.write_text(make_dockerfile(args.lines))
        line_count = dockerfile.read_text().count("\n")
        context = None
        if args.context:
            context = root
            (root / "requirements0.txt").write_text("torch==2.6.0\n")
            (root / "pyproject.toml").write_text('[project]\nname="x"\n[project.optional-dependencies]\nall=["x[a]"]\na=["y"]\n')
        parsed = parse_file(dockerfile)
        result = analyze(parsed, context_dir=context)
        print(f"file: {line_count} lines, {len(parsed.instructions)} instructions, {len(parsed.stages)} stages; "
              f"{len(result.findings)} findings")
        if hadolint:
            done = subprocess.run([hadolint, "-f", "json", "--no-fail", str(dockerfile)], capture_output=True, text=True)
            codes = [entry["code"] for entry in json.loads(done.stdout or "[]")]
            print(f"hadolint: {len(codes)} findings" + (" (DL1000: it could not parse the file)" if "DL1000" in codes else ""))

        times: dict[str, list[tuple[float, float]]] = {"parse": [], "analyze (parse + rules)": [], "buildopt CLI process": []}
        if hadolint:
            times["hadolint process"] = []
        env = {**os.environ, "BUILDOPT_TODAY": "2026-11-22"}
        cli = [sys.executable, "-m", "buildopt.cli", "analyze", str(dockerfile), "--format", "json", "--fail-on", "never"]
        if context:
            cli += ["--context", str(context)]
        for _ in range(args.runs):
            times["parse"].append(timed(lambda: parse_file(dockerfile)))
            times["analyze (parse + rules)"].append(timed(lambda: analyze(parse_file(dockerfile), context_dir=context)))
            times["buildopt CLI process"].append(timed(lambda: subprocess.run(cli, capture_output=True, cwd=REPO, env=env)))
            if hadolint:
                times["hadolint process"].append(timed(lambda: subprocess.run([hadolint, "-f", "json", "--no-fail",
                                                                               str(dockerfile)], capture_output=True)))
    print(f"load average before the runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'what':28} {'wall min':>9} {'wall med':>9} {'cpu min':>8} {'cpu med':>8}  (seconds)")
    medians = {}
    for name, values in times.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        medians[name] = (statistics.median(walls), statistics.median(cpus))
        print(f"{name:28} {min(walls):9.3f} {medians[name][0]:9.3f} {min(cpus):8.3f} {medians[name][1]:8.3f}")
    if hadolint:
        hadolint_wall, hadolint_cpu = medians["hadolint process"]
        for name in ("analyze (parse + rules)", "buildopt CLI process"):
            print(f"{name} / hadolint: {medians[name][0] / hadolint_wall:.2f}x wall, "
                  f"{medians[name][1] / hadolint_cpu:.2f}x CPU (medians)")
    else:
        print("hadolint not found (pip install 'buildopt[test]' ships it): no ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
