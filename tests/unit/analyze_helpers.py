"""Helpers for the rule tests: analyze a Dockerfile text (optionally with context files) in one call."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from buildopt.config import BuildoptConfig
from buildopt.dockerfile import parse_string
from buildopt.rules import analyze

TODAY = date(2026, 11, 22)  # pinned: eol-python depends on the date


def run(text: str, *, context: dict[str, str | bytes] | None = None, tmp_path: Path | None = None,
        config: BuildoptConfig | None = None, today: date = TODAY):
    context_dir = None
    if context is not None:
        assert tmp_path is not None, "context files need tmp_path"
        context_dir = tmp_path / "ctx"
        for name, content in context.items():
            path = context_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        context_dir.mkdir(parents=True, exist_ok=True)
    return analyze(parse_string(text), context_dir=context_dir, config=config, today=today)


def of(result, slug: str):
    """The findings of one rule (by slug)."""
    return [f for f in result.findings if f.slug == slug]


def lines(result, slug: str) -> list[int]:
    return [f.line for f in of(result, slug)]
