"""Progress on stderr for long work (builds, scans): a rich status line when stderr is a terminal,
plain timestamped lines otherwise (CI logs)."""

from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.status import Status


class StageProgress:
    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.interactive = self.console.is_terminal
        self.started = time.monotonic()
        self._status: Status | None = None
        self._last_step: dict[str, str] = {}
        self._lock = threading.Lock()  # stages report from several threads (both variants at once)

    def __enter__(self) -> StageProgress:
        if self.interactive:
            self._status = status = self.console.status("starting")
            status.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)

    def stage(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        with self._lock:
            if self._status is not None:
                self._status.update(f"{message}…")
                self.console.log(message)
            else:
                self._line(f"[buildopt {elapsed:6.1f}s] {message}")

    @staticmethod
    def _line(text: str) -> None:
        sys.stderr.write(text + "\n")  # one write per line, so lines from two threads never interleave
        sys.stderr.flush()

    def build_line(self, variant: str, line: str) -> None:
        """BuildKit plain progress: show each variant's current step (`#7 [2/5] RUN ...`)."""
        if not line.startswith("#") or "[" not in line or " DONE" in line or " CACHED" in line:
            return
        step = line.split(" ", 1)[1][:100] if " " in line else line
        if self._last_step.get(variant) == step or not step.startswith("["):
            return
        self._last_step[variant] = step
        with self._lock:
            if self._status is not None:
                self._status.update(f"building {variant}: {step}")
            else:
                self._line(f"[buildopt {time.monotonic() - self.started:6.1f}s] {variant}: {step}")
