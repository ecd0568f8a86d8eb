"""The bench's ratios: each hot path against the bare view, both pooled over the rounds they took turns in."""

from __future__ import annotations

from bench.runner import FAST_RUNS, RATIO_ROUNDS, report
from bench.samples import Pool, Sample


def _result(name: str, path: str, rps: float, worker_ms: float, db_ms: float, **extra: object) -> dict[str, object]:
    return {"name": name, "path": path, "rps": rps, "requests": 100, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
            "error_rate": 0.0, "errors": 0, "statuses": {"200": 100}, "queries_median": 1,
            "worker_cpu_ms": worker_ms, "db_cpu_ms": db_ms, **extra}


def test_a_path_is_compared_with_the_bare_view_and_each_round_with_its_own():
    outcome = {
        "machine": {}, "server": {}, "worker_rss_mb": {"1": 90.0},
        "burst": {"doors": 48, "reserved": 48, "distinct_doors": 48, "doors_held_twice": 0},
        "results": [
            _result("bare view", "bare", 1500.0, 0.5, 0.0, round_rps=[2000.0, 1000.0]),
            _result("heartbeat", "heartbeat", 450.0, 1.5, 0.5, round_rps=[600.0, 300.0]),
            _result("code validation", "code", 300.0, 2.0, 0.5, round_rps=[400.0, 200.0]),
            _result("64 reservations, one site", "burst", 50.0, 20.0, 8.0, statuses={"201": 48, "409": 16}),
        ],
    }

    lines = report(outcome)

    heartbeat = next(r for r in outcome["results"] if r["name"] == "heartbeat")
    assert heartbeat["ratio_to_bare"] == 0.3  # 450 / 1500
    assert heartbeat["cpu_ratio_to_bare"] == 0.25  # 0.5 ms / 2.0 ms
    assert any(line.startswith("SUMMARY heartbeat:") and "ratio ok (rounds 0.30/0.30)" in line for line in lines)
    assert any(line.startswith("SUMMARY code validation:") and "ratio BELOW 0.30 (rounds 0.20/0.20)" in line
               for line in lines)


def test_rounds_pool_their_requests_time_and_cpu():
    pool = Pool([], 0.0, (0.0, 0.0), [])
    pool.add([Sample(0.01, 200, 1)] * 100, 0.5, (40.0, 10.0))
    pool.add([Sample(0.02, 200, 1)] * 50, 0.5, (30.0, 5.0))

    assert len(pool.samples) == 150 and pool.elapsed == 1.0
    assert pool.spent == (70.0, 15.0)
    assert pool.round_rps == [200.0, 100.0]

    pool.add([Sample(0.01, 200, 1)], 0.1, (1.0, None))  # a round whose database CPU could not be read
    assert pool.spent == (71.0, None)


def test_the_bare_view_takes_turns_with_the_hot_paths():
    names = [run["name"] for run in FAST_RUNS if run["path"] in {"bare", "signed", "code", "heartbeat"}
             and not run["name"].startswith("warm-up") and "rate" not in run and not run.get("calibrates")]
    assert names.count("bare view") == RATIO_ROUNDS
    first_round = names[:4]
    assert names == first_round * RATIO_ROUNDS
    assert first_round[0] == "bare view"


def test_the_rounds_start_after_the_bare_view_and_both_hot_paths_are_warmed():
    # A connection's first code check or heartbeat prepares its statement and loads what its
    # database backend needs once; in the first round that cost was the hot path's alone.
    first_round = next(index for index, run in enumerate(FAST_RUNS) if run["name"] == "bare view")
    warmed = {run["path"] for run in FAST_RUNS[:first_round] if run["name"].startswith("warm-up")}
    assert warmed == {"bare", "heartbeat", "code"}


def test_a_70_percent_run_is_scheduled_from_a_saturation_run_just_before_it():
    for index, run in enumerate(FAST_RUNS):
        if run.get("rate") == "auto":
            before = FAST_RUNS[index - 1]
            assert run["saturation_of"] == before["name"] and before["path"] == run["path"]
            assert before.get("calibrates") and "rate" not in before


def test_a_saturation_run_sets_a_rate_and_is_not_compared_with_the_bare_view():
    outcome = {
        "machine": {}, "server": {}, "worker_rss_mb": {"1": 90.0},
        "burst": {"doors": 48, "reserved": 48, "distinct_doors": 48, "doors_held_twice": 0},
        "results": [
            _result("bare view", "bare", 1500.0, 0.5, 0.0, round_rps=[1500.0]),
            _result("heartbeat, saturation now", "heartbeat", 400.0, 1.5, 0.5, calibrates=True),
            _result("heartbeat @70%", "heartbeat", 280.0, 1.5, 0.5, target_rate=280.0),
            _result("64 reservations, one site", "burst", 50.0, 20.0, 8.0, statuses={"201": 48, "409": 16}),
        ],
    }

    lines = report(outcome)

    saturation = next(line for line in lines if line.startswith("SUMMARY heartbeat, saturation now:"))
    assert "x bare -" in saturation and "ratio ok" not in saturation and "ratio BELOW" not in saturation
    assert any(line.startswith("SUMMARY heartbeat @70%:") and "p99 ok (scheduled 280 req/s)" in line
               for line in lines)
