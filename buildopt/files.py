"""Reading inputs and writing outputs safely: regular files only, size caps, one-line errors.

Every file buildopt reads (the Dockerfile; the requirements, pyproject.toml, setup.cfg, .dockerignore and
entrypoint scripts it reads from the context; config, budget and baseline files) comes through `read_text`,
and every file it writes (`-o`, the files optimize writes next to it, compare's report dir, build logs)
through `write_text` / `write_files` / `open_for_writing`. Limits and exit codes: docs/limits.md.

Reads: the path is stat'ed before it is opened, and opened with O_NONBLOCK, so a FIFO, a device or a
directory is refused (exit 2) without blocking and without running a device's open; at most `limit` bytes
are read, so /dev/zero-like input can't use up the memory.

Writes: the target must be a regular file or absent, even with --force; nothing is created in any other
directory than the target's. The text goes to a temp file beside the target, is fsynced and renamed over
it, and the temp file is removed whatever fails. A bad output path (missing directory, read-only,
permission) is exit 2; a full disk is exit 4.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import IO

from .errors import BadInput, EnvironmentMissing

MIB = 1024 * 1024
MAX_DOCKERFILE_BYTES = 8 * MIB
# requirements files, pyproject.toml, setup.cfg, .dockerignore, entrypoint scripts, buildopt.toml, budgets
MAX_CONTEXT_FILE_BYTES = 8 * MIB

# Errors that say the machine ran out of room, not that the path is wrong: exit 4, not 2.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_ABSENT = {errno.ENOENT, errno.ENOTDIR}


def kind_of(mode: int) -> str:
    """What a non-regular file is, for the error message."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _limit_text(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit} bytes"


def _stat(path: Path) -> os.stat_result | None:
    """os.stat (symlinks followed), None when nothing is there; other failures are one-line errors."""
    try:
        return os.stat(path)
    except OSError as err:
        if err.errno in _ABSENT:
            return None
        raise BadInput(f"{path}: cannot read: {_reason(err)}") from None
    except ValueError:  # an embedded NUL byte
        raise BadInput(f"{str(path)!r}: not a valid path") from None


def read_bytes(path: str | os.PathLike[str], *, limit: int = MAX_CONTEXT_FILE_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; BadInput (exit 2) for anything else."""
    path = Path(path)
    info = _stat(path)
    if info is None:
        raise BadInput(f"{path}: no such file")
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{path}: is {kind_of(info.st_mode)}, not a regular file")
    _check_size(path, info.st_size, limit, what)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open returns instead of waiting.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise BadInput(f"{path}: cannot read: {_reason(err)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{path}: is {kind_of(info.st_mode)}, not a regular file")
        _check_size(path, info.st_size, limit, what)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # the file may grow after the stat: never read more than limit + 1
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        _check_size(path, total, limit, what)
        return b"".join(chunks)
    except OSError as err:
        raise BadInput(f"{path}: cannot read: {_reason(err)}") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], *, limit: int = MAX_CONTEXT_FILE_BYTES, what: str = "file",
              errors: str = "strict", encoding: str = "utf-8") -> str:
    """A regular text file (see read_bytes); undecodable bytes are BadInput unless `errors` says otherwise."""
    raw = read_bytes(path, limit=limit, what=what)
    try:
        return raw.decode(encoding, errors=errors)
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not a text file (invalid UTF-8)") from None


def read_text_if_exists(path: str | Path, **kwargs) -> str | None:
    """read_text, or None when nothing is at `path` (an optional file such as .dockerignore or pyproject.toml).

    Something that is there but isn't a readable regular file is still an error: a build would trip on it too.
    """
    if _stat(Path(path)) is None:
        return None
    return read_text(path, **kwargs)


def _check_size(path: Path, size: int, limit: int, what: str) -> None:
    if size > limit:
        raise BadInput(f"{path}: larger than {_limit_text(limit)}, the limit for a {what}")


# --- writing ---------------------------------------------------------------------------------------------
def check_output(path: str | Path, *, force: bool) -> None:
    """Refuse before anything is written: a target that isn't a regular file (even with force), one that exists
    without force, or one whose directory is missing."""
    path = Path(path)
    info = _stat(path)
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{path}: is {kind_of(info.st_mode)}; buildopt writes only regular files")
        if not force:
            raise BadInput(f"{path}: already exists (use --force to overwrite)")
    parent = _stat(path.parent if str(path.parent) else Path("."))
    if parent is None:
        raise BadInput(f"{path.parent}: output directory does not exist")
    if not stat.S_ISDIR(parent.st_mode):
        raise BadInput(f"{path.parent}: not a directory")


def write_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write one output file atomically (see write_files)."""
    return write_files({Path(path): text}, force=force)[0]


def write_files(files: dict[Path, str], *, force: bool = False) -> list[Path]:
    """Write every file or none: all targets are checked first, then each goes to a temp file beside it, and
    only when all are written are they renamed into place. No temp file survives a failure."""
    targets = [Path(path) for path in files]
    for path in targets:
        check_output(path, force=force)
    temps: list[tuple[Path, Path]] = []
    try:
        for path, text in zip(targets, files.values(), strict=True):
            temps.append((_write_temp(path, text), path))
        for temp, path in temps:
            check_output(path, force=True)  # it may have become a FIFO or a device since the first check
            try:
                os.replace(temp, path)
            except OSError as err:
                raise _write_error(path, err) from None
    finally:
        for temp, _ in temps:
            _remove(temp)  # nothing there once renamed into place
    return targets


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _write_temp(path: Path, text: str) -> Path:
    data = text.encode("utf-8")
    mode = 0o666
    existing = _stat(path)
    if existing is not None:
        mode = stat.S_IMODE(existing.st_mode)  # overwriting with --force keeps the file's permissions
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), mode)
            break
        except FileExistsError:
            continue
        except OSError as err:
            raise _write_error(path, err) from None
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        if existing is not None:
            os.fchmod(fd, mode)  # the umask doesn't apply to a kept mode
    except BaseException as err:
        os.close(fd)
        _remove(temp)
        if isinstance(err, OSError):
            raise _write_error(path, err) from None
        raise
    try:
        os.close(fd)
    except OSError as err:  # NFS and friends report a full disk on close
        _remove(temp)
        raise _write_error(path, err) from None
    return temp


def _write_error(path: Path, err: OSError) -> Exception:
    if err.errno in _NO_SPACE:
        return EnvironmentMissing(f"{path}: cannot write: {_reason(err)}", hint="free some disk space")
    return BadInput(f"{path}: cannot write: {_reason(err)}")


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def ensure_dir(path: str | Path) -> Path:
    """An output directory (created with its parents when missing); one-line errors for a non-directory."""
    path = Path(path)
    info = _stat(path)
    if info is not None:
        if not stat.S_ISDIR(info.st_mode):
            raise BadInput(f"{path}: is {kind_of(info.st_mode)}, not a directory")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _write_error(path, err) from None
    return path


def open_for_writing(path: str | Path) -> IO[str]:
    """A text stream to a regular file (a build log), created or truncated; never a FIFO or a device.

    O_NONBLOCK makes a FIFO that appears after the check fail at open instead of waiting for a reader.
    """
    path = Path(path)
    check_output(path, force=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as err:
        raise _write_error(path, err) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BadInput(f"{path}: is {kind_of(info.st_mode)}; buildopt writes only regular files")
    os.set_blocking(fd, True)
    os.ftruncate(fd, 0)
    return os.fdopen(fd, "w", encoding="utf-8")
