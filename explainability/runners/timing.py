"""Where a job's time went, for its result: named sections timed with a monotonic clock and
with the process's CPU clock.

The rule: a section's time is wall time spent inside it; ``split`` reports each section and the
rest of the elapsed time (everything not inside a named section) under ``rest_name``, and the
same split in CPU seconds of this process (all its threads) under ``cpu``: on a shared machine
wall time includes waiting for a core, CPU time does not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator


class Stopwatch:
    """Accumulates wall and CPU time per section name since it was created."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.started_cpu = time.process_time()
        self.sections: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.sections[name] = self.sections.get(name, 0.0) + time.perf_counter() - start
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - start_cpu

    def split(self, rest_name: str) -> dict[str, float | dict[str, float]]:
        """``{"<section>_s": seconds, ..., "<rest_name>_s": the remainder, "total_s": elapsed,
        "cpu": {the same keys, in CPU seconds}}``."""
        return {
            **_split(self.sections, time.perf_counter() - self.started, rest_name),
            "cpu": _split(self.cpu, time.process_time() - self.started_cpu, rest_name),
        }


class Span:
    """One piece of work from when it began: UTC timestamps, so spans recorded by different
    processes and machines can be laid side by side, plus its wall and CPU seconds."""

    def __init__(self) -> None:
        self.started_at = _now()
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def record(self) -> dict[str, str | float]:
        """``{"started_at", "finished_at": ISO 8601 UTC, "seconds", "cpu_seconds"}`` so far."""
        return {
            "started_at": self.started_at, "finished_at": _now(),
            "seconds": round(time.perf_counter() - self._wall, 3),
            "cpu_seconds": round(time.process_time() - self._cpu, 3),
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _split(sections: dict[str, float], total: float, rest_name: str) -> dict[str, float]:
    timed = {f"{name}_s": round(seconds, 4) for name, seconds in sections.items()}
    timed[f"{rest_name}_s"] = round(max(total - sum(sections.values()), 0.0), 4)
    timed["total_s"] = round(total, 4)
    return timed
