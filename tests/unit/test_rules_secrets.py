"""secret-in-env (BO117) and add-remote-url (BO118)."""

from __future__ import annotations

import pytest

from buildopt.rules.secrets import secret_like
from buildopt.severity import Severity
from tests.unit.analyze_helpers import lines, of, run

BASE = "FROM python:3.11-slim\n"


@pytest.mark.parametrize("name", ["HF_TOKEN", "TELEGRAM_BOT_TOKEN", "DB_PASSWORD", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY",
                                  "APP_SECRET", "GITHUB_PRIVATE_KEY", "AWS_ACCESS_KEY_ID".replace("_ID", ""), "APIKEY",
                                  "client-secret"])
def test_secret_names(name):
    assert secret_like(name)


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "MAX_TOKENS", "PASSWORD_FILE", "HF_TOKEN_PATH", "KEYBOARD",
                                  "PATH", "GPG_KEY", "API_URL", "SECRETS_DIR"])
def test_names_that_are_not_secrets(name):
    assert not secret_like(name)


def test_literal_value_is_critical_and_never_printed():
    found = of(run(BASE + "ENV HF_TOKEN=hf_abcdefghijklmnop LOG_LEVEL=info\n"), "secret-in-env")
    assert [f.line for f in found] == [2]
    assert found[0].severity == Severity.CRITICAL
    assert "hf_abcdefghijklmnop" not in found[0].message and "HF_TOKEN" in found[0].message


def test_value_from_a_build_arg_is_high():
    text = BASE + "ARG TOKEN\nENV API_TOKEN=$TOKEN\n"
    found = of(run(text), "secret-in-env")
    assert [(f.line, f.severity) for f in found] == [(3, Severity.HIGH)]


def test_empty_env_is_a_low_placeholder():
    found = of(run(BASE + 'ENV DB_PASSWORD=""\n'), "secret-in-env")
    assert [f.severity for f in found] == [Severity.LOW] and "placeholder" in found[0].message


def test_legacy_env_form():
    assert [f.severity for f in of(run(BASE + "ENV DB_PASSWORD hunter2\n"), "secret-in-env")] == [Severity.CRITICAL]


def test_arg_with_a_default_is_reported_and_without_one_is_not():
    text = "ARG GITHUB_TOKEN=ghp_x\nFROM python:3.11-slim\nARG NPM_TOKEN\nARG HF_TOKEN=${NPM_TOKEN}\n"
    found = of(run(text), "secret-in-env")
    assert [(f.line, f.severity) for f in found] == [(1, Severity.CRITICAL), (4, Severity.HIGH)]


def test_ordinary_env_is_fine():
    assert of(run(BASE + "ENV PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false PATH=/opt/venv/bin:$PATH\n"), "secret-in-env") == []


# ---- add-remote-url -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["https://example.com/tool.tar.gz", "http://example.com/x", "git@github.com:org/repo.git",
                                    "https://github.com/org/repo.git#v1.0"])
def test_add_of_a_remote_source(source):
    found = of(run(BASE + f"ADD {source} /opt/x\n"), "add-remote-url")
    assert [(f.line, f.severity) for f in found] == [(2, Severity.MEDIUM)]


def test_add_with_checksum_is_low():
    text = BASE + "ADD --checksum=sha256:" + "0" * 64 + " https://example.com/x.tgz /opt/\n"
    assert [f.severity for f in of(run(text), "add-remote-url")] == [Severity.LOW]


def test_local_add_and_copy_are_fine():
    assert of(run(BASE + "ADD app.tar.gz /opt/\nCOPY https.txt /x\n"), "add-remote-url") == []
    assert lines(run(BASE + "ADD app.tar.gz /opt/\n"), "add-remote-url") == []
