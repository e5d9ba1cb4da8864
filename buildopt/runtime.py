"""Process-level tuning for the CPU-bound stages."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Parse, analyze and optimize build many small objects that live until the end (a word object per word of
    every RUN): CPython's cyclic collector rescans them again and again as they pile up, which was half the time
    of `analyze` on a 5 MB Dockerfile (docs/benchmarks.md). They make no cycles worth collecting, so the
    collector waits until the block ends, and what the block built is then frozen (`gc.freeze`): the parsed
    file and the findings live until the command ends, and the collector would otherwise scan them all once
    per generation as soon as it runs again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
