"""buildopt's configuration: `[tool.buildopt]` in pyproject.toml, or a `buildopt.toml`.

Search order: `--config FILE` when given; otherwise each directory from the Dockerfile's own upward to the
build context (or, without one, the repository root: the first directory holding `.git`), taking the first
`buildopt.toml`, or `pyproject.toml` that has a `[tool.buildopt]` table. In one directory buildopt.toml wins.

Keys (top level of buildopt.toml, or under `[tool.buildopt]`):

    ignore = ["BO105", "pip-cache"]          # rule ids or slugs, never reported
    fail_on = "high"                         # analyze's default threshold (--fail-on overrides it)
    severity = { "no-healthcheck" = "medium" }  # per-rule severity overrides
    [budget] ... / [smoke] ...               # kept raw here; `compare` interprets them
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput
from .files import read_text
from .severity import Severity

CONFIG_FILE = "buildopt.toml"
PYPROJECT = "pyproject.toml"
FAIL_ON_CHOICES = ("info", "low", "medium", "high", "critical", "never")


@dataclass(frozen=True)
class BuildoptConfig:
    ignore: frozenset[str] = frozenset()  # rule ids (slugs are resolved to ids on load)
    fail_on: str | None = None  # one of FAIL_ON_CHOICES, None = not configured
    severity_overrides: dict[str, Severity] = field(default_factory=dict)  # rule id -> severity
    budget: dict = field(default_factory=dict)
    smoke: dict = field(default_factory=dict)
    source: Path | None = None  # the file it came from; None = defaults

    def is_ignored(self, rule_id: str) -> bool:
        return rule_id in self.ignore


def rule_id_of(name: str, where: str = "") -> str:
    """A rule id from an id or a slug, checked against the rule registry (loaded only when a config names rules)."""
    from .rules.registry import rule_id_of as resolve

    return resolve(name, where)


def load_config(start: Path | str | None = None, explicit: Path | str | None = None, stop_at: Path | str | None = None) -> BuildoptConfig:
    """The configuration for a Dockerfile in directory `start`, or from `explicit` (--config)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise BadInput(f"{path}: no such config file" if not path.exists() else f"{path}: not a file")
        table = _table_of(path, required=True)
        return _build(table or {}, path)
    if start is None:
        return BuildoptConfig()
    for directory in _search_dirs(Path(start), Path(stop_at) if stop_at is not None else None):
        for name in (CONFIG_FILE, PYPROJECT):
            candidate = directory / name
            if candidate.is_file():
                table = _table_of(candidate, required=name == CONFIG_FILE)
                if table is not None:
                    return _build(table, candidate)
    return BuildoptConfig()


def _search_dirs(start: Path, stop_at: Path | None) -> list[Path]:
    start = start.resolve()
    if start.is_file():
        start = start.parent
    chain = [start, *start.parents]
    if stop_at is not None:
        stop = stop_at.resolve()
        if stop in chain:
            return chain[: chain.index(stop) + 1]
    for index, directory in enumerate(chain):  # up to the repository root
        if (directory / ".git").exists():
            return chain[: index + 1]
    return chain[:1]


def _table_of(path: Path, *, required: bool) -> dict | None:
    try:
        data = tomllib.loads(read_text(path, what="config file"))
    except tomllib.TOMLDecodeError as err:
        raise BadInput(f"{path}: invalid TOML: {err}") from None
    if path.name == PYPROJECT or ("tool" in data and "buildopt" in data.get("tool", {})):
        section = data.get("tool", {}).get("buildopt")
        if section is None:
            return {} if required else None
        if not isinstance(section, dict):
            raise BadInput(f"{path}: [tool.buildopt] must be a table")
        return section
    return data


def _build(table: dict, source: Path) -> BuildoptConfig:
    where = str(source)
    ignore_raw = table.get("ignore", [])
    if isinstance(ignore_raw, str):
        ignore_raw = [ignore_raw]
    if not isinstance(ignore_raw, list):
        raise BadInput(f"{where}: ignore must be a list of rule ids or slugs")
    ignore = frozenset(rule_id_of(str(item), f"{where}: ignore") for item in ignore_raw)

    fail_on = table.get("fail_on", table.get("fail-on"))
    if fail_on is not None:
        fail_on = str(fail_on).strip().lower()
        if fail_on not in FAIL_ON_CHOICES:
            raise BadInput(f"{where}: fail_on = {fail_on!r}: use one of {', '.join(FAIL_ON_CHOICES)}")

    severity_raw = table.get("severity", {})
    if not isinstance(severity_raw, dict):
        raise BadInput(f"{where}: severity must be a table, e.g. severity = {{ \"no-healthcheck\" = \"medium\" }}")
    overrides: dict[str, Severity] = {}
    for name, level in severity_raw.items():
        rule_id = rule_id_of(str(name), f"{where}: severity")
        try:
            overrides[rule_id] = Severity.parse(str(level))
        except BadInput as err:
            raise BadInput(f"{where}: severity.{name}: {err}") from None

    budget = table.get("budget", {})
    smoke = table.get("smoke", {})
    for key, value in (("budget", budget), ("smoke", smoke)):
        if not isinstance(value, dict):
            raise BadInput(f"{where}: [{key}] must be a table")
    return BuildoptConfig(ignore=ignore, fail_on=fail_on, severity_overrides=overrides, budget=dict(budget),
                          smoke=dict(smoke), source=source)
