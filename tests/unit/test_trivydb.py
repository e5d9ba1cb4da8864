"""The fixture DB writer: the bbolt file is read back by a small independent reader that checks what
bbolt and trivy check (meta magic, version, checksum, page types, sorted keys), and the buckets hold what
trivy looks up. The real trivy binary reading it is tests/integration/test_trivy_fixture.py."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from buildopt import trivydb
from buildopt.errors import BadInput
from buildopt.trivydb import DEFAULT_FIXTURES, OsAdvisory, PipAdvisory, write_fixture_db

PAGE = 4096


def fnv1a_64(data: bytes) -> int:
    # Written out again here (not imported) so a wrong constant in the writer can't pass unnoticed.
    h = 14695981039346656037
    for byte in data:
        h = ((h ^ byte) * 1099511628211) % 2**64
    return h


class BoltReader:
    """Just enough of bbolt's read path: pick the valid meta with the highest txid, walk leaf pages."""

    def __init__(self, data: bytes):
        self.data = data
        assert len(data) % PAGE == 0
        metas = [self._meta(pgid) for pgid in (0, 1)]
        self.meta = max(metas, key=lambda meta: meta["txid"])
        assert self.meta["pgid"] * PAGE == len(data), "high-water mark must match the file size"
        freelist_id, flags, count, _ = struct.unpack_from("<QHHI", data, self.meta["freelist"] * PAGE)
        assert (freelist_id, flags, count) == (self.meta["freelist"], 0x10, 0)

    def _meta(self, pgid: int) -> dict:
        page_id, flags, _, _ = struct.unpack_from("<QHHI", self.data, pgid * PAGE)
        assert (page_id, flags) == (pgid, 0x04)
        body = self.data[pgid * PAGE + 16: pgid * PAGE + 16 + 64]
        magic, version, page_size, _, root, _, freelist, high_water, txid, checksum = struct.unpack("<IIIIQQQQQQ", body)
        assert magic == 0xED0CDAED and version == 2 and page_size == PAGE
        assert checksum == fnv1a_64(body[:56]), f"meta page {pgid}: bad checksum"
        return {"root": root, "freelist": freelist, "pgid": high_water, "txid": txid}

    def tree(self, pgid: int | None = None) -> dict:
        pgid = self.meta["root"] if pgid is None else pgid
        assert 3 <= pgid < self.meta["pgid"]
        base = pgid * PAGE
        page_id, flags, count, overflow = struct.unpack_from("<QHHI", self.data, base)
        assert (page_id, flags) == (pgid, 0x02), f"page {pgid} is not a leaf"
        result, keys, end = {}, [], 16
        for index in range(count):
            element = base + 16 + 16 * index
            elem_flags, pos, ksize, vsize = struct.unpack_from("<IIII", self.data, element)
            key = self.data[element + pos: element + pos + ksize]
            value = self.data[element + pos + ksize: element + pos + ksize + vsize]
            end = max(end, element + pos + ksize + vsize - base)
            keys.append(key)
            if elem_flags & 0x01:
                child, _sequence = struct.unpack("<QQ", value)
                assert child != 0, "inline buckets are not expected"
                result[key] = self.tree(child)
            else:
                result[key] = value
        assert keys == sorted(keys) and len(set(keys)) == len(keys), f"page {pgid}: keys not strictly sorted"
        assert overflow == -(-end // PAGE) - 1, f"page {pgid}: overflow {overflow} for {end} bytes"
        return result


def read_db(cache: Path) -> dict:
    return BoltReader((cache / "db" / "trivy.db").read_bytes()).tree()


def test_fnv_reference_values():
    # Published FNV-1a 64 test vectors.
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert trivydb.fnv1a64(b"foobar") == fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_default_db_holds_the_planted_advisories(tmp_path):
    path = write_fixture_db(tmp_path)
    assert path == tmp_path / "db" / "trivy.db"
    tree = read_db(tmp_path)
    assert set(tree) == {b"data-source", b"vulnerability", b"debian 12", b"debian 13", b"pip::GitHub Security Advisory pip"}

    # Debian advisories are keyed by *source* package; the fix version keeps its epoch.
    assert json.loads(tree[b"debian 12"][b"zlib"][b"CVE-2099-0001"]) == {"FixedVersion": "1:1.2.13.dfsg-1+deb12u1"}
    assert json.loads(tree[b"debian 12"][b"coreutils"][b"CVE-2099-0004"]) == {}  # unfixed
    # Debian 13 (the real python:3.11-slim) gets the same planted ids.
    assert set(tree[b"debian 13"]) == {b"zlib", b"coreutils"}
    assert trivydb.planted_os_fix("debian 13.2", "zlib") == "1:1.3.dfsg+really1.3.1-1+deb13u9"
    assert trivydb.planted_os_fix("debian 12.15", "zlib") == "1:1.2.13.dfsg-1+deb12u1"
    assert trivydb.planted_os_fix("alpine 3.20.1", "zlib") is None
    pip = tree[b"pip::GitHub Security Advisory pip"]
    assert json.loads(pip[b"tabulate"][b"CVE-2099-0002"]) == {"PatchedVersions": ["0.9.1"], "VulnerableVersions": ["<0.9.1"]}
    assert b"requests" in pip

    # Vendor severity only counts when the bucket has a data-source entry with that vendor id.
    sources = {key: json.loads(value)["ID"] for key, value in tree[b"data-source"].items()}
    assert sources == {b"debian 12": "debian", b"debian 13": "debian", b"pip::GitHub Security Advisory pip": "ghsa"}
    zlib = json.loads(tree[b"vulnerability"][b"CVE-2099-0001"])
    assert zlib["VendorSeverity"] == {"debian": 3} and zlib["Severity"] == "HIGH"
    tabulate = json.loads(tree[b"vulnerability"][b"CVE-2099-0002"])
    assert tabulate["VendorSeverity"] == {"ghsa": 4} and tabulate["Severity"] == "CRITICAL"
    assert set(tree[b"vulnerability"]) == {a.vuln_id.encode() for a in DEFAULT_FIXTURES}


def test_metadata_keeps_trivy_offline(tmp_path):
    write_fixture_db(tmp_path)
    meta = json.loads((tmp_path / "db" / "metadata.json").read_text())
    assert meta["Version"] == 2
    assert datetime.fromisoformat(meta["NextUpdate"]) > datetime.now(UTC)
    assert datetime.fromisoformat(meta["DownloadedAt"]).year > 1
    assert trivydb.is_fixture_db(tmp_path)


def test_big_bucket_spills_into_overflow_pages(tmp_path):
    advisories = [PipAdvisory(f"pkg-{i:04d}", f"CVE-2099-{i:04d}", ("<1",), ("1",), "LOW", "x" * 40) for i in range(300)]
    write_fixture_db(tmp_path, advisories)
    data = (tmp_path / "db" / "trivy.db").read_bytes()
    tree = BoltReader(data).tree()
    assert len(tree[b"vulnerability"]) == 300
    assert len(tree[b"pip::GitHub Security Advisory pip"]) == 300
    overflows = [struct.unpack_from("<QHHI", data, pgid * PAGE)[3] for pgid in range(3, len(data) // PAGE)
                 if struct.unpack_from("<QHHI", data, pgid * PAGE)[:2] == (pgid, 0x02)]
    assert max(overflows) >= 1


def test_keys_are_sorted_bytewise_not_by_insertion():
    data = trivydb.bolt_bytes({b"b": b"2", b"B": b"1", b"a": {b"z": b"", b"\x00": b"x"}})
    tree = BoltReader(data).tree()
    assert list(tree) == [b"B", b"a", b"b"]
    assert list(tree[b"a"]) == [b"\x00", b"z"]


def test_pip_names_are_normalized_like_trivy(tmp_path):
    write_fixture_db(tmp_path, [PipAdvisory("Typing_Extensions", "CVE-2099-0100", ("<9",), (), "LOW", "t")])
    assert list(read_db(tmp_path)[b"pip::GitHub Security Advisory pip"]) == [b"typing-extensions"]


def test_vulnerability_shared_by_two_sources_gets_both_vendor_severities(tmp_path):
    write_fixture_db(tmp_path, [
        OsAdvisory("debian 12", "openssl", "CVE-2099-0200", "3.0.99-1", "HIGH", "t"),
        PipAdvisory("cryptography", "CVE-2099-0200", ("<99",), ("99",), "MEDIUM", "t"),
    ])
    record = json.loads(read_db(tmp_path)[b"vulnerability"][b"CVE-2099-0200"])
    assert record["VendorSeverity"] == {"debian": 3, "ghsa": 2}


@pytest.mark.parametrize("advisory, message", [
    (OsAdvisory("debian 12", "zlib", "CVE-2099-0001", "1", "SEVERE", "t"), "severity 'SEVERE'"),
    (OsAdvisory("gentoo 2", "zlib", "CVE-2099-0001", "1", "LOW", "t"), "'gentoo 2' not supported"),
])
def test_bad_advisories_are_bad_input(tmp_path, advisory, message):
    with pytest.raises(BadInput, match=message):
        write_fixture_db(tmp_path, [advisory])
    assert not (tmp_path / "db").exists()


def test_never_overwrites_a_db_it_did_not_write(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    (db / "trivy.db").write_bytes(b"a real downloaded DB")
    (db / "metadata.json").write_text('{"Version":2,"NextUpdate":"2030-01-01T00:00:00Z"}')
    with pytest.raises(BadInput, match="--force"):
        write_fixture_db(tmp_path)
    assert (db / "trivy.db").read_bytes() == b"a real downloaded DB"
    write_fixture_db(tmp_path, force=True)
    assert b"zlib" in read_db(tmp_path)[b"debian 12"]


def test_rewriting_its_own_db_is_allowed_and_leaves_no_temp_files(tmp_path):
    write_fixture_db(tmp_path)
    write_fixture_db(tmp_path, [OsAdvisory("debian 12", "bash", "CVE-2099-0300", "9", "LOW", "t")])
    assert list(read_db(tmp_path)[b"debian 12"]) == [b"bash"]
    assert sorted(p.name for p in (tmp_path / "db").iterdir()) == ["metadata.json", "trivy.db"]


def test_module_cli(tmp_path, capsys):
    assert trivydb.main(["--cache-dir", str(tmp_path / "cache")]) == 0
    assert "CVE-2099-0001" in capsys.readouterr().out
    assert (tmp_path / "cache" / "db" / "trivy.db").is_file()
    (tmp_path / "cache" / "db" / "metadata.json").write_text('{"Version":2}')  # now looks like someone else's DB
    assert trivydb.main(["--cache-dir", str(tmp_path / "cache")]) == 2
    assert "buildopt: error:" in capsys.readouterr().err
