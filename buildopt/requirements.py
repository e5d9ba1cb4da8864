"""Read what `pip install -r FILE` and `pip install .[extra]` would install, from the build context.

Requirements files follow pip's format: comments, line continuations, nested `-r`/`-c` (relative to the
file that names them), `-e`, and the index options (`--index-url`, `--extra-index-url`, `--find-links`)
that pip honours inside a file. Projects: PEP 621 `[project]` dependencies and optional-dependencies in
pyproject.toml (extras that name the project itself, like `all = ["pkg[a,b]"]`, are expanded), or
`[options.extras_require]` in setup.cfg. Nothing here raises on odd content: a file that can't be read is
listed in `missing`, a line that isn't a requirement is skipped.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement as _PkgRequirement
from packaging.utils import NormalizedName, canonicalize_name

from .files import read_text, read_text_if_exists

_MAX_DEPTH = 20  # nested -r chains deeper than this are a cycle or a mistake
_NAME_AT_START = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?")


@dataclass(frozen=True)
class Requirement:
    name: str  # canonical (PEP 503) name
    extras: frozenset[str]
    specifier: str  # e.g. "==2.6.0+cpu"
    url: str | None
    raw: str  # the line as written (continuations joined, comment removed)
    source: Path | None
    line: int

    @property
    def cpu_pin(self) -> bool:
        """A `+cpu` local version (torch==2.6.0+cpu) or a CPU wheel URL."""
        text = (self.specifier or "") + " " + (self.url or "")
        return "+cpu" in text or "/cpu/" in text or "%2Bcpu" in text

    @property
    def where(self) -> str:
        return f"{self.source.name if self.source else '?'}:{self.line}"


@dataclass
class RequirementSet:
    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    editables: list[str] = field(default_factory=list)  # `-e X` targets as written
    local_paths: list[str] = field(default_factory=list)  # `.`, `./pkg[extra]`, wheels
    files: list[Path] = field(default_factory=list)  # every file read, nested ones included
    missing: list[str] = field(default_factory=list)  # referenced but not readable

    def names(self) -> set[str]:
        return {req.name for req in self.requirements}

    def extend(self, other: RequirementSet) -> None:
        for attr in ("requirements", "constraints", "index_urls", "extra_index_urls", "find_links", "editables",
                     "local_paths", "files", "missing"):
            getattr(self, attr).extend(getattr(other, attr))


@dataclass
class ProjectInfo:
    """A Python project's declared dependencies (pyproject.toml or setup.cfg)."""

    directory: Path
    name: str | None
    dependencies: list[Requirement]
    extras: dict[str, list[Requirement]]  # as declared, self-references unexpanded
    source: Path | None
    index_urls: list[str] = field(default_factory=list)  # [[tool.uv.index]], poetry/pdm sources

    def expand_extras(self, wanted: set[str] | frozenset[str]) -> tuple[list[str], list[Requirement]]:
        """The extras `wanted` pulls in (self-references like all = ["pkg[a,b]"] followed) and their requirements."""
        seen: list[NormalizedName] = []
        requirements: list[Requirement] = []
        pending = [canonicalize_name(extra) for extra in wanted]
        declared = {canonicalize_name(key): key for key in self.extras}
        own = canonicalize_name(self.name) if self.name else None
        while pending:
            extra = pending.pop(0)
            if extra in seen or extra not in declared:
                continue
            seen.append(extra)
            for req in self.extras[declared[extra]]:
                if own and req.name == own:
                    pending.extend(sorted(canonicalize_name(e) for e in req.extras))
                else:
                    requirements.append(req)
        return [declared[e] for e in seen], requirements


_SIMPLE = re.compile(
    r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*"
    r"((?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+(?:\s*,\s*(?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+)*)?\s*$"
)


def parse_requirement(text: str, source: Path | None = None, line: int = 0) -> Requirement | None:
    """One requirement specifier or URL; None when the text is not a requirement."""
    parsed = _parse_requirement_text(text.strip())
    if parsed is None:
        return None
    name, extras, specifier, url, raw = parsed
    return Requirement(name, extras, specifier, url, raw, source, line)


@lru_cache(maxsize=4096)
def _parse_requirement_text(raw: str) -> tuple[str, frozenset[str], str, str | None, str] | None:
    if not raw or raw.startswith("-"):
        return None
    simple = _SIMPLE.match(raw)  # the common case, without packaging's full grammar (10x faster)
    if simple:
        extras = frozenset(canonicalize_name(e) for e in _split_extras(simple.group(2)))
        specifier = re.sub(r"\s+", "", simple.group(3) or "")
        return canonicalize_name(simple.group(1)), extras, ",".join(sorted(specifier.split(","))) if specifier else "", None, raw
    try:
        req = _PkgRequirement(raw)
        return (canonicalize_name(req.name), frozenset(canonicalize_name(e) for e in req.extras), str(req.specifier),
                req.url, raw)
    except InvalidRequirement:
        pass
    egg = _EGG.search(raw)
    if egg:
        extras = frozenset(canonicalize_name(e) for e in _split_extras(egg.group(2)))
        return canonicalize_name(egg.group(1)), extras, "", raw, raw
    spec = raw.split(";", 1)[0].strip()
    if "://" in spec or spec.startswith((".", "/", "~")) or spec.endswith((".whl", ".tar.gz", ".zip")):
        return None  # a path or URL without a name: not resolvable here
    match = _NAME_AT_START.match(spec)
    if not match:
        return None
    rest = spec[match.end():].strip()
    extras = frozenset(canonicalize_name(e) for e in _split_extras(match.group(2)))
    return canonicalize_name(match.group(1)), extras, rest, None, raw


def split_local_target(target: str) -> tuple[str, frozenset[str]]:
    """`./pkg[a,b]` -> ("./pkg", {"a","b"}); quotes removed."""
    target = target.strip().strip("'\"")
    match = re.match(r"^(.*?)\[([^\]]*)\]$", target)
    if match:
        return match.group(1) or ".", frozenset(canonicalize_name(e) for e in _split_extras(f"[{match.group(2)}]"))
    return target, frozenset()


def is_local_target(token: str) -> bool:
    """A pip argument naming a local directory or archive rather than a PyPI project."""
    bare = split_local_target(token)[0]
    if "://" in bare or bare.startswith("git+"):
        return False
    return bare in (".", "..") or bare.startswith(("./", "../", "/", "~")) or bare.endswith((".whl", ".tar.gz", ".zip"))


def read_requirements(path: Path, *, root: Path | None = None) -> RequirementSet:
    """Read a requirements file and the files it names with -r/-c (relative to each naming file)."""
    result = RequirementSet()
    _read_into(result, Path(path), root, depth=0, constraint=False, seen=set())
    return result


def _read_into(result: RequirementSet, path: Path, root: Path | None, *, depth: int, constraint: bool, seen: set[Path]) -> None:
    try:
        resolved = path.resolve()
    except OSError:
        result.missing.append(str(path))
        return
    if resolved in seen or depth > _MAX_DEPTH:
        return
    if root is not None and not _inside(resolved, root):
        result.missing.append(f"{path} (outside the build context)")
        return
    text = read_text_if_exists(path, errors="replace", what="requirements file")
    if text is None:
        result.missing.append(str(path))
        return
    seen.add(resolved)
    result.files.append(path)
    for number, line in _logical_lines(text):
        tokens = line.split()
        option, value = _option(tokens)
        if option is None:
            if is_local_target(tokens[0]):
                result.local_paths.append(tokens[0])
            else:
                req = parse_requirement(_strip_options(line), path, number)
                if req is not None:
                    (result.constraints if constraint else result.requirements).append(req)
        elif option in ("-r", "--requirement", "-c", "--constraint"):
            if value:
                _read_into(result, path.parent / value, root, depth=depth + 1,
                           constraint=constraint or option in ("-c", "--constraint"), seen=seen)
        elif option in ("-i", "--index-url"):
            result.index_urls.append(value)
        elif option == "--extra-index-url":
            result.extra_index_urls.append(value)
        elif option in ("-f", "--find-links"):
            result.find_links.append(value)
        elif option in ("-e", "--editable"):
            result.editables.append(value)
            req = parse_requirement(value, path, number) if "://" in value else None
            if req is not None:
                result.requirements.append(req)
        # other options (--hash, --pre, --no-binary ...) don't change which packages come in


def _option(tokens: list[str]) -> tuple[str | None, str]:
    """("-r", "base.txt") for `-r base.txt`, `-rbase.txt`, `--requirement=base.txt`; (None, "") for a requirement."""
    head = tokens[0]
    if not head.startswith("-"):
        return None, ""
    if head.startswith("--"):
        name, eq, value = head.partition("=")
        return name, value if eq else (tokens[1] if len(tokens) > 1 else "")
    if len(head) > 2:
        return head[:2], head[2:]
    return head, tokens[1] if len(tokens) > 1 else ""


def read_project(directory: Path) -> ProjectInfo | None:
    """The project in `directory` (pyproject.toml [project], else setup.cfg), None when neither declares one."""
    directory = Path(directory)
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(read_text(pyproject, errors="replace", what="pyproject.toml"))
        except tomllib.TOMLDecodeError:
            data = {}
        project = data.get("project")
        if isinstance(project, dict):
            deps = _requirements_of(project.get("dependencies", []), pyproject)
            extras_table = project.get("optional-dependencies", {}) or {}
            extras = {str(key): _requirements_of(value, pyproject) for key, value in extras_table.items()
                      if isinstance(value, list)}
            return ProjectInfo(directory, project.get("name"), deps, extras, pyproject, _tool_indexes(data))
    setup_cfg = directory / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(read_text(setup_cfg, errors="replace", what="setup.cfg"))
        except configparser.Error:
            return None
        name = parser.get("metadata", "name", fallback=None)
        deps = _requirements_of(parser.get("options", "install_requires", fallback="").splitlines(), setup_cfg)
        extras = {}
        if parser.has_section("options.extras_require"):
            for key, value in parser.items("options.extras_require"):
                extras[key] = _requirements_of(value.splitlines(), setup_cfg)
        return ProjectInfo(directory, name, deps, extras, setup_cfg)
    return None


def _tool_indexes(data: dict) -> list[str]:
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    urls: list[str] = []
    uv = tool.get("uv", {}) if isinstance(tool.get("uv"), dict) else {}
    for key in ("index-url", "extra-index-url"):
        value = uv.get(key)
        urls.extend([value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)])
    for table in (uv.get("index"), tool.get("poetry", {}).get("source") if isinstance(tool.get("poetry"), dict) else None,
                  tool.get("pdm", {}).get("source") if isinstance(tool.get("pdm"), dict) else None):
        if isinstance(table, list):
            urls.extend(str(entry["url"]) for entry in table if isinstance(entry, dict) and "url" in entry)
    return urls


def _requirements_of(items, source: Path) -> list[Requirement]:
    found: list[Requirement] = []
    if not isinstance(items, list):
        return found
    for index, item in enumerate(items, start=1):
        req = parse_requirement(str(item), source, index)
        if req is not None:
            found.append(req)
    return found


def _logical_lines(text: str):
    """(first line number, content) with `\\` continuations joined and comments removed, as pip does."""
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            yield start, buffer.strip()
        buffer = ""
    if buffer.strip():
        yield start, buffer.strip()


def _strip_options(line: str) -> str:
    """`pkg==1.0 --hash=sha256:...` -> `pkg==1.0`."""
    return re.split(r"\s--?[a-z]", " " + line, maxsplit=1)[0].strip()


def _split_extras(group: str | None) -> list[str]:
    if not group:
        return []
    return [part.strip() for part in group.strip("[]").split(",") if part.strip()]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root.resolve())
        return True
    except ValueError:
        return False
