"""The one way buildopt reaches the Docker engine."""

from __future__ import annotations

import os

RUN_LABEL_ENV = "BUILDOPT_RUN_LABEL"
RUN_LABEL = "buildopt.run"


def run_labels() -> dict[str, str]:
    """`buildopt.run=<value>` for every temporary image and container, when BUILDOPT_RUN_LABEL is set.

    Test runs and CI jobs that share one engine set it, so each finds and removes only what it created.
    """
    value = os.environ.get(RUN_LABEL_ENV, "").strip()
    return {RUN_LABEL: value} if value else {}
