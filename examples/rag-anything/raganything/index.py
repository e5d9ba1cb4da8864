"""A small BM25 index over chunks, stored as one JSON file."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


@dataclass
class Hit:
    document: str
    chunk: int
    score: float
    text: str


@dataclass
class BM25Index:
    k1: float = 1.5
    b: float = 0.75
    chunks: list[dict] = field(default_factory=list)  # {"document", "chunk", "text", "terms": {term: count}}

    def add(self, document: str, texts: list[str]) -> None:
        self.chunks = [c for c in self.chunks if c["document"] != document]
        for number, text in enumerate(texts):
            self.chunks.append({"document": document, "chunk": number, "text": text, "terms": Counter(tokenize(text))})

    def documents(self) -> list[str]:
        return sorted({c["document"] for c in self.chunks})

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        terms = tokenize(query)
        if not terms or not self.chunks:
            return []
        count = len(self.chunks)
        average = sum(sum(c["terms"].values()) for c in self.chunks) / count
        frequency = Counter(term for c in self.chunks for term in set(c["terms"]) if term in terms)
        hits = []
        for c in self.chunks:
            length = sum(c["terms"].values())
            score = 0.0
            for term in terms:
                tf = c["terms"].get(term, 0)
                if not tf:
                    continue
                idf = math.log(1 + (count - frequency[term] + 0.5) / (frequency[term] + 0.5))
                score += idf * tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * length / average))
            if score > 0:
                hits.append(Hit(c["document"], c["chunk"], round(score, 4), c["text"]))
        return sorted(hits, key=lambda hit: -hit.score)[:top_k]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps({"k1": self.k1, "b": self.b, "chunks": self.chunks}))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> "BM25Index":
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        chunks = [{**c, "terms": Counter(c["terms"])} for c in data["chunks"]]
        return cls(k1=data["k1"], b=data["b"], chunks=chunks)
