"""RUN: each unit of the shell line goes to the builder, the runtime, both, or is dropped (apt, users, mkdir...)."""

from __future__ import annotations

import re

from ... import shell
from ...dockerfile import Instruction
from ...knowledge import BUILD_COMMANDS
from ..plan import (
    Arg,
    ModelSource,
    Piece,
    PipCommand,
    Step,
)
from .instructions import InstructionReader
from .models import _download_destination

_PIP_OUTSIDE_VENV = frozenset({"--target", "--prefix", "--root"})

_OTHER_INSTALLERS = frozenset({"poetry", "pipenv", "pdm", "conda", "mamba", "micromamba", "pipx", "hatch", "rye",
                               "pip-sync", "easy_install"})

_INSTALL_WORDS = frozenset({"install", "sync", "add", "create", "update", "env"})

_WORLD_WRITABLE = re.compile(r"^(0?[0-7]?[0-7][0-7][2367]|[ugoa]*\+[rwxXst]*w[rwxXst]*|[oa]=\S*w\S*)$")


class RunReader(InstructionReader):
    def _on_run(self, ins: Instruction) -> None:
        plan = self.plan
        source = self._source(ins)
        if ins.json_form:
            argv = list(ins.value)
            if argv and (shell.pip_invocation(argv) or shell.package_invocation(argv)):
                self.unsupported.append(f"line {ins.line}: an exec-form RUN that installs packages")
            else:
                plan.runtime_steps.append(Step("raw", ins.line, text=source))
            return
        command_text = shell_part(source)
        script = shell.scan(command_text)
        if script.complex:
            downloads = [unit for unit in script.units if self._is_model_download(unit, unit.text(command_text))]
            if downloads and not re.search(r"\b(apt-get|pip3?|useradd)\b", command_text):
                # `if [ "$DOWNLOAD_MODEL" = true ]; then python download_model.py ...; fi`: the whole RUN is the step.
                argv = downloads[0].argv
                while argv and argv[0] in ("then", "do", "else", "elif", "if", "!", "{", "("):
                    argv = argv[1:]
                plan.models.append(ModelSource(
                    "download", ins.line, _plain(command_text), destination=_download_destination(argv, self.workdir),
                    command=_plain(command_text), workdir=self.workdir,
                ))
                plan.runtime_steps.append(Step("model", ins.line, text=source))
                return
            if re.search(r"\b(apt-get|apt|pip3?|uv|venv|useradd)\b", command_text):
                self.unsupported.append(f"line {ins.line}: a RUN with shell control flow around installs")
            else:
                plan.runtime_steps.append(Step("raw", ins.line, text=source))
            return
        run_flags = list(ins.flags)
        self.run_has_apt_update = self.run_removes_lists = False
        builder: list[Piece] = []
        runtime: list[Piece] = []
        shared: set[int] = set()  # cd/export/set: replayed in whichever part keeps real commands
        for unit in script.units:
            text = unit.text(command_text)
            kind = self._classify(unit, ins.line, text)
            if kind == "pip":
                pip = self._pip_command(unit, ins.line)
                if pip is not None:
                    builder.append(Piece(pip=pip, joiner=unit.joiner or "&&"))
            elif kind == "builder":
                builder.append(Piece(text=text, joiner=unit.joiner or "&&"))
            elif kind == "both":  # a tool both stages run (uv installed with its script)
                builder.append(Piece(text=text, joiner=unit.joiner or "&&"))
                runtime.append(Piece(text=text, joiner=unit.joiner or "&&"))
            elif kind == "shared":
                for part in (builder, runtime):
                    piece = Piece(text=text, joiner="&&")
                    shared.add(id(piece))
                    part.append(piece)
            elif kind == "runtime":
                runtime.append(Piece(text=text, joiner=unit.joiner or "&&"))
        if self.run_has_apt_update and not self.run_removes_lists:
            plan.apt_lists_removed = False
        if any(id(piece) not in shared for piece in builder):
            for pip in [piece.pip for piece in builder if piece.pip]:
                self._prepare_builder_for(pip)
            plan.builder_steps.append(Step("run", ins.line, pieces=_trim_shared(builder, shared), run_flags=run_flags))
        if any(id(piece) not in shared for piece in runtime):
            if len(runtime) == len(script.units):
                plan.runtime_steps.append(Step("raw", ins.line, text=source))  # untouched: keep it as written
            else:
                flags = [flag for flag in run_flags if "type=cache" not in flag]
                plan.runtime_steps.append(Step("run", ins.line, pieces=_trim_shared(runtime, shared), run_flags=flags))

    def _classify(self, unit: shell.Unit, line: int, joined: str) -> str:
        """drop | pip | builder | shared | runtime; records packages, dirs, users and models on the way."""
        plan = self.plan
        argv = unit.argv
        if not argv:
            return "runtime"
        program = shell.program(argv)
        apt = shell.package_invocation(argv)
        if apt is not None and apt.is_apt:
            if apt.action == "install":
                if any("$" in package or "`" in package for package in apt.packages):
                    self.unsupported.append(f"line {line}: apt packages named through variables")
                for package in apt.packages:
                    if package not in self.apt_seen:
                        self.apt_seen.add(package)
                        plan.apt_packages.append(package)
                plan.apt_lines.append(line)
                if not apt.no_recommends:
                    plan.apt_flags_ok = False
                return "drop"
            if apt.action == "update":
                self.run_has_apt_update = True
            if apt.action in ("update", "clean", "autoclean", "autoremove", "purge", "remove", "upgrade", "dist-upgrade"):
                return "drop"
            return "runtime"
        if program == "rm" and any(path.startswith(("/var/lib/apt/lists", "/var/cache/apt", "/root/.cache", "~/.cache", "/tmp/*")) for path in argv[1:]):
            if any(path.startswith("/var/lib/apt/lists") for path in argv[1:]):
                self.run_removes_lists = True
            return "drop"
        if program in _OTHER_INSTALLERS and any(word in _INSTALL_WORDS for word in argv[1:3]):
            # They install into an environment of their own, from files the template can't place for them.
            self.unsupported.append(f"line {line}: `{program} {argv[1]}` installs outside the venv the template builds")
            return "runtime"
        pip = shell.pip_invocation(argv)
        if pip is not None and pip.tool == "pip":
            if pip.subcommand == "install":
                return "pip"
            if pip.subcommand in ("cache", "config"):
                return "drop"
            return "builder"
        if program == "uv":
            if argv[1:3] == ["pip", "install"]:
                plan.uses_uv = True
                return "pip"
            if len(argv) > 1 and argv[1] == "venv":
                self._record_venv(argv[2:])
                return "drop"
            if len(argv) > 1 and argv[1] == "sync":
                plan.uses_uv = True
                return "pip"
            return "builder"
        if "astral.sh/uv" in joined or re.search(r"/\.local/bin/uvx?\b|/\.cargo/bin/uvx?\b", joined):
            plan.uses_uv = True
            if "curl" in joined and "curl" not in plan.builder_extra_packages:
                plan.builder_extra_packages.append("curl")
            return "both"
        if (shell.is_python(argv[0]) and argv[1:3] == ["-m", "venv"]) or program == "virtualenv":
            self._record_venv(argv[3:] if program != "virtualenv" else argv[1:])
            return "drop"
        if any(cmd.argv and cmd.argv[0].rsplit("/", 1)[-1] in ("curl", "wget") for cmd in unit.commands) and "rustup" in joined:
            plan.uses_rust = True
            if "curl" in joined and "curl" not in plan.builder_extra_packages:
                plan.builder_extra_packages.append("curl")
            return "builder"
        if program in ("rustup", "cargo") and not (len(argv) > 1 and argv[1] in ("build", "install")):
            plan.uses_rust = True
            return "builder"
        if shell.is_python(argv[0]) and argv[1:4] == ["-m", "spacy", "download"]:
            return "builder"  # it pip-installs the model package: into the venv, after the dependencies
        if self._is_model_download(unit, joined):
            plan.models.append(ModelSource(
                "download", line, joined, destination=_download_destination(argv, self.workdir),
                command=joined, workdir=self.workdir,
            ))
            plan.runtime_steps.append(Step("model", line, text=f"RUN {joined}"))
            return "drop"
        if program == "git" and len(argv) > 1 and argv[1] == "clone":
            if "git" not in plan.builder_extra_packages:
                plan.builder_extra_packages.append("git")
            return "builder"
        if program in ("cd", "export", "set", "umask"):
            return "shared"
        if program == "mkdir":
            paths = [path for path in argv[1:] if not path.startswith("-") and not _is_mode_value(argv, path)]
            if paths and all(self._writable(path) for path in paths):
                for path in paths:
                    self._add_writable(path)
                    if self._resolve(path) not in self.made_seen:
                        self.made_seen.add(self._resolve(path))
                        plan.made_dirs.append(self._resolve(path))
                return "drop"  # the runtime stage creates (and, as non-root, owns) them up front
            return "runtime"  # e.g. mkdir -p /usr/share/x, or `mkdir /etc/x /data`: kept as written, whole
        if program in ("useradd", "adduser", "groupadd", "addgroup", "usermod", "groupmod"):
            if program in ("useradd", "adduser"):
                self._record_user(argv)
            plan.user_commands.append(joined)  # kept as written: home, shell and groups stay the original's
            return "drop"
        if program == "chmod":
            operands = [word for word in argv[1:] if not word.startswith("-") or _WORLD_WRITABLE.match(word)]
            if len(operands) >= 2 and _WORLD_WRITABLE.match(operands[0]):
                paths = [self._resolve(path) for path in operands[1:]]
                if all(path in self.writable_seen for path in paths):
                    plan.dropped_chmods.append(f"{operands[0]} {' '.join(operands[1:])}")
                    return "drop"
            return "runtime"
        if program == "chown":
            return "runtime"  # kept as written: it may name files, and users of the original's choosing
        if program in BUILD_COMMANDS:
            self.unsupported.append(f"line {line}: `{_plain(joined)[:60]}` builds something outside pip")
            return "runtime"
        return "runtime"

    def _pip_command(self, unit: shell.Unit, line: int) -> PipCommand | None:
        if len(unit.commands) > 1:
            self.unsupported.append(f"line {line}: a pip install inside a pipeline")
            return None
        words = unit.commands[0].words
        values = [word.value for word in words]
        # Leading VAR=value assignments stay with the launcher.
        start = 0
        while start < len(values) - 1 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", values[start]):
            start += 1
        call = shell.pip_invocation(values[start:])
        if call is None:
            self.unsupported.append(f"line {line}: a pip command this model can't read")
            return None
        install_at = start + call.subcommand_index
        launcher = [word.raw for word in words[: install_at + 1]]
        args = [Arg(word.raw, word.value) for word in words[install_at + 1:]]
        pip = PipCommand(launcher, args, call.tool, line, self.workdir, sync=call.subcommand == "sync")
        bad = [option for option in call.options if option in _PIP_OUTSIDE_VENV]
        if bad:
            self.unsupported.append(f"line {line}: pip install {bad[0]} installs outside the venv")
        return pip


def _trim_shared(pieces: list[Piece], shared: set[int]) -> list[Piece]:
    """Drop cd/export pieces that come after the last real command: they no longer do anything."""
    last = max((i for i, piece in enumerate(pieces) if id(piece) not in shared), default=-1)
    return pieces[: last + 1]


def shell_part(source: str) -> str:
    """The shell part of a RUN as written: keyword and flags removed, continuations kept."""
    match = re.match(r"^\s*RUN\b", source, re.IGNORECASE)
    position = match.end() if match else 0
    while True:
        skipped = re.match(r"(?:[ \t]+|\\\n)+", source[position:])
        if skipped:
            position += skipped.end()
        flag = re.match(r"--[^\s\\]+", source[position:])
        if not flag:
            break
        position += flag.end()
    return source[position:]


def _is_mode_value(argv: list[str], word: str) -> bool:
    index = argv.index(word)
    return index > 0 and argv[index - 1] in ("-m", "--mode")


def _plain(text: str) -> str:
    return re.sub(r"\s*\\\n\s*", " ", text).strip()
