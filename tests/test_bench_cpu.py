"""The bench's CPU accounting (bench/cpu.py): it counts the server's workers and its database's backends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from bench.cpu import MachineBusy, ServerCpu, wake_up_round_trip_us

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

BUSY_THEN_IDLE = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(5)"


def test_a_child_process_cpu_counts_as_the_servers_workers():
    cpu = ServerCpu(os.getpid(), "no_such_database")
    before = cpu.snapshot()
    worker = subprocess.Popen([sys.executable, "-c", BUSY_THEN_IDLE])
    try:
        time.sleep(1.0)
        workers_ms, database_ms = cpu.since(before)
    finally:
        worker.kill()
        worker.wait()
    assert 250 <= workers_ms < 1000
    assert database_ms == 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_backend_serving_the_database_counts_as_the_databases():
    cpu = ServerCpu(os.getpid(), connection.settings_dict["NAME"])
    before = cpu.snapshot()
    assert before["database"], "this test's own backend serves its database"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM generate_series(1, 3000000)")
    _, database_ms = cpu.since(before)
    assert database_ms > 50


def test_without_a_database_to_watch_its_cpu_is_not_reported():
    cpu = ServerCpu(os.getpid(), None)
    assert cpu.since(cpu.snapshot())[1] is None


def test_a_spinning_process_keeps_a_core_busy():
    spinning = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = MachineBusy()
        time.sleep(0.5)
        while_spinning = busy.share()
    finally:
        spinning.kill()
        spinning.wait()
    # One spinning process keeps one of the cores busy whatever else runs beside it.
    assert while_spinning >= 0.9 / (os.cpu_count() or 1)
    assert 0.0 <= while_spinning <= 1.0


def _children_of_this_process() -> set[str]:
    return set(Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split())


@pytest.mark.parametrize("across_cores", [True, False])
def test_a_wake_up_round_trip_is_timed_and_leaves_the_process_as_it_was(across_cores):
    if across_cores and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: no round trip across cores to time")
    allowed, children = os.sched_getaffinity(0), _children_of_this_process()
    round_trip = wake_up_round_trip_us(across_cores=across_cores, trips=2000)
    # Two pipe writes, two reads and two wake-ups: more than a microsecond on any machine,
    # far less than a millisecond on one that is not stopped.
    assert 1.0 < round_trip < 1000.0
    assert os.sched_getaffinity(0) == allowed, "the bench's own process runs on every core again"
    assert _children_of_this_process() <= children, "the echoing child has exited and been reaped"


def test_with_one_core_allowed_there_is_no_round_trip_across_cores():
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        assert wake_up_round_trip_us(across_cores=True, trips=10) is None
        assert wake_up_round_trip_us(across_cores=False, trips=10) > 0
    finally:
        os.sched_setaffinity(0, allowed)
