"""Embed a text from the command line and print the vector as JSON (also the image's smoke test).

    python -m app.embed "some text"            -> {"model": ..., "dim": 384, "digest": ..., "embedding": [...]}
    python -m app.embed --digest "some text"   -> the same without the vector: one short line

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
    args = parser.parse_args(argv)

    from . import config
    from .embeddings import ModelMissing, digest, embed

    try:
        [vector] = embed([args.text])
    except ModelMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    result = {"model": config.EMBEDDING_MODEL, "dim": len(vector), "digest": digest(vector),
              "head": [round(value, 4) for value in vector[:4]]}
    if not args.digest:
        result["embedding"] = vector
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
