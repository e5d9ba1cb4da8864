"""Loading [tool.buildopt] / buildopt.toml: search order, keys, errors, raw budget and smoke tables."""

from __future__ import annotations

import pytest

from buildopt.config import BuildoptConfig, load_config
from buildopt.errors import BadInput
from buildopt.severity import Severity


def test_buildopt_toml_keys_and_raw_tables(tmp_path):
    (tmp_path / "buildopt.toml").write_text(
        'ignore = ["BO105", "no-healthcheck"]\nfail_on = "medium"\nseverity = { "root-user" = "critical" }\n'
        '[budget]\nmax_size = "2GB"\n[budget.optimized]\nmax_size = "1.5GB"\n[smoke]\nimports = ["torch"]\n')
    config = load_config(tmp_path)
    assert config.ignore == frozenset({"BO105", "BO113"})
    assert config.fail_on == "medium"
    assert config.severity_overrides == {"BO101": Severity.CRITICAL}
    assert config.budget == {"max_size": "2GB", "optimized": {"max_size": "1.5GB"}}
    assert config.smoke == {"imports": ["torch"]}
    assert config.source == tmp_path / "buildopt.toml"


def test_pyproject_tool_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.buildopt]\nignore = ["pip-cache"]\n'
                                             '[tool.buildopt.budget]\nmax_layers = 12\n')
    config = load_config(tmp_path)
    assert config.ignore == frozenset({"BO105"}) and config.budget == {"max_layers": 12}


def test_search_goes_up_to_the_context_and_buildopt_toml_wins(tmp_path):
    (tmp_path / "buildopt.toml").write_text('fail_on = "low"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.buildopt]\nfail_on = "critical"\n')
    deep = tmp_path / "services" / "api"
    deep.mkdir(parents=True)
    (deep / "pyproject.toml").write_text('[project]\nname = "api"\n')  # no [tool.buildopt]: skipped
    assert load_config(deep, stop_at=tmp_path).fail_on == "low"
    assert load_config(deep, stop_at=deep).source is None  # the context stops the search


def test_search_stops_at_the_repository_root(tmp_path):
    (tmp_path / "buildopt.toml").write_text('fail_on = "low"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "svc").mkdir()
    assert load_config(repo / "svc").source is None  # tmp_path/buildopt.toml is outside the repository
    outside = tmp_path / "other"
    outside.mkdir()
    assert load_config(outside).source is None  # no repository and no context: only the Dockerfile's own dir


def test_explicit_file(tmp_path):
    path = tmp_path / "custom.toml"
    path.write_text('ignore = ["BO120"]\n')
    assert load_config(None, explicit=path).ignore == frozenset({"BO120"})
    with pytest.raises(BadInput, match="no such config file"):
        load_config(None, explicit=tmp_path / "missing.toml")


@pytest.mark.parametrize("content, message", [
    ("ignore = [\"BO999\"]\n", "unknown rule 'BO999'"),
    ("fail_on = \"sometimes\"\n", "fail_on"),
    ("severity = { \"pip-cache\" = \"urgent\" }\n", "unknown severity"),
    ("ignore = 3\n", "ignore must be a list"),
    ("budget = 3\n", "[budget] must be a table"),
    ("this is not toml\n", "invalid TOML"),
])
def test_bad_config_is_bad_input_naming_the_file(tmp_path, content, message):
    (tmp_path / "buildopt.toml").write_text(content)
    with pytest.raises(BadInput) as caught:
        load_config(tmp_path)
    assert message in str(caught.value) and "buildopt.toml" in str(caught.value)


def test_defaults():
    config = BuildoptConfig()
    assert (config.ignore, config.fail_on, config.severity_overrides, config.budget, config.smoke, config.source) == (
        frozenset(), None, {}, {}, {}, None)
