"""Embed a text from the command line and print the vector as JSON (also the image's smoke test).

    python -m app.embed "some text"            -> {"model": ..., "dim": 384, "digest": ..., "embedding": [...]}
    python -m app.embed --digest "some text"   -> the same without the vector: one short line
    python -m app.embed --worker --digest "t"  -> through the worker task, as a queued document goes (libmagic,
                                                  chunking, pandas summary, the model), plus its summary

Exit 0 on success, 3 when the model is not in the Hugging Face cache.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.embed", description="Print the embedding of TEXT as JSON.")
    parser.add_argument("text")
    parser.add_argument("--digest", action="store_true", help="print the digest and the first values only")
    parser.add_argument("--worker", action="store_true",
                        help="embed through the worker's process_document task and add its summary")
    args = parser.parse_args(argv)

    from . import config
    from .embeddings import ModelMissing, digest, embed

    summary = None
    try:
        if args.worker:
            import base64

            from .worker import process_document

            document = process_document.run("cli", base64.b64encode(args.text.encode()).decode())
            vector, summary = document["chunks"][0]["embedding"], document["summary"]
        else:
            [vector] = embed([args.text])
    except ModelMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    result = {"model": config.EMBEDDING_MODEL, "dim": len(vector), "digest": digest(vector),
              "head": [round(value, 4) for value in vector[:4]]}
    if summary is not None:
        result["summary"] = summary
    if not args.digest:
        result["embedding"] = vector
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
