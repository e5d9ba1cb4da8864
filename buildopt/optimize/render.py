"""Write a plan out through the Jinja2 templates: the Dockerfile, the compose snippet, the .dockerignore.

Templates ship inside the package (buildopt/templates -> the repo's templates/ dir) and are read with
importlib.resources, so an installed wheel renders exactly what the repo does.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from importlib.resources import files
from pathlib import Path

from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateNotFound

from ..files import read_text
from .options import OptimizeOptions
from .plan import MODELS_DIR, OptimizationPlan
from .transforms import TORCH_ARG, TORCH_KEEP_BINARIES, TORCH_TRIM_DIRS

SERVICE_TEMPLATE = "python-service.Dockerfile.j2"
ML_TEMPLATE = "python-ml.Dockerfile.j2"
COMPOSE_TEMPLATE = "docker-compose.buildopt.yml.j2"
DOCKERIGNORE_TEMPLATE = "optimized.dockerignore.j2"
COMPOSE_NAME = "docker-compose.buildopt.yml"
# Starting points for deploy.resources.limits; the audits give 1G / 1 CPU for a plain service.
LIMITS_SERVICE = ("1g", "1.0")
LIMITS_ML = ("4g", "2.0")
_HEALTHCHECK_OPTIONS = {"interval": "interval", "timeout": "timeout", "start-period": "start_period",
                        "retries": "retries", "start-interval": "start_interval"}


def template_dir():
    return files("buildopt") / "templates" / "dockerfiles"


class _PackageLoader(BaseLoader):
    def get_source(self, environment, template):
        path = template_dir() / template
        if not path.is_file():
            raise TemplateNotFound(template)
        return path.read_text(encoding="utf-8"), None, lambda: True


def environment() -> Environment:
    env = Environment(
        loader=_PackageLoader(),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["dirname"] = lambda path: posixpath.dirname(path.rstrip("/")) or "/"
    # Compose interpolates $VAR in every value: `$$` keeps a `$` for the container's shell.
    env.filters["compose"] = lambda value: _compose_escape(value)
    # YAML accepts JSON scalars and flow lists; plain json.dumps keeps quotes readable (tojson escapes ' as \u0027).
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def template_name(plan: OptimizationPlan) -> str:
    return ML_TEMPLATE if plan.ml else SERVICE_TEMPLATE


def render_dockerfile(plan: OptimizationPlan, options: OptimizeOptions) -> str:
    values = {
        "global_args": plan.global_args,
        "builder_base": plan.builder_base,
        "runtime_base": plan.runtime_base,
        "stage_args": plan.stage_args,
        "builder_env": [env.render() for env in _builder_env(plan)],
        "build_packages": plan.build_packages,
        "venv": plan.venv,
        "builder_steps": [step.render() for step in plan.builder_steps],
        "runtime_env": [env.render() for env in plan.env if env.runtime],
        "runtime_packages": plan.runtime_packages,
        "apt_no_recommends": plan.apt_no_recommends,
        "runtime_setup": runtime_setup(plan),
        "runtime_ownership": runtime_ownership(plan),
        "non_root": plan.non_root,
        "user": plan.user_name,
        "runtime_steps": [step.render() for step in plan.runtime_steps if not (step.kind == "model" and plan.models_volume)],
        "tail": plan.tail,
        "trim_test_dirs": plan.trim_test_dirs,
        "trim_torch": plan.trim_torch,
        "trim_pip": plan.trim_pip,
        "trim_setuptools": plan.trim_setuptools,
        "trim_torch_dirs": TORCH_TRIM_DIRS,
        "torch_keep_binaries": TORCH_KEEP_BINARIES,
        # HEALTHCHECK NONE turns off a check the base image may define: the rewrite keeps it
        "healthcheck": plan.healthcheck.render() if plan.healthcheck else ("HEALTHCHECK NONE" if plan.healthcheck_none else None),
        "entrypoint": plan.entrypoint,
        "cmd": plan.cmd,
        # ML template
        "torch_index": plan.torch_index,
        "torch_arg": TORCH_ARG,
        "torch_index_url": options.torch_index_url,
        "set_hf_home": plan.set_hf_home,
        "models_dir": MODELS_DIR,
        "models_volume": plan.models_volume,
    }
    text = environment().get_template(template_name(plan)).render(**values)
    return re.sub(r"\n{3,}", "\n\n", text).lstrip("\n")


def runtime_setup(plan: OptimizationPlan) -> list[str]:
    """The runtime stage's first RUN: the user (the original's own commands when it made one), the directories the
    original's dropped `mkdir`s made (later steps may write into them), and the links from model paths into the
    volume."""
    commands: list[str] = []
    if plan.user_commands:
        commands += plan.user_commands
    elif plan.non_root:
        commands += [f"groupadd --system --gid {plan.uid} {plan.user_name}",
                     f"useradd --system --no-log-init --uid {plan.uid} --gid {plan.user_name} --create-home "
                     f"--skel /nonexistent --shell /usr/sbin/nologin {plan.user_name}"]
    owned = set(plan.owned_dirs)
    early = [path for path in plan.made_dirs if path in owned] + ([MODELS_DIR] if plan.models_volume else [])
    if early:
        commands.append("mkdir -p " + " ".join(shlex.quote(path) for path in early))
    for link, target in plan.model_links:
        commands += [f"mkdir -p {shlex.quote(posixpath.dirname(link.rstrip('/')) or '/')}",
                     f"ln -s {shlex.quote(target)} {shlex.quote(link)}"]
    return commands


def runtime_ownership(plan: OptimizationPlan) -> list[str]:
    """The last RUN before USER: every directory the app writes, created if missing (after the original's own steps,
    so a `mkdir` without -p there still works) and owned by the user."""
    if not plan.non_root or not plan.owned_dirs:
        return []
    dirs = " ".join(shlex.quote(path) for path in plan.owned_dirs)
    return [f"mkdir -p {dirs}", f"chown {plan.owner} {dirs}"]


def _builder_env(plan: OptimizationPlan):
    """The original ENVs the builder needs: install settings (PIP_*, UV_*, cargo's PATH) and every variable
    its steps (or those ENVs) refer to, like `WORKDIR $APP_HOME`."""
    text = "\n".join(step.render() for step in plan.builder_steps)
    chosen = [env for env in plan.env if env.builder]
    changed = True
    while changed:
        changed = False
        referenced = text + "\n".join(env.render() for env in chosen)
        for env in plan.env:
            if env in chosen:
                continue
            if any(re.search(rf"\$\{{?{re.escape(key)}\b", referenced) for key, _ in env.pairs):
                chosen.append(env)
                changed = True
    return [env for env in plan.env if env in chosen]


def render_compose(plan: OptimizationPlan, options: OptimizeOptions) -> str:
    """docker-compose.buildopt.yml, written next to the optimized Dockerfile."""
    context_dir = plan.context or (plan.dockerfile.path.parent if plan.dockerfile.path else Path("."))
    output_dir = Path(options.output_dir) if options.output_dir else (
        plan.dockerfile.path.parent if plan.dockerfile.path else context_dir)
    context_rel = _relative(context_dir, output_dir)
    dockerfile_in_context = _relative(output_dir / options.output_name, context_dir)
    service = _service_name(context_dir)
    volumes: list[str] = []
    named = False
    if plan.models_volume:
        mounts_at_root = any(target == MODELS_DIR for _, target in plan.model_mounts)
        if not mounts_at_root:
            volumes.append(f"models:{MODELS_DIR}")
            named = True
        for source, target in plan.model_mounts:
            host = _relative(context_dir / source, output_dir)
            volumes.append(f"{host if host.startswith(('.', '/')) else './' + host}:{target}")
    for path in plan.volumes:
        if path != MODELS_DIR:
            volumes.append(f"{service}-{_slug(path)}:{path}")
    named_volumes = ["models"] if named else []
    named_volumes += [f"{service}-{_slug(path)}" for path in plan.volumes if path != MODELS_DIR]
    memory, cpus = LIMITS_ML if plan.ml else LIMITS_SERVICE
    test, health_options = _healthcheck_for_compose(plan)
    values = {
        "dockerfile": options.output_name,
        "compose_name": COMPOSE_NAME,
        "service": service,
        "image": f"{service}:optimized",
        "context": context_rel,
        "dockerfile_in_context": dockerfile_in_context,
        "model_init_command": ["sh", "-c", " && ".join(plan.model_init_commands)] if plan.model_init_commands else None,
        "model_init_env": plan.model_init_env,
        "volumes": volumes,
        "memory": memory,
        "cpus": cpus,
        "healthcheck_test": test,
        "healthcheck_options": health_options,
        "torch_index": plan.torch_index,
        "torch_arg": TORCH_ARG,
        "torch_index_url": options.torch_index_url,
        "named_volume": bool(named_volumes),
    }
    text = environment().get_template(COMPOSE_TEMPLATE).render(**values)
    if named_volumes:
        text = text.rstrip("\n") + "\n" + "".join(f"  {name}:\n" for name in named_volumes if name != "models")
        if not named:
            text = text.replace("\n  models:\n", "\n", 1)
    return text


def render_dockerignore(plan: OptimizationPlan, options: OptimizeOptions, patterns: list[str]) -> str | None:
    if not patterns:
        return None
    original = ""
    if plan.context is not None and (plan.context / ".dockerignore").is_file():
        original = read_text(plan.context / ".dockerignore", errors="replace", what=".dockerignore").rstrip("\n")
    return environment().get_template(DOCKERIGNORE_TEMPLATE).render(
        original=original, patterns=patterns, dockerfile=options.output_name)


def dockerignore_patterns(plan: OptimizationPlan) -> list[str]:
    """Model sources (copied or found in the context) that a broad app COPY (`COPY . .`, `COPY app/ ...`) would
    put back into the image: the optimized build leaves them out through `<output>.dockerignore`."""
    broad = any(_is_dir_source(plan, source) for step in plan.app_copies if step.copy for source in step.copy.sources)
    if not broad:
        return []
    patterns: list[str] = []
    for model in plan.models:
        if model.kind == "copy":
            for source in model.sources:
                clean = posixpath.normpath(source).lstrip("/")
                if clean not in (".", "") and clean not in patterns:
                    patterns.append(clean)
    return patterns


def _is_dir_source(plan: OptimizationPlan, source: str) -> bool:
    if "://" in source:
        return False
    if source in (".", "./") or source.endswith("/"):
        return True
    if plan.context is not None:
        return (plan.context / source).is_dir()
    return "." not in posixpath.basename(source)


def _healthcheck_for_compose(plan: OptimizationPlan) -> tuple[list[str] | None, dict[str, object]]:
    check = plan.healthcheck
    if check is None:
        return None, {}
    if check.exec_form:
        try:
            test = ["CMD", *json.loads(check.command)]
        except ValueError:
            test = ["CMD-SHELL", check.command]
    else:
        test = ["CMD-SHELL", check.command]
    options: dict[str, object] = {}
    for flag in check.flags:
        key, _, value = flag.lstrip("-").partition("=")
        if key in _HEALTHCHECK_OPTIONS and value:
            options[_HEALTHCHECK_OPTIONS[key]] = int(value) if key == "retries" and value.isdigit() else value
    return test, options


def _compose_escape(value):
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_compose_escape(item) for item in value]
    if isinstance(value, dict):
        return {key: _compose_escape(item) for key, item in value.items()}
    return value


def _relative(path: Path, start: Path) -> str:
    try:
        relative = os.path.relpath(Path(path).resolve(), Path(start).resolve())
    except ValueError:  # another drive (Windows)
        return Path(path).resolve().as_posix()
    relative = Path(relative).as_posix()
    return relative if relative.startswith(".") else f"./{relative}" if relative else "."


def _service_name(context: Path) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", Path(context).resolve().name.lower()).strip("-")
    return name or "app"


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "data"
