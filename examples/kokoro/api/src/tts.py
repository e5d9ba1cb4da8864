"""Speech synthesis: espeak-ng renders the text (the phonemizer Kokoro also uses), ffmpeg encodes it.

The Kokoro-82M weights (`kokoro-v1_0.pth`, fetched by download_model.py) are loaded when present and
reported on /health; this miniature does not run the neural model itself.
"""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "/app/api/src/models/v1_0"))
ESPEAK = os.environ.get("PHONEMIZER_ESPEAK_PATH", "/usr/bin").rstrip("/") + "/espeak-ng"
FORMATS = {"wav": "wav", "mp3": "mp3", "opus": "ogg", "flac": "flac"}
VOICES = {"af_heart": "en-us+f3", "am_adam": "en-us+m3", "bf_emma": "en-gb+f2", "bm_george": "en-gb+m1"}


class SynthesisError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def model_info() -> dict:
    path = MODEL_DIR / "kokoro-v1_0.pth"
    if not path.is_file():
        return {"loaded": False, "path": str(path)}
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    tensors = [value for group in state.values() for value in (group.values() if isinstance(group, dict) else [group])]
    return {"loaded": True, "path": str(path), "parameters": int(sum(t.numel() for t in tensors if hasattr(t, "numel")))}


def synthesize(text: str, voice: str, response_format: str, speed: float) -> bytes:
    if voice not in VOICES:
        raise SynthesisError(f"unknown voice {voice!r}; available: {', '.join(sorted(VOICES))}")
    if response_format not in FORMATS:
        raise SynthesisError(f"unknown format {response_format!r}; available: {', '.join(FORMATS)}")
    words_per_minute = str(int(175 * max(0.25, min(speed, 4.0))))
    speech = _run([ESPEAK, "-v", VOICES[voice], "-s", words_per_minute, "--stdout", text])
    if speech.returncode != 0 or not speech.stdout:
        raise SynthesisError(f"espeak-ng failed: {speech.stderr.decode(errors='replace').strip()[:200]}")
    if response_format == "wav":
        return speech.stdout
    encoded = _run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "wav", "-i", "pipe:0",
                    "-f", FORMATS[response_format], "pipe:1"], stdin=speech.stdout)
    if encoded.returncode != 0:
        raise SynthesisError(f"ffmpeg failed: {encoded.stderr.decode(errors='replace').strip()[:200]}")
    return encoded.stdout


def _run(command: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, input=stdin, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise SynthesisError(f"{command[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise SynthesisError(f"{command[0]} took more than 120 s") from None
