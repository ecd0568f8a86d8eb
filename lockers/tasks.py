"""django-q2 entry points of the lockers app."""

from __future__ import annotations

from . import demo
from .device.auth import device_nonces_purge


def device_nonces_forget() -> int:
    """Every minute: forget nonces too old to pass the clock check (kept off the heartbeat's path)."""
    return device_nonces_purge()


def demo_heartbeats_send() -> int:
    """Scheduled by `seed_demo`: keeps the demo's online lockers online."""
    return demo.demo_heartbeats_send()
