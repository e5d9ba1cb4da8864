"""Errors that reach the user as one line and a documented exit code (README's table, docs/limits.md)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # analyze found something at or above --fail-on; compare's budget failed
    BAD_INPUT = 2  # unreadable or invalid input, or an output that exists without --force
    BUILD_FAILED = 3
    ENVIRONMENT = 4  # Docker, buildx or trivy missing or unreachable; the disk full while writing an output
    SERVICE_DOWN = 5  # promote: the new image failed and so did the rollback; the service needs a person


class BuildoptError(Exception):
    """An expected failure: printed as `buildopt: <message>` and mapped to an exit code, never a traceback."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, exit_code: ExitCode | None = None, hint: str | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.hint = hint


class BadInput(BuildoptError):
    exit_code = ExitCode.BAD_INPUT


class BuildFailed(BuildoptError):
    exit_code = ExitCode.BUILD_FAILED


class EnvironmentMissing(BuildoptError):
    exit_code = ExitCode.ENVIRONMENT
