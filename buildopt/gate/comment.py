"""The sticky comment: its text, rendered by our own code from validated documents, and workflow (b)
from the downloaded artifact to the API call."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..report import compare_report, sarif
from ..report.compare_schema import CompareReport
from ..report.markdown import escape
from ..units import format_size
from .api import BOT_LOGIN, GitHubClient, find_pull_request, upsert_comment
from .artifacts import UntrustedArtifact, find_artifact_dirs, load_artifacts
from .events import load_event, workflow_run_from_event
from .model import GateEntry
from .outputs import write_file


def render_comment(entries: list[GateEntry], reports: Mapping[str, CompareReport]) -> str:
    """One sticky comment for all the Dockerfiles of a PR, rendered by compare_report from each document."""
    marker = compare_report.COMMENT_MARKER
    sections = []
    for entry in entries:
        report = reports.get(entry.name)
        if report is not None:
            document = report.to_dict()
            body = compare_report.render_markdown(document).replace(marker + "\n", "", 1)
            note = _against_line(entry, document)
            if note:
                body = body.replace("\n\n", f"\n\n{note}\n\n", 1)
            sections.append(body.rstrip("\n"))
        else:
            error = escape(entry.error or f"exit {entry.exit_code}")
            sections.append(f"## buildopt: `{escape(entry.dockerfile)}` — ❌ not compared\n\n"
                            f"exit {int(entry.exit_code)}: {error}")
    if not sections:
        sections.append("## buildopt\n\nNo Dockerfile was compared.")
    body = marker + "\n" + "\n\n---\n\n".join(sections) + "\n"
    return compare_report._fit(body)


def _against_line(entry: GateEntry, document: dict) -> str | None:
    """What the PR costs: the shipped image against the base branch's, right under the heading."""
    if entry.baseline_note:
        return f"_{escape(entry.baseline_note)}_"
    base, original = entry.baseline_size, document["variants"]["original"]
    if not base or not original["built"] or not original["size"]:
        return None
    delta = original["size"] - base
    label = f"`{escape(entry.baseline_label)}`" if entry.baseline_label else "the baseline"
    return (f"**Against {label}:** {format_size(base)} → {format_size(original['size'])} "
            f"({format_size(delta, signed=True)}, {delta / base * 100:+.1f}%)")


@dataclass
class CommentOutcome:
    pr_number: int | None
    action: str  # created, updated, skipped, printed
    comment_id: int | None = None
    head_sha: str | None = None
    sarif: Path | None = None
    message: str = ""

    def outputs(self) -> dict[str, str]:
        return {
            "pr-number": str(self.pr_number or ""),
            "comment": self.action,
            "comment-id": str(self.comment_id or ""),
            "sha": self.head_sha or "",
            "ref": f"refs/pull/{self.pr_number}/head" if self.pr_number else "",
            "sarif": str(self.sarif) if self.sarif else "",
        }


def comment_from_artifacts(artifact_root: Path, environ: Mapping[str, str] = os.environ,
                           sarif_out: Path | None = None, author: str = BOT_LOGIN,
                           dry_run: bool = False) -> CommentOutcome:
    """Workflow (b): validate the downloaded artifacts, find the PR, write the sticky comment and SARIF."""
    # A dry run outside Actions (to preview a downloaded artifact) has no event to check the sha against.
    run = None if dry_run and not environ.get("GITHUB_EVENT_PATH") else workflow_run_from_event(load_event(None, environ))
    artifact = load_artifacts(find_artifact_dirs(artifact_root), expected_head_sha=run.head_sha if run else None)
    if artifact is None:
        return CommentOutcome(None, "skipped", message="no buildopt artifact in this run: nothing to comment")
    body = render_comment(artifact.entries, artifact.reports)
    sarif_path = None
    if sarif_out is not None and artifact.reports:
        sarif_out.parent.mkdir(parents=True, exist_ok=True)
        write_file(sarif_out, sarif.dumps(sarif.compare_log(
            [(name, report.to_dict()) for name, report in artifact.reports.items()])))
        sarif_path = sarif_out
    if dry_run:
        sys.stdout.write(body)
        return CommentOutcome(artifact.pr_number, "printed", head_sha=artifact.head_sha, sarif=sarif_path)
    assert run is not None  # only a dry run goes without the event
    client = GitHubClient(environ.get("GITHUB_TOKEN", ""), environ.get("GITHUB_REPOSITORY", ""),
                          environ.get("GITHUB_API_URL"))
    number = find_pull_request(client, run)
    if number is None:
        return CommentOutcome(None, "skipped", head_sha=artifact.head_sha, sarif=sarif_path,
                              message=f"no open pull request has head {run.head_sha}: nothing to comment")
    if number != artifact.pr_number:
        raise UntrustedArtifact(f"the artifact names PR #{artifact.pr_number} but head {run.head_sha} "
                                f"belongs to PR #{number}")
    action, comment_id = upsert_comment(client, number, body, author)
    return CommentOutcome(number, action, comment_id, artifact.head_sha, sarif_path,
                          message=f"{action} the buildopt comment on PR #{number}")
