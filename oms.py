# -*- coding: utf-8 -*-
"""OMS sync requests: batching, key encoding, signing, retries within the invocation's time.

``POST SYNC_URL`` with ``{"object_keys": [...]}`` (at most ``MAX_KEYS_PER_REQUEST`` keys), signed with
SDK-HMAC-SHA256. HTTP 200 means accepted. Connection errors, timeouts, 429 and 5xx are retried with
exponential back-off and full jitter, at most ``max_attempts`` attempts and never past the deadline's
request budget. Any other answer is final; a 401/403 also marks the credentials as refused, so callers
send nothing more (five failed AK/SK signatures lock the key for five minutes).
"""
import json
import logging
import random
import time
from urllib.parse import quote

import requests

from signer import SignerAuth

MAX_KEYS_PER_REQUEST = 10
BACKOFF_BASE = 0.25
BACKOFF_CAP = 4.0
#: An attempt with less time than this left is not started.
MIN_ATTEMPT_SECONDS = 0.1
AUTH_STATUSES = (401, 403)

logger = logging.getLogger("cos2oms.oms")


def encode_key(key, encoding):
    """The key as OMS must receive it: percent-encoded (``url``) so that OMS's single decode, whether
    ``unquote`` or ``unquote_plus``, gives the event key back; or unchanged (``raw``, the guide's way)."""
    if encoding == "raw":
        return key
    # quote(key, safe="/") as OMS documents; "~" is kept explicitly so that Python 3.6 (whose quote still
    # escapes it) sends the same bytes as 3.7+.
    return quote(key, safe="/~")


def batches(keys, size=MAX_KEYS_PER_REQUEST):
    """``keys`` in event order, ``size`` at a time."""
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def retryable_status(status):
    return status == 429 or 500 <= status <= 599


class OmsResult(object):
    """The outcome of one OMS request (all its attempts)."""

    def __init__(self, accepted, status=None, error_code=None, error_msg=None, attempts=0, oms_request_id=None,
                 reason=None):
        self.accepted = accepted
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.attempts = attempts
        self.oms_request_id = oms_request_id
        self.reason = reason

    @property
    def auth_refused(self):
        """OMS refused our credentials: send no more in this run."""
        return self.status in AUTH_STATUSES

    @classmethod
    def not_sent(cls, reason):
        return cls(False, reason=reason)

    def describe(self):
        """``status=... error_code=... error_msg=... attempts=...`` for log lines."""
        return "status=%s error_code=%s error_msg=%s attempts=%d oms_request_id=%s%s" % (
            self.status if self.status is not None else "-", self.error_code or "-", _quoted(self.error_msg),
            self.attempts, self.oms_request_id or "-", " reason=%s" % _quoted(self.reason) if self.reason else "")


def _quoted(text):
    return json.dumps(text, ensure_ascii=False) if text else "-"


def _error_fields(response):
    """OMS's ``error_code``/``error_msg`` from a JSON error body, else a short excerpt of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("error_code" in body or "error_msg" in body):
        return body.get("error_code"), body.get("error_msg")
    text = (response.text or "").strip()
    return None, text[:300] or None


def backoff_delay(attempt, rand=random.random):
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
    return rand() * min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1)))


def _retry_after(response):
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class OmsClient(object):
    """Sends sync requests for one task. ``session`` is a ``requests.Session`` kept across invocations."""

    def __init__(self, session, sync_url, access_key, secret_key, timeout, max_attempts, key_encoding="url",
                 sleep=time.sleep, rand=random.random):
        self.session = session
        self.sync_url = sync_url
        self.auth = SignerAuth(access_key, secret_key)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.key_encoding = key_encoding
        self._sleep = sleep
        self._rand = rand

    def body(self, keys):
        return json.dumps({"object_keys": [encode_key(k, self.key_encoding) for k in keys]}).encode("utf-8")

    def _attempt(self, body, timeout):
        """One POST: (response, None) or (None, exception)."""
        try:
            response = self.session.post(self.sync_url, data=body, auth=self.auth, timeout=timeout,
                                         headers={"Content-Type": "application/json"})
            return response, None
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            return None, exc

    def submit(self, keys, deadline, request_id="-"):
        """Ask OMS to migrate ``keys`` (at most ``MAX_KEYS_PER_REQUEST``); returns an ``OmsResult``."""
        body = self.body(keys)
        attempt = 0
        result = OmsResult.not_sent("no time left for an OMS request")
        while attempt < self.max_attempts:
            budget = deadline.remaining_for_requests()
            if budget < MIN_ATTEMPT_SECONDS:
                if attempt:
                    result.reason = "out of time after %d attempt(s)" % attempt
                break
            attempt += 1
            started = time.monotonic()
            response, error = self._attempt(body, min(self.timeout, budget))
            elapsed_ms = (time.monotonic() - started) * 1000
            if response is None:
                result = OmsResult(False, attempts=attempt, reason="%s: %s" % (type(error).__name__, error))
                logger.warning("oms attempt failed keys=%d attempt=%d/%d elapsed_ms=%.0f error=%s "
                               "request_id=%s", len(keys), attempt, self.max_attempts, elapsed_ms,
                               type(error).__name__, request_id)
                wait = backoff_delay(attempt, self._rand)
            else:
                error_code, error_msg = (None, None) if response.status_code == 200 else _error_fields(response)
                result = OmsResult(response.status_code == 200, response.status_code, error_code, error_msg,
                                   attempt, response.headers.get("X-Request-Id"))
                logger.debug("oms attempt keys=%d attempt=%d/%d status=%d elapsed_ms=%.0f request_id=%s",
                             len(keys), attempt, self.max_attempts, response.status_code, elapsed_ms, request_id)
                if not retryable_status(response.status_code):
                    return result
                wait = _retry_after(response)
                if wait is None or wait > BACKOFF_CAP:
                    wait = backoff_delay(attempt, self._rand)
            if attempt >= self.max_attempts:
                break
            if wait + MIN_ATTEMPT_SECONDS > deadline.remaining_for_requests():
                result.reason = "out of time after %d attempt(s)" % attempt
                break
            self._sleep(wait)
        return result
