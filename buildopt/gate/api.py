"""The GitHub REST API, as much as workflow (b) needs: find the PR of a head commit, and create or update
one sticky comment. urllib and `GITHUB_API_URL`, so tests point it at a local fake server."""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

from ..errors import BadInput, BuildoptError, ExitCode
from ..report.compare_report import COMMENT_MARKER
from .events import WorkflowRun

BOT_LOGIN = "github-actions[bot]"
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")


class GitHubAPIError(BuildoptError):
    """The REST API refused or could not be reached: an environment problem, not bad input."""

    exit_code = ExitCode.ENVIRONMENT


class GitHubClient:
    """A minimal GitHub REST client: JSON in and out, pagination, one-line errors."""

    def __init__(self, token: str, repository: str, api_url: str | None = None, timeout: float = 30.0):
        if not token:
            raise BadInput("no token: set GITHUB_TOKEN (the workflow passes github.token)")
        if not _REPO.match(repository or ""):
            raise BadInput(f"repository {repository!r} is not owner/name")
        self.token = token
        self.repository = repository
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        url = path if path.startswith(self.api_url + "/") else self.api_url + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        return self._send(method, url, body)[0]

    def paginate(self, path: str, query: dict | None = None, limit: int = 50) -> Iterator[dict]:
        url = self.api_url + path + "?" + urllib.parse.urlencode({**(query or {}), "per_page": 100})
        for _ in range(limit):
            items, headers = self._send("GET", url, None)
            if not isinstance(items, list):
                raise GitHubAPIError(f"GET {path}: expected a list")
            yield from (item for item in items if isinstance(item, dict))
            next_url = _next_link(headers.get("Link", ""))
            # The token only ever goes to the API host it was configured for.
            if not next_url or not next_url.startswith(self.api_url + "/"):
                return
            url = next_url

    def _send(self, method: str, url: str, body: dict | None):
        request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "buildopt-pr-gate")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                headers = dict(response.headers.items())
        except urllib.error.HTTPError as err:
            detail = ""
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(err.read() or b"{}").get("message", "")
            hint = " (a pull_request run from a fork has a read-only token: comment from workflow_run)" \
                if err.code == 403 else None
            raise GitHubAPIError(f"{where}: HTTP {err.code} {detail}".rstrip(), hint=hint) from None
        except (urllib.error.URLError, OSError) as err:
            raise GitHubAPIError(f"{where}: {getattr(err, 'reason', err)}") from None
        try:
            return (json.loads(raw) if raw else None), headers
        except ValueError:
            raise GitHubAPIError(f"{where}: the answer is not JSON") from None


def _next_link(link_header: str) -> str | None:
    for part in link_header.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def find_pull_request(client: GitHubClient, run: WorkflowRun) -> int | None:
    """The open PR whose head is the run's head commit.

    `workflow_run.pull_requests` is filled only for PRs from the same repository; for a fork, list the
    open PRs from `fork_owner:branch` and keep the one whose head sha matches, then fall back to the
    commit's associated PRs."""
    if run.pull_request_numbers:
        return run.pull_request_numbers[0]
    owner, name = client.repository.split("/")
    if run.head_owner and run.head_branch:
        for pr in client.paginate(f"/repos/{owner}/{name}/pulls",
                                  {"state": "open", "head": f"{run.head_owner}:{run.head_branch}"}, limit=5):
            if (pr.get("head") or {}).get("sha") == run.head_sha and isinstance(pr.get("number"), int):
                return pr["number"]
    for pr in client.paginate(f"/repos/{owner}/{name}/commits/{run.head_sha}/pulls", limit=5):
        if pr.get("state") == "open" and (pr.get("head") or {}).get("sha") == run.head_sha \
                and isinstance(pr.get("number"), int):
            return pr["number"]
    return None


def pull_request_head(client: GitHubClient, number: int) -> str | None:
    """The PR's head commit now (it may have moved on since the run being commented on started)."""
    owner, name = client.repository.split("/")
    pull = client.request("GET", f"/repos/{owner}/{name}/pulls/{number}")
    sha = ((pull or {}).get("head") or {}).get("sha") if isinstance(pull, dict) else None
    if not isinstance(sha, str):
        raise GitHubAPIError(f"GET pull request #{number}: the answer has no head sha")
    return sha


def find_sticky_comment(comments: list[dict] | Iterator[dict], author: str = BOT_LOGIN,
                        marker: str = COMMENT_MARKER) -> int | None:
    """The id of our comment: it carries the hidden marker and was written by the gate's own identity,
    so a comment in which someone quoted the marker is never overwritten."""
    for comment in comments:
        body = comment.get("body") or ""
        login = (comment.get("user") or {}).get("login")
        if isinstance(body, str) and marker in body and login == author and isinstance(comment.get("id"), int):
            return comment["id"]
    return None


def upsert_comment(client: GitHubClient, number: int, body: str, author: str = BOT_LOGIN) -> tuple[str, int]:
    """Create the sticky comment, or update it in place. Returns ("created"|"updated", comment id)."""
    owner, name = client.repository.split("/")
    existing = find_sticky_comment(client.paginate(f"/repos/{owner}/{name}/issues/{number}/comments"), author)
    if existing is not None:
        client.request("PATCH", f"/repos/{owner}/{name}/issues/comments/{existing}", {"body": body})
        return "updated", existing
    created = client.request("POST", f"/repos/{owner}/{name}/issues/{number}/comments", {"body": body})
    if not isinstance(created, dict) or not isinstance(created.get("id"), int):
        raise GitHubAPIError("POST comment: the answer has no comment id")
    return "created", created["id"]
