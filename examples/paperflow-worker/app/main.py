"""The HTTP API (same image, other command): uvicorn app.main:app --host 0.0.0.0 --port 8000"""

from __future__ import annotations

import base64
import uuid

from fastapi import FastAPI, HTTPException, UploadFile
from pydantic import BaseModel

from . import __version__, config

api = FastAPI(title="paperflow", version=__version__)
app = api


class EmbedRequest(BaseModel):
    texts: list[str]


@api.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__, "model": config.EMBEDDING_MODEL}


@api.post("/embed")
def embed(request: EmbedRequest) -> dict:
    from .embeddings import ModelMissing, embed as embed_texts

    if not request.texts:
        raise HTTPException(422, "texts is empty")
    try:
        return {"model": config.EMBEDDING_MODEL, "embeddings": embed_texts(request.texts)}
    except ModelMissing as err:
        raise HTTPException(503, str(err)) from None


@api.post("/documents", status_code=202)
async def upload(file: UploadFile) -> dict:
    from .worker import process_document

    document_id = uuid.uuid4().hex
    content = base64.b64encode(await file.read()).decode()
    task = process_document.delay(document_id, content)
    return {"document_id": document_id, "task_id": task.id}
