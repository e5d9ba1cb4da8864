"""Documents to plain text. Each format has one path; missing optional pieces give a clear error."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import config

OFFICE_SUFFIXES = {".doc", ".docx", ".odt", ".fodt", ".rtf", ".ppt", ".pptx", ".odp", ".xls", ".xlsx", ".ods"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tiff", ".webp"}
TEXT_SUFFIXES = {".txt", ".text", ".csv", ".log"}


class UnsupportedDocument(ValueError):
    pass


def libreoffice_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def parse_document(path: str | Path) -> str:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return path.read_text(encoding="utf-8", errors="replace")
    if suffix in {".md", ".markdown"}:
        return markdown_to_text(path.read_text(encoding="utf-8", errors="replace"))
    if suffix == ".pdf":
        return pdf_to_text(path)
    if suffix in OFFICE_SUFFIXES:
        with tempfile.TemporaryDirectory(prefix="rag-convert-") as tmp:
            return pdf_to_text(office_to_pdf(path, Path(tmp)))
    if suffix in IMAGE_SUFFIXES:
        return describe_image(path)
    raise UnsupportedDocument(f"{path.name}: unsupported format {suffix or '(none)'}")


def markdown_to_text(source: str) -> str:
    try:
        import markdown  # the `markdown` extra
    except ImportError:
        return source  # still searchable, just with the markup in it
    rendered = markdown.markdown(source, extensions=["fenced_code", "tables"])
    return html.unescape(re.sub(r"<[^>]+>", " ", rendered))


def pdf_to_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "") for page in reader.pages)


def office_to_pdf(path: Path, out_dir: Path) -> Path:
    """Convert with LibreOffice headless into out_dir, with a throwaway profile there (any user can run it)."""
    binary = libreoffice_binary()
    if binary is None:
        raise UnsupportedDocument(f"{path.name}: office documents need LibreOffice (soffice), which is not installed")
    profile = out_dir / "profile"
    command = [binary, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
               "--convert-to", "pdf", "--outdir", str(out_dir), str(path)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=config.CONVERT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UnsupportedDocument(f"{path.name}: LibreOffice took more than {config.CONVERT_TIMEOUT_S}s") from None
    pdf = out_dir / (path.stem + ".pdf")
    if result.returncode != 0 or not pdf.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise UnsupportedDocument(f"{path.name}: LibreOffice conversion failed: {detail[-1] if detail else result.returncode}")
    return pdf


def describe_image(path: Path) -> str:
    try:
        from PIL import Image  # the `image` extra
    except ImportError:
        raise UnsupportedDocument(f"{path.name}: images need the 'image' extra (Pillow)") from None
    with Image.open(path) as image:
        return f"image {path.name}: {image.format} {image.width}x{image.height} {image.mode}"
