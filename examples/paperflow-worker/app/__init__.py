"""paperflow: document ingestion for a paper archive (API + Celery worker in one image)."""

__version__ = "1.4.0"
