"""Notes kept as one JSON file per note under $DATA_DIR (default /data/notes), created on import."""

import json
import os
import sys
import uuid

DATA_DIR = os.environ.get("DATA_DIR", "/data/notes")
os.makedirs(DATA_DIR, exist_ok=True)


def add(text: str) -> str:
    note_id = uuid.uuid4().hex
    with open(os.path.join(DATA_DIR, f"{note_id}.json"), "w") as handle:
        json.dump({"id": note_id, "text": text}, handle)
    return note_id


def count() -> int:
    return sum(1 for name in os.listdir(DATA_DIR) if name.endswith(".json"))


if __name__ == "__main__":
    if sys.argv[1:2] == ["add"]:
        print(add(" ".join(sys.argv[2:])))
    else:
        print(count())
