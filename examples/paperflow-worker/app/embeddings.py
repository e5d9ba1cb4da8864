"""Sentence embeddings with all-MiniLM-L6-v2, loaded once per process from the local HF cache."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from . import config


class ModelMissing(RuntimeError):
    """The model is not in the HF cache (the image was built without it and no /models volume is mounted)."""


@lru_cache(maxsize=1)
def get_model():
    # Imported here: torch and transformers take seconds to import, and the API's /health must not wait.
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # Progress bars and advisories go to stderr and would bury the one line of JSON a caller reads.
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        # local_files_only: workers never reach the hub; the model must already be in $HF_HOME.
        return SentenceTransformer(config.EMBEDDING_MODEL, device="cpu", local_files_only=True)
    except OSError as err:
        raise ModelMissing(
            f"{config.EMBEDDING_MODEL} is not in the Hugging Face cache at {config.hf_home()} "
            f"(run scripts/download_model.py --hf-home {config.hf_home()}): {str(err).splitlines()[0]}"
        ) from None


def embed(texts: list[str]) -> list[list[float]]:
    vectors = get_model().encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    return [[float(value) for value in vector] for vector in vectors]


def digest(vector: list[float], decimals: int = 4) -> str:
    """A short fingerprint of an embedding, rounded so that two builds of the same model compare equal."""
    rounded = json.dumps([round(value, decimals) + 0.0 for value in vector])  # + 0.0 turns -0.0 into 0.0
    return hashlib.sha256(rounded.encode()).hexdigest()[:16]
