"""Download the Kokoro v1.0 weights and config into a directory (skipped when already there).

Usage: python download_model.py --output api/src/models/v1_0
The release URL can be changed with KOKORO_MODEL_BASE_URL (e.g. an internal mirror).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

BASE_URL = os.environ.get("KOKORO_MODEL_BASE_URL", "https://github.com/remsky/Kokoro-FastAPI/releases/download/v0.1.4")
FILES = ("kokoro-v1_0.pth", "config.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="directory for the model files")
    output = Path(parser.parse_args(argv).output)
    output.mkdir(parents=True, exist_ok=True)
    if all((output / name).is_file() for name in FILES):
        print(f"model files already in {output}")
        return 0
    for name in FILES:
        target = output / name
        partial = target.with_suffix(target.suffix + ".partial")
        print(f"downloading {BASE_URL}/{name}")
        try:
            with urllib.request.urlopen(f"{BASE_URL}/{name}", timeout=60) as response, open(partial, "wb") as sink:
                while chunk := response.read(1 << 20):
                    sink.write(chunk)
        except OSError as err:
            partial.unlink(missing_ok=True)
            print(f"error: cannot download {name}: {err}", file=sys.stderr)
            return 1
        partial.replace(target)
    json.loads((output / "config.json").read_text())  # a truncated download fails here, not at startup
    print(f"model files in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
