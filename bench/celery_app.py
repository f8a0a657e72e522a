"""Celery side of the benchmark: the app and its no-op task.

BENCH_CELERY_URL is the broker: a Redis database (also the result backend when BENCH_RESULTS=1)
or RabbitMQ (amqp://; then BENCH_RESULT_URL names the Redis result backend, and publishes wait
for RabbitMQ's confirms, as celeriac's do). BENCH_QUEUE names the queue (default "celery").
Settings that differ from Celery's defaults, and why: acks_late, so that a job leaves Redis only
after it ran (celeriac's and BullMQ's at-least-once); no result backend and ignore_result when
results are not kept.
"""
import os

from celery import Celery

URL = os.environ["BENCH_CELERY_URL"]
RESULTS = os.environ.get("BENCH_RESULTS") == "1"

RESULT_URL = os.environ.get("BENCH_RESULT_URL", URL)

app = Celery("bench", broker=URL, backend=RESULT_URL if RESULTS else None)
if URL.startswith("amqp"):
    app.conf.broker_transport_options = {"confirm_publish": True}
app.conf.update(
    task_acks_late=True,
    task_ignore_result=not RESULTS,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    task_default_queue=os.environ.get("BENCH_QUEUE", "celery"),
)


@app.task(name="noop")
def noop(sent_at=None):
    return None
