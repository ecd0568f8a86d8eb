"""gunicorn settings for production and for the benchmark (`manage.py bench` uses this file).

Run: gunicorn lockers_site.wsgi -c gunicorn.conf.py. Threaded workers: each request
spends part of its time waiting on PostgreSQL, so two threads per process keep a core
busy while the other thread waits, at the memory cost of one process. Sized from the
core count; override with WEB_CONCURRENCY / WEB_THREADS / BIND.
"""

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
