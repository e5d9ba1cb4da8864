"""RAGAnything (miniature): turn documents of any kind into searchable chunks.

Office formats go through LibreOffice (headless) to PDF, PDFs through pypdf, Markdown through the
optional `markdown` extra, images through the optional `image` extra (Pillow). Retrieval is BM25.
"""

__version__ = "0.9.2"

from .rag import RAGAnything  # noqa: E402

__all__ = ["RAGAnything", "__version__"]
