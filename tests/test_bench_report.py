"""The bench report's ratios: each path against the mean of the bare view's runs in the same bench run."""

from __future__ import annotations

from bench.runner import report


def _result(name: str, path: str, rps: float, worker_ms: float, db_ms: float, **extra: object) -> dict[str, object]:
    return {"name": name, "path": path, "rps": rps, "requests": 100, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
            "error_rate": 0.0, "errors": 0, "statuses": {"200": 100}, "queries_median": 1,
            "worker_cpu_ms": worker_ms, "db_cpu_ms": db_ms, **extra}


def test_a_path_is_compared_with_the_mean_of_the_bare_runs_around_it():
    outcome = {
        "machine": {}, "server": {}, "worker_rss_mb": {"1": 90.0},
        "burst": {"doors": 48, "reserved": 48, "distinct_doors": 48, "doors_held_twice": 0},
        "results": [
            _result("bare view", "bare", 2000.0, 0.5, 0.0),
            _result("heartbeat", "heartbeat", 600.0, 1.5, 0.5),
            _result("bare view, again", "bare", 1000.0, 0.7, 0.0),
            _result("64 reservations, one site", "burst", 50.0, 20.0, 8.0, statuses={"201": 48, "409": 16}),
        ],
    }

    lines = report(outcome)

    heartbeat = next(r for r in outcome["results"] if r["name"] == "heartbeat")
    assert heartbeat["ratio_to_bare"] == 0.4  # 600 / mean(2000, 1000)
    assert heartbeat["cpu_ratio_to_bare"] == 0.3  # 0.6 ms / 2.0 ms
    assert any(line.startswith("SUMMARY heartbeat:") and "ratio ok" in line for line in lines)
    assert any(line.startswith("SUMMARY bare view, again:") and "x bare 0.667" in line for line in lines)
