"""Ingest and query: the one object the API and the CLI use."""

from __future__ import annotations

import threading
from pathlib import Path

from . import config
from .chunking import chunk
from .index import BM25Index, Hit
from .parser import parse_document


class RAGAnything:
    def __init__(self, storage_dir: str | Path | None = None):
        self.storage_dir = Path(storage_dir or config.STORAGE_DIR)
        self.index_path = self.storage_dir / "index.json"
        self.index = BM25Index.load(self.index_path)
        self._lock = threading.Lock()

    def ingest(self, path: str | Path, name: str | None = None) -> dict:
        text = parse_document(path)
        pieces = chunk(text, config.CHUNK_CHARS, config.CHUNK_OVERLAP)
        document = name or Path(path).name
        with self._lock:
            self.index.add(document, pieces)
            self.index.save(self.index_path)
        return {"document": document, "chunks": len(pieces), "characters": len(text)}

    def query(self, question: str, top_k: int = 5) -> list[Hit]:
        with self._lock:
            return self.index.search(question, top_k)

    def documents(self) -> list[str]:
        return self.index.documents()
