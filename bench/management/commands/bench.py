"""`manage.py bench [--scale]`: the hot paths against the bare view, under gunicorn on loopback.

See docs/performance.md for what it measures and how to read the output.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.runner import Bench, report

# The Redis every machine of ours has on loopback; production sets REDIS_URL.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class Command(BaseCommand):
    help = "Benchmark the hot paths under gunicorn against PostgreSQL (lockers_bench, or lockers_scale with --scale)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", action="store_true",
                            help="Run against lockers_scale (made by generate_scale_data) and add the list pages.")
        parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                            help="A PostgreSQL URL on the server to use; its database name is replaced.")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py, 2 per core).")
        parser.add_argument("--threads", type=int, help="Threads per worker (default: gunicorn.conf.py, 2).")
        parser.add_argument("--conn-max-age", type=int, help="DB_CONN_MAX_AGE for the server (default 60).")
        parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
                            help="Redis for the server, as in production (device credentials and nonces); "
                                 "'' runs it without, on the database alone.")
        parser.add_argument("--json", help="Also write the full results to this file.")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["database_url"]
        if not url.startswith(("postgres://", "postgresql://")):
            raise CommandError("Give a PostgreSQL server: DATABASE_URL=postgres://user@host:5432/anything")
        started = time.monotonic()
        bench = Bench(base_url=url, scale=options["scale"], port=options["port"], workers=options["workers"],
                      threads=options["threads"], conn_max_age=options["conn_max_age"], redis_url=options["redis_url"],
                      log=self.stdout.write)
        outcome = bench.run()
        for line in report(outcome):
            self.stdout.write(line)
        self.stdout.write(f"whole run: {time.monotonic() - started:.0f} s")
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(outcome, indent=1))
