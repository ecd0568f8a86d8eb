"""What a 70% run reports of the machine: the flush probe's durable commits (bench/flush.py), the cores' busy share."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

from bench.flush import READY, STALL_MS, stalls
from bench.runner import ROOT, report


def test_only_the_probes_of_the_run_count_and_a_stall_is_one_over_ten_ms():
    timings = [(0.5, 80.0, 0.0), (1.0, 0.2, 0.1), (1.1, STALL_MS + 0.1, 0.0), (1.2, STALL_MS, 40.04),
               (2.0, 195.04, 0.3), (2.5, 400.0, 900.0)]

    assert stalls(timings, started=1.0, ended=2.0) == {
        "flush_probes": 4, "flush_stalls": 2, "flush_longest_ms": 195.0, "pause_stalls": 1, "pause_longest_ms": 40.0,
    }
    assert stalls(timings, started=3.0, ended=4.0) == {
        "flush_probes": 0, "flush_stalls": 0, "flush_longest_ms": None, "pause_stalls": 0, "pause_longest_ms": None,
    }


def _wal_syncs() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wal_sync FROM pg_stat_wal")
        return cursor.fetchone()[0]


def _probe_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%bench-flush-probe%%' "
                       "AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_probe_times_durable_commits_until_its_input_is_closed():
    settings = connection.settings_dict
    url = make_conninfo(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
                        port=settings["PORT"] or None, password=settings["PASSWORD"] or None)
    syncs_before = _wal_syncs()
    probe = subprocess.Popen([sys.executable, "-m", "bench.flush", url], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert probe.stdout.readline().strip() == READY
    time.sleep(0.3)
    output, _ = probe.communicate(timeout=10)

    timings = json.loads(output)
    assert len(timings) >= 5  # one every 10 ms, each at least a flush
    assert all(commit_ms > 0 and late_ms >= 0 for _, commit_ms, late_ms in timings)
    assert [when for when, _, _ in timings] == sorted(when for when, _, _ in timings)
    # Each probe was a commit that waited for the disk: the WAL was synced once per probe at
    # least (its backend reports its statistics as it exits).
    deadline = time.monotonic() + 5
    while _probe_backends() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _wal_syncs() - syncs_before >= len(timings)


def test_a_70_percent_run_names_what_the_cores_and_the_disk_did():
    outcome = {
        "machine": {}, "server": {}, "worker_rss_mb": {"1": 90.0},
        "burst": {"doors": 48, "reserved": 48, "distinct_doors": 48, "doors_held_twice": 0},
        "results": [
            {"name": name, "path": path, "rps": rps, "requests": 100, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": p99,
             "error_rate": 0.0, "errors": 0, "statuses": {"200": 100}, "queries_median": 1,
             "worker_cpu_ms": 1.0, "db_cpu_ms": 0.2, **extra}
            for name, path, rps, p99, extra in [
                ("bare view", "bare", 1500.0, 3.0, {"round_rps": [1500.0]}),
                ("code validation, saturation now", "code", 506.0, 50.0, {"calibrates": True}),
                ("code validation @70%", "code", 350.0, 185.3,
                 {"target_rate": 354.0, "saturation_of": "code validation, saturation now", "machine_busy": 0.934,
                  "worker_cpu_ms": 1.1, "db_cpu_ms": 0.4, "flush_probes": 1400, "flush_stalls": 3,
                  "flush_longest_ms": 195.0, "pause_stalls": 1, "pause_longest_ms": 41.2}),
                ("64 reservations, one site", "burst", 50.0, 3.0, {"statuses": {"201": 48, "409": 16}}),
            ]
        ],
    }

    lines = report(outcome)

    line = next(line for line in lines if line.startswith("SUMMARY code validation @70%:"))
    assert ("p99 OVER 50 ms (scheduled 354 req/s; cores 93% busy; server CPU a request 1.25 x the saturation run's; "
            "disk: 3 of 1400 commit flushes over 10 ms, longest 195.0 ms; "
            "machine: 1 pauses over 10 ms, longest 41.2 ms)") in line
