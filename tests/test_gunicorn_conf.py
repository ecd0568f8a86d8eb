"""The production server's settings file (gunicorn.conf.py), loaded as gunicorn loads it."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def test_a_worker_freezes_what_it_loaded_at_start_so_collections_skip_it():
    settings = runpy.run_path(str(CONF))
    gc.unfreeze()
    try:
        settings["post_worker_init"](object())
        assert gc.get_freeze_count() > 1000  # Django and the project, loaded by this process
    finally:
        gc.unfreeze()


def test_workers_are_threaded_and_sized_from_the_cores(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("WEB_THREADS", "4")
    settings = runpy.run_path(str(CONF))
    assert (settings["workers"], settings["threads"], settings["worker_class"]) == (3, 4, "gthread")
