"""The Celery worker: embeds texts and whole documents for the search index.

Run: celery -A app.worker worker --loglevel=info
"""

from __future__ import annotations

import base64

import pandas as pd
from celery import Celery

from . import config
from .documents import chunk_text, extract_text
from .embeddings import embed as embed_texts

celery_app = Celery("paperflow", broker=config.BROKER_URL, backend=config.RESULT_BACKEND)
celery_app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,  # embedding batches are CPU-heavy: don't hoard tasks
    task_acks_late=True,
)
app = celery_app  # `celery -A app.worker` looks for `app` or `celery`


@celery_app.task(name="paperflow.embed")
def embed(texts: list[str]) -> list[list[float]]:
    return embed_texts(texts)


@celery_app.task(name="paperflow.process_document")
def process_document(document_id: str, content_b64: str) -> dict:
    """Extract, chunk and embed one document; returns the chunks with their vectors and a summary."""
    text = extract_text(base64.b64decode(content_b64))
    chunks = chunk_text(text, config.CHUNK_WORDS)
    vectors = embed_texts([chunk.text for chunk in chunks]) if chunks else []
    frame = pd.DataFrame({"chunk": [c.index for c in chunks], "words": [c.words for c in chunks]})
    return {
        "document_id": document_id,
        "chunks": [{"index": c.index, "text": c.text, "embedding": v} for c, v in zip(chunks, vectors)],
        "summary": {
            "chunks": int(len(frame)),
            "words": int(frame["words"].sum()) if len(frame) else 0,
            "mean_words_per_chunk": round(float(frame["words"].mean()), 1) if len(frame) else 0.0,
        },
    }
