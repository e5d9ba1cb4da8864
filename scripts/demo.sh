#!/usr/bin/env bash
# `make demo`: buildopt compare on one example, end to end, after the toolchain setup.
# Trivy needs a vulnerability DB. With one in the trivy cache (or BUILDOPT_DEMO_ONLINE=1, letting trivy
# download it) the demo uses it; otherwise it uses the project's fixture DB (planted, fake CVE-2099-*
# findings) and says so, so the security columns show the pipeline working, not real vulnerabilities.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
APP=${1:-examples/telegram-bot}
OUT=${2:-build/demo}
VENV=${BUILDOPT_VENV:-$ROOT/.venv}
BUILDOPT="$VENV/bin/buildopt"
cd "$ROOT"

"$BUILDOPT" doctor --image python:3.11-slim >/dev/null || { "$BUILDOPT" doctor; exit 4; }

TRIVY_CACHE=${TRIVY_CACHE_DIR:-$HOME/.cache/trivy}
scan_args=()
if [ -f "$TRIVY_CACHE/db/trivy.db" ]; then
  scan_args=(--trivy-cache-dir "$TRIVY_CACHE")
elif [ "${BUILDOPT_DEMO_ONLINE:-0}" = 1 ]; then
  scan_args=(--trivy-cache-dir "$TRIVY_CACHE")
else
  FIXTURE="$ROOT/build/trivy-fixture-cache"
  "$VENV/bin/python" -m buildopt.trivydb --cache-dir "$FIXTURE" >/dev/null
  echo "[demo] no trivy DB and no registry: scanning with the fixture DB (planted CVE-2099-* findings, not real ones)" >&2
  scan_args=(--trivy-cache-dir "$FIXTURE" --offline)
fi

echo "[demo] buildopt analyze $APP/Dockerfile" >&2
"$BUILDOPT" analyze "$APP/Dockerfile" --context "$APP" --fail-on never
echo >&2
echo "[demo] buildopt compare $APP/Dockerfile (reports in $OUT)" >&2
set +e
"$BUILDOPT" compare "$APP/Dockerfile" --context "$APP" --output-dir "$OUT" "${scan_args[@]}"
code=$?
set -e
echo >&2
echo "[demo] exit code $code (0 pass, 1 over budget, 3 build failed); reports: $OUT/report.{json,md,sarif,html}" >&2
if [ -f "$OUT/report.html" ]; then
  echo "[demo] HTML report (opens from disk, no network): $(cd "$OUT" && pwd)/report.html" >&2
fi
# The demo's job is to show the report; a budget failure (1) is a result, not a demo failure.
[ "$code" -le 1 ] || exit "$code"

# What a user runs next: build the optimized Dockerfile under a tag of their own, then swap the running
# compose service to it (docs/promote.md). SERVICE and the compose file are the user's.
name=$(basename "$APP")
if [ -f "$OUT/Dockerfile.optimized" ]; then
  echo >&2
  echo "[demo] next, on the host where $name runs under docker compose (docs/promote.md):" >&2
  echo "  docker buildx build --load -f $OUT/Dockerfile.optimized -t $name:optimized $APP" >&2
  echo "  buildopt promote SERVICE --compose docker-compose.yml --image $name:optimized --dry-run   # then without --dry-run" >&2
fi
