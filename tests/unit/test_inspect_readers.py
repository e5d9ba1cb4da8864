"""Both readers on the same synthetic layers: layer tars in a docker-save stream (OCI and legacy layouts,
chunked at odd sizes, gzip layers) and the same layers as overlay2 diff dirs (0/0 char-device
whiteouts, trusted.overlay.opaque xattrs, real hardlinks). They must give the same profile."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zlib

import pytest

from buildopt.errors import BadInput
from buildopt.inspect import profile_from_layers
from buildopt.inspect.archive import ForwardReader, scan_layer_tar, scan_save_stream
from buildopt.inspect.layers import wanted
from buildopt.inspect.overlay2 import gzip_tar_size, scan_layer_dir

LONG = "opt/venv/lib/python3.11/site-packages/" + "very_long_package_name_" * 4 + "/module.py"
RECORD = (
    "tinypkg/__init__.py,sha256=x,11\n"
    "tinypkg-1.0.dist-info/RECORD,,\n"
    "\"tinypkg/we,ird.py\",sha256=y,5\n"
    "../../../bin/tiny,sha256=z,7\n"
)
STATUS = (
    "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.2-3\nInstalled-Size: 40\n"
    "Description: foo\n multi-line\n\n"
    "Package: gone\nStatus: deinstall ok config-files\nVersion: 0.1\n"
)
# Each layer: ops applied in order. ("file", path, bytes) ("dir", path) ("link", path, target) ("sym", path, target)
# ("whiteout", path) ("opaque", dir)
LAYERS = [
    [
        ("dir", "var"), ("dir", "var/lib"), ("dir", "var/lib/dpkg"), ("dir", "var/lib/dpkg/info"),
        ("file", "var/lib/dpkg/status", STATUS.encode()),
        ("file", "var/lib/dpkg/info/libfoo1:amd64.list", b"/.\n/usr\n/usr/lib\n/usr/lib/libfoo.so.1\n"),
        ("dir", "usr"), ("dir", "usr/lib"), ("file", "usr/lib/libfoo.so.1", os.urandom(3000)),
        ("dir", "data"), ("dir", "data/sub"),
        ("file", "data/a.bin", os.urandom(10_000)), ("link", "data/hl.bin", "data/a.bin"),
        ("file", "data/c.bin", os.urandom(3000)), ("file", "data/sub/b.bin", os.urandom(5000)),
        ("sym", "data/latest", "c.bin"),
    ],
    [
        ("dir", "data"), ("whiteout", "data/a.bin"), ("file", "data/c.bin", os.urandom(2000)),
        ("dir", "opt"), ("dir", "opt/venv"), ("dir", "opt/venv/bin"), ("file", "opt/venv/bin/tiny", b"#!tiny\n"),
        ("dir", "opt/venv/lib"), ("dir", "opt/venv/lib/python3.11"), ("dir", "opt/venv/lib/python3.11/site-packages"),
        ("dir", "opt/venv/lib/python3.11/site-packages/tinypkg"),
        ("file", "opt/venv/lib/python3.11/site-packages/tinypkg/__init__.py", b"print('hi')"),
        ("file", "opt/venv/lib/python3.11/site-packages/tinypkg/we,ird.py", b"x = 1"),
        ("dir", "opt/venv/lib/python3.11/site-packages/tinypkg-1.0.dist-info"),
        ("file", "opt/venv/lib/python3.11/site-packages/tinypkg-1.0.dist-info/RECORD", RECORD.encode()),
        ("dir", os.path.dirname(LONG)), ("file", LONG, b"long"),
    ],
    [
        ("dir", "data"), ("dir", "data/sub"), ("opaque", "data/sub"), ("file", "data/sub/new.txt", b"hi\n"),
        ("dir", "root"), ("dir", "root/.cache"), ("dir", "root/.cache/huggingface"), ("dir", "root/.cache/huggingface/hub"),
        ("dir", "root/.cache/huggingface/hub/models--acme--tiny"),
        ("file", "root/.cache/huggingface/hub/models--acme--tiny/model.safetensors", os.urandom(4096)),
    ],
]
EXPECTED_WASTE = {("/data/sub/b.bin", 5000, 0, 2, "deleted"), ("/data/c.bin", 3000, 0, 1, "overwritten")}


def layer_tar(ops, *, gnu=False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT if gnu else tarfile.PAX_FORMAT) as tar:
        for op in ops:
            kind, path = op[0], op[1]
            info = tarfile.TarInfo(path)
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "file":
                info.size, info.mode = len(op[2]), 0o644
                tar.addfile(info, io.BytesIO(op[2]))
            elif kind == "link":
                info.type, info.linkname, info.mode = tarfile.LNKTYPE, op[2], 0o644
                tar.addfile(info)
            elif kind == "sym":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, op[2], 0o777
                tar.addfile(info)
            elif kind == "whiteout":
                parent, _, name = path.rpartition("/")
                tar.addfile(tarfile.TarInfo(f"{parent}/.wh.{name}"))
            elif kind == "opaque":
                tar.addfile(tarfile.TarInfo(f"{path}/.wh..wh..opq"))
    return buffer.getvalue()


def layer_dir(ops, root) -> str:
    os.makedirs(root)
    for op in ops:
        kind, path = op[0], os.path.join(root, op[1])
        if kind == "dir":
            os.makedirs(path, exist_ok=True)
        elif kind == "file":
            with open(path, "wb") as handle:
                handle.write(op[2])
            os.chmod(path, 0o644)
        elif kind == "link":
            os.link(os.path.join(root, op[2]), path)
        elif kind == "sym":
            os.symlink(op[2], path)
        elif kind == "whiteout":
            os.mknod(path, 0o600 | 0o020000, os.makedev(0, 0))
        elif kind == "opaque":
            os.setxattr(path, "trusted.overlay.opaque", b"y")
    return root


def config_json(tars: list[bytes]) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "app", "Env": ["PATH=/usr/bin"], "Healthcheck": {"Test": ["CMD-SHELL", "true"]}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]},
        "history": [{"created_by": "base"}, {"created_by": "ENV X=1", "empty_layer": True},
                    {"created_by": "RUN pip install tinypkg"}, {"created_by": "COPY model"}],
    }).encode()


def oci_save(tars: list[bytes], *, gzip_layers=False) -> tuple[bytes, str]:
    """A `docker save` tar as Docker 25+ writes it: blobs sorted by digest, then index and manifest."""
    config = config_json(tars)
    config_digest = hashlib.sha256(config).hexdigest()
    blobs = {config_digest: config}
    layer_names = []
    for data in tars:
        blob = gzip.compress(data) if gzip_layers else data
        digest = hashlib.sha256(blob).hexdigest()
        blobs[digest] = blob
        layer_names.append(f"blobs/sha256/{digest}")
    manifest = [{"Config": f"blobs/sha256/{config_digest}", "RepoTags": ["x:1"], "Layers": layer_names}]
    members = [(f"blobs/sha256/{digest}", blobs[digest]) for digest in sorted(blobs)]
    members += [("index.json", b'{"schemaVersion":2}'), ("manifest.json", json.dumps(manifest).encode()),
                ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("repositories", b"{}")]
    return _tar(members), "sha256:" + config_digest


def legacy_save(tars: list[bytes]) -> tuple[bytes, str]:
    """The pre-25 layout: <id>/layer.tar, manifest last; a repeated layer is a symlink to the first."""
    config = config_json(tars)
    config_digest = hashlib.sha256(config).hexdigest()
    members, links, names = [], [], []
    seen: dict[bytes, str] = {}
    for index, data in enumerate(tars):
        layer_id = hashlib.sha256(f"{index}".encode()).hexdigest()
        names.append(f"{layer_id}/layer.tar")
        members += [(f"{layer_id}/VERSION", b"1.0"), (f"{layer_id}/json", b'{"id":"%s"}' % layer_id.encode())]
        if data in seen:
            links.append((f"{layer_id}/layer.tar", f"../{seen[data]}/layer.tar"))
        else:
            seen[data] = layer_id
            members.append((f"{layer_id}/layer.tar", data))
    members.append((f"{config_digest}.json", config))
    manifest = [{"Config": f"{config_digest}.json", "RepoTags": ["x:1"], "Layers": names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    return _tar(members, links), "sha256:" + config_digest


def _tar(members, links=()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def chunks(data: bytes, size: int = 777):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def profile_of(scans, config: bytes, reader: str):
    return profile_from_layers("x:1", {"Id": "sha256:abc"}, json.loads(config), scans, reader=reader)


def comparable(profile) -> dict:
    data = profile.to_dict(files=True)
    for key in ("reader", "duration_s", "compressed_size", "compressed_method"):
        data.pop(key)
    for layer in data["layers"]:
        layer.pop("compressed_size")
    return data


@pytest.fixture(scope="module")
def tars() -> list[bytes]:
    return [layer_tar(ops) for ops in LAYERS]


def test_oci_save_stream_profile(tars):
    stream, image_id = oci_save(tars)
    saved = scan_save_stream(chunks(stream), wanted, image_id=image_id)
    profile = profile_of(saved.layers, saved.config, "archive")
    waste = {(w.path, w.size, w.layer, w.hidden_by, w.reason) for w in profile.wasted}
    assert waste == EXPECTED_WASTE
    assert profile.wasted_bytes == 8000 == profile.size - profile.visible_size
    assert profile.file("/data/hl.bin").size == 10_000  # a.bin deleted, its other name keeps the bytes
    assert profile.file("/data/a.bin") is None
    assert profile.file("/" + LONG).size == 4
    assert [layer.created_by for layer in profile.layers] == ["base", "RUN pip install tinypkg", "COPY model"]
    tiny = profile.package("tinypkg", "pip")
    assert (tiny.version, tiny.size, tiny.files, tiny.location) == (
        "1.0", 11 + 5 + 7 + len(RECORD), 4, "/opt/venv/lib/python3.11/site-packages")
    foo = profile.package("libfoo1", "deb")
    assert (foo.version, foo.size, foo.files, foo.installed_size) == ("1.2-3", 3000, 1, 40 * 1024)
    assert profile.package("gone") is None
    assert [(m.path, m.format, m.repo) for m in profile.models] == [
        ("/root/.cache/huggingface/hub/models--acme--tiny/model.safetensors", "safetensors", "acme/tiny")]
    assert profile.config.user == "app" and not profile.config.runs_as_root


def test_legacy_layout_with_a_shared_layer_symlink():
    tars = [layer_tar(LAYERS[0]), layer_tar([("dir", "x")]), layer_tar([("dir", "x")])]
    stream, image_id = legacy_save(tars)
    saved = scan_save_stream(chunks(stream, 4096), wanted, image_id=image_id)
    assert len(saved.layers) == 3
    assert saved.layers[1] is saved.layers[2]


def test_gzip_layers_and_gnu_headers_read_the_same(tars):
    stream, image_id = oci_save(tars)
    plain = profile_of(scan_save_stream(chunks(stream), wanted, image_id=image_id).layers, config_json(tars), "archive")
    gnu_tars = [layer_tar(ops, gnu=True) for ops in LAYERS]
    stream, image_id = oci_save(gnu_tars, gzip_layers=True)
    saved = scan_save_stream(chunks(stream, 65536), wanted, image_id=image_id)
    assert comparable(profile_of(saved.layers, config_json(tars), "archive")) == comparable(plain)


def test_compressed_estimate_is_gzip6_of_each_layer_tar(tars):
    stream, image_id = oci_save(tars)
    saved = scan_save_stream(chunks(stream), wanted, image_id=image_id, compressed=True)
    for scan, data in zip(saved.layers, tars, strict=True):
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        assert scan.compressed_size == len(compressor.compress(data) + compressor.flush())


def test_overlay2_dirs_give_the_same_profile_as_the_tars(tars, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("whiteout devices and trusted.* xattrs need root")
    stream, image_id = oci_save(tars)
    saved = scan_save_stream(chunks(stream), wanted, image_id=image_id)
    from_tar = profile_of(saved.layers, saved.config, "archive")
    dirs = [layer_dir(ops, str(tmp_path / f"l{index}")) for index, ops in enumerate(LAYERS)]
    from_dirs = profile_of([scan_layer_dir(path, wanted) for path in dirs], saved.config, "overlay2")
    assert comparable(from_dirs) == comparable(from_tar)
    # The rebuilt-tar estimate is close to the real tar's gzip size (headers differ slightly).
    real = len(gzip.compress(tars[0], 6))
    assert abs(gzip_tar_size(dirs[0]) - real) < 0.05 * real


def test_forward_reader_reads_across_chunks_and_only_seeks_forward():
    data = bytes(range(256)) * 40
    reader = ForwardReader(chunks(data, 100))
    assert reader.read(10) == data[:10]
    assert reader.read(250) == data[10:260]
    reader.seek(1000)
    assert reader.tell() == 1000 and reader.read(5) == data[1000:1005]
    with pytest.raises(OSError):
        reader.seek(10)
    assert reader.read() == data[1005:]
    assert reader.read(10) == b""


def test_layer_tar_scan_records_whiteouts_and_opaque_dirs():
    scan = scan_layer_tar(io.BytesIO(layer_tar(LAYERS[1] + [("opaque", "data")])), "k", wanted)
    assert scan.whiteouts == ["data/a.bin"] and scan.opaques == ["data"]
    assert "data/.wh.a.bin" not in scan.entries
    assert "opt/venv/lib/python3.11/site-packages/tinypkg-1.0.dist-info/RECORD" in scan.contents


def test_stream_without_manifest_is_bad_input(tars):
    with pytest.raises(BadInput, match="manifest"):
        scan_save_stream(chunks(_tar([("blobs/sha256/aa", tars[0])])), wanted)
    with pytest.raises(BadInput):
        scan_save_stream(chunks(b"not a tar at all" * 64), wanted)
