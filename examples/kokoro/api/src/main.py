"""FastAPI app: uvicorn api.src.main:app --host 0.0.0.0 --port 8880"""

from __future__ import annotations

from fastapi import FastAPI
from loguru import logger

from . import tts
from .routers.openai_compatible import router

app = FastAPI(title="Kokoro TTS API (miniature)", version="0.3.0")
app.include_router(router)


@app.on_event("startup")
def report_model() -> None:
    logger.info("model: {}", tts.model_info())


@app.get("/health")
def health() -> dict:
    return {"status": "healthy", "model": tts.model_info()}
