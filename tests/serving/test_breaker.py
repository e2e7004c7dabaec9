"""The circuit breaker's states, on the object itself (a fault in time is easier to cause here
than through Triton): closed, open for its pause, then half-open with exactly one trial."""

from __future__ import annotations

import time

from service.breaker import Breaker


def _open(breaker: Breaker) -> None:
    for _ in range(breaker.failures):
        assert breaker.allow()
        breaker.failed()


def test_half_open_lets_exactly_one_trial_through():
    breaker = Breaker(failures=3, reset_s=0.2)
    _open(breaker)
    assert not breaker.allow()  # open: fail fast
    time.sleep(0.25)
    assert breaker.allow()  # the trial
    assert not any(breaker.allow() for _ in range(10))  # the others, while it is in flight
    breaker.succeeded()
    assert all(breaker.allow() for _ in range(10))  # closed again


def test_a_failed_trial_opens_it_for_another_pause():
    breaker = Breaker(failures=2, reset_s=0.2)
    _open(breaker)
    time.sleep(0.25)
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow()
    time.sleep(0.25)
    assert breaker.allow() and not breaker.allow()


def test_an_abandoned_trial_can_be_taken_again():
    breaker = Breaker(failures=1, reset_s=0.1)
    _open(breaker)
    time.sleep(0.15)
    assert breaker.allow()
    breaker.abandoned()  # e.g. the client went away mid-call
    assert breaker.allow()
