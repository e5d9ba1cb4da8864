"""Walk overlay2 layer dirs and say what each holds: one record per entry, the contents of the few files
the package parsers need, and optionally each layer's gzip size.

The one walker of the overlay2 reader, in two places:
- in-process, when this user can read the engine's data root (root): overlay2.scan_layer_dir consumes
  `walk_layer` directly;
- inside a short-lived helper container (non-root users in the docker group, like GitHub's runners): the
  container gets the data root bind-mounted read-only and runs this file as a script (`python -I -S`) with
  this process's own interpreter, mounted from the host; the records come back on stdout as JSON lines
  (inspect/helper.py).

So this file uses the standard library only (no site-packages in the helper). Records (tuples in-process,
JSON arrays on stdout):
    ["L", dir]                              a layer starts
    ["f", path, size, mode, uid, ino, nlink] regular file
    ["d", path, mode, uid, opaque]          directory (opaque: 1 when it hides the lower layers' contents)
    ["l", path, mode, uid]                  symlink
    ["w", path]                             whiteout (a 0/0 character device)
    ["o", path, mode, uid]                  anything else
    ["c", path, data]                       a captured file's contents (bytes; base64 on stdout)
    ["z", size]                             the layer's gzip -6 tar size (when asked)
    ["C", data]                             the image config JSON (bytes; base64 on stdout)
"""

import base64
import json
import os
import stat
import sys
import tarfile
import zlib

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


def walk_layer(root, capture_names, capture_dirs, max_capture):
    """Records for one diff dir: an iterative walk, one lstat per entry, one getxattr per directory.

    A regular file is captured when its name is in `capture_names` or it lies under one of `capture_dirs`
    (relative paths without a leading slash), and it is at most `max_capture` bytes; the caller filters
    further. This loop runs for every file of the image, so it avoids per-entry function calls.
    """
    stack = [""]
    reg, dirtype, lnk, chrdev = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFCHR
    while stack:
        rel = stack.pop()
        prefix = rel + "/" if rel else ""
        check_all = rel.startswith(capture_dirs)
        try:
            iterator = os.scandir(os.path.join(root, rel) if rel else root)
        except OSError:
            continue
        with iterator:
            for item in iterator:
                name = item.name
                path = prefix + name
                info = item.stat(follow_symlinks=False)
                mode = info.st_mode
                kind = mode & 0o170000
                if kind == reg:
                    yield ("f", path, info.st_size, mode & 0o7777, info.st_uid, info.st_ino, info.st_nlink)
                    if (check_all or name in capture_names) and info.st_size <= max_capture:
                        try:
                            with open(item.path, "rb") as handle:
                                yield ("c", path, handle.read())
                        except OSError:
                            pass
                elif kind == dirtype:
                    yield ("d", path, mode & 0o7777, info.st_uid, 1 if _is_opaque(item.path) else 0)
                    stack.append(path)
                elif kind == lnk:
                    yield ("l", path, mode & 0o7777, info.st_uid)
                elif kind == chrdev and info.st_rdev == 0:
                    yield ("w", path)
                else:
                    yield ("o", path, mode & 0o7777, info.st_uid)


def _is_opaque(path):
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


class _GzipCounter:
    """A write-only file that gzips (level 6, like `docker push`) what it gets and keeps only the count."""

    def __init__(self):
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.count = 0

    def write(self, data):
        self.count += len(self._compressor.compress(data))
        return len(data)

    def close(self):
        self.count += len(self._compressor.flush())


def gzip_tar_size(root):
    """Rebuild the layer's tar (sorted walk, as the engine's differ writes it) and count its gzip bytes.

    Headers differ slightly from the engine's tar (no xattrs, whiteouts stay devices), which moves the
    figure by well under 1 %; the contents dominate.
    """
    counter = _GzipCounter()
    # typeshed's tarfile wants a file that also reads and seeks; stream mode "w|" only writes.
    with tarfile.open(fileobj=counter, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tar:  # type: ignore[call-overload]
        for name in sorted(os.listdir(root)):
            tar.add(os.path.join(root, name), arcname=name, recursive=True)
    counter.close()
    return counter.count


def main(argv):
    """Script mode: argv[1] is a JSON request {"dirs", "names", "capture_dirs", "max_capture",
    "compressed", "config"}; the records go to stdout, one JSON array per line."""
    request = json.loads(argv[1])
    out = sys.stdout
    write = out.write
    names = frozenset(request["names"])
    capture_dirs = tuple(request["capture_dirs"])
    for root in request["dirs"]:
        write(json.dumps(["L", root]) + "\n")
        for record in walk_layer(root, names, capture_dirs, request["max_capture"]):
            if record[0] == "c":
                record = ("c", record[1], base64.b64encode(record[2]).decode("ascii"))
            write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        if request.get("compressed"):
            write(json.dumps(["z", gzip_tar_size(root)]) + "\n")
    if request.get("config"):
        with open(request["config"], "rb") as handle:
            write(json.dumps(["C", base64.b64encode(handle.read()).decode("ascii")]) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    # Paths are bytes on disk; surrogateescape keeps undecodable names round-trippable through JSON.
    sys.stdout = open(sys.stdout.fileno(), "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115  (for the whole run)
    sys.exit(main(sys.argv))
