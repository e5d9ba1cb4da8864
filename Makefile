# The README's two commands: `make demo` (main job on an example) and `make test` (the suite).
# Each does its own setup first; setup skips every step that is already done.
VENV ?= .venv
PY := $(VENV)/bin/python
BUILDOPT := $(VENV)/bin/buildopt
DEMO_APP ?= examples/telegram-bot
DEMO_OUT ?= build/demo
FIXTURE_DB ?= build/trivy-fixture-cache

.PHONY: setup venv test test-unit demo bench bench-seeds bench-realworld bench-html bench-gate lint clean

setup:
	bash scripts/setup-toolchain.sh all

venv:
	bash scripts/setup-toolchain.sh venv

test: setup
	$(VENV)/bin/pytest -p no:cacheprovider --timeout=1200 tests

test-unit: venv
	$(VENV)/bin/pytest -p no:cacheprovider tests/unit

demo: setup
	bash scripts/demo.sh "$(DEMO_APP)" "$(DEMO_OUT)"

# The rule sets are in pyproject.toml ([tool.ruff.lint], [tool.mypy]); tests/unit/test_lint.py runs the first two.
lint: venv
	$(VENV)/bin/ruff check buildopt tests benchmarks scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/actionlint -shellcheck $(VENV)/bin/shellcheck .github/workflows/*.yml

bench: setup
	$(PY) benchmarks/run_all.py

# Issue 8: cold compare of every buildable example, table into docs/benchmarks.md (slow, not in CI).
bench-seeds: setup
	$(PY) benchmarks/bench_seeds.py

# Issue 13: compare on every buildable app of tests/corpus/realworld, table into docs/benchmarks.md (not in CI).
bench-realworld: setup
	$(PY) benchmarks/bench_realworld.py

# Issue 15: what the HTML report adds to compare on paperflow-worker (slow, not in CI).
bench-html: setup
	$(PY) benchmarks/bench_html.py

# Issue 14: the gate as GitHub's non-root runner user: inspect root vs non-root, cold/warm gate with the
# registry cache against plain cached builds, paperflow's overhead (slow, not in CI; runs as root).
bench-gate: setup
	$(PY) benchmarks/bench_gate.py --paperflow

clean:
	rm -rf build .pytest_cache
