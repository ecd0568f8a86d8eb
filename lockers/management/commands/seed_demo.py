from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from lockers.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Build the Minneapolis-Saint Paul demo network (sites, lockers, partners, demo accounts) "
        "and print the logins. Safe to run again: it only adds what is missing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        seed_demo(self.stdout)
