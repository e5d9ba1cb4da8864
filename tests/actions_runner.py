"""A tiny GitHub Actions runner for composite-action steps and workflow steps, for the simulated-runner tests.

Each `run:` step is executed with bash the way the runner does it (`bash --noprofile --norc -eo pipefail`,
a fresh GITHUB_OUTPUT per step, `${{ }}` expressions substituted, `if:` evaluated, a failing step stops
the job), optionally as the non-root runner user (tests/nonroot.py). A `uses:` step can't run here: when its
`if:` holds, it is recorded (`Context.used`) and its outputs are empty, so a test can assert which pinned
action the job would have run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.unit.test_gate import parse_github_output

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Context:
    def __init__(self, values: dict[str, str], steps: dict[str, dict[str, str]] | None = None):
        self.values = values
        self.steps = steps if steps is not None else {}
        self.used: list[dict] = []  # `uses:` steps whose if: held

    def resolve(self, expression: str) -> str:
        match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if match:
            return self.steps.get(match.group(1), {}).get(match.group(2), "")
        if expression in self.values:
            return self.values[expression]
        raise AssertionError(f"the simulation does not know the expression {expression!r}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.resolve(m.group(1)), str(text))

    def condition(self, expression: str) -> bool:
        inner = EXPRESSION.sub(lambda m: m.group(1), expression).strip()
        match = re.fullmatch(r"(\S+)\s*(==|!=)\s*'([^']*)'", inner)
        assert match, f"the simulation does not evaluate if: {expression!r}"
        value = self.resolve(match.group(1))
        return (value == match.group(3)) == (match.group(2) == "==")


def run_steps(steps: list[dict], context: Context, env: dict[str, str], cwd: Path, work: Path,
              as_runner: bool = False) -> int:
    """Run the steps like the runner: returns the exit code of the first failing step, or 0."""
    from tests import nonroot

    for index, step in enumerate(steps):
        if "if" in step and not context.condition(step["if"]):
            continue
        if "uses" in step:
            context.used.append({"uses": step["uses"], "with": {k: context.substitute(v) for k, v in
                                                               (step.get("with") or {}).items()}})
            continue
        step_env = {**env, **{k: context.substitute(v) for k, v in (step.get("env") or {}).items()}}
        output = work / f"output-{index}"
        output.write_text("")
        script = work / f"step-{index}.sh"
        script.write_text(context.substitute(step["run"]))
        if as_runner:
            nonroot.give_to_runner(output)
            nonroot.give_to_runner(script)
        step_env["GITHUB_OUTPUT"] = str(output)
        argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        if as_runner:
            process = nonroot.run_as_runner(argv, env=step_env, cwd=cwd, timeout=3600)
        else:
            process = subprocess.run(argv, cwd=cwd, env=step_env, capture_output=True, text=True)
        sys.stdout.write(process.stdout[-4000:])
        sys.stderr.write(process.stderr[-4000:])
        if "id" in step:
            context.steps[step["id"]] = parse_github_output(output.read_text())
        context.values["last_stdout"] = process.stdout
        context.values["last_stderr"] = process.stderr
        if process.returncode != 0:
            return process.returncode
    return 0


def github_env(base: dict[str, str], workspace: Path, work: Path, event_file: Path, event_name: str,
               repository: str, sha: str = "", ref: str = "") -> dict[str, str]:
    """The runner's GITHUB_* and RUNNER_* variables over `base` (the user's own environment)."""
    (work / "summary.md").touch()
    (work / "runner-temp").mkdir(exist_ok=True)
    return {
        **{k: v for k, v in base.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))},
        "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_STEP_SUMMARY": str(work / "summary.md"), "GITHUB_REPOSITORY": repository,
        "GITHUB_WORKSPACE": str(workspace), "GITHUB_SHA": sha, "GITHUB_REF": ref,
        "RUNNER_TEMP": str(work / "runner-temp"), "RUNNER_OS": "Linux",
    }


def current_env() -> dict[str, str]:
    return dict(os.environ)
