"""What the driver records of each request, and a path's requests pooled over the rounds it ran in.

Apart from the driver so that the pooling can be tested without the load generator's
dependencies (aiohttp is a bench extra).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sample:
    latency: float
    status: int
    queries: int | None


@dataclass
class Pool:
    """A path's runs so far in the bench run: one result however many rounds it ran in."""

    samples: list[Sample]
    elapsed: float
    spent: tuple[float, float | None] | None
    round_rps: list[float]

    def add(self, samples: list[Sample], elapsed: float, spent: tuple[float, float | None] | None) -> None:
        self.samples += samples
        self.elapsed += elapsed
        self.round_rps.append(round(len(samples) / elapsed, 1) if elapsed else 0.0)
        if self.spent is None or spent is None:
            self.spent = None
        else:
            database = None if self.spent[1] is None or spent[1] is None else self.spent[1] + spent[1]
            self.spent = (self.spent[0] + spent[0], database)
