"""The disk's commit flushes and the machine's pauses, probed beside each open-loop (70%) run of the bench.

A code check commits durably: its answer waits until PostgreSQL has flushed the WAL to
disk, as every commit then waiting does. A shared machine's virtual disk now and then
takes tens of milliseconds, sometimes over a second, for one flush; every code check
in flight waits for it, and the requests behind them queue (docs/performance.md,
*Fifteenth pass*). This probe makes a durable commit of its own every 10 ms and records
how long each took, and how late it woke for each, so that a run's tail can be set beside
what the disk and the machine did meanwhile.

Its commit writes a transactional logical-decoding message: WAL written and flushed,
no table touched, at any `wal_level`. About a hundred commits a second cost the server
about 1% of a core. Run by the driver as `python -m bench.flush DATABASE_URL`: once connected it
prints `ready`, probes until its standard input is closed, then prints
`[[monotonic seconds, commit ms, late ms], ...]` as JSON. Imports nothing of Django.
"""

from __future__ import annotations

import json
import select
import sys
import time
from typing import Any

import psycopg

INTERVAL_SECONDS = 0.01
# A flush or a pause this long holds every durable commit, or every request, for a fifth of the
# 50 ms p99 target.
STALL_MS = 10.0
READY = "ready"
COMMIT_WITH_FLUSH = "SELECT pg_logical_emit_message(true, 'bench-flush-probe', '')"


def _stopped(stream: Any, wait: float) -> bool:
    """Waits up to `wait` seconds; True once the driver has closed the stream (end of file)."""
    readable, _, _ = select.select([stream], [], [], wait)
    return bool(readable) and not stream.read(1)


def probe(url: str, stream: Any, output: Any) -> list[tuple[float, float, float]]:
    """Until `stream` is closed, every 10 ms: (when, the durable commit's ms, how many ms late the
    probe woke for it). `ready` on `output` first, once connected.

    A wake-up late by more than a few ms is the machine not running the probe at all (the
    host paused it, or every core was taken): that stretches every request alike, and it
    falls in the 10 ms wait far more often than in the commit's fraction of a millisecond.
    A slow commit on time is the disk.
    """
    timings = []
    with psycopg.connect(url, autocommit=True) as connection:
        print(READY, file=output, flush=True)
        while True:
            waited = time.monotonic()
            if _stopped(stream, INTERVAL_SECONDS):
                return timings
            started = time.monotonic()
            connection.execute(COMMIT_WITH_FLUSH)
            late_ms = max(0.0, (started - waited - INTERVAL_SECONDS) * 1000)
            timings.append((started, (time.monotonic() - started) * 1000, late_ms))


def _over(values: list[float], prefix: str) -> dict[str, Any]:
    return {f"{prefix}_stalls": sum(ms > STALL_MS for ms in values),
            f"{prefix}_longest_ms": round(max(values), 1) if values else None}


def stalls(timings: list[tuple[float, float, float]], started: float, ended: float) -> dict[str, Any]:
    """What the disk and the machine did between `started` and `ended` (monotonic seconds): the
    probes, the commit flushes and the probe's wake-ups over `STALL_MS`, and the longest of each."""
    during = [(commit_ms, late_ms) for when, commit_ms, late_ms in timings if started <= when <= ended]
    return {"flush_probes": len(during), **_over([commit for commit, _ in during], "flush"),
            **_over([late for _, late in during], "pause")}


def main(argv: list[str]) -> None:
    json.dump(probe(argv[1], sys.stdin, sys.stdout), sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
