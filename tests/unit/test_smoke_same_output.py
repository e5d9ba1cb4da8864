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


def run_probe(imports: list[str], discover: bool) -> dict:
    """The in-container probe script, run here on this venv's own interpreter."""
    import json
    import subprocess
    import sys

    from buildopt.smoke import _PROBE

    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps({"imports": imports, "discover": discover})],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("BUILDOPT-RESULT "))
    return json.loads(line.removeprefix("BUILDOPT-RESULT "))


def test_probe_discovers_modules_with_their_distribution_and_imports_them():
    import os

    data = run_probe(["json", "no_such_module_here"], discover=True)
    assert data["uid"] == os.getuid()
    assert data["modules"]["tabulate"] == "tabulate" and data["modules"]["typer"] == "typer"
    assert "python-on-whales" in data["dists"]
    assert data["imports"]["tabulate"][0] is True and data["imports"]["json"][0] is True
    ok, detail, _ = data["imports"]["no_such_module_here"]
    assert not ok and "ModuleNotFoundError" in detail
    assert not any(name.startswith(("test", "_")) or name in ("pip", "setuptools") for name in data["modules"])


def test_probe_without_discovery_imports_only_what_it_is_given():
    data = run_probe(["json"], discover=False)
    assert data["modules"] == {} and list(data["imports"]) == ["json"]


def smoke_result(imports: dict[str, bool], discovered: dict[str, str], dists: list[str]) -> SmokeResult:
    checks = [SmokeCheck("user", "user", True)] + [SmokeCheck("import", name, ok) for name, ok in imports.items()]
    return SmokeResult("img", "", 0, [*checks, SmokeCheck("command", CMD, True)], discovered=discovered, distributions=dists)


def test_shared_imports_keep_what_imports_in_the_reference_and_is_installed_in_both():
    from buildopt.smoke import shared_imports

    original = smoke_result({"app": True, "torch": True, "triton": True, "broken": False},
                            {"torch": "torch", "triton": "triton", "broken": "broken"}, ["torch", "triton", "broken"])
    optimized = smoke_result({"app": True, "torch": True}, {"torch": "torch"}, ["torch"])
    # configured first; triton's wheel is gone on purpose (CUDA); "broken" never imported, even in the original
    assert shared_imports(original, optimized, ["app"]) == ["app", "torch"]
    assert shared_imports(original, None, ["app"]) == ["app", "torch", "triton"]


def test_align_imports_keeps_exactly_the_shared_set_in_order():
    from buildopt.smoke import align_imports

    result = smoke_result({"torch": True, "app": True, "extra": False}, {}, [])
    align_imports(None, result, None, ["app", "torch"])  # nothing missing: no container is needed
    assert [(c.kind, c.name) for c in result.checks] == [("user", "user"), ("import", "app"), ("import", "torch"),
                                                           ("command", CMD)]
