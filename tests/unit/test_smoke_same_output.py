"""same_output: a command's last output line must match across the two images."""

from buildopt.smoke import SmokeCheck, SmokeResult, same_output_checks

CMD = "python -m app.embed --digest x"


def result(output: str, ok: bool = True) -> SmokeResult:
    return SmokeResult("img", "", 0, [SmokeCheck("command", CMD, ok, "", 0.0, output=output)])


def test_identical_digest_passes():
    [check] = same_output_checks(result('{"digest": "a79057f4e83ff4fd"}'), result('{"digest": "a79057f4e83ff4fd"}'), [CMD])
    assert check.ok and check.kind == "same-output"


def test_different_digest_fails_with_both_values():
    [check] = same_output_checks(result('{"digest": "aaaa"}'), result('{"digest": "bbbb"}'), [CMD])
    assert not check.ok and "aaaa" in check.detail and "bbbb" in check.detail


def test_failed_command_in_one_image_fails():
    [check] = same_output_checks(result("x"), result("x", ok=False), [CMD])
    assert not check.ok


def test_discovery_script_excludes_named_distributions():
    """The in-container discovery script, run here on this venv's own interpreter."""
    import json
    import subprocess
    import sys

    from buildopt.smoke import _DISCOVER

    def discover(*excluded: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", _DISCOVER, json.dumps(list(excluded))], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert "tabulate" in discover() and "typer" in discover()
    remaining = discover("tabulate")
    assert "tabulate" not in remaining and "typer" in remaining
