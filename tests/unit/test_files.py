"""buildopt/files.py on real files, FIFOs and directories (devices, full disks and other users: test_robustness.py).

A FIFO nobody writes to blocks a plain open() forever; the timeout marks guard against that hang, they don't
measure anything.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from buildopt.errors import BadInput, ExitCode
from buildopt.files import (
    MAX_CONTEXT_FILE_BYTES,
    MAX_DOCKERFILE_BYTES,
    MIB,
    check_output,
    ensure_dir,
    open_for_writing,
    read_text,
    read_text_if_exists,
    write_files,
    write_text,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def _is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


def test_reads_a_regular_file(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("flask==3.0\n")
    assert read_text(path) == "flask==3.0\n"
    assert read_text_if_exists(tmp_path / "missing") is None


def test_a_fifo_is_refused_without_blocking(fifo):
    for reader in (read_text, read_text_if_exists):
        with pytest.raises(BadInput, match=r"pipe: is a FIFO \(named pipe\), not a regular file") as caught:
            reader(fifo)
        assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_a_fifo_fed_forever_is_refused(fifo):
    """The /dev/zero shape: a writer that never stops. Refused by what it is, not after reading it."""
    writer = subprocess.Popen([sys.executable, "-c", "import sys\nout = open(sys.argv[1], 'wb')\nwhile True: out.write(bytes(65536))",
                               str(fifo)])
    try:
        with pytest.raises(BadInput, match="FIFO"):
            read_text(fifo)
    finally:
        writer.kill()
        writer.wait()


def test_directories_and_missing_files(tmp_path):
    with pytest.raises(BadInput, match="is a directory, not a regular file"):
        read_text(tmp_path)
    with pytest.raises(BadInput, match="no such file"):
        read_text(tmp_path / "nope")
    with pytest.raises(BadInput, match="no such file"):
        read_text(tmp_path / "nope" / "deeper")


def test_the_size_cap(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"x" * (64 * 1024 + 1))
    with pytest.raises(BadInput, match=r"big: larger than 65536 bytes, the limit for a requirements file"):
        read_text(path, limit=64 * 1024, what="requirements file")
    assert len(read_text(path, limit=64 * 1024 + 1)) == 64 * 1024 + 1
    # the documented caps (docs/limits.md)
    assert MAX_DOCKERFILE_BYTES == 8 * MIB and MAX_CONTEXT_FILE_BYTES == 8 * MIB
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as handle:
        handle.truncate(MAX_DOCKERFILE_BYTES + 1)  # refused from its size, before a byte is read
    with pytest.raises(BadInput, match="larger than 8 MiB, the limit for a Dockerfile"):
        read_text(sparse, limit=MAX_DOCKERFILE_BYTES, what="Dockerfile")


def test_encoding_errors(tmp_path):
    path = tmp_path / "latin1"
    path.write_bytes(b"flask\xe9\n")
    with pytest.raises(BadInput, match="not a text file"):
        read_text(path)
    assert read_text(path, errors="replace") == "flask\ufffd\n"


def test_writes_and_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "out.txt"
    write_text(path, "one\n")
    with pytest.raises(BadInput, match="already exists"):
        write_text(path, "two\n")
    path.chmod(0o640)
    write_text(path, "two\n", force=True)
    assert path.read_text() == "two\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_fifo_target_is_never_replaced_even_with_force(fifo):
    for force in (False, True):
        with pytest.raises(BadInput, match=r"is a FIFO .* buildopt writes only regular files"):
            write_text(fifo, "x", force=force)
        assert _is_fifo(fifo)
    assert sorted(p.name for p in fifo.parent.iterdir()) == ["pipe"]


def test_a_symlink_to_a_fifo_is_refused(fifo):
    link = fifo.parent / "link"
    link.symlink_to(fifo)
    with pytest.raises(BadInput, match="FIFO"):
        write_text(link, "x", force=True)
    assert link.is_symlink() and _is_fifo(fifo)


def test_several_files_are_written_all_or_none(tmp_path, fifo):
    first = tmp_path / "Dockerfile.optimized"
    with pytest.raises(BadInput, match="FIFO"):
        write_files({first: "FROM x\n", fifo: "services: {}\n"}, force=True)
    assert not first.exists() and _is_fifo(fifo)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_bad_output_paths(tmp_path):
    with pytest.raises(BadInput, match="no/such: output directory does not exist"):
        check_output(tmp_path / "no" / "such" / "r.sarif", force=False)
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput, match=r"output directory does not exist|not a directory"):
        write_text(tmp_path / "file" / "r.sarif", "x")
    with pytest.raises(BadInput, match="is a directory"):
        write_text(tmp_path, "x", force=True)


def test_ensure_dir(tmp_path, fifo):
    assert ensure_dir(tmp_path / "a" / "b").is_dir()
    with pytest.raises(BadInput, match="is a FIFO"):
        ensure_dir(fifo)


def test_a_log_is_never_opened_on_a_fifo(tmp_path, fifo):
    with pytest.raises(BadInput, match="FIFO"):
        open_for_writing(fifo)
    log = tmp_path / "build.log"
    log.write_text("old contents\n")
    with open_for_writing(log) as handle:
        handle.write("new\n")
    assert log.read_text() == "new\n"
