"""Speech segments in an audio file: ffmpeg decodes it to 16 kHz mono, Silero VAD scores 32 ms windows."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

SAMPLE_RATE = 16000
WINDOW = 512  # samples per VAD window at 16 kHz (32 ms), what the Silero model expects


class ModelMissing(RuntimeError):
    pass


class AudioError(ValueError):
    pass


@dataclass
class Segment:
    start: float
    end: float


def model_path() -> Path:
    if os.environ.get("VAD_MODEL"):
        return Path(os.environ["VAD_MODEL"])
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return hf_home / "silero-vad" / "silero_vad.jit"


@lru_cache(maxsize=1)
def load_model():
    path = model_path()
    if not path.is_file():
        raise ModelMissing(f"VAD model not found at {path} (run download_models.py with HF_HOME set)")
    torch.set_num_threads(1)  # the model is tiny: more threads only add overhead
    model = torch.jit.load(str(path), map_location="cpu")
    model.eval()
    return model


def decode(path: str | Path) -> np.ndarray:
    """Any format ffmpeg reads -> float32 samples in [-1, 1], 16 kHz mono."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
               "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
    try:
        result = subprocess.run(command, capture_output=True, check=False)
    except FileNotFoundError:
        raise AudioError("ffmpeg is not installed") from None
    if result.returncode != 0:
        raise AudioError(f"ffmpeg could not decode {Path(path).name}: {result.stderr.decode(errors='replace').strip()[:200]}")
    return np.frombuffer(result.stdout, dtype=np.int16).astype(np.float32) / 32768.0


def speech_probabilities(samples: np.ndarray) -> list[float]:
    model = load_model()
    model.reset_states()
    audio = torch.from_numpy(samples)
    probabilities = []
    with torch.inference_mode():
        for start in range(0, len(audio), WINDOW):
            chunk = audio[start:start + WINDOW]
            if len(chunk) < WINDOW:
                chunk = torch.nn.functional.pad(chunk, (0, WINDOW - len(chunk)))
            probabilities.append(float(model(chunk, SAMPLE_RATE).item()))
    return probabilities


def segments(probabilities: list[float], threshold: float = 0.5, min_speech_s: float = 0.25,
             min_silence_s: float = 0.1, pad_s: float = 0.03) -> list[Segment]:
    """Hysteresis over window probabilities: speech starts above threshold, ends after a silence."""
    step = WINDOW / SAMPLE_RATE
    exit_threshold = threshold - 0.15
    found: list[Segment] = []
    start = None
    silent_since = None
    for index, probability in enumerate(probabilities):
        now = index * step
        if start is None:
            if probability >= threshold:
                start, silent_since = now, None
            continue
        if probability < exit_threshold:
            silent_since = now if silent_since is None else silent_since
            if now + step - silent_since >= min_silence_s:
                if silent_since - start >= min_speech_s:
                    found.append(Segment(start, silent_since))
                start, silent_since = None, None
        else:
            silent_since = None
    if start is not None:
        end = len(probabilities) * step
        if end - start >= min_speech_s:
            found.append(Segment(start, end))
    total = len(probabilities) * step
    return [Segment(round(max(0.0, s.start - pad_s), 2), round(min(total, s.end + pad_s), 2)) for s in found]


def detect(path: str | Path) -> dict:
    samples = decode(path)
    if samples.size == 0:
        raise AudioError(f"{Path(path).name} has no audio")
    found = segments(speech_probabilities(samples))
    duration = samples.size / SAMPLE_RATE
    speech = sum(segment.end - segment.start for segment in found)
    return {
        "duration_s": round(duration, 2),
        "speech_s": round(speech, 2),
        "segments": [{"start": segment.start, "end": segment.end} for segment in found],
    }
