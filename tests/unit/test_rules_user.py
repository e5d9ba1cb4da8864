"""root-user (BO101) and root-owned-writable-dir (BO119)."""

from __future__ import annotations

from tests.unit.analyze_helpers import lines, of, run


def test_no_user_is_reported_at_the_final_from_line():
    result = run("FROM python:3.12-slim AS builder\nRUN true\nFROM python:3.12-slim\nCMD [\"python\"]\n")
    assert lines(result, "root-user") == [3]
    assert "no USER" in of(result, "root-user")[0].message


def test_hadolint_gap_dockerfile_without_any_user_is_caught():
    # hadolint's DL3002 only looks at the last explicit USER, so this file passes it (anchors-gate.md).
    assert lines(run("FROM python:3.12-slim\nCMD python app.py\n"), "root-user") == [1]


def test_root_user_last_is_reported_at_that_line():
    text = "FROM python:3.12-slim\nRUN useradd app\nUSER app\nRUN true\nUSER root\nCMD x\n"
    assert lines(run(text), "root-user") == [5]
    assert lines(run(text.replace("USER root", "USER 0:0")), "root-user") == [5]


def test_non_root_user_last_passes():
    assert of(run("FROM python:3.12-slim\nUSER root\nRUN apt-get -v\nUSER 10001\n"), "root-user") == []
    assert of(run("FROM python:3.12-slim\nUSER app:app\n"), "root-user") == []


def test_user_is_inherited_from_a_local_parent_stage():
    text = "FROM python:3.12-slim AS base\nUSER app\nFROM base\nCMD x\n"
    assert of(run(text), "root-user") == []


def test_user_of_an_unrelated_builder_stage_does_not_count():
    text = "FROM python:3.12-slim AS builder\nUSER app\nFROM python:3.12-slim\nCOPY --from=builder /a /a\n"
    assert lines(run(text), "root-user") == [3]


def test_user_from_arg_is_substituted():
    text = "FROM python:3.12-slim\nARG RUNAS=root\nUSER ${RUNAS}\n"
    assert lines(run(text), "root-user") == [3]
    assert of(run(text.replace("RUNAS=root", "RUNAS=app")), "root-user") == []


# ---- root-owned-writable-dir -----------------------------------------------------------------------------

def test_uploads_dir_created_by_root_for_a_root_app():
    text = "FROM python:3.12-slim\nRUN mkdir -p /tmp/uploads && chmod 777 /tmp/uploads\nCMD x\n"
    found = of(run(text), "root-owned-writable-dir")
    assert [f.line for f in found] == [2]
    assert "/tmp/uploads" in found[0].message and "root" in found[0].message


def test_dir_chowned_to_the_runtime_user_passes():
    text = ("FROM python:3.12-slim\nRUN useradd app && mkdir -p /tmp/uploads /app/storage "
            "&& chown -R app:app /tmp/uploads /app\nUSER app\n")
    assert of(run(text), "root-owned-writable-dir") == []


def test_recursive_chown_of_a_parent_covers_the_dir():
    text = "FROM python:3.12-slim\nRUN mkdir -p /opt/paperflow/data && chown -R app /opt/paperflow\nUSER app\n"
    assert of(run(text), "root-owned-writable-dir") == []


def test_world_writable_dir_with_a_non_root_user_is_reported():
    text = "FROM python:3.12-slim\nRUN mkdir /srv/files && chmod 0777 /srv/files\nUSER app\n"
    found = of(run(text), "root-owned-writable-dir")
    assert [f.line for f in found] == [2] and "world-writable" in found[0].message


def test_writable_dir_not_chowned_to_the_user_is_reported():
    text = "FROM python:3.12-slim\nWORKDIR /app\nRUN mkdir data\nUSER app\n"
    found = of(run(text), "root-owned-writable-dir")
    assert [f.line for f in found] == [3] and "/app/data" in found[0].message


def test_plain_code_dirs_are_not_writable_dirs():
    text = "FROM python:3.12-slim\nRUN mkdir -p /app/src /opt/venv\nCMD x\n"
    assert of(run(text), "root-owned-writable-dir") == []


def test_a_bare_plus_w_honours_the_umask():
    text = "FROM python:3.12-slim\nRUN mkdir /srv/cfg && chmod +w /srv/cfg\nUSER app\n"
    assert of(run(text), "root-owned-writable-dir") == []


def test_install_d_with_owner_counts_as_owned():
    text = "FROM python:3.12-slim\nRUN install -d -o app /data\nUSER app\n"
    assert of(run(text), "root-owned-writable-dir") == []
