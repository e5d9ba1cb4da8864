"""The rewrites, one function each, and the analyze rules each one fixes.

Every transform takes the plan (and the options), changes it, and returns the Changes it made. A change
lists the rule ids it fixes; a change the others need but that fixes no rule (an editable install made
regular so the venv can move between stages) lists none. Nothing here writes text: `render` does.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from ..healthcheck import healthcheck_kind
from ..knowledge import HF_LIBRARIES, PULLS_TORCH, TORCH_FAMILY
from ..severity import Severity
from .options import Change, OptimizeOptions, advice
from .packages import (
    HEAVY_IMPORTS,
    SERVICE_FRAMEWORKS,
    import_name,
    is_build_only,
    runtime_for,
    split_packages,
)
from .plan import MODELS_DIR, Arg, BaseImage, Healthcheck, OptimizationPlan, PipCommand

TORCH_ARG = "TORCH_INDEX_URL"
DEFAULT_HEALTHCHECK_FLAGS = ["--interval=30s", "--timeout=10s", "--start-period=30s", "--retries=3"]
# Where each model cache variable points once models live in the /models volume.
MODEL_ENV_TARGETS = {
    "HF_HOME": MODELS_DIR,
    "TRANSFORMERS_CACHE": f"{MODELS_DIR}/hub",
    "HF_HUB_CACHE": f"{MODELS_DIR}/hub",
    "HUGGINGFACE_HUB_CACHE": f"{MODELS_DIR}/hub",
    "SENTENCE_TRANSFORMERS_HOME": f"{MODELS_DIR}/sentence-transformers",
    "TORCH_HOME": f"{MODELS_DIR}/torch",
    "HF_DATASETS_CACHE": f"{MODELS_DIR}/datasets",
}
OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
DEFAULT_HF_CACHES = ("/root/.cache/huggingface", "~/.cache/huggingface", "$HOME/.cache/huggingface", "${HOME}/.cache/huggingface")


@dataclass(frozen=True)
class Transform:
    name: str  # the key of its changes: `--skip NAME` turns it off
    rule_ids: tuple[str, ...]
    apply: Callable[[OptimizationPlan, OptimizeOptions], list[Change]]
    summary: str
    required: bool = False  # part of the multi-stage rewrite itself: its changes carry the key "multi-stage"

    @property
    def key(self) -> str:
        return REWRITE_KEY if self.required else self.name


REWRITE_KEY = "multi-stage"  # skipping it means no templated rewrite at all: only in-place fixes


# -- base image -----------------------------------------------------------------------------------------
def python_version(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    """Move the base Python, only when asked (`--python 3.12`)."""
    if not options.python or plan.base.python == options.python:
        return []
    old = plan.base.python or plan.base.tag or "latest"
    written = plan.builder_base
    variables = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", written)
    moved = False
    for index, line in enumerate(plan.global_args):
        for name in variables:
            match = re.match(rf"^(ARG\s+{name}=)(['\"]?)([^'\"\s]+)\2\s*$", line)
            if match and plan.base.python and match.group(3).startswith(plan.base.python):
                plan.global_args[index] = f"{match.group(1)}{options.python}"
                moved = True
    if not moved:
        plan.builder_base = plan.runtime_base = plan.base.with_python(options.python)
    rule_ids = ["BO110"] if plan.base.python and _version_tuple(plan.base.python) < _version_tuple(options.python) else []
    return [Change(rule_ids, f"base Python {old} -> {options.python} (asked with --python)", lines=[plan.dockerfile.final_stage.line])]


def slim_base(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    """Run on the `-slim` variant when the original used the full image; the builder keeps the full one."""
    runtime = BaseImage.parse(plan.runtime_base, plan.runtime_base)
    if not options.slim_base or "$" in plan.runtime_base or runtime.is_slim or not runtime.is_python:
        return []
    plan.runtime_base = runtime.slim()
    return [Change(["BO111"], f"runtime stage on {plan.runtime_base} instead of {runtime.resolved}; the builder keeps "
                              f"the full image for compilers and headers. Shared libraries the app loaded from the full "
                              f"image must now be listed in the runtime apt step", lines=[plan.dockerfile.final_stage.line])]


# -- multi-stage ----------------------------------------------------------------------------------------
def split_stages(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    build, runtime, unknown = split_packages(plan.apt_packages)
    for extra in plan.builder_extra_packages:
        if extra not in build:
            build.append(extra)
    plan.build_packages, plan.runtime_packages = build, runtime
    builder_only = [package for package in plan.apt_packages if is_build_only(package)]
    changes: list[Change] = []
    if builder_only:
        kept = [library for package in builder_only if (library := runtime_for(package))]
        text = f"multi-stage build: {', '.join(builder_only)} only in the builder stage"
        if kept:
            text += f"; the runtime stage gets the libraries they build against ({', '.join(kept)})"
        changes.append(Change(["BO102"], text, lines=list(plan.apt_lines)))
    if plan.uses_rust:
        changes.append(Change(["BO102"], "the Rust toolchain (rustup, cargo) only in the builder stage",
                              lines=[step.line for step in plan.builder_steps if step.kind == "run" and step.line]))
    if not changes:
        changes.append(Change([], f"dependencies installed into the venv {plan.venv} in a builder stage; the runtime "
                                  f"stage receives only the venv"))
    for package in unknown:
        plan.notes.append(f"{package}: no runtime library known for it; if the app loads its shared library at run "
                          f"time, add the runtime package to the runtime stage")
    return changes


# -- CPU torch ------------------------------------------------------------------------------------------
def cpu_torch(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    """Only where analyze says the CUDA build comes by default (cuda-torch above info): CUDA chosen on purpose (a cuXXX
    index, +cuXXX pins, a GPU base image) is kept, and said."""
    meant_cpu = {finding.line for finding in plan.findings if finding.rule == "BO103" and finding.severity > Severity.INFO}
    on_purpose = [finding for finding in plan.findings if finding.rule == "BO103" and finding.severity == Severity.INFO]
    changed: list[PipCommand] = []
    for pip in plan.pip_commands:
        brings = [name for name in pip.brings if name in TORCH_FAMILY or name in PULLS_TORCH]
        if not brings or _has_cpu_source(pip, plan) or pip.line not in meant_cpu:
            continue
        replaced = False
        for index, arg in enumerate(pip.args):
            if "download.pytorch.org/whl/cu" in arg.value or "download.pytorch.org/whl/rocm" in arg.value:
                prefix = arg.raw.split("=", 1)[0] + "=" if arg.raw.startswith("--") and "=" in arg.raw else ""
                pip.args[index] = Arg(prefix + "${" + TORCH_ARG + "}", prefix + "${" + TORCH_ARG + "}")
                replaced = True
            elif re.search(r"\+(cu\d+|rocm[\d.]+)\b", arg.value) and arg.value.split("=")[0].lower() in TORCH_FAMILY:
                new = re.sub(r"\+(cu\d+|rocm[\d.]+)\b", "+cpu", arg.raw)
                pip.args[index] = Arg(new, re.sub(r"\+(cu\d+|rocm[\d.]+)\b", "+cpu", arg.value))
        if not replaced:
            if pip.tool == "uv":
                # uv's default "first-index" strategy would take numpy & co from the torch index too.
                pip.insert("--index-strategy", "unsafe-best-match")
            pip.insert("--extra-index-url", "${" + TORCH_ARG + "}")
        changed.append(pip)
    if not changed:
        return [advice("cpu-torch", ["BO103"], "PyTorch's CPU build", f"CUDA kept: {finding.message}", [finding.line])
                for finding in on_purpose]
    plan.torch_index = True
    plan.ml = True
    names = sorted({name for pip in changed for name in pip.brings if name in TORCH_FAMILY or name in PULLS_TORCH})
    return [Change(["BO103"], f"PyTorch's CPU build ({', '.join(names)}): `ARG {TORCH_ARG}={options.torch_index_url}` added "
                              f"to pip as --extra-index-url, so torch comes from the CPU index and its other dependencies "
                              f"still from PyPI; a pin like torch==X resolves to X+cpu, which sorts above the CUDA build X. "
                              f"Pass --build-arg {TORCH_ARG}=<mirror> where the index is mirrored",
                   lines=sorted({pip.line for pip in changed}))]


def _has_cpu_source(pip: PipCommand, plan: OptimizationPlan) -> bool:
    urls = pip.option_values("--index-url", "-i", "--extra-index-url", "--find-links", "-f") + pip.file_index_urls
    for env in plan.env:
        urls.extend(value for key, value in env.pairs if key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL",
                                                                  "UV_EXTRA_INDEX_URL", "PIP_FIND_LINKS"))
    if any("/cpu" in url.lower() or TORCH_ARG in url for url in urls):
        return True
    if pip.has("--torch-backend"):
        return True
    torch_pins = [value for value in pip.packages if value.split("=")[0].split("[")[0].lower() in TORCH_FAMILY]
    return bool(torch_pins) and all("+cpu" in value for value in torch_pins) and not set(pip.brings) & PULLS_TORCH


# -- models ---------------------------------------------------------------------------------------------
def externalize_models(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    hf_libraries = [name for name in plan.python_packages if name in HF_LIBRARIES]
    if not (plan.models or plan.hf_env_lines or hf_libraries):
        return []
    plan.models_volume = True
    plan.ml = True
    changes: list[Change] = []
    original_caches = list(DEFAULT_HF_CACHES)
    rewritten: list[str] = []
    rewritten_lines: list[int] = []
    for env in plan.env:
        for index, (key, value) in enumerate(env.pairs):
            target = MODEL_ENV_TARGETS.get(key)
            if target and value != target and not _under(value, plan.volumes):
                original_caches.append(value)
                env.pairs[index] = (key, target)
                rewritten.append(f"{key}={value} -> {target}")
                rewritten_lines.append(env.line)
    uses_hf = bool(hf_libraries or plan.hf_env_lines or any(model.kind == "download" for model in plan.models))
    plan.set_hf_home = uses_hf and not any(key == "HF_HOME" for env in plan.env for key, _ in env.pairs)

    # Where the app finds weights that were copied or downloaded to a path of its own: a link into the volume.
    destinations: list[str] = []
    for model in plan.models:
        destination = model.destination
        if not destination or _under(destination, [MODELS_DIR]) or any(_under(destination, [cache]) for cache in original_caches if cache.startswith("/")):
            continue
        if destination not in destinations:
            destinations.append(destination)
    single = len(destinations) == 1 and all(model.source_is_dir for model in plan.models if model.destination == destinations[0])
    links: dict[str, str] = {}
    for destination in destinations:
        if destination == "/" or plan.final_workdir.startswith(destination.rstrip("/") + "/") or destination == plan.final_workdir:
            plan.notes.append(f"weights were copied into {destination}, which is the app directory itself: point the "
                              f"app at {MODELS_DIR} (no link made)")
            continue
        links[destination] = MODELS_DIR if single else f"{MODELS_DIR}/{posixpath.basename(destination.rstrip('/'))}"
    plan.model_links = list(links.items())
    for env in plan.env:
        for index, (key, value) in enumerate(env.pairs):
            for destination, target in links.items():
                if value == destination or value.startswith(destination.rstrip("/") + "/"):
                    new = target + value[len(destination.rstrip("/")):]
                    env.pairs[index] = (key, new)
                    rewritten.append(f"{key}={value} -> {new}")
                    rewritten_lines.append(env.line)

    downloads = [model for model in plan.models if model.kind == "download"]
    for model in plan.models:
        where = links.get(model.destination or "", MODELS_DIR)
        if model.kind == "copy":
            plan.model_mounts.append((model.sources[0] if len(model.sources) == 1 else ".", where))
            if model.inside_app_copy:
                text = (f"{model.sources[0]} (weights) no longer comes in with `{_one_line(model.original)}`: it is left "
                        f"out of the build context and mounted at {where} (bind mount in docker-compose.buildopt.yml)")
            else:
                text = (f"`{_one_line(model.original)}` removed: the weights are mounted at {where} (bind mount in "
                        f"docker-compose.buildopt.yml) instead of being copied into the image")
            if model.destination in links:
                text += f"; {model.destination} links there"
        else:
            command = _model_init_command(model, original_caches, plan.final_workdir)
            plan.model_init_commands.append(command)
            text = (f"`{_one_line(model.original)}` removed from the build: the one-off `model-init` service in "
                    f"docker-compose.buildopt.yml runs `{command}` into the {MODELS_DIR} volume")
        changes.append(Change(["BO104"], text, lines=[model.line]))
    if downloads:
        for env in plan.env:
            for key, value in env.pairs:
                if key in OFFLINE_ENV and value.strip().lower() not in ("", "0", "false", "no", "off"):
                    plan.model_init_env[key] = "0"
    if rewritten:
        changes.append(Change(["BO104"], f"model paths point at the {MODELS_DIR} volume: {'; '.join(rewritten)}",
                              lines=sorted(set(rewritten_lines))))
    if not changes:
        changes.append(Change([], f"HF_HOME={MODELS_DIR}, a VOLUME: models {', '.join(hf_libraries)} download at run "
                                  f"time persist in a volume, not in the container layer"))
    return changes


def _model_init_command(model, caches: list[str], final_workdir: str) -> str:
    command = _one_line(model.command or model.original)
    for cache in sorted(set(caches), key=len, reverse=True):
        command = command.replace(cache, MODELS_DIR)
    if model.workdir and model.workdir != final_workdir:
        command = f"cd {shlex.quote(model.workdir)} && {command}"
    return command


# -- pip ------------------------------------------------------------------------------------------------
def regular_install(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    """Installs go into the venv the runtime stage copies: --user/--system (which install beside the venv) go, and an
    editable install becomes a regular one unless the runtime stage has the project at the same path (then the
    venv's link to it still resolves, and the app keeps reading its files from the source tree as before)."""
    from ..requirements import is_local_target, split_local_target

    def in_runtime(target: str, workdir: str) -> bool:
        project = posixpath.normpath(posixpath.join(workdir, split_local_target(target)[0]))
        return any(step.copy is not None and _under(project, [step.copy.dest_abs.rstrip("/") or "/"])
                   for step in plan.app_copies)

    changes: list[Change] = []
    for pip in plan.pip_commands:
        for flag in ("--user", "--system"):
            pip.remove(flag)
        editable_lines = False
        index = 0
        while index < len(pip.args):
            arg = pip.args[index]
            if arg.value in ("-e", "--editable") and index + 1 < len(pip.args):
                target = pip.args[index + 1].value
                if is_local_target(target) and not in_runtime(target, pip.workdir):
                    del pip.args[index]
                    editable_lines = True
                    continue
            if arg.value.startswith("--editable="):
                value = arg.value.split("=", 1)[1]
                if not in_runtime(value, pip.workdir):
                    pip.args[index] = Arg(value, value)
                    editable_lines = True
            index += 1
        if editable_lines:
            changes.append(Change([], "editable install made regular (`pip install .`): the venv is copied into the runtime "
                                      "stage, where an editable install's link to the builder's sources would dangle",
                                  lines=[pip.line]))
    return changes


def core_install(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    """`pip install .[all]` -> `pip install .`: the core package (the audit: most optional dependencies are not
    needed at run time)."""
    changes: list[Change] = []
    if options.keep_all_extras:
        return changes
    for pip in plan.pip_commands:
        for position, arg in enumerate(pip.args):
            match = re.match(r"^(['\"]?)(.*?)\[([^\]]*)\]\1$", arg.raw)
            if not match:
                continue
            extras = [extra.strip() for extra in match.group(3).split(",")]
            from ..requirements import is_local_target

            if "all" in extras and is_local_target(arg.value):
                kept = [extra for extra in extras if extra != "all"]
                raw = match.group(2) + (f"[{','.join(kept)}]" if kept else "")
                pip.args[position] = Arg(raw, raw)
                dropped = ", ".join(plan.project_extras) if plan.project_extras else "all optional dependencies"
                changes.append(Change(["BO108"], f"`{arg.value}` -> `{raw}`: installs the core package without [all] ({dropped}); "
                                                 f"add back the extras the service imports, e.g. `{match.group(2)}[name]`",
                                      lines=[pip.line]))
    return changes


def uv_no_dev(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    """`uv sync` installs the dev dependency group unless told not to; it has no business in the image."""
    lines = []
    for pip in plan.pip_commands:
        if pip.sync and pip.dev_group and not pip.has("--no-dev", "--only-dev", "--no-default-groups", "--only-group"):
            pip.insert("--no-dev")
            lines.append(pip.line)
    if not lines:
        return []
    return [Change([], "uv sync --no-dev: the project's dev dependency group (tests, linters) stays out of the venv "
                       "the image ships", lines=lines)]


def pip_no_cache(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    if any(key == "PIP_NO_CACHE_DIR" and value.lower() not in ("0", "false", "no", "off", "")
           for env in plan.env for key, value in env.pairs):
        return []
    lines: list[int] = []
    for step in plan.builder_steps:
        cache_mounted = any("type=cache" in flag for flag in step.run_flags)
        for pip in step.pip_commands:
            if cache_mounted:
                continue
            flag = "--no-cache" if pip.tool == "uv" else "--no-cache-dir"
            if not pip.has(flag):
                pip.insert(flag)
                lines.append(pip.line)
    if not lines:
        return []
    return [Change(["BO105"], "pip install --no-cache-dir: downloaded wheels are not kept in a layer",
                   lines=sorted(set(lines)))]


# -- trimming the venv ----------------------------------------------------------------------------------
# Inside the venv's site-packages, what no running service reads. torch's wheel ships its C++ unit tests
# (torch/test, torch/bin/test_*: ~125 MB for 2.13.0+cpu) and C++ headers (torch/include, ~39 MB) that only
# extension builds use, and the runtime stage has no compiler anyway. torch_shm_manager stays: torch's
# multiprocessing uses it.
TORCH_TRIM_DIRS = ("test", "include")  # under site-packages/torch
TORCH_KEEP_BINARIES = ("torch_shm_manager",)


def trim_venv(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    if not options.trim or not plan.pip_commands:
        return []
    plan.trim_test_dirs = True
    described = ["test suites (site-packages/*/tests)"]
    runtime_text = " ".join([*(step.render() for step in plan.runtime_steps), plan.cmd or "", plan.entrypoint or "",
                             plan.healthcheck.render() if plan.healthcheck else "", plan.entry_script or ""])
    if not re.search(r"\bpip3?\b", runtime_text):
        plan.trim_pip = True  # nothing at run time installs packages; pip is ~16 MB of the venv
        described.append("pip itself")
        if "setuptools" not in plan.python_packages:
            # `python -m venv` seeds setuptools up to 3.11; the base image has its own, so the venv's copy can make
            # the optimized image larger than the original. Kept when an installed distribution requires it.
            plan.trim_setuptools = True
            described.append("setuptools (unless a package requires it)")
    if any(name in TORCH_FAMILY or name in PULLS_TORCH for name in plan.python_packages) or plan.torch_index:
        plan.trim_torch = True
        described.append("torch's C++ test binaries and headers (torch/test, torch/bin except torch_shm_manager, "
                         "torch/include)")
    return [Change([], f"the venv leaves out {' and '.join(described)}: files no running service reads "
                       f"(keep them with --no-trim)")]


# -- apt ------------------------------------------------------------------------------------------------
def apt_hygiene(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    if not plan.apt_packages:
        return []
    changes = []
    plan.apt_no_recommends = True
    if not plan.apt_flags_ok:
        changes.append(Change(["BO106"], "apt-get install --no-install-recommends in both stages",
                              lines=list(plan.apt_lines)))
    if not plan.apt_lists_removed:
        changes.append(Change(["BO107"], "apt-get clean && rm -rf /var/lib/apt/lists/* in the same RUN as the install",
                              lines=list(plan.apt_lines)))
    return changes


# -- layer order ----------------------------------------------------------------------------------------
def deps_before_app(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    if not plan.broad_copy_before_install:
        return []
    if plan.sources_in_builder:
        plan.notes.append("the builder still copies the sources before pip install: the install builds the project "
                          "itself (`pip install .`), which needs them (BO115 stays in the builder stage)")
        return []
    return [Change(["BO115"], "dependencies install from the requirement files alone, before the app files are "
                              "copied: a code change no longer re-runs pip", lines=list(plan.broad_copy_before_install))]


# -- user -----------------------------------------------------------------------------------------------
def non_root_user(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    original = (plan.original_user or "").split(":", 1)[0]
    was_root = original in ("", "root", "0")
    if plan.uid_from_original is None:
        plan.uid = options.uid
    if was_root and plan.user_plan is not None and not plan.user_plan.safe_once(models_moved=plan.models_volume):
        reason = f"USER not added: {plan.user_plan.reason(models_moved=plan.models_volume)}"
        return [advice("non-root", ["BO101"], f"run as a non-root user ({plan.user_name}, uid {plan.uid})", reason,
                       [plan.dockerfile.final_stage.line])]
    plan.non_root = True
    if was_root and plan.user_plan is not None:
        already = set(plan.own_dirs)
        plan.own_dirs = [path for path in plan.user_plan.own_dirs if path not in already]
    for step in plan.runtime_steps:
        if step.kind == "copy" and step.copy and not any(flag.startswith("--from") for flag in step.copy.flags):
            step.chown = plan.owner
    changes = []
    owned = plan.owned_dirs
    if was_root:
        text = f"runs as {plan.user_name} (uid {plan.uid}) instead of root"
        if owned:
            text += f"; it owns {', '.join(owned)}"
        changes.append(Change(["BO101"], text, lines=[plan.dockerfile.final_stage.line]))
    if plan.writable_dirs and (was_root or plan.dropped_chmods):
        text = f"writable directories {', '.join(plan.writable_dirs)} created and owned by {plan.user_name}"
        if plan.dropped_chmods:
            text += f" (chmod {', '.join(plan.dropped_chmods)} dropped: ownership replaces world-writable modes)"
        changes.append(Change(["BO119"], text, lines=list(plan.writable_dir_lines)))
    return changes


# -- healthcheck ----------------------------------------------------------------------------------------
def healthcheck(plan: OptimizationPlan, options: OptimizeOptions) -> list[Change]:
    current = plan.healthcheck
    if plan.healthcheck_none:
        return []
    if current is not None and _kind(current) == "ok":
        _ensure_probe_tool(plan, current.command)
        return []
    port = service_port(plan)
    celery_app = _celery_app(plan)
    probe: str | None = None
    what = ""
    if port is not None:
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5).close()"
        probe = json.dumps(["python", "-c", code])
        what = f"a TCP connection to port {port} (fails when nothing listens)"
    elif celery_app:
        probe = f'celery -A {celery_app} inspect ping -d "celery@$HOSTNAME" --timeout 10'
        what = "`celery inspect ping` of this worker (fails when the worker or its broker is down)"
    elif current is not None:
        module = _service_import(plan)
        if module:
            probe = json.dumps(["python", "-c", f"import {module}"])
            what = (f"`import {module}`: proves the venv and the service's main library load (no port to probe, so it "
                    f"can't prove the service is responsive)")
    if probe is None:
        if current is not None:
            plan.notes.append("the trivial HEALTHCHECK is kept: no port, worker or service library to derive a real "
                              "check from (BO114 not fixed)")
        else:
            plan.notes.append("no HEALTHCHECK added: no port, worker or service library to derive one from (BO113 not fixed)")
        return []
    flags = current.flags if current is not None else list(DEFAULT_HEALTHCHECK_FLAGS)
    line = current.line if current is not None else 0
    plan.healthcheck = Healthcheck(flags, probe, probe.startswith("["), "", line)
    if current is not None:
        return [Change(["BO114"], f"the HEALTHCHECK that could not fail is replaced by {what}", lines=[current.line])]
    return [Change(["BO113"], f"HEALTHCHECK added: {what}")]


def _kind(check: Healthcheck) -> str:
    if check.exec_form:
        try:
            return healthcheck_kind(["CMD", *json.loads(check.command)])
        except (ValueError, TypeError):
            return "ok"
    return healthcheck_kind(["CMD-SHELL", check.command])


def _ensure_probe_tool(plan: OptimizationPlan, command: str) -> None:
    """A kept healthcheck that calls curl/wget needs it in the runtime stage (the full image had it)."""
    for tool in ("curl", "wget"):
        if re.search(rf"(^|[\s\"'\[]){tool}\b", command) and tool not in plan.runtime_packages:
            runtime = BaseImage.parse(plan.runtime_base, plan.runtime_base)
            original = BaseImage.parse(plan.base.resolved, plan.base.resolved)
            if runtime.is_slim and not original.is_slim:
                plan.runtime_packages.append(tool)
                plan.notes.append(f"{tool} added to the runtime stage: the kept HEALTHCHECK calls it and the slim base lacks it")


def service_port(plan: OptimizationPlan) -> int | None:
    if plan.exposed_ports:
        return plan.exposed_ports[0]
    for text in (plan.entrypoint or "", plan.cmd or "", *(plan.entry_script or "").splitlines()):
        words = _words(text)
        for index, word in enumerate(words):
            if word in ("--port", "-p", "--server.port") and index + 1 < len(words) and words[index + 1].isdigit():
                return int(words[index + 1])
            match = re.match(r"^--(?:port|server\.port)=(\d+)$", word)
            if match:
                return int(match.group(1))
            if word in ("--bind", "-b") and index + 1 < len(words):
                match = re.search(r":(\d+)$", words[index + 1])
                if match:
                    return int(match.group(1))
    return None


def _celery_app(plan: OptimizationPlan) -> str | None:
    words = _words(plan.entrypoint or "") + _words(plan.cmd or "")
    if not any(word.rsplit("/", 1)[-1] == "celery" for word in words) or "worker" not in words:
        return None
    for index, word in enumerate(words):
        if word in ("-A", "--app") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--app="):
            return word.split("=", 1)[1]
    return None


def _service_import(plan: OptimizationPlan) -> str | None:
    from packaging.utils import canonicalize_name

    frameworks = [canonicalize_name(name) for name in SERVICE_FRAMEWORKS]
    for framework in frameworks:
        if framework in plan.python_packages:
            return import_name(framework)
    for name in plan.python_packages:
        if name not in HEAVY_IMPORTS:
            module = import_name(name)
            if module.replace(".", "").isidentifier():
                return module
    return None


def _words(text: str) -> list[str]:
    body = re.sub(r"^\s*(CMD|ENTRYPOINT)\s+", "", text)
    if body.startswith("["):
        try:
            return [str(word) for word in json.loads(body)]
        except ValueError:
            pass
    try:
        return shlex.split(body)
    except ValueError:
        return body.split()


# -- registry -------------------------------------------------------------------------------------------
TRANSFORMS: list[Transform] = [
    Transform("python-version", ("BO110",), python_version, "move the base Python, only with --python X.Y"),
    Transform("slim-base", ("BO111",), slim_base, "runtime stage on python:X-slim when the original used the full image"),
    Transform("multi-stage", ("BO102",), split_stages, "compilers, git, Rust and -dev packages only in the builder; their runtime libraries in the runtime stage", required=True),
    Transform("regular-install", (), regular_install, "installs go into the venv: editable installs made regular, --user/--system dropped", required=True),
    Transform("cpu-torch", ("BO103",), cpu_torch, "torch/torchvision/torchaudio (and libraries that pull them) from the CPU wheel index through ARG TORCH_INDEX_URL"),
    Transform("models-volume", ("BO104",), externalize_models, "weights out of the image: HF_HOME=/models VOLUME, links, compose mounts and a model-init service"),
    Transform("core-install", ("BO108",), core_install, "`pip install -e .[all]` -> `pip install .`"),
    Transform("uv-no-dev", (), uv_no_dev, "uv sync --no-dev when the project has a dev dependency group"),
    Transform("pip-no-cache", ("BO105",), pip_no_cache, "pip install --no-cache-dir (uv: --no-cache)"),
    Transform("trim-venv", (), trim_venv, "test suites, and torch's C++ tests and headers, left out of the venv"),
    Transform("apt-hygiene", ("BO106", "BO107"), apt_hygiene, "--no-install-recommends, apt-get clean and lists removed"),
    Transform("deps-first", ("BO115",), deps_before_app, "requirement files copied and installed before the app files", required=True),
    Transform("non-root", ("BO101", "BO119"), non_root_user, "a user with a fixed uid owning the app and writable dirs"),
    Transform("healthcheck", ("BO113", "BO114"), healthcheck, "a real HEALTHCHECK where one can be derived"),
]


def _under(path: str, roots) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _one_line(text: str) -> str:
    return re.sub(r"\s*\\\n\s*", " ", text).strip()


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])
