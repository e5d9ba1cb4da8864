"""Settings, all from the environment, so the same image runs as the API or as a worker."""

from __future__ import annotations

import os
from pathlib import Path

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://redis:6379/0")
RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "redis://redis:6379/1")
EMBEDDING_MODEL = os.environ.get("EMBEDDING_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
DATA_DIR = Path(os.environ.get("PAPERFLOW_DATA_DIR", "/opt/paperflow/data"))
CHUNK_WORDS = int(os.environ.get("PAPERFLOW_CHUNK_WORDS", "200"))


def hf_home() -> Path:
    """Where huggingface_hub looks for models: $HF_HOME, else ~/.cache/huggingface."""
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
