"""Bench child, Celery producer. Prints {"enqueued", "ms", "cpuMs"}.

  bulk <n>              apply_async n times on one producer connection (Celery has no batch publish)
  steady <rate> <secs>  one apply_async per job at a steady rate, carrying its enqueue time
  fill <n>              a backlog of n jobs: one message made by Celery, copied with fresh ids and
                        LPUSHed in pipelines (apply_async would take minutes for a million)
"""
import json
import resource
import sys
import time
import uuid

import redis

from celery_app import URL, app, noop


def cpu_ms():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1000


mode = sys.argv[1]
cpu0 = cpu_ms()
t0 = time.perf_counter()
enqueued = 0
if mode == "bulk":
    n = int(sys.argv[2])
    with app.producer_or_acquire() as producer:
        for _ in range(n):
            noop.apply_async(producer=producer)
    enqueued = n
elif mode == "steady":
    rate, secs = float(sys.argv[2]), float(sys.argv[3])
    total = int(rate * secs)
    start = time.perf_counter()
    with app.producer_or_acquire() as producer:
        while enqueued < total:
            due = min(total, int((time.perf_counter() - start) * rate))
            while enqueued < due:
                noop.apply_async(args=[time.time() * 1000], producer=producer)
                enqueued += 1
            time.sleep(0.001)
else:
    n = int(sys.argv[2])
    client = redis.Redis.from_url(URL)
    sample = noop.apply_async()
    raw = client.lpop("celery").decode()
    tag = json.loads(raw)["properties"]["delivery_tag"]
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.lpush("celery", raw.replace(sample.id, str(uuid.uuid4())).replace(tag, str(uuid.uuid4())))
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    enqueued = n
ms = (time.perf_counter() - t0) * 1000
print(json.dumps({"enqueued": enqueued, "ms": ms, "cpuMs": cpu_ms() - cpu0}), flush=True)
