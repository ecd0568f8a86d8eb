"""`manage.py bench_prepare`: the benchmark's fixtures, run by `manage.py bench` in the bench environment."""

from __future__ import annotations

import json
import secrets
from dataclasses import fields
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bench.fixtures import Sizing, bench_fixtures_prepare, burst_outcome, scale_pages_prepare


class Command(BaseCommand):
    help = "Internal to `manage.py bench`: create a run's fixtures and write the driver's plan (or check the burst)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", help="Where to write the plan (JSON).")
        parser.add_argument("--scale", action="store_true", help="Also name the US-sized data's list pages.")
        parser.add_argument("--burst-outcome", type=int, metavar="SITE_ID",
                            help="Print what the reservation burst left at this site, as JSON.")
        for item in fields(Sizing):
            parser.add_argument(f"--{item.name.replace('_', '-')}", type=int, default=item.default)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["burst_outcome"]:
            self.stdout.write(json.dumps(burst_outcome(site_id=options["burst_outcome"])))
            return
        sizing = Sizing(**{item.name: options[item.name] for item in fields(Sizing)})
        tag = secrets.token_hex(3)
        plan = bench_fixtures_prepare(tag=tag, sizing=sizing)
        if options["scale"]:
            plan |= scale_pages_prepare(tag=tag)
        Path(options["out"]).write_text(json.dumps(plan))
