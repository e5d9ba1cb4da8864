"""Where the peer corpus is: BuildKit's parser test files with their expected class (shared/peer-corpus/README.md).

It is read in place, never copied into the repository. It sits in `../shared/peer-corpus` beside the checkout
(`/work/shared/peer-corpus` on the development machine); BUILDOPT_PEER_CORPUS overrides both.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def peer_corpus_dir() -> Path | None:
    candidates = [os.environ.get("BUILDOPT_PEER_CORPUS"), REPO.parent / "shared" / "peer-corpus",
                  Path("/work/shared/peer-corpus")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "MANIFEST.tsv").is_file():
            return Path(candidate)
    return None


@dataclass(frozen=True)
class PeerFile:
    id: str
    expect: str  # "valid" or "invalid"
    path: Path


def peer_files(directory: Path) -> list[PeerFile]:
    with (directory / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [PeerFile(row["id"], row["expect"], directory / row["id"] / "Dockerfile") for row in rows]
