"""The webhook payloads the gate runs for: `pull_request` (workflow a) and `workflow_run` (workflow b)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import BadInput
from ..files import read_text


@dataclass(frozen=True)
class PullRequest:
    number: int
    head_sha: str
    head_repo: str
    base_ref: str
    base_sha: str


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    event: str
    conclusion: str | None
    head_sha: str
    head_branch: str
    head_repo: str  # owner/name of the repository the head commit came from (a fork's for fork PRs)
    pull_request_numbers: tuple[int, ...]  # empty for fork PRs: GitHub only fills it for same-repo PRs

    @property
    def head_owner(self) -> str:
        return self.head_repo.split("/", 1)[0]


def load_event(path: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ) -> dict:
    """The webhook payload the job runs for (`GITHUB_EVENT_PATH`)."""
    where = path or environ.get("GITHUB_EVENT_PATH")
    if not where:
        raise BadInput("GITHUB_EVENT_PATH is not set: run inside GitHub Actions or pass the event file")
    try:
        event = json.loads(read_text(where, what="event payload"))
    except (BadInput, ValueError) as err:
        raise BadInput(f"{where}: unreadable event payload: {err}") from None
    if not isinstance(event, dict):
        raise BadInput(f"{where}: the event payload is not a JSON object")
    return event


def pull_request_from_event(event: dict) -> PullRequest | None:
    """The PR of a `pull_request` (or `pull_request_target`) event; None for other events."""
    pr = event.get("pull_request")
    if not isinstance(pr, dict):
        return None
    try:
        return PullRequest(
            number=int(pr.get("number") or event["number"]),
            head_sha=str(pr["head"]["sha"]),
            head_repo=str((pr["head"].get("repo") or {}).get("full_name") or ""),
            base_ref=str(pr["base"]["ref"]),
            base_sha=str(pr["base"].get("sha") or ""),
        )
    except (KeyError, TypeError, ValueError):
        raise BadInput("the pull_request event payload lacks number, head.sha or base.ref") from None


def workflow_run_from_event(event: dict) -> WorkflowRun:
    run = event.get("workflow_run")
    if not isinstance(run, dict):
        raise BadInput("not a workflow_run event: the payload has no workflow_run object")
    try:
        head_repo = run.get("head_repository") or {}
        numbers = tuple(int(pr["number"]) for pr in run.get("pull_requests") or []
                        if isinstance(pr, dict) and str(pr.get("number", "")).isdigit()
                        and (pr.get("head") or {}).get("sha", run["head_sha"]) == run["head_sha"])
        return WorkflowRun(
            id=int(run["id"]),
            event=str(run.get("event") or ""),
            conclusion=run.get("conclusion"),
            head_sha=str(run["head_sha"]),
            head_branch=str(run.get("head_branch") or ""),
            head_repo=str(head_repo.get("full_name") or ""),
            pull_request_numbers=numbers,
        )
    except (KeyError, TypeError, ValueError):
        raise BadInput("the workflow_run event payload lacks id or head_sha") from None
