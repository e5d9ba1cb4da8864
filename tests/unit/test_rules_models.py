"""baked-model (BO104): every pattern the issue lists, and what must not be taken for a model."""

from __future__ import annotations

import pytest

from buildopt.estimates import MODEL_DOWNLOAD_DEFAULT, WHISPERX_MODELS
from buildopt.severity import Severity
from tests.unit.analyze_helpers import lines, of, run

BASE = "FROM python:3.11-slim\nWORKDIR /app\n"


@pytest.mark.parametrize("run_line", [
    "RUN huggingface-cli download sentence-transformers/all-MiniLM-L6-v2",
    "RUN hf download openai/whisper-small --local-dir /models",
    "RUN python -c \"from huggingface_hub import snapshot_download; snapshot_download('org/m')\"",
    "RUN python -c \"from transformers import AutoModel; AutoModel.from_pretrained('bert-base-uncased')\"",
    "RUN python3 -c 'from sentence_transformers import SentenceTransformer; SentenceTransformer(\"all-MiniLM-L6-v2\")'",
    "RUN python -c \"import whisperx; whisperx.load_model('large-v2', 'cpu', compute_type='int8')\"",
    "RUN curl -L -o /models/model.safetensors https://example.com/m.safetensors",
    "RUN wget -q https://example.com/weights/model.onnx",
    "RUN git clone https://huggingface.co/BAAI/bge-small-en /models/bge",
    "RUN python -m spacy download en_core_web_sm",
    "RUN cp /tmp/unpacked/model.safetensors /models/",
])
def test_build_time_downloads(run_line):
    found = of(run(BASE + run_line + "\n"), "baked-model")
    assert [f.line for f in found] == [3], found
    assert found[0].severity == Severity.HIGH


def test_heredoc_python_download():
    text = BASE + "RUN python3 <<'PY'\nfrom huggingface_hub import snapshot_download\nsnapshot_download('org/m')\nPY\n"
    found = of(run(text), "baked-model")
    assert [(f.line, f.end_line) for f in found] == [(3, 6)]


def test_whisperx_estimate_is_the_audits_figure():
    text = BASE + "RUN python -c \"import whisperx; whisperx.load_model('large-v2', 'cpu')\"\n"
    found = of(run(text), "baked-model")[0]
    assert found.estimated_bytes == WHISPERX_MODELS.bytes and found.estimate_basis.startswith("audit")


def test_download_script_from_the_context_is_read(tmp_path):
    script = "from huggingface_hub import snapshot_download\nsnapshot_download('org/model')\n"
    text = BASE + "COPY setup_app.py .\nRUN python setup_app.py\n"
    found = of(run(text, context={"setup_app.py": script}, tmp_path=tmp_path), "baked-model")
    assert [f.line for f in found] == [4]


def test_script_named_like_a_model_download():
    found = of(run(BASE + "RUN python scripts/download_model.py org/m --hf-home /root/.cache/huggingface\n"), "baked-model")
    assert [f.line for f in found] == [3] and "HF cache" in found[0].message
    assert found[0].estimated_bytes == MODEL_DOWNLOAD_DEFAULT.bytes


def test_weight_files_copied_with_their_size_from_the_context(tmp_path):
    text = BASE + "COPY models/ /app/models/\n"
    context = {"models/encoder.safetensors": b"\0" * 3000, "models/config.json": "{}"}
    found = of(run(text, context=context, tmp_path=tmp_path), "baked-model")
    assert [f.line for f in found] == [3]
    assert found[0].estimated_bytes == 3002 and found[0].estimate_basis.startswith("context")


def test_copy_dot_with_weight_files_in_the_context(tmp_path):
    text = BASE + "COPY . .\n"
    found = of(run(text, context={"app.py": "x", "ckpt/model.pt": b"\0" * 500}, tmp_path=tmp_path), "baked-model")
    assert [f.line for f in found] == [3] and "ckpt/model.pt" in found[0].message
    ignored = {"app.py": "x", "ckpt/model.pt": b"\0" * 500, ".dockerignore": "*.pt\n**/*.pt\n"}
    assert of(run(text, context=ignored, tmp_path=tmp_path / "b"), "baked-model") == []


def test_models_package_with_only_code_is_not_a_model_dir(tmp_path):
    text = BASE + "COPY app/models /app/app/models\n"
    context = {"app/models/__init__.py": "", "app/models/user.py": "class User: ..."}
    assert of(run(text, context=context, tmp_path=tmp_path), "baked-model") == []


def test_model_dir_by_name_without_context_is_medium():
    found = of(run(BASE + "COPY models/ /app/models/\n"), "baked-model")
    assert [f.line for f in found] == [3] and found[0].severity == Severity.MEDIUM


def test_hf_cache_copied_from_a_builder():
    text = ("FROM python:3.11-slim AS builder\nRUN python -c \"from transformers import pipeline\"\n"
            "FROM python:3.11-slim\nCOPY --from=builder /root/.cache/huggingface /root/.cache/huggingface\n")
    found = of(run(text), "baked-model")
    assert [f.line for f in found] == [4] and found[0].severity == Severity.HIGH


def test_download_in_an_unshipped_builder_is_not_baked():
    text = ("FROM python:3.11-slim AS fetch\nRUN huggingface-cli download org/m\n"
            "FROM python:3.11-slim\nCOPY --from=fetch /opt/venv /opt/venv\n")
    assert of(run(text), "baked-model") == []


def test_add_of_a_remote_weight_file():
    assert lines(run(BASE + "ADD https://example.com/model.gguf /models/\n"), "baked-model") == [3]
    assert of(run(BASE + "ADD https://example.com/tool.tar.gz /opt/\n"), "baked-model") == []


def test_hf_home_inside_the_image_without_a_volume():
    found = of(run(BASE + "ENV HF_HOME=/models TRANSFORMERS_CACHE=/models\nCMD x\n"), "baked-model")
    assert [f.line for f in found] == [3] and found[0].severity == Severity.LOW
    assert "HF_HOME=/models" in found[0].message


def test_hf_home_under_a_volume_passes():
    assert of(run(BASE + "ENV HF_HOME=/models/hf\nVOLUME /models\n"), "baked-model") == []
    assert of(run(BASE + 'ENV TORCH_HOME=/cache\nVOLUME ["/cache"]\n'), "baked-model") == []


def test_unrelated_commands_are_not_model_downloads():
    text = BASE + "RUN curl -fsSL https://example.com/install.sh -o /tmp/i.sh && ls /usr/local/bin\nCOPY app.py .\n"
    assert of(run(text), "baked-model") == []
