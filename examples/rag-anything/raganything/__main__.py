"""Command line: `python -m raganything ingest FILE...`, `query TEXT`, and `selfcheck`.

selfcheck ingests a Markdown note, a text file and, when LibreOffice is installed, a generated
OpenDocument text, into a throwaway index, queries it, and prints one line of JSON. Exit 0 when the
documents were found again; LibreOffice missing is reported, not a failure (the audit advises moving
it to a separate conversion service).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from . import RAGAnything, __version__
from .parser import UnsupportedDocument, libreoffice_binary

FLAT_ODT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"
  office:mimetype="application/vnd.oasis.opendocument.text">
  <office:body><office:text>
    <text:p>Quarterly maintenance report: the turbine bearings were replaced in March.</text:p>
  </office:text></office:body>
</office:document>
"""


def selfcheck() -> int:
    with tempfile.TemporaryDirectory(prefix="rag-selfcheck-") as tmp:
        work = Path(tmp)
        (work / "notes.md").write_text("# Onboarding\n\nNew **engineers** get a laptop and a `vpn` token on day one.\n")
        (work / "faq.txt").write_text("Refunds are processed within five business days.\n")
        rag = RAGAnything(storage_dir=work / "storage")
        expected = {"laptop vpn token": "notes.md", "refunds business days": "faq.txt"}
        for name in ("notes.md", "faq.txt"):
            rag.ingest(work / name)
        office = libreoffice_binary() is not None
        if office:
            (work / "report.fodt").write_text(FLAT_ODT)
            try:
                rag.ingest(work / "report.fodt")
            except UnsupportedDocument as err:
                print(json.dumps({"selfcheck": "failed", "error": str(err)}))
                return 1
            expected["turbine bearings replaced"] = "report.fodt"
        misses = {q: d for q, d in expected.items() if not (hits := rag.query(q, 1)) or hits[0].document != d}
        result = {"selfcheck": "ok" if not misses else "failed", "version": __version__, "documents": len(rag.documents()),
                  "libreoffice": office}
        if misses:
            result["misses"] = misses
        print(json.dumps(result))
        return 0 if not misses else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raganything")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest")
    ingest.add_argument("files", nargs="+")
    query = commands.add_parser("query")
    query.add_argument("text")
    query.add_argument("--top-k", type=int, default=5)
    commands.add_parser("selfcheck")
    args = parser.parse_args(argv)
    if args.command == "selfcheck":
        return selfcheck()
    rag = RAGAnything()
    if args.command == "ingest":
        for name in args.files:
            try:
                print(json.dumps(rag.ingest(name)))
            except (UnsupportedDocument, OSError) as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
        return 0
    for hit in rag.query(args.text, args.top_k):
        print(json.dumps({"document": hit.document, "chunk": hit.chunk, "score": hit.score, "text": hit.text[:200]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
