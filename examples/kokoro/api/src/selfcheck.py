"""Offline check of the TTS path: python -m api.src.selfcheck -> one line of JSON, exit 0 when speech was made."""

from __future__ import annotations

import json
import sys

from . import tts


def main() -> int:
    try:
        wav = tts.synthesize("Kokoro self check.", "af_heart", "wav", 1.0)
        mp3 = tts.synthesize("Kokoro self check.", "af_heart", "mp3", 1.0)
    except tts.SynthesisError as err:
        print(json.dumps({"selfcheck": "failed", "error": str(err)}))
        return 1
    ok = wav[:4] == b"RIFF" and len(mp3) > 0
    print(json.dumps({"selfcheck": "ok" if ok else "failed", "wav_bytes": len(wav), "mp3_bytes": len(mp3),
                      "model_loaded": tts.model_info()["loaded"]}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
