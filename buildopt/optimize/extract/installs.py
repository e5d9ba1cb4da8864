"""What each pip/uv install needs in the builder: requirement files, project skeletons or the whole sources."""

from __future__ import annotations

import fnmatch
import posixpath
import tomllib
from pathlib import Path

from ...dockerfile import substitute
from ...errors import BadInput
from ...files import read_text
from ...requirements import (
    is_local_target,
    parse_requirement,
    read_project,
    read_requirements,
    split_local_target,
)
from ..plan import CopySpec, PipCommand, Step
from .models import ModelReader


class InstallReader(ModelReader):
    def _prepare_builder_for(self, pip: PipCommand) -> None:
        """Make the files this install reads available in the builder, and read what it installs."""
        plan = self.plan
        needs_sources = False
        # Any app COPY before an install means a code change re-runs the install (BO115 in the original).
        for step in plan.app_copies:
            assert step.line is not None  # an app COPY is an instruction of the Dockerfile
            self.app_copy_before_install.add(step.line)
        for package in pip.packages:
            plan.add_requirement(parse_requirement(package), pip)
        for path in pip.requirement_files + pip.constraint_files:
            target = posixpath.normpath(posixpath.join(pip.workdir, substitute(path, self.variables)))
            context_source = self.provided.get(target) or self._locate_in_app_copies(target)
            if context_source is None:
                needs_sources = True
                plan.unread_requirements.append(path)
                # Still read what it would install, from the same path at the context root (as analyze does).
                fallback = self.context / path if self.context is not None else None
                if fallback is not None and fallback.is_file() and path in pip.requirement_files:
                    for requirement in read_requirements(fallback, root=self.context).requirements:
                        plan.add_requirement(requirement, pip)
                continue
            if target not in self.provided:
                spec = CopySpec("COPY", [], [context_source], target, target, pip.line)
                plan.builder_steps.append(Step("copy", pip.line, copy=spec, absolute=True))
                self.provided[target] = context_source
            if self.context is None:
                plan.unread_requirements.append(path)
                continue
            read = read_requirements(self.context / context_source, root=self.context)
            pip.file_index_urls.extend(read.index_urls + read.extra_index_urls + read.find_links)
            if path in pip.requirement_files:
                for requirement in read.requirements:
                    plan.add_requirement(requirement, pip)
            if read.missing:
                plan.unread_requirements.extend(read.missing)
            for nested in read.files[1:]:
                try:
                    nested_source = nested.resolve().relative_to(self.context.resolve()).as_posix()
                except ValueError:
                    continue
                relative = posixpath.relpath(nested_source, posixpath.dirname(context_source) or ".")
                nested_target = posixpath.normpath(posixpath.join(posixpath.dirname(target), relative))
                if nested_target not in self.provided:
                    spec = CopySpec("COPY", [], [nested_source], nested_target, nested_target, pip.line)
                    plan.builder_steps.append(Step("copy", pip.line, copy=spec, absolute=True))
                    self.provided[nested_target] = nested_source
            if any(is_local_target(target) for target in read.local_paths + read.editables):
                needs_sources = True
        if pip.sync:
            needs_sources = self._prepare_sync(pip) or needs_sources
        for target in pip.local_targets:
            project_path, extras = split_local_target(target)
            project_abs = posixpath.normpath(posixpath.join(pip.workdir, project_path))
            context_dir = self._locate_in_app_copies(project_abs, directory=True)
            skeleton = project_skeleton(self.context / context_dir) if context_dir is not None and self.context else None
            if skeleton is None or context_dir is None:  # (a skeleton means a context_dir)
                needs_sources = True
            else:
                self._copy_skeleton(context_dir, project_abs, skeleton, pip.line)
            if context_dir is not None and self.context is not None:
                project = read_project(self.context / context_dir)
                if project is not None:
                    _, extra_requirements = project.expand_extras(extras)
                    for requirement in [*project.dependencies, *extra_requirements]:
                        plan.add_requirement(requirement, pip)
                    pip.file_index_urls.extend(project.index_urls)
                    for extra in project.extras:
                        if extra not in plan.project_extras:
                            plan.project_extras.append(extra)
        if needs_sources:
            self._replicate_sources()

    def _prepare_sync(self, pip: PipCommand) -> bool:
        """`uv sync`: read the project in the working directory; True when the builder needs its sources."""
        plan = self.plan
        target = posixpath.join(pip.workdir, "pyproject.toml")
        source = self.provided.get(target) or self._locate_in_app_copies(target)
        if source is None or self.context is None:
            return True
        directory = self.context / (posixpath.dirname(source) or ".")
        project = read_project(directory)
        if project is None:
            return True
        extras = set(pip.option_values("--extra"))
        if pip.has("--all-extras"):
            extras = set(project.extras)
        _, extra_requirements = project.expand_extras(extras)
        for requirement in [*project.dependencies, *extra_requirements]:
            plan.add_requirement(requirement, pip)
        pip.file_index_urls.extend(project.index_urls)
        try:
            data = tomllib.loads(read_text(directory / "pyproject.toml", what="pyproject.toml"))
        except (BadInput, tomllib.TOMLDecodeError):
            return True
        uv = (data.get("tool") or {}).get("uv") or {}
        groups = data.get("dependency-groups") or {}
        pip.dev_group = bool(groups.get("dev") or uv.get("dev-dependencies"))
        is_package = uv.get("package", "build-system" in data) is not False
        if not is_package:
            return False
        skeleton = project_skeleton(directory)
        if skeleton is None:
            return True
        self._copy_skeleton(posixpath.dirname(source) or ".", pip.workdir, skeleton, pip.line)
        return False

    def _copy_skeleton(self, context_dir: str, project_abs: str, skeleton: list[str], line: int) -> None:
        """COPY only what building the project needs (metadata files, package dirs), as the audits do."""
        files = [entry for entry in skeleton if not entry.endswith("/")]
        dirs = [entry for entry in skeleton if entry.endswith("/")]
        prefix = "" if context_dir in (".", "") else context_dir.rstrip("/") + "/"
        dest = project_abs.rstrip("/") + "/"
        if files:
            spec = CopySpec("COPY", [], [prefix + name for name in files], dest, dest, line)
            self.plan.builder_steps.append(Step("copy", line, copy=spec, absolute=True))
        for directory in dirs:
            target = dest + directory
            spec = CopySpec("COPY", [], [prefix + directory], target, target, line)
            self.plan.builder_steps.append(Step("copy", line, copy=spec, absolute=True))

    def _replicate_sources(self) -> None:
        plan = self.plan
        plan.sources_in_builder = True
        for step in plan.app_copies:
            if step.line in self.replicated or step.copy is None:
                continue
            assert step.line is not None  # an app COPY is an instruction of the Dockerfile
            self.replicated.add(step.line)
            spec = step.copy
            flags = [flag for flag in spec.flags if not flag.startswith("--chown")]
            plan.builder_steps.append(Step("copy", step.line, absolute=True, copy=CopySpec(
                spec.cmd, flags, spec.sources, spec.dest, spec.dest_abs, spec.line)))

    def _locate_in_app_copies(self, target: str, directory: bool = False) -> str | None:
        """The context path of the file (or dir) that an earlier app COPY put at `target`."""
        for step in reversed(self.plan.app_copies):
            spec = step.copy
            if spec is None or spec.cmd != "COPY" or len(spec.sources) != 1:
                continue
            dest = spec.dest_abs.rstrip("/") or "/"
            source = spec.sources[0].rstrip("/") or "."
            if target == dest:
                if directory:
                    return source
                if self.context is not None and (self.context / source).is_file():
                    return source  # COPY entrypoint.sh /app/entrypoint.sh
            if target.startswith(dest.rstrip("/") + "/"):
                relative = target[len(dest.rstrip("/")) + 1:]
                candidate = posixpath.normpath(posixpath.join(source, relative))
                if self.context is None:
                    return None
                path = self.context / candidate
                if (directory and path.is_dir()) or (not directory and path.is_file()):
                    return candidate
        return None


def project_skeleton(directory: Path) -> list[str] | None:
    """What `pip install .` of this project reads: metadata files and package dirs ("pkg/"), or None when the
    layout isn't explicit enough to tell (then the builder copies the sources whole)."""
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(read_text(pyproject, what="pyproject.toml"))
    except (BadInput, tomllib.TOMLDecodeError):
        return None
    files = [name for name in ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in") if (directory / name).is_file()]
    project = data.get("project")
    if not isinstance(project, dict):
        project = {}
    for key in ("readme", "license"):
        value = project.get(key)
        name = value if isinstance(value, str) and key == "readme" else (value.get("file") if isinstance(value, dict) else None)
        if isinstance(name, str) and (directory / name).is_file() and name not in files:
            files.append(name)
    backend = str((data.get("build-system") or {}).get("build-backend", ""))
    tool = data.get("tool")
    if not isinstance(tool, dict):
        tool = {}
    dirs: list[str] = []
    if backend.startswith("setuptools") or not backend:
        setuptools = tool.get("setuptools")
        if not isinstance(setuptools, dict):
            setuptools = {}
        for value in (setuptools.get("dynamic") or {}).values():
            names = value.get("file") if isinstance(value, dict) else None
            for name in [names] if isinstance(names, str) else (names or []):
                if isinstance(name, str) and (directory / name).is_file() and name not in files:
                    files.append(name)
        packages = setuptools.get("packages")
        if isinstance(packages, list):
            dirs = sorted({str(name).split(".")[0] for name in packages})
        elif isinstance(packages, dict) and isinstance(packages.get("find"), dict):
            find = packages["find"]
            include = find.get("include") or ["*"]
            exclude = find.get("exclude") or []
            for where in find.get("where") or ["."]:
                if where not in (".", ""):
                    dirs.append(where.strip("/"))
                    continue
                for entry in sorted(directory.iterdir()):
                    if (entry.is_dir() and (entry / "__init__.py").is_file()
                            and any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in include)
                            and not any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in exclude)):
                        dirs.append(entry.name)
        elif (directory / "src").is_dir():
            dirs = ["src"]
        for module in setuptools.get("py-modules") or []:
            if (directory / f"{module}.py").is_file():
                files.append(f"{module}.py")
    elif backend.startswith("hatchling"):
        wheel = (((tool.get("hatch") or {}).get("build") or {}).get("targets") or {}).get("wheel") or {}
        packages = wheel.get("packages")
        if isinstance(packages, list):
            dirs = [str(path).strip("/") for path in packages]
        elif (directory / "src").is_dir():
            dirs = ["src"]
    if not dirs or not all((directory / name).is_dir() for name in dirs):
        return None
    return files + [name.rstrip("/") + "/" for name in dirs]
