"""Where a job's time went, for its result: named sections timed with a monotonic clock.

The rule: a section's time is wall time spent inside it; ``split`` reports each section and the
rest of the elapsed time (everything not inside a named section) under ``rest_name``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Stopwatch:
    """Accumulates wall time per section name since it was created."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.sections: dict[str, float] = {}

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.sections[name] = self.sections.get(name, 0.0) + time.perf_counter() - start

    def split(self, rest_name: str) -> dict[str, float]:
        """``{"<section>_s": seconds, ..., "<rest_name>_s": the remainder, "total_s": elapsed}``."""
        total = time.perf_counter() - self.started
        timed = {f"{name}_s": round(seconds, 4) for name, seconds in self.sections.items()}
        timed[f"{rest_name}_s"] = round(max(total - sum(self.sections.values()), 0.0), 4)
        timed["total_s"] = round(total, 4)
        return timed
