"""A fake GitHub REST API on 127.0.0.1 for the PR-comment tests: pulls (a list and one PR), commit pulls,
issue comments.

It records every request (method, path, query, body, auth header) and keeps comments in memory, paginating
the comment list with a Link header like GitHub does. It serves only what the gate calls.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeGitHub:
    repository: str
    pulls: list[dict] = field(default_factory=list)  # [{"number", "head": {"sha", "ref", "repo_owner"}, "state"}]
    comments: dict[int, list[dict]] = field(default_factory=dict)  # issue number -> comments
    requests: list[dict] = field(default_factory=list)
    page_size: int = 2  # small, so pagination is exercised
    next_id: int = 1000
    base_url: str = ""

    def add_comment(self, issue: int, body: str, login: str) -> dict:
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "user": {"login": login, "type": "User"}}
        self.comments.setdefault(issue, []).append(comment)
        return comment

    def writes(self) -> list[dict]:
        return [r for r in self.requests if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]

    # --- request handling -------------------------------------------------------------------------
    def handle(self, method: str, url: str, body: bytes, headers: dict) -> tuple[int, object, dict]:
        parts = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        payload = json.loads(body) if body else None
        self.requests.append({"method": method, "path": parts.path, "query": query, "body": payload,
                              "authorization": headers.get("Authorization")})
        if headers.get("Authorization") != "Bearer test-token":
            return 401, {"message": "Bad credentials"}, {}
        prefix = f"/repos/{self.repository}"
        if not parts.path.startswith(prefix + "/"):
            return 404, {"message": "Not Found"}, {}
        path = parts.path[len(prefix):]
        if method == "GET" and path == "/pulls":
            owner, _, branch = query.get("head", ":").partition(":")
            found = [p for p in self.pulls if p["state"] == query.get("state", "open")
                     and p["head"]["repo_owner"] == owner and p["head"]["ref"] == branch]
            return 200, [self._pull(p) for p in found], {}
        match = re.fullmatch(r"/pulls/(\d+)", path)
        if method == "GET" and match:
            found = [p for p in self.pulls if p["number"] == int(match.group(1))]
            return (200, self._pull(found[0]), {}) if found else (404, {"message": "Not Found"}, {})
        match = re.fullmatch(r"/commits/([0-9a-f]{40})/pulls", path)
        if method == "GET" and match:
            return 200, [self._pull(p) for p in self.pulls if p["head"]["sha"] == match.group(1)], {}
        match = re.fullmatch(r"/issues/(\d+)/comments", path)
        if match:
            issue = int(match.group(1))
            if method == "GET":
                return self._page(parts.path, self.comments.get(issue, []), query)
            if method == "POST":
                self.next_id += 1
                comment = {"id": self.next_id, "body": payload["body"],
                           "user": {"login": "github-actions[bot]", "type": "Bot"}}
                self.comments.setdefault(issue, []).append(comment)
                return 201, comment, {}
        match = re.fullmatch(r"/issues/comments/(\d+)", path)
        if match and method == "PATCH":
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment["id"] == int(match.group(1)):
                    comment["body"] = payload["body"]
                    return 200, comment, {}
            return 404, {"message": "Not Found"}, {}
        return 404, {"message": "Not Found"}, {}

    def _pull(self, pull: dict) -> dict:
        return {"number": pull["number"], "state": pull["state"],
                "head": {"sha": pull["head"]["sha"], "ref": pull["head"]["ref"]}}

    def _page(self, path: str, items: list[dict], query: dict) -> tuple[int, list, dict]:
        page = int(query.get("page", 1))
        start = (page - 1) * self.page_size
        headers = {}
        if start + self.page_size < len(items):
            headers["Link"] = f'<{self.base_url}{path}?per_page={self.page_size}&page={page + 1}>; rel="next"'
        return 200, items[start:start + self.page_size], headers


@contextmanager
def serve(fake: FakeGitHub):
    """Serve `fake` on 127.0.0.1 (a free port) in a thread; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _do(self):
            length = int(self.headers.get("Content-Length") or 0)
            status, payload, extra = fake.handle(self.command, self.path, self.rfile.read(length), dict(self.headers))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _do

        def log_message(self, *args):  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
