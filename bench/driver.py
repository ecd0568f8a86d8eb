"""The load generator: a separate process driving the bench server over loopback with aiohttp.

`python -m bench.driver plan.json results.json` reads the fixtures (secrets, codes,
API key) and the list of runs, and writes one result per run. Device requests are
signed with `lockers.device.signing`, the code the server checks with and the
simulator signs with; this module imports nothing of Django.

Two kinds of run:
- closed loop (`count`, `concurrency`): a fixed number of requests, at most
  `concurrency` in flight; its throughput is the path's saturation rate.
- open loop (`rate`, `duration`): requests started on a fixed schedule whatever the
  answers; latency counts from the scheduled start, so a stalled server is not hidden
  by the client waiting for it (no coordinated omission).

Runs with the same name are rounds of one path: their requests, time and CPU are
pooled into one result, which also lists each round's throughput (`round_rps`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bench import flush
from bench.cpu import MachineBusy, ServerCpu
from bench.samples import Pool, Sample
from lockers.device import signing
from lockers.simulator import API_PREFIX

QUERIES_HEADER = "X-Bench-Queries"
EVENTS_PER_BATCH = 20


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


class Factories:
    """Builds each path's next request from the plan; consumable fixtures are used once each."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.lockers = {row["serial"]: row for row in plan["lockers"]}
        self.locker_cycle = itertools.cycle(plan["lockers"])
        self.codes = iter(plan["codes"])
        self.deposits = iter(plan["deposits"])
        self.used: Counter[str] = Counter()
        self.sequences: Counter[str] = Counter()
        self.announced = itertools.count(1)
        self.announce_sites = itertools.cycle(
            [site["id"] for site in plan["announce_sites"] for _ in range(site["doors"] // 10)]
        )

    def _device(self, serial: str, method: str, path: str, data: Any = None) -> Call:
        full = API_PREFIX + path
        body = json.dumps(data).encode() if data is not None else b""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers |= signing.signed_headers(serial=serial, secret=self.lockers[serial]["secret"], method=method,
                                          path=full, body=body, timestamp=int(time.time()))
        return Call(method, full, headers, body if method != "GET" else None)

    def _partner(self, method: str, path: str, data: Any = None) -> Call:
        headers = {"Authorization": f"Bearer {self.plan['api_key']}", "Accept": "application/json"}
        body = None
        if data is not None:
            headers |= {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
            body = json.dumps(data).encode()
        return Call(method, path, headers, body)

    def bare(self) -> Call:
        return Call("GET", "/bench/bare", {"Accept": "application/json"})

    def code(self) -> Call:
        serial, pin = next(self.codes)
        self.used["codes"] += 1
        return self._device(serial, "POST", "codes/pickup", {"pin": pin})

    def signed(self) -> Call:
        return self._device(next(self.locker_cycle)["serial"], "POST", "bench/signed", {})

    def heartbeat(self) -> Call:
        locker = next(self.locker_cycle)
        return self._device(locker["serial"], "POST", "heartbeat", {
            "firmware_version": "bench-1.0",
            "doors": [{"door": label, "state": "closed"} for label in locker["doors"]],
            "sensors": [{"zone": "ambient", "temperature_c": 21.5}],
            "last_event_sequence": self.sequences[locker["serial"]],
            "bundle_version": "",
        })

    def events(self) -> Call:
        locker = next(self.locker_cycle)
        serial, events = locker["serial"], []
        now = datetime.now(UTC).isoformat()
        for index in range(EVENTS_PER_BATCH):
            self.sequences[serial] += 1
            door = locker["doors"][index // 2 % len(locker["doors"])]
            kind = "door_opened" if index % 2 == 0 else "door_closed"
            events.append({"event_id": str(uuid.uuid4()), "sequence": self.sequences[serial], "occurred_at": now,
                           "type": kind, "door": door, "purpose": "", "parcel_id": None, "data": {}})
        return self._device(serial, "POST", "events", {"events": events})

    def deposit(self) -> Call:
        serial, session, tracking = next(self.deposits)
        self.used["deposits"] += 1
        return self._device(serial, "POST", "courier/deposit", {"session": session, "tracking_number": tracking})

    def _announce(self, site_id: int) -> Call:
        number = next(self.announced)
        return self._partner("POST", "/api/v1/parcels/", {
            "tracking_number": f"BA{self.plan['tag']}{number:07d}", "site_id": site_id,
            "recipient": {"name": "Bench Recipient", "email": f"a{number}@bench.example"},
            "item": {"size_class": "S", "weight_g": 900}, "reserve": True,
        })

    def announce(self) -> Call:
        return self._announce(next(self.announce_sites))

    def burst(self) -> Call:
        return self._announce(self.plan["burst"]["site_id"])

    def search(self) -> Call:
        lat, lon = self.plan["search_point"]
        return self._partner("GET", f"/api/v1/sites/?lat={lat:.4f}&lon={lon:.4f}&radius_km=5")

    def left(self, fixture: str) -> int:
        """How many of a consumable fixture (`codes`, `deposits`) are still unused."""
        return len(self.plan[fixture]) - self.used[fixture]


def page_factory(plan: dict[str, Any], target: str) -> Callable[[], Call]:
    if target.startswith("/api/"):
        key = plan.get("page_api_key", plan["api_key"])
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    else:
        headers = {"Cookie": f"{plan['session_cookie']}={plan['admin_session']}"}
    return lambda: Call("GET", target, headers)


async def _send(session: aiohttp.ClientSession, base: str, call: Call, started: float) -> Sample:
    try:
        async with session.request(call.method, base + call.path, data=call.body, headers=call.headers,
                                   allow_redirects=False) as response:
            await response.read()
            queries = response.headers.get(QUERIES_HEADER)
            return Sample(time.perf_counter() - started, response.status, int(queries) if queries else None)
    except (TimeoutError, aiohttp.ClientError):
        return Sample(time.perf_counter() - started, 0, None)


def prebuilt(make: Callable[[], Call], count: int) -> list[Call]:
    """Up to `count` requests built (and signed) before the clock starts, fewer if the fixtures run out.

    A locker signs on its own CPU, not on the server's: built during the run, the
    signing and JSON encoding took the two cores' time from the server it measures.
    A run lasts seconds, well inside the 5 minutes a signature's timestamp may be off.
    """
    calls = []
    for _ in range(count):
        try:
            calls.append(make())
        except StopIteration:
            break
    return calls


async def closed_loop(base: str, make: Callable[[], Call], count: int, concurrency: int) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    remaining = iter(prebuilt(make, count))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            for call in remaining:
                samples.append(await _send(session, base, call, time.perf_counter()))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return samples, time.perf_counter() - started


async def open_loop(base: str, make: Callable[[], Call], rate: float, duration: float,
                    max_in_flight: int = 256) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    gate = asyncio.Semaphore(max_in_flight)
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(call: Call, scheduled: float) -> None:
            async with gate:
                samples.append(await _send(session, base, call, scheduled))

        tasks = []
        calls = prebuilt(make, int(rate * duration))
        started = time.perf_counter()
        for index, call in enumerate(calls):
            scheduled = started + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(call, scheduled)))
        await asyncio.gather(*tasks)
        return samples, time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def summarise(name: str, samples: list[Sample], elapsed: float, expected: set[int]) -> dict[str, Any]:
    latencies = sorted(sample.latency * 1000 for sample in samples)
    statuses = Counter(sample.status for sample in samples)
    queries = sorted(sample.queries for sample in samples if sample.queries is not None)
    errors = sum(count for status, count in statuses.items() if status not in expected)
    return {
        "name": name, "requests": len(samples), "seconds": round(elapsed, 3),
        "rps": round(len(samples) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2), "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2), "max_ms": round(latencies[-1], 2) if latencies else None,
        "errors": errors, "error_rate": round(errors / len(samples), 4) if samples else 1.0,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "queries_median": queries[len(queries) // 2] if queries else None,
        "queries_max": queries[-1] if queries else None,
    }


def _cpu_per_request(spent: tuple[float, float | None] | None, requests: int) -> dict[str, float | None]:
    if spent is None or not requests:
        return {"worker_cpu_ms": None, "db_cpu_ms": None}
    workers, database = spent
    return {"worker_cpu_ms": round(workers / requests, 3),
            "db_cpu_ms": round(database / requests, 3) if database is not None else None}


class FlushProbe:
    """`bench.flush` in a process of its own for the length of one run: a timing of its own, not
    the event loop's, and none of the driver's CPU."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        if self.url:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.flush", self.url,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            await self.process.stdout.readline()  # connected: the run's first requests are probed too

    async def stop(self, started: float, ended: float) -> dict[str, Any]:
        """What the disk and the machine did between `started` and `ended` (monotonic), as
        `flush.stalls` counts it; nothing without a probe."""
        if self.process is None:
            return {}
        self.process.stdin.close()  # the probe stops and reports
        output = await self.process.stdout.read()
        await self.process.wait()
        self.process = None
        return flush.stalls(json.loads(output), started, ended)


async def run_all(plan: dict[str, Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every run of the plan; runs sharing a name (rounds of one path) give one pooled result."""
    factories = Factories(plan)
    base = plan["base_url"]
    cpu = ServerCpu(plan.get("server_pid"), plan.get("database"))
    results: dict[str, dict[str, Any]] = {}
    pools: dict[str, Pool] = {}
    probe = FlushProbe(plan.get("flush_probe_url"))
    for run in runs:
        path = run["path"]
        make = page_factory(plan, run["target"]) if path == "page" else getattr(factories, path)
        rate = run.get("rate")
        if rate == "auto":  # 70% of the saturation rate measured for this path just before
            rate = max(1.0, results[run["saturation_of"]]["rps"] * run.get("fraction", 0.7))
        before = cpu.snapshot()
        host: dict[str, Any] = {}
        if rate:
            duration = run["duration"]
            if run.get("consumes"):  # do not schedule more requests than fixtures are left
                duration = min(duration, factories.left(run["consumes"]) / rate)
            await probe.start()
            started, busy = time.monotonic(), MachineBusy()
            samples, elapsed = await open_loop(base, make, float(rate), duration)
            host = {"machine_busy": busy.share(), **await probe.stop(started, time.monotonic())}
        else:
            samples, elapsed = await closed_loop(base, make, run["count"], run["concurrency"])
        pool = pools.setdefault(run["name"], Pool([], 0.0, (0.0, 0.0), []))
        pool.add(samples, elapsed, cpu.since(before))
        result = summarise(run["name"], pool.samples, pool.elapsed, set(run.get("expected", [200, 201])))
        result |= {"path": path, "concurrency": run.get("concurrency"), "target_rate": rate,
                   "calibrates": run.get("calibrates", False), "saturation_of": run.get("saturation_of"),
                   "round_rps": pool.round_rps, **host}
        result |= _cpu_per_request(pool.spent, len(pool.samples))
        results[run["name"]] = result
        print(json.dumps(result), flush=True)
    return list(results.values())


def main(argv: list[str]) -> None:
    plan_file, results_file = argv[1], argv[2]
    with open(plan_file) as handle:
        plan = json.load(handle)
    results = asyncio.run(run_all(plan, plan["runs"]))
    with open(results_file, "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv)
