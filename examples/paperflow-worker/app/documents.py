"""Turning an uploaded file into text chunks: libmagic says what it is, then it is decoded and split."""

from __future__ import annotations

import re
from dataclasses import dataclass

import magic

TEXT_TYPES = {"text/plain", "text/markdown", "text/csv", "text/x-tex", "application/json"}


class UnsupportedDocument(ValueError):
    pass


@dataclass
class Chunk:
    index: int
    text: str
    words: int


def detect_type(data: bytes) -> str:
    return magic.from_buffer(data[:8192], mime=True)


def extract_text(data: bytes) -> str:
    mime = detect_type(data)
    if mime not in TEXT_TYPES and not mime.startswith("text/"):
        raise UnsupportedDocument(f"cannot extract text from {mime}")
    return data.decode("utf-8", errors="replace")


def chunk_text(text: str, max_words: int) -> list[Chunk]:
    """Split on paragraph boundaries, packing paragraphs into chunks of at most max_words words."""
    chunks: list[Chunk] = []
    current: list[str] = []
    count = 0
    for paragraph in re.split(r"\n\s*\n", text):
        words = paragraph.split()
        if not words:
            continue
        if current and count + len(words) > max_words:
            chunks.append(Chunk(len(chunks), " ".join(current), count))
            current, count = [], 0
        for start in range(0, len(words), max_words):
            piece = words[start:start + max_words]
            if count + len(piece) > max_words and current:
                chunks.append(Chunk(len(chunks), " ".join(current), count))
                current, count = [], 0
            current.extend(piece)
            count += len(piece)
    if current:
        chunks.append(Chunk(len(chunks), " ".join(current), count))
    return chunks
