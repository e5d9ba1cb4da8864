"""The fallback search (buildopt/fallback.py) on real optimize output, with an oracle in place of the build and
smoke checks (tests/integration/test_fallback.py runs the real ones): ddmin finds the culprits, the others stay
applied, the rewrite gives way to the in-place fixes only when it must, and every outcome is built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildopt.build import failed_step
from buildopt.dockerfile import parse_file
from buildopt.fallback import Failure, ddmin, search
from buildopt.optimize import OptimizeOptions, optimize
from buildopt.rules import analyze

DATA = Path(__file__).resolve().parents[1] / "data"

# A service whose build runs a script that calls pip (the trim step removes pip from the venv) and whose code
# writes under /var/lib through a path built from parts (the non-root change can't see it).
DOCKERFILE = """FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN sh scripts/verify-deps.sh
EXPOSE 8000
CMD ["python", "service.py"]
"""
SERVICE = """import os
STATE_DIR = os.path.join(os.sep, "var", "lib", "greeter")
os.makedirs(STATE_DIR, exist_ok=True)
"""


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "verify-deps.sh").write_text("#!/bin/sh\nset -e\npython -m pip check\n")
    (tmp_path / "service.py").write_text(SERVICE)
    return tmp_path


def optimizer(app: Path):
    parsed = parse_file(app / "Dockerfile")
    findings = analyze(parsed, context_dir=app).findings

    def variant_for(skip: frozenset[str]):
        return optimize(parse_file(app / "Dockerfile"), findings, OptimizeOptions(context_dir=str(app), skip=skip))

    return parsed, variant_for


TRIM = "site-packages/pip "
BUILD = Failure("build", "build failed at step [runtime 6/6] RUN sh scripts/verify-deps.sh",
                "/opt/venv/bin/python: No module named pip (exit code 1)")
START = Failure("smoke", "smoke check start `ENTRYPOINT/CMD` fails (passes in the original)",
                "`python service.py` exits 1 after 0.9 s; logs: PermissionError: [Errno 13] Permission denied")


class Oracle:
    """Stands in for build + smoke: fails like the real app does (see tests/integration/test_fallback.py)."""

    def __init__(self, *breaks):
        self.breaks = breaks
        self.built: list[str] = []

    def __call__(self, variant, number: int):
        assert variant.text not in self.built, "a variant was built twice"
        self.built.append(variant.text)
        for predicate, failure in self.breaks:
            if predicate(variant):
                return failure
        return None


def trims_pip(variant) -> bool:
    return TRIM in variant.text


def user_added(variant) -> bool:
    return "\nUSER " in variant.text


def test_ddmin_finds_one_culprit_and_a_pair_that_fails_only_together():
    calls = []

    def fails_with(*culprits):
        def fails(subset):
            calls.append(subset)
            return all(c in subset for c in culprits)
        return fails

    assert ddmin("abcdefgh", fails_with("f")) == ("f",)
    assert len(calls) <= 8
    assert set(ddmin("abcdefgh", fails_with("b", "g"))) == {"b", "g"}


def test_build_and_run_time_culprits_are_dropped_and_the_rest_stays(app):
    parsed, variant_for = optimizer(app)
    first = variant_for(frozenset())
    assert first.mode == "rewritten" and first.keys == ["multi-stage", "trim-venv", "non-root", "healthcheck"]
    oracle = Oracle((trims_pip, BUILD), (user_added, START))
    messages: list[str] = []
    found = search(first, variant_for, oracle, BUILD, parsed.text, messages.append)
    assert found.ran and not found.exhausted
    assert {item.key: item.evidence for item in found.dropped} == {"non-root": START.evidence, "trim-venv": BUILD.evidence}
    assert found.applied == ["multi-stage", "healthcheck"]
    assert found.optimization.mode == "rewritten"
    assert TRIM not in found.optimization.text and "\nUSER " not in found.optimization.text
    by_key = {item.key: item for item in found.dropped}
    assert by_key["non-root"].rules == ["BO101"] and by_key["non-root"].reason == START.summary
    assert "trim-venv" in by_key["trim-venv"].tested_with and by_key["trim-venv"].level == "rewrite"
    # the variant without the changes that fix a rule is the Dockerfile as written: never built
    assert len(found.attempts) == len(oracle.built) <= 5
    assert found.attempts[-1].failure is None and found.attempts[-1].applied == found.applied
    assert any("dropping non-root" in message for message in messages)


def test_a_rewrite_that_fails_whatever_is_dropped_gives_way_to_the_in_place_fixes(app):
    parsed, variant_for = optimizer(app)
    first = variant_for(frozenset())
    rewrite_breaks = Failure("build", "build failed at step [builder 2/5] RUN python3 -m venv /opt/venv", "no venv")
    oracle = Oracle((lambda variant: variant.mode == "rewritten", rewrite_breaks))
    found = search(first, variant_for, oracle, rewrite_breaks, parsed.text)
    assert found.optimization.mode == "in-place"
    assert found.applied == variant_for(frozenset({"multi-stage"})).keys == ["non-root"]
    multi_stage = [item for item in found.dropped if item.key == "multi-stage"]
    assert len(multi_stage) == 1 and multi_stage[0].evidence == "no venv" and multi_stage[0].level == "rewrite"


def test_in_place_culprits_are_found_at_the_second_level(app):
    parsed, variant_for = optimizer(app)
    first = variant_for(frozenset())
    oracle = Oracle((lambda variant: variant.mode == "rewritten", BUILD), (user_added, START))
    found = search(first, variant_for, oracle, BUILD, parsed.text)
    # in place, the only fix is the USER, which breaks: what ships is the Dockerfile as written
    assert found.optimization.mode == "unchanged" and found.applied == []
    assert [(item.key, item.level) for item in found.dropped][-1] == ("non-root", "in-place")


def test_the_search_stops_at_its_attempt_limit_and_keeps_the_best_variant_that_passed(app):
    parsed, variant_for = optimizer(app)
    first = variant_for(frozenset())
    oracle = Oracle((trims_pip, BUILD), (user_added, START))
    found = search(first, variant_for, oracle, BUILD, parsed.text, max_attempts=1)
    assert found.exhausted and len(found.attempts) == 1
    assert found.optimization.mode == "unchanged"  # nothing built passed: the Dockerfile as written
    assert {item.key for item in found.dropped} >= {"trim-venv", "non-root", "healthcheck"}


def test_failed_step_names_the_step_and_its_error():
    # Recorded from a real `docker buildx build --progress plain` (buildx 0.13.1, Docker 26.1.5) of a fallback
    # attempt of the app above: the trimmed venv has no pip.
    step = failed_step((DATA / "buildkit-failed-step.log").read_text())
    assert step.step == "[runtime 6/6] RUN sh scripts/verify-deps.sh"
    assert step.message == "/opt/venv/bin/python: No module named pip"
    assert step.exit_code == 1 and step.line == 17
    assert str(step) == "/opt/venv/bin/python: No module named pip (exit code 1)"
    assert failed_step("#1 [internal] load build definition\n#1 DONE 0.0s\n") is None


# ---- the start check's verdict and the smoke config ---------------------------------------------------------------
def test_start_is_judged_against_the_original():
    from buildopt.smoke import StartObservation, _judge_start

    up = StartObservation("python app.py", None, 5.0)
    crash = StartObservation("python app.py", 1, 0.8, ["PermissionError: [Errno 13] Permission denied: '/data'"],
                             "PermissionError: [Errno 13] Permission denied: '/data'")
    no_broker = StartObservation("celery -A jobs worker", 1, 1.2, [], "Cannot connect to redis://broker:6379")
    assert _judge_start(up, up) == (True, "`python app.py` stays up for 5 s, like the original")
    ok, detail = _judge_start(up, crash)
    assert not ok and "exits 1 after 0.8 s" in detail and "the original stays up" in detail and "Permission denied" in detail
    assert _judge_start(no_broker, no_broker)[0]  # exits 1 in both: the same behaviour
    assert not _judge_start(no_broker, StartObservation("celery -A jobs worker", 2, 1.0))[0]
    assert not _judge_start(no_broker, up)[0]
    ok, detail = _judge_start(up, StartObservation("python app.py", None, 5.0, ["cannot open /var/log/x: Permission denied"]))
    assert not ok and "its logs say" in detail
    assert _judge_start(StartObservation("x", None, 5.0, ["Permission denied"]),
                        StartObservation("x", None, 5.0, ["Permission denied"]))[0]
    assert not _judge_start(up, StartObservation("x", None, 0.0, error="exec: no such file"))[0]


def test_smoke_config_start_keys():
    from buildopt.errors import BadInput
    from buildopt.smoke import spec_from_config

    spec = spec_from_config({}, Path("."))
    assert spec.start and spec.start_window_s == 5 and spec.start_network == "none"
    spec = spec_from_config({"start": False, "start_window": 12, "start_network": "bridge"}, Path("."))
    assert not spec.start and spec.start_window_s == 12 and spec.start_network == "bridge"
    for bad in ({"start": "yes"}, {"start_window": 0}, {"start_window": "5"}, {"start_network": "host; rm"}):
        with pytest.raises(BadInput):
            spec_from_config(bad, Path("."))


def test_regressions_are_checks_that_pass_in_the_original():
    from buildopt.smoke import SmokeCheck, SmokeResult, regressions

    original = SmokeResult("a", "", 0, [SmokeCheck("user", "user", True), SmokeCheck("import", "app", True),
                                        SmokeCheck("import", "broken", False), SmokeCheck("command", "make check", True),
                                        SmokeCheck("start", "ENTRYPOINT/CMD", True)])
    optimized = SmokeResult("b", "", 10001, [SmokeCheck("user", "runs as non-root", False), SmokeCheck("import", "app", False),
                                             SmokeCheck("import", "broken", False), SmokeCheck("same-output", "make check", False),
                                             SmokeCheck("start", "ENTRYPOINT/CMD", False)])
    assert [(c.kind, c.name) for c in regressions(original, optimized)] == [
        ("import", "app"), ("same-output", "make check"), ("start", "ENTRYPOINT/CMD")]


# ---- what the reports say ----------------------------------------------------------------------------------------
def test_reports_say_what_was_dropped_and_why(app):
    from types import SimpleNamespace

    from buildopt.report.compare_report import _changes_doc, _fallback_doc, _fallback_markdown, _fallback_table_note

    parsed, variant_for = optimizer(app)
    first = variant_for(frozenset())
    found = search(first, variant_for, Oracle((trims_pip, BUILD), (user_added, START)), BUILD, parsed.text)
    result = SimpleNamespace(optimization=found.optimization, fallback=found, options=SimpleNamespace(no_fallback=False))
    changes = {change["key"]: change for change in _changes_doc(result)}
    assert {key: change["status"] for key, change in changes.items()} == {
        "multi-stage": "applied", "healthcheck": "applied", "trim-venv": "dropped", "non-root": "dropped"}
    assert changes["non-root"]["reason"] == START.summary and changes["non-root"]["rules"] == ["BO101"]
    doc = {"fallback": _fallback_doc(result)}
    assert doc["fallback"]["ran"] and doc["fallback"]["applied"] == ["multi-stage", "healthcheck"]
    markdown = "\n".join(_fallback_markdown(doc))
    assert "dropped `non-root`** (BO101)" in markdown and "No module named pip" in markdown
    assert "'python service.py' exits 1" in markdown  # backticks of the evidence can't open a code span
    [note] = _fallback_table_note(doc)
    assert note.startswith(f"Fallback: {len(found.attempts)} attempts; dropped ")
    assert "non-root (" in note and "trim-venv (" in note
    idle = SimpleNamespace(optimization=first, fallback=None, options=SimpleNamespace(no_fallback=True))
    assert _fallback_doc(idle)["enabled"] is False and _fallback_markdown({"fallback": _fallback_doc(idle)}) == []
    assert {change["status"] for change in _changes_doc(idle)} == {"applied"}
