"""`make bench`: every benchmark in turn (not run in CI). Each prints ratios against a reference tool
measured in the same run; copy the figures into docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ["bench_analyze.py"],
    ["bench_diff.py", "--runs", "3", "--reader", "overlay2"],
    ["bench_huge.py"],  # 5 MB Dockerfiles of the two hostile shapes (issue 18); the slowest of the three
]


def main() -> int:
    failed = 0
    for script, *args in BENCHMARKS:
        print(f"== {script} {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
