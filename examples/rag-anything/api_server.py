"""RAGAnything HTTP API on port 9510: upload documents, ask questions, check health."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from raganything import RAGAnything, __version__
from raganything.parser import UnsupportedDocument, libreoffice_binary

app = FastAPI(title="RAGAnything", version=__version__)
rag = RAGAnything()


class Query(BaseModel):
    question: str
    top_k: int = 5


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__, "documents": len(rag.documents()),
            "libreoffice": libreoffice_binary() is not None}


@app.get("/documents")
def documents() -> dict:
    return {"documents": rag.documents()}


@app.post("/documents")
async def upload(file: UploadFile) -> dict:
    name = Path(file.filename or "upload").name
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(await file.read())
        try:
            return await run_in_threadpool(rag.ingest, path, name)
        except UnsupportedDocument as err:
            raise HTTPException(415, str(err)) from None


@app.post("/query")
def query(body: Query) -> dict:
    hits = rag.query(body.question, body.top_k)
    return {"question": body.question,
            "hits": [{"document": h.document, "chunk": h.chunk, "score": h.score, "text": h.text} for h in hits]}


if __name__ == "__main__":
    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "9510")))
