"""The worker's Celery app: kombu's filesystem transport as broker, result files as backend (no Redis needed)."""

import os

from celery import Celery

SPOOL = os.environ.get("JOBS_SPOOL", "/var/spool/jobs")

app = Celery("jobs", broker="filesystem://", backend=f"file://{SPOOL}/results")
app.conf.broker_transport_options = {
    "data_folder_in": f"{SPOOL}/queue",
    "data_folder_out": f"{SPOOL}/queue",
    "processed_folder": f"{SPOOL}/processed",
    "store_processed": True,
}
app.conf.broker_connection_retry_on_startup = True


@app.task
def add(a: int, b: int) -> int:
    return a + b


@app.task
def word_count(text: str) -> int:
    return len(text.split())
