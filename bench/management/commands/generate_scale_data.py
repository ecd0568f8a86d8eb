"""`manage.py generate_scale_data`: fill an empty PostgreSQL database with a US-sized network by COPY."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bench.scale import Generator, ScaleSize
from lockers.models import Site


class Command(BaseCommand):
    help = ("Fill the (empty, PostgreSQL) database with 5,000 sites, 15,000 lockers, 900,000 doors and "
            "5 million parcels with their events, by COPY, then ANALYZE. Create it first: createdb lockers_scale.")

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = ScaleSize()
        parser.add_argument("--sites", type=int, default=defaults.sites)
        parser.add_argument("--lockers-per-site", type=int, default=defaults.lockers_per_site)
        parser.add_argument("--parcels", type=int, default=defaults.parcels)
        parser.add_argument("--seed", type=int, default=defaults.seed)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("generate_scale_data writes with PostgreSQL's COPY: set DATABASE_URL to PostgreSQL.")
        call_command("migrate", verbosity=0, interactive=False)
        if Site.objects.filter(code__startswith="us-").exists():
            raise CommandError("This database already holds generated data: use a fresh one (dropdb/createdb).")
        size = ScaleSize(sites=options["sites"], lockers_per_site=options["lockers_per_site"],
                         parcels=options["parcels"], seed=options["seed"])
        Generator(size, self.stdout.write).run()
