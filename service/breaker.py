"""One circuit breaker for every backend call the gateway can do without: Triton (a
popularity page instead) and the shared rate limit's Redis (each process's own limit instead)."""

from __future__ import annotations

import time

from prometheus_client import Gauge


class Breaker:
    """A circuit breaker: `failures` consecutive failures open it for `reset_s`, during which
    calls fail at once instead of tying up workers on a dead backend. Then it is half-open: one
    call is let through as a trial while the others still fail fast; its success closes the
    breaker, its failure opens it for another `reset_s`."""

    def __init__(self, failures: int, reset_s: float, gauge: Gauge | None = None):
        self.failures, self.reset_s, self.gauge = failures, reset_s, gauge
        self.count, self.open_until = 0, 0.0
        self.trial = False  # the half-open trial is in flight

    def allow(self) -> bool:
        if self.count < self.failures:
            return True  # closed
        if self.trial or time.monotonic() < self.open_until:
            return False
        self.trial = True  # half-open: this call is the trial
        return True

    def succeeded(self) -> None:
        self.count, self.trial = 0, False
        if self.gauge is not None:
            self.gauge.set(0)

    def failed(self) -> None:
        self.count, self.trial = self.count + 1, False
        if self.count >= self.failures:
            self.open_until = time.monotonic() + self.reset_s
            if self.gauge is not None:
                self.gauge.set(1)

    def abandoned(self) -> None:
        """A call that ended neither way (cancelled): a trial it was may be taken again."""
        self.trial = False
