# -*- coding: utf-8 -*-
"""The invocation's time budget.

SCF passes the configured limit as ``context["time_limit_in_ms"]`` (Tencent's local runner, ``SCF_LOCAL=true``:
``SCF_FUNCTION_TIMEOUT``, in seconds; see ``cos2oms.context``); the clock starts when the handler does.
Part of the budget is kept back for writing markers, so that every key gets its marker even when OMS hangs.
With no context (a script), time is unbounded.
"""
import time

from cos2oms import context as scf_context

#: Kept back for marker writes: this fraction of the limit, within [MIN_RESERVE, MAX_RESERVE] seconds.
RESERVE_FRACTION = 0.2
MIN_RESERVE = 0.5
MAX_RESERVE = 10.0


class Deadline(object):
    """``remaining()`` seconds of the whole invocation; ``remaining_for_requests()`` leaves the reserve."""

    def __init__(self, limit_seconds=None, clock=None, started=None):
        self._clock = clock or time.monotonic
        self._started = self._clock() if started is None else started
        self.limit = limit_seconds
        if limit_seconds is None:
            self.reserve = 0.0
        else:
            self.reserve = min(MAX_RESERVE, max(MIN_RESERVE, limit_seconds * RESERVE_FRACTION))

    @classmethod
    def from_context(cls, context, clock=None, started=None, environ=None):
        return cls(scf_context.time_limit_seconds(context, environ), clock=clock, started=started)

    @property
    def bounded(self):
        return self.limit is not None

    def elapsed(self):
        return self._clock() - self._started

    def remaining(self):
        """Seconds left in the invocation (infinite when unbounded)."""
        if self.limit is None:
            return float("inf")
        return self.limit - self.elapsed()

    def remaining_for_requests(self):
        """Seconds that OMS requests (and their back-off) may still use."""
        return self.remaining() - self.reserve
