# -*- coding: utf-8 -*-
"""The one retry policy of every remote call (OMS, COS, OBS), in the spirit of botocore's standard mode.

- **Classification** (``classify``): what an answer or an error means, decided once, with the reason.
  Worth another attempt: a connection error, a timeout, HTTP 408, 429 and 5xx, and the storage services'
  transient error codes (``RETRYABLE_CODES``: ``SlowDown``, ``RequestTimeout``, ...). Final: everything
  else, a refused redirect (``transport.RedirectRefused``, found also where an SDK wrapped it), every other
  4xx, and 401/403 above all (after a refusal nothing more is sent: failed signatures lock a key).
- **Back-off** (``backoff``): exponential with full jitter, uniform in [0, min(``BACKOFF_CAP``,
  ``BACKOFF_BASE`` * 2**(attempt-1))); a server's ``Retry-After`` is taken instead when it is at most the cap.
- **The attempt loop** (``run``): at most ``max_attempts`` attempts, bounded by the time left: no attempt is
  started with less than ``min_seconds`` left, and no pause that would leave less than that for the next.
  ``sleep``, ``rand`` and the time left are injectable for tests.
"""
import random
import socket
import time

import requests

from cos2oms import transport
from cos2oms.record import Record

BACKOFF_BASE = 0.25
BACKOFF_CAP = 4.0
#: An attempt with less time than this left is not started (callers may ask for another bound).
MIN_ATTEMPT_SECONDS = 0.1
#: Error codes (COS's, OBS's, S3's) worth another attempt whatever the status they come with.
RETRYABLE_CODES = frozenset(["SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError", "Throttling",
                             "ThrottlingException", "RequestThrottled", "TooManyRequests"])
AUTH_STATUSES = (401, 403)


class Verdict(Record):
    """Whether an attempt's outcome is worth another attempt (``retry``), why (``reason``), and the pause the
    server asked for (``wait``, seconds; None: the back-off decides)."""

    __slots__ = ()
    _fields = ("retry", "reason", "wait")

    def __new__(cls, retry, reason, wait=None):
        return super(Verdict, cls).__new__(cls, retry, reason, wait)


def _chain(error):
    """``error`` and the exceptions it was raised from or while handling (an SDK wraps the transport's)."""
    seen = []
    while error is not None and len(seen) < 16 and not any(error is e for e in seen):
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def error_verdict(error):
    """The verdict on an exception, or None when nothing in its chain is a known network error or refusal."""
    chain = _chain(error)
    for exc in chain:
        if isinstance(exc, transport.RedirectRefused):
            return Verdict(False, "redirect refused (never followed)")
    for exc in chain:
        if isinstance(exc, (requests.Timeout, socket.timeout)):
            return Verdict(True, "timeout")
        if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ConnectionError)):
            return Verdict(True, "connection error")
        if isinstance(exc, Unreadable):
            return Verdict(True, "an answer that cannot be read (cut short or garbled on the way)")
    return None


class Unreadable(ValueError):
    """An answer whose body does not parse as what was asked for: worth another attempt."""


def status_verdict(status, code=None, retry_after=None):
    """The verdict on an HTTP answer: ``status``, the service's error ``code``, its ``Retry-After`` seconds."""
    if 200 <= status <= 299:
        return Verdict(False, "success")
    if status in AUTH_STATUSES:
        return Verdict(False, "HTTP %d: credentials refused (nothing more is sent)" % status)
    if 300 <= status <= 399:
        return Verdict(False, "HTTP %d: redirect refused (never followed)" % status)
    wait = retry_after if retry_after is not None and 0 <= retry_after <= BACKOFF_CAP else None
    if status == 408:
        return Verdict(True, "HTTP 408: request timeout", wait)
    if status == 429:
        return Verdict(True, "HTTP 429: throttled", wait)
    if 500 <= status <= 599:
        return Verdict(True, "HTTP %d: server error" % status, wait)
    if code in RETRYABLE_CODES:
        return Verdict(True, "HTTP %d %s: a transient error code" % (status, code), wait)
    return Verdict(False, "HTTP %d: final" % status)


def classify(status=None, code=None, error=None, retry_after=None):
    """The one classification: an HTTP answer (``status``, ``code``, ``retry_after``) or an ``error``."""
    if error is not None:
        verdict = error_verdict(error)
        return verdict or Verdict(False, "%s: not a network error (final)" % type(error).__name__)
    return status_verdict(status, code, retry_after)


def retry_after(headers):
    """A ``Retry-After`` header in seconds, or None (absent, an HTTP date, or unreadable)."""
    try:
        return max(0.0, float((headers or {}).get("Retry-After", "")))
    except (TypeError, ValueError):
        return None


def backoff(attempt, rand=random.random):
    """Seconds to pause after failed attempt number ``attempt`` (from 1): full jitter, uniform in
    [0, min(BACKOFF_CAP, BACKOFF_BASE * 2**(attempt-1)))."""
    return rand() * min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1)))


class Outcome(Record):
    """What ``run`` ended with: the last attempt's ``result`` and ``verdict`` (None for both when no attempt
    was made), the ``attempts`` made, and ``out_of_time``: it stopped for want of time, not by the verdict."""

    __slots__ = ()
    _fields = ("result", "verdict", "attempts", "out_of_time")


def unbounded():
    return float("inf")


def run(attempt, max_attempts, time_left=unbounded, max_seconds=None, min_seconds=MIN_ATTEMPT_SECONDS,
        sleep=time.sleep, rand=random.random, on_retry=None):
    """Call ``attempt(number, seconds)`` -> ``(result, verdict)`` until a verdict is final (None: done), the
    attempts are spent or the time is; ``seconds`` is what the attempt may take as a whole: the time left,
    at most ``max_seconds``. ``time_left()``: seconds left (infinite when unbounded). ``on_retry(number,
    verdict, pause)`` is called before each pause. Returns an ``Outcome``."""
    result = verdict = None
    made = 0
    for number in range(1, max_attempts + 1):
        left = time_left()
        if left < min_seconds:
            return Outcome(result, verdict, made, True)
        seconds = left if max_seconds is None else min(max_seconds, left)
        result, verdict = attempt(number, seconds)
        made = number
        if verdict is None or not verdict.retry or number == max_attempts:
            break
        pause = verdict.wait if verdict.wait is not None else backoff(number, rand)
        if pause + min_seconds > time_left():
            return Outcome(result, verdict, made, True)
        if on_retry is not None:
            on_retry(number, verdict, pause)
        sleep(pause)
    return Outcome(result, verdict, made, False)
