"""The instructions other than RUN: ARG, ENV, WORKDIR, USER, HEALTHCHECK, CMD, ENTRYPOINT, EXPOSE, VOLUME, COPY, ADD."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import PurePosixPath

from ... import shell
from ...dockerfile import Instruction, env_pairs, substitute
from ...files import read_text
from ...knowledge import MODEL_CACHE_ENV, is_weight_path
from ..plan import (
    _NOT_CHOWNABLE,
    _SYSTEM_DIRS,
    CopySpec,
    EnvStep,
    Healthcheck,
    ModelSource,
    Step,
)
from .installs import InstallReader

_REQUIREMENT_FILE = re.compile(
    r"^(requirements[\w.-]*\.(txt|in)|constraints[\w.-]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|poetry\.lock|uv\.lock|Pipfile(\.lock)?|MANIFEST\.in)$"
)

# Where model libraries keep their caches (and XDG_CACHE_HOME, under which they default to it).
HF_ENV_KEYS = frozenset(MODEL_CACHE_ENV) | {"HF_DATASETS_CACHE", "XDG_CACHE_HOME"}


class InstructionReader(InstallReader):
    def _on_from(self, ins: Instruction) -> None:
        return None

    def _on_arg(self, ins: Instruction) -> None:
        self.plan.stage_args.append(self._source(ins))
        for key, value in _arg_pairs(ins).items():
            self.variables.setdefault(key, value or "")

    def _on_env(self, ins: Instruction) -> None:
        pairs = list(env_pairs(ins).items())
        kept: list[tuple[str, str]] = []
        builder = False
        for key, value in pairs:
            self.variables[key] = substitute(value, self.variables)
            if key == "PATH":
                parts = value.split(":")
                venv_parts = [p for p in parts if p.endswith("/bin") and ("venv" in p or p == f"{self.plan.venv}/bin")]
                if venv_parts:
                    self.plan.venv = venv_parts[0][: -len("/bin")]
                    parts = [p for p in parts if p not in venv_parts]
                if any(".cargo/bin" in p for p in parts):
                    self.plan.uses_rust = True
                    builder = True
                    kept.append((key, ":".join(parts)))
                    continue
                if parts in (["$PATH"], ["${PATH}"], []):
                    continue
                kept.append((key, ":".join(parts)))
                continue
            if key == "VIRTUAL_ENV":
                self.plan.venv = value.rstrip("/") or self.plan.venv
                continue
            if key in HF_ENV_KEYS:
                self.plan.hf_env_lines.append(ins.line)
            if key.startswith(("PIP_", "UV_", "CARGO", "RUSTUP")):
                builder = True
            kept.append((key, value))
        if kept:
            only_cargo = all(k == "PATH" and ".cargo/bin" in v for k, v in kept)
            self.plan.env.append(EnvStep(kept, ins.line, self._source(ins), builder=builder, runtime=not only_cargo,
                                         original_pairs=list(pairs)))

    def _on_workdir(self, ins: Instruction) -> None:
        self.workdir = self._resolve(ins.value[0] if ins.value else "/")
        self.plan.workdirs.append(self.workdir)
        text = self._source(ins)
        self.plan.builder_steps.append(Step("raw", ins.line, text=text))
        self.plan.runtime_steps.append(Step("raw", ins.line, text=text))

    def _on_user(self, ins: Instruction) -> None:
        self.plan.original_user = (ins.value[0] if ins.value else "").strip()

    def _on_healthcheck(self, ins: Instruction) -> None:
        if ins.value and ins.value[0].upper() == "NONE":
            self.plan.healthcheck_none = True
            self.plan.healthcheck = None
            return
        source = self._source(ins)
        match = re.search(r"\bCMD\b", source)
        command = source[match.end():].strip() if match else " ".join(ins.value[1:])
        command = re.sub(r"\s*\\\n\s*", " ", command)
        flags = list(ins.flags)
        self.plan.healthcheck = Healthcheck(flags, command, command.startswith("["), source, ins.line)
        self.plan.healthcheck_none = False

    def _on_cmd(self, ins: Instruction) -> None:
        self.plan.cmd = re.sub(r"\s*\\\n\s*", " ", self._source(ins))

    def _on_entrypoint(self, ins: Instruction) -> None:
        self.plan.entrypoint = re.sub(r"\s*\\\n\s*", " ", self._source(ins))

    def _on_expose(self, ins: Instruction) -> None:
        self.plan.tail.append(self._source(ins))
        for value in ins.value:
            port = substitute(value, self.variables).split("/")[0]
            if port.isdigit():
                self.plan.exposed_ports.append(int(port))

    def _on_volume(self, ins: Instruction) -> None:
        self.plan.tail.append(self._source(ins))
        for value in ins.value:
            self.plan.volumes.append(self._resolve(value))

    def _on_copy(self, ins: Instruction) -> None:
        self._copy(ins)

    def _on_add(self, ins: Instruction) -> None:
        self._copy(ins)

    def _copy(self, ins: Instruction) -> None:
        plan = self.plan
        values = list(ins.value)
        if len(values) < 2:
            self.unsupported.append(f"line {ins.line}: {ins.cmd} without a destination")
            return
        sources, dest = values[:-1], values[-1]
        dest_abs = self._resolve(dest)
        if dest.endswith("/") or dest in (".", "./"):
            dest_abs = dest_abs.rstrip("/") + "/"
        spec = CopySpec(ins.cmd, list(ins.flags), sources, dest, dest_abs, ins.line)
        from_flag = ins.flag("from")
        if from_flag is not None:
            # An image used as a file source (e.g. the uv binary): the builder needs it when uv installs.
            step = Step("copy", ins.line, copy=spec)
            if "uv" in from_flag.split("/")[-1].split(":")[0]:
                plan.uses_uv = True
                plan.builder_steps.append(step)
            else:
                plan.runtime_steps.append(step)
            return
        if ins.cmd == "ADD" and any("://" in source for source in sources):
            url = sources[0]
            if len(sources) == 1 and is_weight_path(url):
                target = dest_abs if not dest_abs.endswith("/") else dest_abs + url.rsplit("/", 1)[-1]
                plan.models.append(ModelSource(
                    "download", ins.line, self._source(ins), destination=target, workdir=self.workdir,
                    command=f"python -c \"import urllib.request; urllib.request.urlretrieve('{url}', '{target}')\"",
                    source_is_dir=False,
                ))
                plan.runtime_steps.append(Step("model", ins.line, text=self._source(ins)))
                return
            plan.runtime_steps.append(Step("copy", ins.line, copy=spec))
            return
        if all(_REQUIREMENT_FILE.match(PurePosixPath(source).name) for source in sources):
            builder_flags = [flag for flag in spec.flags if not flag.startswith("--chown")]  # no such user there
            plan.builder_steps.append(Step("copy", ins.line, copy=CopySpec(
                spec.cmd, builder_flags, spec.sources, spec.dest, spec.dest_abs, spec.line)))
            # The runtime keeps them too: tiny, and `uv run`, version lookups or the app may read them.
            plan.runtime_steps.append(Step("copy", ins.line, copy=spec, requirement_copy=True))
            for source in sources:
                target = dest_abs + PurePosixPath(source).name if dest_abs.endswith("/") or len(sources) > 1 else dest_abs
                self.provided[posixpath.normpath(target)] = source
            return
        if self._is_model_copy(sources, dest_abs):
            is_dir = not (len(sources) == 1 and is_weight_path(sources[0]))
            if self.context is not None and len(sources) == 1:
                candidate = self.context / sources[0]
                if candidate.exists():
                    is_dir = candidate.is_dir()
            destination = dest_abs.rstrip("/") or "/"
            if not is_dir and dest_abs.endswith("/"):
                destination = dest_abs + PurePosixPath(sources[0]).name
            plan.models.append(ModelSource(
                "copy", ins.line, self._source(ins), sources=sources, destination=destination,
                workdir=self.workdir, source_is_dir=is_dir,
            ))
            plan.runtime_steps.append(Step("model", ins.line, text=self._source(ins)))
            return
        plan.runtime_steps.append(Step("copy", ins.line, copy=spec))

    def _record_venv(self, args: list[str]) -> None:
        paths = [arg for arg in args if not arg.startswith("-")]
        if paths:
            self.plan.venv = self._resolve(paths[0])

    def _record_user(self, argv: list[str]) -> None:
        names = [word for i, word in enumerate(argv[1:], start=1) if not word.startswith("-") and argv[i - 1] not in (
            "-u", "--uid", "-g", "--gid", "-G", "--groups", "-d", "--home", "--home-dir", "-s", "--shell", "-c", "--comment",
            "--gecos", "--ingroup", "-h", "-k", "--skel")]
        if names:
            self.plan.user_name = names[-1]
        for flag in ("-g", "--gid", "--ingroup"):
            if flag in argv and argv.index(flag) + 1 < len(argv) and not argv[argv.index(flag) + 1].isdigit():
                self.plan.user_group = argv[argv.index(flag) + 1]
        if self.plan.user_group is None:
            if shell.program(argv) == "adduser" and "--system" in argv and "--group" not in argv:
                self.plan.user_group = "nogroup"  # Debian's adduser --system without --group
            elif shell.program(argv) == "useradd" and ("-N" in argv or "--no-user-group" in argv):
                self.plan.user_group = "users"
        for flag in ("-u", "--uid"):
            if flag in argv and argv.index(flag) + 1 < len(argv) and argv[argv.index(flag) + 1].isdigit():
                self.plan.uid = int(argv[argv.index(flag) + 1])
                self.plan.uid_from_original = self.plan.uid

    def _drop_covered_requirement_copies(self) -> None:
        """A runtime copy of requirements.txt is redundant when a later `COPY . <same dir>` brings it again."""
        steps = self.plan.runtime_steps
        kept = []
        for index, step in enumerate(steps):
            if step.requirement_copy and step.copy is not None:
                directory = step.copy.dest_abs if step.copy.dest_abs.endswith("/") else posixpath.dirname(step.copy.dest_abs) + "/"
                if any(later.copy is not None and later in self.plan.app_copies and later.copy.sources in (["."], ["./"])
                       and later.copy.dest_abs.rstrip("/") + "/" == directory for later in steps[index + 1:]):
                    continue
            kept.append(step)
        self.plan.runtime_steps = kept

    def _entry_script(self) -> str | None:
        """The text of the script CMD/ENTRYPOINT starts (`./entrypoint.sh`), read from the context."""
        for text in (self.plan.entrypoint, self.plan.cmd):
            if not text:
                continue
            body = re.sub(r"^\s*(CMD|ENTRYPOINT)\s+", "", text)
            try:
                words = json.loads(body) if body.startswith("[") else body.split()
            except ValueError:
                continue
            words = [str(word) for word in words if str(word) not in ("sh", "bash", "/bin/sh", "/bin/bash", "-c")]
            if not words or not words[0].endswith(".sh"):
                continue
            target = posixpath.normpath(posixpath.join(self.plan.final_workdir, words[0]))
            source = self._locate_in_app_copies(target)
            if source is not None and self.context is not None:
                path = self.context / source
                if path.stat().st_size < 100_000:
                    return read_text(path, errors="replace", what="script")
        return None

    def _writable(self, path: str) -> bool:
        """A dir the app may write to that the runtime stage can create itself: literal, not a system path."""
        if "`" in path:
            return False
        resolved = self._resolve(path)  # ENV and ARG values substituted; a variable only a RUN sets stays
        return "$" not in resolved and resolved not in _NOT_CHOWNABLE and not resolved.startswith(_SYSTEM_DIRS)

    def _add_writable(self, path: str) -> bool:
        """Record a dir the app may write to; False when it is a system path left to the original command."""
        if not self._writable(path):
            return False
        resolved = self._resolve(path)
        if resolved not in self.writable_seen:
            self.writable_seen.add(resolved)
            self.plan.writable_dirs.append(resolved)
        if not self.plan.writable_dir_lines or self.plan.writable_dir_lines[-1] != self.line:
            self.plan.writable_dir_lines.append(self.line)  # lines come in file order
        return True


def _arg_pairs(ins: Instruction) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    for token in ins.value:
        key, sep, value = token.partition("=")
        pairs[key] = value.strip("\"'") if sep else None
    return pairs
