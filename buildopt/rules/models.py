"""baked-model (BO104): Hugging Face or other ML weights put into the image.

Caught: downloads at build time (huggingface-cli/hf download, snapshot_download, from_pretrained,
SentenceTransformer(...), whisperx.load_model ... in RUN, `python -c`, heredocs, or a script COPY'd from the
context), git clones of huggingface.co, weight files (*.safetensors, *.bin, *.pt, *.pth, *.onnx, *.gguf,
*.ckpt, *.jit) copied, downloaded or written by RUN (Python that saves to such a path, a script run with one as
an argument), COPY of a model or HF cache directory, and model cache variables (HF_HOME, TRANSFORMERS_CACHE,
...) pointing inside the image with no VOLUME over them.
"""

from __future__ import annotations

from ..dockerfile import Instruction
from ..estimates import MODEL_DOWNLOAD_DEFAULT, WHISPERX_MODELS, context_files
from ..files import read_text
from ..knowledge import (
    MODEL_CACHE_ENV,
    MODEL_DOWNLOAD_CALL,
    WEIGHT_TOKEN,
    is_model_dir,
    is_weight_path,
    model_download,
    weight_path_arguments,
    weights_written_by_code,
)
from ..severity import Severity
from ..shell import is_python, program
from ..units import format_size
from .base import Rule
from .context import RuleContext, RunSite

_SCRIPT_LIMIT = 1_000_000


class BakedModel(Rule):
    id = "BO104"
    slug = "baked-model"
    severity = Severity.HIGH
    title = "ML model weights are put into the image (download, COPY, or a cache dir with no volume)"
    fix = ("Keep weights out of the image: mount a volume (`VOLUME /models`, `HF_HOME=/models`) and download into it "
           "at first start or with a one-off init container; exclude model files in .dockerignore.")
    scope = "stages that end up in the final image"

    def check(self, ctx: RuleContext):
        for facts in ctx.shipped:
            for site in facts.runs:
                finding = self._run(ctx, site)
                if finding is not None:
                    yield finding
            for copy in facts.copies:
                finding = self._copy(ctx, copy, facts)
                if finding is not None:
                    yield finding
        yield from self._cache_env(ctx)

    # RUN: downloads and writes
    def _run(self, ctx: RuleContext, site: RunSite):
        reasons: list[str] = []
        whisperx = False
        for argv in site.commands:
            expanded = [site.expand(word) for word in argv]
            reason = model_download(expanded)
            if reason is None and program(argv) in ("cp", "mv", "install", "ln") and any(
                    WEIGHT_TOKEN.search(word) for word in expanded[1:]):
                reason = f"`{program(argv)}` of a weight file"
            if reason is not None:
                reasons.append(reason)
            elif (paths := weight_path_arguments(expanded)):
                script = next((w for w in expanded[1:] if w.endswith((".py", ".sh")) and not w.startswith("-")), None)
                if script is None and "-m" in expanded[1:-1]:
                    script = expanded[expanded.index("-m") + 1]
                what = f"`{script or program(expanded)}`" if not (is_python(expanded[0]) and "-c" in expanded) else "`python -c`"
                reasons.append(f"{what} run with the weight file {', '.join(paths)}")
        code = site.python_code + "\n" + self._scripts(ctx, site)
        calls = sorted({m.group(1) for m in MODEL_DOWNLOAD_CALL.finditer(code)})
        if calls:
            whisperx = any(c.startswith(("whisperx", "load_align")) for c in calls)
            reasons.append(", ".join(f"`{c}(...)`" for c in calls) + " at build time")
        written = [path for path in weights_written_by_code(site.python_code) if not any(path in r for r in reasons)]
        if written:
            reasons.append(f"Python run at build time writes {', '.join(written)}")
        if not reasons:
            return None
        estimate = WHISPERX_MODELS if whisperx else MODEL_DOWNLOAD_DEFAULT
        return self.finding(site.ins, f"model weights downloaded or written into the image: {'; '.join(reasons)} "
                                      f"({estimate.describe()})", estimate=estimate)

    @staticmethod
    def _scripts(ctx: RuleContext, site: RunSite) -> str:
        """Python scripts the RUN executes, read from the context (`python download_models.py`)."""
        if ctx.context is None:
            return ""
        texts = []
        for argv in site.commands:
            if is_python(argv[0]):
                for word in argv[1:]:
                    if word.endswith(".py") and not word.startswith("-"):
                        path = ctx.context_path(site, word)
                        if path is not None and path.is_file() and path.stat().st_size < _SCRIPT_LIMIT:
                            texts.append(read_text(path, errors="replace", what="script"))
        return "\n".join(texts)

    # COPY / ADD of weights or model dirs
    def _copy(self, ctx: RuleContext, copy, facts):
        ins = copy.ins
        sources = [s for s in copy.sources if not s.startswith("<<")]
        if not sources:
            return None
        from_context = copy.from_ is None
        remote = [s for s in sources if "://" in s]
        if remote:
            weights = [s for s in remote if WEIGHT_TOKEN.search(s)]
            if weights:
                return self.finding(ins, f"ADD downloads weight files into the image: {', '.join(weights)} "
                                         f"({MODEL_DOWNLOAD_DEFAULT.describe()})", estimate=MODEL_DOWNLOAD_DEFAULT)
            return None
        cache_dirs = [facts.env.get(name) for name in MODEL_CACHE_ENV if facts.env.get(name, "").startswith("/")]
        into_cache = any(copy.dest == d or copy.dest.startswith(d.rstrip("/") + "/") for d in cache_dirs if d)
        named = [s for s in sources if is_weight_path(s) or is_model_dir(s)]
        if from_context and ctx.context is not None:
            weight_files = [f for s in sources for f in ctx.context.weight_files_under(s)]
            model_dirs = [s for s in sources if is_model_dir(s) and ctx.context.is_dir(s)]
            if weight_files or (model_dirs and not _only_code(ctx, model_dirs)):
                total = sum(f.size for f in weight_files)
                for directory in model_dirs:
                    total = max(total, ctx.context.bytes_under(directory)[0])
                listed = ", ".join(f.path for f in weight_files[:3]) + (" ..." if len(weight_files) > 3 else "")
                what = f"{len(weight_files)} weight file(s) ({listed})" if weight_files else ", ".join(model_dirs)
                estimate = context_files(total, f"size of {what} in the context")
                return self.finding(ins, f"{ins.cmd} puts model weights from the context into the image: {what}, "
                                         f"{format_size(total)}", estimate=estimate)
            if named and all(ctx.context.has(s) for s in named if "*" not in s):
                return None  # the named dirs exist and hold only code (a Django `models/` package ...)
        if named or into_cache:
            what = ", ".join(named) if named else f"into the model cache {copy.dest}"
            origin = f" from stage {copy.from_}" if copy.from_ else ""
            estimate = MODEL_DOWNLOAD_DEFAULT
            severity = None if (into_cache or any(is_weight_path(s) or ".cache/huggingface" in s for s in named)) else Severity.MEDIUM
            hedge = "" if severity is None else " (judged by the path name; pass --context to check the files)"
            return self.finding(ins, f"{ins.cmd} of a model directory or weight files{origin}: {what}{hedge} "
                                     f"({estimate.describe()})", estimate=estimate, severity=severity)
        return None

    # HF_HOME & co. inside the image with no volume
    def _cache_env(self, ctx: RuleContext):
        final = ctx.final
        volumes = [path.rstrip("/") or "/" for path, _ in final.volumes]
        by_instruction: dict[int, tuple[Instruction, list[str]]] = {}
        for name in MODEL_CACHE_ENV:
            value = final.env.get(name)
            if not value or not value.startswith("/"):
                continue
            if any(value == v or value.startswith(v + "/") or v == "/" for v in volumes):
                continue
            origin = final.env_origin.get(name)
            if origin is None:
                continue
            entry = by_instruction.setdefault(origin.line, (origin, []))
            entry[1].append(f"{name}={value}")
        for ins, pairs in by_instruction.values():
            yield self.finding(ins, f"{', '.join(pairs)} points inside the image and no VOLUME covers it: models land "
                                    f"in the image if a build step fills it, or in the container layer at run time",
                               severity=Severity.LOW,
                               fix="Declare the directory as a VOLUME (`VOLUME /models`) and mount a named volume there.")


def _only_code(ctx: RuleContext, directories: list[str]) -> bool:
    for directory in directories:
        prefix = directory.strip("/").rstrip("/") + "/"
        for item in ctx.context.files:  # type: ignore[union-attr]
            if item.path.startswith(prefix) and not item.path.endswith((".py", ".pyc", ".pyi", ".md", ".txt", ".json", ".yaml", ".yml", ".toml")):
                return False
    return True
