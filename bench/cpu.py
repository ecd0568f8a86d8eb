"""CPU time spent by the server's own processes, read from /proc (Linux): the gunicorn
workers and the PostgreSQL backends connected to the bench database.

The machine is shared: other work changes how many requests a second anything gets,
but much less the CPU one request costs. So each run also reports the server's CPU
milliseconds per request, and the ratio of the bare view's to a path's is the share
of the bare view's throughput the path would reach on cores of its own.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import NoReturn

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_ms(pid: int) -> float:
    """User plus system CPU of one process, in milliseconds; 0 once it has gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS_PER_SECOND  # utime, stime


def _children(parent: int) -> list[int]:
    pids = []
    for entry in PROC.glob("[0-9]*/stat"):
        try:
            if int(entry.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.parent.name))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return pids


def _backends(database: str) -> list[int]:
    """PostgreSQL backends serving `database` (their title: "postgres: [cluster:] user database host ...")."""
    pids = []
    for entry in PROC.glob("[0-9]*/cmdline"):
        try:
            title = entry.read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if not title or title[0] != "postgres:":
            continue
        names = title[2:] if len(title) > 1 and title[1].endswith(":") else title[1:]  # past the cluster name
        if len(names) > 1 and names[1] == database:
            pids.append(int(entry.parent.name))
    return pids


class ServerCpu:
    """Snapshots of the server's CPU; `since(snapshot)` gives (workers ms, database ms) spent since.

    `database` None leaves the database out (its figure None): a backend that exits
    during a run, as one per request does without persistent connections, takes its
    CPU with it.
    """

    def __init__(self, server_pid: int | None, database: str | None) -> None:
        self.server_pid = server_pid
        self.database = database

    @property
    def available(self) -> bool:
        return self.server_pid is not None and PROC.is_dir()

    def snapshot(self) -> dict[str, dict[int, float]]:
        if not self.available:
            return {"workers": {}, "database": {}}
        backends = _backends(self.database) if self.database else []
        return {"workers": {pid: _cpu_ms(pid) for pid in _children(self.server_pid)},
                "database": {pid: _cpu_ms(pid) for pid in backends}}

    def since(self, before: dict[str, dict[int, float]]) -> tuple[float, float | None] | None:
        if not self.available:
            return None
        now = self.snapshot()
        # A process that appeared during the run counts from zero; one that ended is lost
        # (rare with persistent connections and gunicorn's long-lived workers).
        workers, database = (sum(ms - before[kind].get(pid, 0.0) for pid, ms in now[kind].items())
                             for kind in ("workers", "database"))
        return workers, database if self.database else None


class MachineBusy:
    """How busy the whole machine's cores were over a stretch: every process's work (the server,
    PostgreSQL, the driver), from /proc/stat.

    A 70% run that finds the cores busy nine tenths of the time met a slower machine than
    the saturation run before it measured, and is not a run at 70% of what the machine
    could then do. Time the host took for others (steal) counts as neither busy nor idle.
    """

    def __init__(self) -> None:
        self.started = self._ticks()

    @staticmethod
    def _ticks() -> tuple[int, int] | None:
        try:
            fields = [int(value) for value in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:8]]
        except (FileNotFoundError, ValueError):
            return None
        user, nice, system, idle, iowait, irq, softirq = fields  # steal and guest time come after
        busy = user + nice + system + irq + softirq
        return busy, busy + idle + iowait

    def share(self) -> float | None:
        """The busy share of the cores' time since this was made, 0 to 1; None without /proc."""
        ended = self._ticks()
        if self.started is None or ended is None or ended[1] == self.started[1]:
            return None
        return round((ended[0] - self.started[0]) / (ended[1] - self.started[1]), 3)


def wake_up_round_trip_us(*, across_cores: bool, trips: int = 10_000) -> float | None:
    """Median microseconds for a process to wake another through a pipe and be woken back by it,
    the two pinned to two cores or both to one. None where processes cannot be pinned, or
    across cores on a machine with one.

    A request wakes other processes and threads several times (Redis, the PostgreSQL
    backend, the worker's other thread waiting for the interpreter), a hot path's more often
    than the bare view's, and what a wake-up costs differs between machines of one kind: the
    bench prints both figures so runs on different machines can be told apart. A round trip
    is two wake-ups; in a virtual machine each one across cores is an interrupt between
    virtual CPUs, and wakes the other CPU too if it was idle.
    """
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    cores = allowed[:2] if across_cores else allowed[:1] * 2
    if len(cores) < 2:
        return None
    to_child_read, to_child = os.pipe()
    from_child, to_parent = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(to_child)
        os.close(from_child)
        _echo(cores[1], to_child_read, to_parent)
    os.close(to_child_read)
    os.close(to_parent)
    timings = []
    try:
        os.sched_setaffinity(0, {cores[0]})
        for _ in range(trips):
            started = time.perf_counter()
            os.write(to_child, b".")
            os.read(from_child, 1)
            timings.append(time.perf_counter() - started)
    finally:
        os.sched_setaffinity(0, set(allowed))
        os.close(to_child)  # the child reads the end of its input and exits
        os.close(from_child)
        os.waitpid(child, 0)
    return round(statistics.median(timings) * 1e6, 1)


def _echo(core: int, requests: int, answers: int) -> NoReturn:
    """The forked child's side of the round trip: on `core`, answer each byte until the input ends."""
    try:
        os.sched_setaffinity(0, {core})
        while os.read(requests, 1):
            os.write(answers, b".")
    finally:
        os._exit(0)
