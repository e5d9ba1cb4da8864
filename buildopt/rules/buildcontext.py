"""The build context directory as `docker build` sees it: its files, minus what .dockerignore excludes.

.dockerignore follows moby/patternmatcher: one pattern per line, `#` comments, `!` re-includes, a leading
`/` is dropped, `*` and `?` stay inside one path component, `**` spans components, and a pattern that
matches a parent directory excludes everything under it. The last matching pattern wins.

The directory is walked once (os.scandir, no symlinks followed); excluded directories are pruned unless an
`!` pattern could bring something back.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..files import read_text
from ..knowledge import WEIGHT_SUFFIXES

SECRET_NAMES = re.compile(r"^(\.env(\..+)?|id_rsa|id_ed25519|id_ecdsa|\.netrc|\.pypirc|\.npmrc|.*\.pem|.*\.key|credentials\.json)$")
NOT_SECRET = re.compile(r"^\.env\.(example|sample|template|dist|defaults?)$")
LARGE_FILE = 50_000_000


@dataclass(frozen=True)
class ContextFile:
    path: str  # relative, with "/"
    size: int


@dataclass
class Pattern:
    text: str
    exception: bool
    regex: re.Pattern[str]


class DockerIgnore:
    def __init__(self, patterns: list[Pattern], source: Path | None = None):
        self.patterns = patterns
        self.source = source
        self.has_exceptions = any(p.exception for p in patterns)

    @classmethod
    def parse(cls, text: str, source: Path | None = None) -> DockerIgnore:
        patterns = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            if exception:
                line = line[1:].strip()
            line = posixpath.normpath(line.replace("\\", "/")).lstrip("/")
            if line in ("", "."):
                continue
            patterns.append(Pattern(line, exception, re.compile(_pattern_regex(line))))
        return cls(patterns, source)

    def matches(self, path: str, parent_hits: tuple[bool, ...] | None = None) -> tuple[bool, tuple[bool, ...]]:
        """(excluded?, per-pattern hits to pass to children). `parent_hits`: the hits of the parent directory."""
        hits = []
        excluded = False
        for index, pattern in enumerate(self.patterns):
            hit = bool(parent_hits and parent_hits[index]) or pattern.regex.match(path) is not None
            hits.append(hit)
            if hit:
                excluded = not pattern.exception
        return excluded, tuple(hits)

    def excludes(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        hits: tuple[bool, ...] | None = None
        excluded = False
        for depth in range(1, len(parts) + 1):
            excluded, hits = self.matches("/".join(parts[:depth]), hits)
        return excluded


def _pattern_regex(pattern: str) -> str:
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern[i:i + 2] == "**":
                i += 1
                if pattern[i + 1:i + 2] == "/":  # "**/" : zero or more directories
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                if body.startswith("^"):
                    body = "!" + body[1:]
                out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)


@dataclass
class Notable:
    """A large or sensitive path in the context: `kind` is git|venv|node_modules|weights|secret|large."""

    path: str
    kind: str
    size: int = 0
    files: int = 0


@dataclass
class BuildContext:
    root: Path
    dockerignore: DockerIgnore | None
    files: list[ContextFile] = field(default_factory=list)  # not excluded
    excluded_bytes: int = 0
    notable: list[Notable] = field(default_factory=list)  # not excluded only

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def bytes_under(self, rel: str) -> tuple[int, int]:
        """(bytes, files) sent for a COPY source (a file, a dir, or a glob) relative to the root."""
        rel = _clean(rel)
        if rel in ("", "."):
            return self.total_bytes, len(self.files)
        total = count = 0
        glob = re.compile(_pattern_regex(rel)) if any(c in rel for c in "*?[") else None
        for item in self.files:
            if item.path == rel or item.path.startswith(rel + "/") or (glob and _glob_hit(glob, item.path)):
                total += item.size
                count += 1
        return total, count

    def weight_files_under(self, rel: str) -> list[ContextFile]:
        rel = _clean(rel)
        glob = re.compile(_pattern_regex(rel)) if any(c in rel for c in "*?[") else None
        return [f for f in self.files if f.path.lower().endswith(WEIGHT_SUFFIXES)
                and (rel in ("", ".") or f.path == rel or f.path.startswith(rel + "/") or (glob and _glob_hit(glob, f.path)))]

    def has(self, rel: str) -> bool:
        return (self.root / _clean(rel)).exists()

    def is_dir(self, rel: str) -> bool:
        return (self.root / _clean(rel)).is_dir()


def _glob_hit(glob: re.Pattern[str], path: str) -> bool:
    parts = path.split("/")
    return any(glob.match("/".join(parts[:depth])) for depth in range(1, len(parts) + 1))


def _clean(rel: str) -> str:
    rel = posixpath.normpath(rel.replace("\\", "/")).lstrip("/")
    return "" if rel == "." else rel


def load_context(root: Path) -> BuildContext:
    root = Path(root)
    ignore_file = root / ".dockerignore"
    ignore = None
    if ignore_file.is_file():
        ignore = DockerIgnore.parse(read_text(ignore_file, errors="replace", what=".dockerignore"), ignore_file)
    context = BuildContext(root, ignore)
    notable: dict[str, Notable] = {}
    # stack of (absolute dir, relative dir, parent pattern hits, notable key owning this subtree)
    stack: list[tuple[str, str, tuple[bool, ...] | None, str | None]] = [(str(root), "", None, None)]
    while stack:
        directory, rel_dir, parent_hits, owner = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            excluded, hits = ignore.matches(rel, parent_hits) if ignore else (False, None)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                size = 0 if is_dir else entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            if is_dir:
                if excluded and not (ignore and ignore.has_exceptions):
                    context.excluded_bytes += _tree_size(entry.path)
                    continue
                key = owner
                if owner is None:
                    kind = _dir_kind(entry)
                    if kind:
                        key = rel
                        notable[rel] = Notable(rel, kind)
                stack.append((entry.path, rel, hits, key))
                continue
            if excluded:
                context.excluded_bytes += size
                continue
            context.files.append(ContextFile(rel, size))
            if owner is not None:
                notable[owner].size += size
                notable[owner].files += 1
                continue
            kind = _file_kind(entry.name, size)
            if kind:
                notable[rel] = Notable(rel, kind, size, 1)
    context.notable = sorted((n for n in notable.values() if n.files or n.kind == "git"), key=lambda n: n.path)
    return context


def _dir_kind(entry: os.DirEntry) -> str | None:
    name = entry.name
    if name == ".git":
        return "git"
    if name == "node_modules":
        return "node_modules"
    # pyvenv.cfg makes any dir a venv; without it only these two names are sure (env, .env may be anything).
    if name in ("venv", ".venv") or os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
        return "venv"
    if name in ("huggingface",) and entry.path.replace("\\", "/").endswith(".cache/huggingface"):
        return "weights"
    return None


def _file_kind(name: str, size: int) -> str | None:
    lower = name.lower()
    if lower.endswith(WEIGHT_SUFFIXES):
        return "weights"
    if SECRET_NAMES.match(name) and not NOT_SECRET.match(name):
        return "secret"
    if size >= LARGE_FILE:
        return "large"
    return None


def _tree_size(path: str) -> int:
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            for entry in os.scandir(current):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
        except OSError:
            continue
    return total
