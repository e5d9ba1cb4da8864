"""Settings from the environment."""

from __future__ import annotations

import os
from pathlib import Path

STORAGE_DIR = Path(os.environ.get("RAG_STORAGE", "./rag_storage"))
CHUNK_CHARS = int(os.environ.get("RAG_CHUNK_CHARS", "800"))
CHUNK_OVERLAP = int(os.environ.get("RAG_CHUNK_OVERLAP", "100"))
CONVERT_TIMEOUT_S = int(os.environ.get("RAG_CONVERT_TIMEOUT", "180"))
