"""The sticky comment: its text, rendered by our own code from validated documents, and workflow (b)
from the downloaded artifact to the API call."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..files import ensure_dir
from ..report import compare_report, sarif
from ..report.compare_schema import CompareReport
from ..report.markdown import escape
from ..units import format_size
from .api import BOT_LOGIN, GitHubClient, find_pull_request, pull_request_head, upsert_comment
from .artifacts import UntrustedArtifact, find_artifact_dirs, load_artifacts
from .events import load_event, workflow_run_from_event
from .model import GateEntry
from .outputs import write_file

HEAD_SHA_MARKER = "<!-- buildopt-head-sha: {sha} -->"


def render_comment(entries: list[GateEntry], reports: Mapping[str, CompareReport], head_sha: str | None = None) -> str:
    """One sticky comment for all the Dockerfiles of a PR, rendered by compare_report from each document.
    The head commit it describes is recorded in a second hidden line."""
    marker = compare_report.COMMENT_MARKER
    sections = []
    for entry in entries:
        report = reports.get(entry.name)
        notes = _notes(entry, report.to_dict() if report is not None else None)
        if report is not None:
            body = compare_report.render_markdown(report.to_dict()).replace(marker + "\n", "", 1)
            if notes:
                body = body.replace("\n\n", "\n\n" + "\n\n".join(notes) + "\n\n", 1)
            sections.append(body.rstrip("\n"))
        else:
            error = escape(entry.error or f"exit {entry.exit_code}")
            sections.append("\n\n".join([f"## buildopt: `{escape(entry.dockerfile)}` — ❌ not compared",
                                          *notes, f"exit {int(entry.exit_code)}: {error}"]))
    if not sections:
        sections.append("## buildopt\n\nNo Dockerfile was compared.")
    head = marker + "\n" + (HEAD_SHA_MARKER.format(sha=head_sha) + "\n" if head_sha else "")
    return compare_report._fit(head + "\n\n---\n\n".join(sections) + "\n")


def _notes(entry: GateEntry, document: dict | None) -> list[str]:
    """Right under the heading: what the PR costs against the base branch, which budget judged it, and
    whether it was scanned."""
    notes = []
    against = _against_line(entry, document) if document is not None else None
    if against:
        notes.append(against)
    if entry.budget_source or entry.budget_note:
        budget = f"**Budget:** `{escape(entry.budget_source)}`" if entry.budget_source else "**Budget:** none"
        notes.append(budget + (f" ({escape(entry.budget_note)})" if entry.budget_note else ""))
    if entry.scan_note:
        notes.append(f"⚠️ {escape(entry.scan_note)}")
    return notes


def _against_line(entry: GateEntry, document: dict) -> str | None:
    """What the PR costs: the shipped image against the base branch's."""
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
    ref: str = ""  # the ref code scanning files the SARIF under

    def outputs(self) -> dict[str, str]:
        ref = self.ref or (f"refs/pull/{self.pr_number}/head" if self.pr_number else "")
        return {
            "pr-number": str(self.pr_number or ""),
            "comment": self.action,
            "comment-id": str(self.comment_id or ""),
            "sha": self.head_sha or "",
            "ref": ref,
            "sarif": str(self.sarif) if self.sarif else "",
        }


def comment_from_artifacts(artifact_root: Path, environ: Mapping[str, str] = os.environ,
                           sarif_out: Path | None = None, author: str = BOT_LOGIN,
                           dry_run: bool = False) -> CommentOutcome:
    """Workflow (b): validate the downloaded artifacts, find the PR, write the sticky comment and SARIF.

    A run for a push to the default branch has no PR: only its SARIF is written (the base code scanning
    compares PR alerts with). A run whose PR has moved on to a newer head commit posts nothing, so an
    older run never overwrites the comment of a newer one."""
    # A dry run outside Actions (to preview a downloaded artifact) has no event to check the sha against.
    event = None if dry_run and not environ.get("GITHUB_EVENT_PATH") else load_event(None, environ)
    run = workflow_run_from_event(event) if event is not None else None
    artifact = load_artifacts(find_artifact_dirs(artifact_root), expected_head_sha=run.head_sha if run else None)
    if artifact is None:
        return CommentOutcome(None, "skipped", message="no buildopt artifact in this run: nothing to comment")
    if run is not None and (run.event == "push") != (artifact.pr_number is None):
        raise UntrustedArtifact(f"a {run.event} run's artifact must "
                                + ("not name a pull request" if run.event == "push" else "name its pull request"))
    sarif_path = _write_sarif(artifact, sarif_out)
    if artifact.pr_number is None:
        default_branch = ((event or {}).get("repository") or {}).get("default_branch")
        if run is not None and run.head_branch != default_branch:
            return CommentOutcome(None, "skipped", head_sha=artifact.head_sha,
                                  message=f"a push to {run.head_branch}, not the default branch: no SARIF upload")
        branch = run.head_branch if run is not None else default_branch
        return CommentOutcome(None, "skipped", head_sha=artifact.head_sha, sarif=sarif_path,
                              ref=f"refs/heads/{branch}" if branch else "",
                              message=f"a push to {branch}: SARIF for code scanning, no comment")
    body = render_comment(artifact.entries, artifact.reports, artifact.head_sha)
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
    current = pull_request_head(client, number)
    if current != run.head_sha:
        return CommentOutcome(number, "skipped", head_sha=artifact.head_sha, sarif=sarif_path,
                              message=f"PR #{number} has moved on to {current}: the run for that commit comments, "
                                      f"not this one for {run.head_sha}")
    action, comment_id = upsert_comment(client, number, body, author)
    return CommentOutcome(number, action, comment_id, artifact.head_sha, sarif_path,
                          message=f"{action} the buildopt comment on PR #{number}")


def _write_sarif(artifact, sarif_out: Path | None) -> Path | None:
    if sarif_out is None or not artifact.reports:
        return None
    ensure_dir(sarif_out.parent)
    write_file(sarif_out, sarif.dumps(sarif.compare_log([(name, report.to_dict())
                                                         for name, report in artifact.reports.items()])))
    return sarif_out
