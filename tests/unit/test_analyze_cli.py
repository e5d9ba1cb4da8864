"""`buildopt analyze` end to end as a process: exit codes, formats, ignores, config, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTY = "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n"


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def analyze(capsys, monkeypatch):
    """Run `buildopt analyze ARGS` in-process through the console entry point (cli.main), as a user would."""
    from buildopt.cli import main

    monkeypatch.setenv("BUILDOPT_TODAY", "2026-11-22")
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str, cwd: Path | None = None) -> Done:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["buildopt", "analyze", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main()
        out = capsys.readouterr()
        code = exit_info.value.code
        return Done(code if isinstance(code, int) else (0 if code is None else 1), out.out, out.err)

    return invoke


def analyze_process(*args: str) -> subprocess.CompletedProcess:
    """A real process, for what only a process shows (nothing but one line on stderr, no traceback)."""
    env = {**os.environ, "BUILDOPT_TODAY": "2026-11-22"}
    return subprocess.run([sys.executable, "-m", "buildopt.cli", "analyze", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=60)


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(ROOTY)
    return path


def test_default_table_and_exit_1_on_a_high_finding(analyze, dockerfile):
    done = analyze(str(dockerfile))
    assert done.returncode == 1, done.stderr
    assert "BO101 root-user" in done.stdout and "BO105 pip-cache" in done.stdout
    assert "--fail-on high: FAIL" in done.stdout


@pytest.mark.parametrize("fail_on, code", [("critical", 0), ("never", 0), ("high", 1), ("medium", 1), ("info", 1)])
def test_fail_on(analyze, dockerfile, fail_on, code):
    assert analyze(str(dockerfile), "--fail-on", fail_on).returncode == code


def test_clean_file_exits_0(analyze, tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12-slim\nUSER 10001\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n")
    done = analyze(str(path), "--fail-on", "info")
    assert done.returncode == 0, done.stdout
    assert "0 findings" in done.stdout


def test_json_format(analyze, dockerfile):
    done = analyze(str(dockerfile), "--format", "json")
    data = json.loads(done.stdout)
    assert data["schema"] == "buildopt.analyze/v1" and data["file"] == str(dockerfile)
    assert {f["slug"] for f in data["findings"]} >= {"root-user", "pip-cache", "no-healthcheck"}


def test_markdown_format(analyze, dockerfile):
    done = analyze(str(dockerfile), "--format", "markdown")
    assert "| line | severity | rule | finding | est. bytes |" in done.stdout and "`BO101` root-user" in done.stdout


def test_sarif_format_uses_a_relative_uri(analyze, dockerfile):
    done = analyze(dockerfile.name, "--format", "sarif", cwd=dockerfile.parent)
    sarif = json.loads(done.stdout)
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "Dockerfile"


def test_context_enables_requirements(analyze, dockerfile):
    (dockerfile.parent / "requirements.txt").write_text("torch==2.6.0\n")
    without = json.loads(analyze(str(dockerfile), "--format", "json").stdout)
    with_context = json.loads(analyze(str(dockerfile), "--context", str(dockerfile.parent), "--format", "json").stdout)
    assert "cuda-torch" not in {f["slug"] for f in without["findings"]}
    assert [f["line"] for f in with_context["findings"] if f["slug"] == "cuda-torch"] == [4]


def test_inline_ignore(analyze, tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("# buildopt: ignore=root-user,no-healthcheck\nFROM python:3.12-slim\n"
                    "# buildopt: ignore=BO105\nRUN pip install flask\n")
    done = analyze(str(path), "--format", "json", "--fail-on", "low")
    data = json.loads(done.stdout)
    assert data["findings"] == [] and done.returncode == 0
    assert sorted(s["rule"] for s in data["suppressed"]) == ["BO101", "BO105", "BO113"]


def test_config_found_next_to_the_dockerfile_and_explicit_config(analyze, dockerfile, tmp_path):
    (dockerfile.parent / "buildopt.toml").write_text('ignore = ["root-user"]\nfail_on = "critical"\n')
    done = analyze(str(dockerfile), "--format", "json")
    assert "root-user" not in {f["slug"] for f in json.loads(done.stdout)["findings"]}
    assert done.returncode == 0  # fail_on = critical from the config
    assert analyze(str(dockerfile), "--fail-on", "medium").returncode == 1  # the flag wins
    other = tmp_path / "strict.toml"
    other.write_text('severity = { "no-healthcheck" = "critical" }\n')
    done = analyze(str(dockerfile), "--config", str(other), "--format", "json")
    severities = {f["slug"]: f["severity"] for f in json.loads(done.stdout)["findings"]}
    assert severities["no-healthcheck"] == "critical" and "root-user" in severities


def test_output_file_and_force(analyze, dockerfile, tmp_path):
    out = tmp_path / "report.sarif"
    assert analyze(str(dockerfile), "--format", "sarif", "--output", str(out)).returncode == 1
    assert json.loads(out.read_text())["version"] == "2.1.0"
    done = analyze(str(dockerfile), "--output", str(out))
    assert done.returncode == 2 and "exists" in done.stderr and out.read_text().startswith("{")
    assert analyze(str(dockerfile), "--output", str(out), "--force").returncode == 1
    assert "BO101" in out.read_text()


BAD_INPUTS = {
    "empty": ("", "empty file", None),
    "unterminated-heredoc": ("FROM python:3.12-slim\nRUN <<EOF\necho hi\n", "unterminated heredoc", 2),
    "binary": (b"FROM x\n\x00\x01\x02garbage", "not a text file", 2),
    "invalid-utf8": (b"FROM python\nRUN echo \xff\xfe\n", "invalid UTF-8", None),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(tmp_path, name):
    content, words, line = BAD_INPUTS[name]
    path = tmp_path / "Dockerfile"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = analyze_process(str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert words in done.stderr and str(path) in done.stderr
    if line is not None:
        assert f"{path}:{line}:" in done.stderr


def test_missing_file_and_directory(tmp_path):
    for target, words in ((tmp_path / "nope", "no such file"), (tmp_path, "is a directory")):
        done = analyze_process(str(target))
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_bad_flags(analyze, dockerfile):
    for args, words in ((["--format", "xml"], "--format"), (["--fail-on", "severe"], "--fail-on"),
                        (["--context", str(dockerfile)], "not a directory"), (["--config", "/nonexistent.toml"], "no such config")):
        done = analyze(str(dockerfile), *args)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_unclosed_quote_in_run_is_not_an_error(analyze, tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text('FROM python:3.12-slim\nRUN echo "unclosed && pip install torch\nUSER app\n')
    done = analyze(str(path), "--format", "json")
    assert done.returncode in (0, 1) and done.stderr == ""
    json.loads(done.stdout)


@pytest.mark.parametrize("content, warning", [
    ("# just a comment\nRUN echo hi\n", ":2: RUN before the first FROM"),
    ("FROM python:3.12-slim\nUSER app\nFROBNICATE now\n", ":3: unknown instruction: FROBNICATE"),
    ("FROM python:3.12-slim\nUSER app\nCOPY --user=me a /b\n", ":3: unknown flag: --user"),
    ("FROM python:3.12-slim\nUSER app\nCMD --doit x\n", ":3: unknown flag: --doit (CMD takes no flags)"),
    ("FROM python:3.12-slim\nUSER app\nONBUILD ONBUILD RUN x\n", ":3: Chaining ONBUILD via `ONBUILD ONBUILD`"),
    ("FROM python:3.12-slim\nUSER app\nONBUILD FROM x\n", ":3: FROM isn't allowed as an ONBUILD trigger"),
    ("FROM python:3.12-slim\nUSER app\nONBUILD MAINTAINER x\n", ":3: MAINTAINER isn't allowed as an ONBUILD trigger"),
])
def test_what_only_docker_build_rejects_fails_like_a_critical_finding(tmp_path, content, warning):
    """BuildKit's parser accepts these files (its test corpus has such lines), `docker build` does not: a warning
    line each, exit 1 like a critical finding, exit 0 with --fail-on never; never exit 2 or a traceback."""
    path = tmp_path / "Dockerfile"
    path.write_text(content)
    done = analyze_process(str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"buildopt: warning: {path}{warning}" in done.stderr and "docker build rejects it" in done.stderr
    assert analyze_process(str(path), "--fail-on", "never").returncode == 0
