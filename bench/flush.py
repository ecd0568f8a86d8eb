"""The disk's commit flushes, probed beside each open-loop (70%) run of the bench.

A code check commits durably: its answer waits until PostgreSQL has flushed the WAL to
disk, as every commit then waiting does. A shared machine's virtual disk now and then
takes tens of milliseconds, sometimes over a second, for one flush; every code check
in flight waits for it, and the requests behind them queue (docs/performance.md,
*Fifteenth pass*). This probe makes a durable commit of its own every 10 ms and records
how long each took, so that a run's tail can be set beside what the disk did meanwhile.

Its commit writes a transactional logical-decoding message: WAL written and flushed,
no table touched, at any `wal_level`. About a hundred commits a second cost the server
about 1% of a core. Run by the driver as `python -m bench.flush DATABASE_URL`: once connected it
prints `ready`, probes until its standard input is closed, then prints
`[[monotonic seconds, milliseconds], ...]` as JSON. Imports nothing of Django.
"""

from __future__ import annotations

import json
import select
import sys
import time
from typing import Any

import psycopg

INTERVAL_SECONDS = 0.01
# A flush this slow holds every durable commit for a fifth of the 50 ms p99 target.
STALL_MS = 10.0
READY = "ready"
COMMIT_WITH_FLUSH = "SELECT pg_logical_emit_message(true, 'bench-flush-probe', '')"


def _stopped(stream: Any, wait: float) -> bool:
    """Waits up to `wait` seconds; True once the driver has closed the stream (end of file)."""
    readable, _, _ = select.select([stream], [], [], wait)
    return bool(readable) and not stream.read(1)


def probe(url: str, stream: Any, output: Any) -> list[tuple[float, float]]:
    """(when, how many ms) of each durable commit until `stream` is closed; `ready` on `output` first."""
    timings = []
    with psycopg.connect(url, autocommit=True) as connection:
        print(READY, file=output, flush=True)
        while not _stopped(stream, INTERVAL_SECONDS):
            started = time.monotonic()
            connection.execute(COMMIT_WITH_FLUSH)
            timings.append((started, (time.monotonic() - started) * 1000))
    return timings


def stalls(timings: list[tuple[float, float]], started: float, ended: float) -> dict[str, Any]:
    """What the disk did between `started` and `ended` (monotonic seconds): probes, stalls, the longest."""
    during = [ms for when, ms in timings if started <= when <= ended]
    return {"flush_probes": len(during), "flush_stalls": sum(ms > STALL_MS for ms in during),
            "flush_longest_ms": round(max(during), 1) if during else None}


def main(argv: list[str]) -> None:
    json.dump(probe(argv[1], sys.stdin, sys.stdout), sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
