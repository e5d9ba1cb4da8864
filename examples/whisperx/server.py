"""The HTTP API: upload audio, get its speech segments (inline, or through the RQ queue when REDIS_URL is set).

    uvicorn server:app --host 0.0.0.0 --port 8002
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

import vad
from worker import UPLOAD_DIR, process_upload

MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_MB", "200")) * 1024 * 1024
STATE: dict = {"model": None, "error": None}


@asynccontextmanager
async def lifespan(_: FastAPI):
    try:
        vad.load_model()
        STATE["model"] = str(vad.model_path())
    except vad.ModelMissing as err:
        STATE["error"] = str(err)  # keep serving: /health says what is wrong
    yield


app = FastAPI(title="whisperx", lifespan=lifespan)


def _queue():
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    from redis import Redis
    from rq import Queue

    return Queue("transcribe", connection=Redis.from_url(url))


@app.get("/health")
def health():
    if STATE["model"] is None:
        raise HTTPException(503, STATE["error"] or "model not loaded yet")
    return {"status": "ok", "vad_model": STATE["model"], "upload_dir": str(UPLOAD_DIR)}


@app.post("/transcribe")
async def transcribe(file: UploadFile):
    data = await file.read()
    if not data:
        raise HTTPException(422, "empty upload")
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"upload larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    path = UPLOAD_DIR / f"{uuid.uuid4().hex}{Path(file.filename or 'audio').suffix[:8]}"
    path.write_bytes(data)
    queue = _queue()
    if queue is not None:
        job = queue.enqueue(process_upload, str(path), job_timeout=3600)
        return {"job_id": job.id, "status": "queued"}
    try:
        return await run_in_threadpool(process_upload, str(path))
    except vad.AudioError as err:
        raise HTTPException(422, str(err)) from None


@app.get("/jobs/{job_id}")
def job_status(job_id: str):
    queue = _queue()
    if queue is None:
        raise HTTPException(404, "no queue configured (REDIS_URL is not set)")
    job = queue.fetch_job(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return {"job_id": job_id, "status": job.get_status(), "result": job.return_value()}
