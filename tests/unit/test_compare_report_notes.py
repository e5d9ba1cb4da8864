"""compare's scan notes: the Java note only for images that hold Java archives."""

from types import SimpleNamespace

from buildopt.inspect.model import FileEntry
from buildopt.report.compare_report import _has_java_archives, _scan_notes


def profile(*paths: str) -> SimpleNamespace:
    return SimpleNamespace(files=[FileEntry(path, 10, 0o644, 0, 0, "f") for path in paths])


def test_java_archives_are_noticed_by_their_extension():
    assert _has_java_archives(profile("usr/lib/libreoffice/program/classes/unoil.jar"))
    assert _has_java_archives(profile("srv/app.war"))
    assert not _has_java_archives(profile("opt/venv/lib/python3.11/site-packages/jarowinkler/__init__.py"))
    assert not _has_java_archives(None)


def test_the_note_names_only_the_variants_concerned():
    doc = {"variants": {"original": {"java_skipped": True}, "optimized": {"java_skipped": False}}}
    [note] = _scan_notes(doc)
    assert "original image" in note and "optimized" not in note
    assert _scan_notes({"variants": {"original": {}, "optimized": {}}}) == []
