"""Bench child, Celery worker: one process, thread pool of <concurrency> (Celery's one-process pool
with concurrency). Prints `ready`, then after <n> tasks {"processed", "ms", "cpuMs"} from the first
task's start to the n-th task's end; mode `latency` adds p50/p95/p99 of enqueue -> start (ms).

  celery_worker.py <n> <concurrency> <results|no-results|latency>
"""
import json
import os
import resource
import sys
import threading
import time

from celery.signals import task_postrun, task_prerun, worker_ready

from celery_app import app

n, concurrency, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
state = {"t0": 0.0, "cpu0": 0.0, "done": 0}
latencies = []


def cpu_ms():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1000


@worker_ready.connect
def on_ready(**_):
    print("ready", flush=True)


@task_prerun.connect
def on_start(args=None, **_):
    now = time.time() * 1000
    with lock:
        if not state["t0"]:
            state["t0"], state["cpu0"] = time.perf_counter(), cpu_ms()
        if args:
            latencies.append(now - args[0])


@task_postrun.connect
def on_end(**_):
    with lock:
        state["done"] += 1
        if state["done"] != n:
            return
    report = {"processed": n, "ms": (time.perf_counter() - state["t0"]) * 1000, "cpuMs": cpu_ms() - state["cpu0"]}
    if mode == "latency":
        latencies.sort()
        for p in (50, 95, 99):
            report[f"p{p}"] = latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]
    print(json.dumps(report), flush=True)
    os._exit(0)


app.worker_main([
    "worker", "--pool", "threads", "-c", str(concurrency), "--loglevel", "WARNING",
    "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench{os.getpid()}@%h",
])
