"""The transcription worker: takes queued uploads and finds their speech segments.

    python worker.py                 run an RQ worker on $REDIS_URL (queue "transcribe")
    python worker.py --self-check    process samples/speech.wav through the upload dir, offline; exit 0 when
                                     speech is found (checks ffmpeg, the model and that uploads are writable)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import uuid
from pathlib import Path

UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", "/tmp/uploads"))
SAMPLE = Path(__file__).resolve().parent / "samples" / "speech.wav"


def process_upload(path: str, keep: bool = False) -> dict:
    """The job: speech segments of one uploaded file (the file is deleted afterwards unless keep)."""
    import vad

    try:
        result = vad.detect(path)
    finally:
        if not keep:
            Path(path).unlink(missing_ok=True)
    result["file"] = Path(path).name
    return result


def self_check() -> int:
    try:
        UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
        upload = UPLOAD_DIR / f"self-check-{uuid.uuid4().hex[:8]}.wav"
        shutil.copyfile(SAMPLE, upload)
    except OSError as err:
        print(f"self-check FAILED: cannot write to {UPLOAD_DIR}: {err}")
        return 1
    try:
        result = process_upload(str(upload))
    except Exception as err:  # report any failure as one line: this is a smoke test
        print(f"self-check FAILED: {type(err).__name__}: {err}")
        return 1
    if not result["segments"]:
        print(f"self-check FAILED: no speech found in {SAMPLE.name}: {json.dumps(result)}")
        return 1
    print(json.dumps({"self_check": "ok", "segments": len(result["segments"]), "speech_s": result["speech_s"],
                      "duration_s": result["duration_s"]}))
    return 0


def run_worker() -> int:
    from redis import Redis
    from rq import Queue, Worker

    connection = Redis.from_url(os.environ.get("REDIS_URL", "redis://redis:6379/0"))
    Worker([Queue("transcribe", connection=connection)], connection=connection).work()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="transcription worker")
    parser.add_argument("--self-check", action="store_true")
    sys.exit(self_check() if parser.parse_args().self_check else run_worker())
