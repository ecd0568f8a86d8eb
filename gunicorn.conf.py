"""gunicorn settings for production and for the benchmark (`manage.py bench` uses this file).

Run: gunicorn lockers_site.wsgi -c gunicorn.conf.py. Threaded workers: each request
spends part of its time waiting on PostgreSQL, so two threads per process keep a core
busy while the other thread waits, at the memory cost of one process. Sized from the
core count; override with WEB_CONCURRENCY / WEB_THREADS / BIND.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 2))
# Clients (lockers, partners) keep their connection between requests.
keepalive = 5
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")


def post_worker_init(worker: object) -> None:
    """Once a worker has loaded Django, stop the garbage collector scanning what it loaded.

    The modules, models and settings loaded at start (about 160,000 tracked objects) live
    as long as the worker, yet every full collection walked them all: 35 to 60 ms during
    which the worker answered nothing, a request's tail latency. Frozen (`gc.freeze`), a
    collection scans only what requests created (docs/performance.md).
    """
    gc.collect()
    gc.freeze()
