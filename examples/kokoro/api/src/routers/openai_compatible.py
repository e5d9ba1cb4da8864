"""POST /v1/audio/speech, shaped like OpenAI's speech endpoint."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .. import tts

router = APIRouter(prefix="/v1")
MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "flac": "audio/flac"}


class SpeechRequest(BaseModel):
    model: str = "kokoro"
    input: str = Field(min_length=1, max_length=4096)
    voice: str = "af_heart"
    response_format: str = "mp3"
    speed: float = 1.0


@router.post("/audio/speech")
async def create_speech(request: SpeechRequest) -> Response:
    try:
        audio = await run_in_threadpool(tts.synthesize, request.input, request.voice, request.response_format, request.speed)
    except tts.SynthesisError as err:
        raise HTTPException(400, str(err)) from None
    return Response(audio, media_type=MEDIA_TYPES[request.response_format])


@router.get("/audio/voices")
def voices() -> dict:
    return {"voices": sorted(tts.VOICES)}
