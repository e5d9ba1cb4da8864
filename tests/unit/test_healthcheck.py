from buildopt.healthcheck import healthcheck_kind, is_trivial


def test_audit_telegram_bot_healthcheck_is_trivial():
    assert is_trivial('python -c "import sys; sys.exit(0)"')
    assert healthcheck_kind(["CMD-SHELL", 'python -c "import sys; sys.exit(0)"']) == "trivial"
    assert healthcheck_kind(["CMD", "python", "-c", "import sys; sys.exit(0)"]) == "trivial"


def test_swallowed_failures_and_constant_commands_are_trivial():
    for command in ("true", "exit 0", "echo ok", "curl -f http://localhost:8000/health || true", "python -c 'pass'"):
        assert is_trivial(command), command


def test_real_checks_are_ok():
    assert healthcheck_kind(["CMD-SHELL", "curl -f http://localhost:8000/health || exit 1"]) == "ok"
    assert healthcheck_kind(["CMD", "python", "-c", "import telegram; import sys; sys.exit(0)"]) == "ok"
    assert healthcheck_kind('python -c "import urllib.request; urllib.request.urlopen(\'http://localhost:8002/health\')"') == "ok"


def test_absent_or_none_is_none():
    assert healthcheck_kind(None) == "none" and healthcheck_kind(["NONE"]) == "none"
