"""Fixed-size character chunks with overlap, cut at whitespace where possible."""

from __future__ import annotations

import re


def chunk(text: str, size: int, overlap: int) -> list[str]:
    text = re.sub(r"[ \t]+", " ", text).strip()
    if not text:
        return []
    pieces = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        overlap_start = max(end - overlap, start + 1)
        space = text.find(" ", overlap_start, end)  # start the next chunk on a word boundary
        start = space + 1 if space != -1 else overlap_start
    return [piece for piece in pieces if piece]
