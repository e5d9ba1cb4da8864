"""Fallback reader: stream `docker save` through the Engine API and parse it on the fly.

Nothing is written to disk and memory stays bounded: the outer tar and each layer tar inside it are
read forward only; file data is skipped, not buffered. Only JSON metadata and the few small files the
package parsers need are kept.

Docker 25+ writes the OCI layout (`blobs/sha256/<digest>`, then index.json and manifest.json last);
older engines write the legacy layout (`<id>/layer.tar`, `<id>/json`, manifest.json last). Either way
manifest.json, which gives the layer order, comes after the layers, so every layer tar is scanned as
it streams by, keyed by its member name, and put in order at the end.
"""

from __future__ import annotations

import gzip
import json
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..errors import BadInput
from .layers import (
    DIR,
    MAX_CAPTURE,
    OTHER,
    REG,
    SYMLINK,
    LayerBuilder,
    LayerScan,
    WantedFn,
    normalize,
)

NAME = "archive"
_MAX_JSON = 16 * 1024 * 1024
_SKIP_CHUNK = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ForwardReader:
    """A read-only file over an iterator of byte chunks. seek() may only go forward: it skips."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._chunk = b""
        self._offset = 0  # into _chunk
        self._position = 0

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._chunk, self._offset = chunk, 0
                return True
        self._chunk, self._offset = b"", 0
        return False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._chunk[self._offset:]]
            parts.extend(self._chunks)
            self._chunk, self._offset = b"", 0
            data = b"".join(parts)
            self._position += len(data)
            return data
        available = len(self._chunk) - self._offset
        if available >= size:  # the common case: a 512-byte header or a small file
            data = self._chunk[self._offset:self._offset + size]
            self._offset += size
            self._position += size
            return data
        parts = []
        wanted = size
        while wanted > 0:
            available = len(self._chunk) - self._offset
            if available <= 0:
                if not self._fill():
                    break
                continue
            take = min(available, wanted)
            parts.append(self._chunk[self._offset:self._offset + take])
            self._offset += take
            wanted -= take
        data = b"".join(parts)
        self._position += len(data)
        return data

    def skip(self, count: int) -> int:
        skipped = 0
        while skipped < count:
            available = len(self._chunk) - self._offset
            if available <= 0:
                if not self._fill():
                    break
                continue
            take = min(available, count - skipped)
            self._offset += take
            skipped += take
        self._position += skipped
        return skipped

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = 0) -> int:
        if whence == 1:
            position += self._position
        elif whence != 0:
            raise OSError("ForwardReader can't seek from the end")
        if position < self._position:
            raise OSError(f"ForwardReader can't seek back ({position} < {self._position})")
        self.skip(position - self._position)
        return self._position

    def seekable(self) -> bool:
        return True  # forward only; tarfile's "r:" mode only moves forward when members are read in order

    def readable(self) -> bool:
        return True


class Window:
    """`size` bytes of a ForwardReader, as a file of its own. With `sink`, every byte (skipped ones too)
    is passed to it: that is how the compressed-size estimate sees the whole layer tar."""

    def __init__(self, source: ForwardReader, size: int, sink: Callable[[bytes], None] | None = None):
        self._source = source
        self._start = source.tell()
        self._size = size
        self._sink = sink

    def tee(self, sink: Callable[[bytes], None]) -> None:
        """From now on, pass every byte of the window (skipped ones too) to `sink`."""
        self._sink = sink

    def tell(self) -> int:
        return self._source.tell() - self._start

    def _remaining(self) -> int:
        return self._size - self.tell()

    def read(self, size: int = -1) -> bytes:
        remaining = self._remaining()
        if size is None or size < 0 or size > remaining:
            size = remaining
        data = self._source.read(size)
        if self._sink is not None and data:
            self._sink(data)
        return data

    def seek(self, position: int, whence: int = 0) -> int:
        if whence == 1:
            position += self.tell()
        elif whence == 2:
            position += self._size
        position = min(position, self._size)
        gap = position - self.tell()
        if gap < 0:
            raise OSError("can't seek back in a streamed layer")
        if self._sink is None:
            self._source.skip(gap)
        else:
            while gap > 0:
                gap -= len(self.read(min(gap, _SKIP_CHUNK)))
                if not self._remaining():
                    break
        return self.tell()

    def drain(self) -> None:
        self.seek(self._size)

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


@dataclass
class SavedImage:
    """What a `docker save` stream held, layers in order (bottom-up)."""

    config: bytes
    layers: list[LayerScan]
    diff_ids: list[str] = field(default_factory=list)


def scan_save_stream(chunks: Iterable[bytes], wanted: WantedFn, *, image_id: str = "", compressed: bool = False) -> SavedImage:
    source = ForwardReader(chunks)
    try:
        # typeshed's tarfile wants a file that also writes; mode "r:" only reads. Closing the TarFile leaves the stream to us.
        with tarfile.open(fileobj=source, mode="r:") as outer:  # type: ignore[call-overload]
            small, scans, aliases = _read_members(outer, source, wanted, compressed)
    except tarfile.ReadError as err:
        raise BadInput(f"unreadable docker save stream: {err}") from None

    manifest = _manifest(small, image_id)
    config = small.get(normalize(manifest.get("Config", "")))
    if config is None:
        raise BadInput("docker save stream has no image config")
    layers = []
    for layer_name in manifest.get("Layers") or []:
        key = normalize(layer_name)
        key = aliases.get(key, key)
        if key in scans:
            layers.append(scans[key])
        elif key in small and not small[key].strip(b"\0"):
            layers.append(LayerScan(key, compressed_size=len(gzip.compress(small[key], 6)) if compressed else None))
        else:
            raise BadInput(f"docker save stream lacks layer {layer_name}")
    diff_ids = (json.loads(config).get("rootfs") or {}).get("diff_ids") or []
    return SavedImage(config=config, layers=layers, diff_ids=diff_ids)


def _read_members(outer: tarfile.TarFile, source: ForwardReader, wanted: WantedFn, compressed: bool):
    """Walk the outer tar once: keep small JSON members, scan layer tars, note legacy layer links."""
    small: dict[str, bytes] = {}
    scans: dict[str, LayerScan] = {}
    aliases: dict[str, str] = {}
    while True:
        member = outer.next()
        if member is None:
            break
        outer.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every header otherwise (not in the stub)
        name = normalize(member.name)
        if member.issym() or member.islnk():
            # Legacy layout: a layer shared by two images is a link to the other's layer.tar.
            target = member.linkname
            aliases[name] = normalize(posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
                                      if member.issym() else target)
            continue
        if not member.isreg():
            continue
        window = Window(source, member.size)
        head = window.read(min(512, member.size))
        if head[:1] in (b"{", b"[") or member.size < 1024:
            if member.size <= _MAX_JSON:
                small[name] = head + window.read()
            continue
        scans[name] = _scan_layer_member(window, member.size, head, name, wanted, compressed)
    return small, scans, aliases


def _manifest(small: dict[str, bytes], image_id: str) -> dict:
    raw = small.get("manifest.json")
    if raw is None:
        raise BadInput("docker save stream has no manifest.json")
    entries = json.loads(raw)
    if not entries:
        raise BadInput("docker save stream has an empty manifest.json")
    digest = image_id.split(":", 1)[-1]
    for entry in entries:
        if digest and digest in entry.get("Config", ""):
            return entry
    return entries[0]


def _scan_layer_member(window: Window, size: int, head: bytes, name: str, wanted: WantedFn,
                       compressed: bool) -> LayerScan:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if compressed else None
    counted = [0]
    is_gzip = head[:2] == b"\x1f\x8b"
    if head[:4] == _ZSTD_MAGIC:
        raise BadInput(f"layer {name} is zstd-compressed; use --reader overlay2")
    # The 512 bytes already read go first; then the rest of the member streams through.
    if compressor is not None and not is_gzip:

        def sink(data: bytes) -> None:
            counted[0] += len(compressor.compress(data))

        sink(head)
        window.tee(sink)
    stream = _Prefixed(head, window)
    fileobj = gzip.GzipFile(fileobj=stream, mode="rb") if is_gzip else stream
    try:
        scan = scan_layer_tar(fileobj, name, wanted)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise BadInput(f"unreadable layer {name} in the docker save stream: {err}") from None
    window.drain()
    if compressor is not None:
        scan.compressed_size = size if is_gzip else counted[0] + len(compressor.flush())
    return scan


class _Prefixed:
    """Bytes already read, then the rest of a Window: a forward-only file for tarfile."""

    def __init__(self, head: bytes, rest: Window):
        self._head = head
        self._rest = rest
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        if self._position < len(self._head):
            if size is None or size < 0:
                data = self._head[self._position:] + self._rest.read()
            else:
                data = self._head[self._position:self._position + size]
                if len(data) < size:
                    data += self._rest.read(size - len(data))
        else:
            data = self._rest.read(size)
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = 0) -> int:
        if whence == 1:
            position += self._position
        elif whence != 0:
            raise OSError("can't seek from the end of a streamed layer")
        if position < self._position:
            raise OSError("can't seek back in a streamed layer")
        if position <= len(self._head):
            self._position = position
        else:
            self._position = max(self._position, len(self._head))
            self._rest.seek(self._rest.tell() + position - self._position)
            self._position = position
        return self._position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


def scan_layer_tar(fileobj, key: str, wanted: WantedFn) -> LayerScan:
    """One layer tar, read forward: headers parsed, data skipped except for wanted files."""
    builder = LayerBuilder(key)
    add = builder.add
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        while True:
            info = tar.next()
            if info is None:
                break
            tar.members.clear()  # type: ignore[attr-defined]  # as in _read_members
            path = normalize(info.name)
            if not path:
                continue
            parent, _, base = path.rpartition("/")
            if base.startswith(".wh."):
                if base == ".wh..wh..opq":
                    builder.opaque(parent)
                elif not base.startswith(".wh..wh."):  # other .wh..wh. names are aufs bookkeeping
                    builder.whiteout(f"{parent}/{base[4:]}" if parent else base[4:])
                continue
            mode = info.mode & 0o7777
            if info.isreg():
                add(path, REG, info.size, mode, info.uid)
                if wanted(path) and info.size <= MAX_CAPTURE:
                    extracted = tar.extractfile(info)
                    assert extracted is not None  # a regular file's member
                    builder.capture(path, extracted.read())
            elif info.isdir():
                add(path, DIR, 0, mode, info.uid)
            elif info.issym():
                add(path, SYMLINK, 0, mode, info.uid)
            elif info.islnk():
                builder.add_hardlink(path, normalize(info.linkname), mode, info.uid)
            else:
                add(path, OTHER, 0, mode, info.uid)
    return builder.finish()


def stream_image(client, ref: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The raw `docker save` byte stream of one image, via the docker SDK's low-level API."""
    return client.api.get_image(ref, chunk_size=chunk_size)
