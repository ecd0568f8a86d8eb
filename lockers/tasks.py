"""django-q2 entry points of the lockers app."""

from __future__ import annotations

from . import demo


def demo_heartbeats_send() -> int:
    """Scheduled by `seed_demo`: keeps the demo's online lockers online."""
    return demo.demo_heartbeats_send()
