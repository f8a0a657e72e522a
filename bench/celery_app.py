"""Celery side of the benchmark: the app and its no-op task.

BENCH_CELERY_URL is the Redis database used as broker (and result backend when BENCH_RESULTS=1).
Settings that differ from Celery's defaults, and why: acks_late, so that a job leaves Redis only
after it ran (celeriac's and BullMQ's at-least-once); no result backend and ignore_result when
results are not kept.
"""
import os

from celery import Celery

URL = os.environ["BENCH_CELERY_URL"]
RESULTS = os.environ.get("BENCH_RESULTS") == "1"

app = Celery("bench", broker=URL, backend=URL if RESULTS else None)
app.conf.update(
    task_acks_late=True,
    task_ignore_result=not RESULTS,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)


@app.task(name="noop")
def noop(sent_at=None):
    return None
