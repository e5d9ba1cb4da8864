#!/usr/bin/env bash
# Measure what the Debian package sets behind buildopt's byte estimates install, with and without
# recommended packages, and write buildopt/data/apt-sizes-debian12.json (read by buildopt/estimates.py).
#
# Inside the base image it runs `apt-get install -s` (simulate: nothing is installed) for each set and
# records every package apt would install and its `Installed-Size` (KiB). Estimates then sum the union of
# the packages of the sets a Dockerfile installs, so shared dependencies are counted once.
# Usage: scripts/measure-apt-sizes.sh [IMAGE] [OUT]   (default python:3.11-slim; needs the Debian mirror)
set -euo pipefail
IMAGE=${1:-python:3.11-slim}
OUT=${2:-$(dirname "$0")/../buildopt/data/apt-sizes-debian12.json}
read -r -d '' INNER <<'EOF' || true
set -e
apt-get update >/dev/null 2>&1
python3 - <<'PY'
import json, subprocess, datetime
SETS = ["gcc g++", "build-essential", "git", "clang", "cargo rustc", "cmake", "libreoffice", "libreoffice-core",
        "texlive", "texlive-full", "default-jdk", "default-jre-headless", "openjdk-17-jdk-headless", "chromium",
        "ffmpeg", "tesseract-ocr", "curl", "libmagic-dev", "espeak-ng"]
def simulate(args):
    out = subprocess.run(["apt-get", "install", "-s", *args], capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[1] for line in out.splitlines() if line.startswith("Inst ")})
sets, names = {}, set()
for spec in SETS:
    with_rec, without = simulate(spec.split()), simulate(["--no-install-recommends", *spec.split()])
    sets[spec] = {"recommends": with_rec, "no_recommends": without}
    names.update(with_rec, without)
sizes = {}
show = subprocess.run(["apt-cache", "show", "--no-all-versions", *sorted(names)], capture_output=True, text=True).stdout
package = None
for line in show.splitlines():
    if line.startswith("Package: "):
        package = line.split(": ", 1)[1]
    elif line.startswith("Installed-Size: ") and package:
        sizes[package] = int(line.split(": ", 1)[1])
release = open("/etc/debian_version").read().strip()
print(json.dumps({"measured": datetime.date.today().isoformat(), "debian": release,
                  "unit": "KiB (dpkg Installed-Size)", "sizes": dict(sorted(sizes.items())), "sets": sets},
                 indent=1, sort_keys=False))
PY
EOF
docker run --rm --network host "$IMAGE" bash -c "$INNER" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
