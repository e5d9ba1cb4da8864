"""The CLI entry point: version, help, and usage errors (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys

from buildopt import __version__


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "buildopt.cli", *args], capture_output=True, text=True, env=env)


def test_version_prints_package_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"buildopt {__version__}"


def test_help_lists_doctor():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "doctor" in result.stdout


def test_unknown_option_is_usage_error_without_traceback():
    result = run_cli("--no-such-flag")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_parse_size_units():
    from buildopt.units import format_size, parse_size

    assert parse_size("500MB") == 500_000_000
    assert parse_size("1.5 GiB") == int(1.5 * 1024**3)
    assert parse_size(1234) == 1234
    assert format_size(1_640_567_480) == "1.64 GB"
    assert format_size(-4_587_759_307, signed=True) == "-4.59 GB"


def test_parse_size_rejects_garbage():
    import pytest

    from buildopt.errors import BadInput
    from buildopt.units import parse_size

    for bad in ("12 parsecs", "-5", "", "MB"):
        with pytest.raises(BadInput):
            parse_size(bad)
