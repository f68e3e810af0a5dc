# -*- coding: utf-8 -*-
"""OMS sync requests: key encoding, signing, classifying answers, and a short retry loop.

``POST SYNC_URL`` with ``{"object_keys": [...]}`` (at most ``MAX_KEYS_PER_REQUEST`` keys), signed with
SDK-HMAC-SHA256. HTTP 200 means accepted. Connection errors, timeouts, 429 and 5xx are retried with
exponential back-off and full jitter, at most ``max_attempts`` attempts and never past the deadline's
request budget. Any other answer is final: a redirect is never followed (a 200 at its end would say nothing
about OMS), and a 401/403 also marks the credentials as refused, so callers send nothing more (five failed
AK/SK signatures lock the key for five minutes).
"""
import json
import logging
import random
import time
from urllib.parse import quote

import requests

from cos2oms import logs, transport
from cos2oms.signer import SignerAuth

MAX_KEYS_PER_REQUEST = 10
BACKOFF_BASE = 0.25
BACKOFF_CAP = 4.0
#: An attempt with less time than this left is not started.
MIN_ATTEMPT_SECONDS = 0.1
AUTH_STATUSES = (401, 403)
_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

logger = logging.getLogger("cos2oms.oms")


def encode_key(key, encoding):
    """The key as OMS must receive it: percent-encoded (``url``) so that OMS's single decode, whether
    ``unquote`` or ``unquote_plus``, gives the event key back; or unchanged (``raw``, the guide's way)."""
    if encoding == "raw":
        return key
    # quote(key, safe="/") as OMS documents; "~" is kept explicitly so that Python 3.6 (whose quote still
    # escapes it) sends the same bytes as 3.7+.
    return quote(key, safe="/~")


def retryable_status(status):
    return status == 429 or 500 <= status <= 599


def backoff_delay(attempt, rand=random.random):
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
    return rand() * min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1)))


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

    def fields(self):
        """The log fields of this outcome (``logs`` escapes and caps what came from the network)."""
        fields = dict(status=self.status, error_code=self.error_code, error_msg=self.error_msg,
                      attempts=self.attempts, oms_request_id=self.oms_request_id)
        if self.reason:
            fields["reason"] = self.reason
        return fields


def _error_fields(response):
    """OMS's ``error_code``/``error_msg`` from a JSON error body, else a short excerpt of the body. The
    transport has already capped the body; it is decoded here without requests' charset detection."""
    text = (response.content or b"")[:transport.ERROR_BODY_CAP].decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        body = None
    if isinstance(body, dict) and ("error_code" in body or "error_msg" in body):
        return _text(body.get("error_code")), _text(body.get("error_msg"))
    return None, text.strip()[:logs.TEXT_CAP] or None


def _text(value):
    """An error field as a short string, whatever JSON type OMS (or whoever answered) gave it."""
    if value is None or isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else json.dumps(value)[:logs.TEXT_CAP]  # nan, inf too


def _retry_after(response):
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def classify(attempt, response=None, error=None, rand=random.random, final=False):
    """What one attempt's answer means: ``(OmsResult, seconds to wait before retrying or None)``.

    ``None`` means final: accepted, refused, a redirect, an answer that cannot be read (``final``), or any
    other answer that trying again cannot change.
    """
    if isinstance(error, transport.RedirectRefused):
        return OmsResult(False, error.status, attempts=attempt,
                         reason="redirect refused: %s to %s" % (error.status, error.location or "-")), None
    if error is not None:
        result = OmsResult(False, attempts=attempt, reason="%s: %s" % (type(error).__name__, error))
        return result, None if final else backoff_delay(attempt, rand)
    status = response.status_code
    request_id = response.headers.get("X-Request-Id")
    if status == 200:
        return OmsResult(True, status, attempts=attempt, oms_request_id=request_id), None
    error_code, error_msg = _error_fields(response)
    result = OmsResult(False, status, error_code, error_msg, attempt, request_id)
    if not retryable_status(status):
        return result, None
    wait = _retry_after(response)
    if wait is None or wait > BACKOFF_CAP:
        wait = backoff_delay(attempt, rand)
    return result, wait


class OmsClient(object):
    """Sends sync requests for one task. ``session`` is a ``transport.new_session()`` kept across invocations."""

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

    def _attempt(self, body, attempt, seconds):
        """One POST, bounded as a whole by ``seconds``; classified."""
        try:
            with transport.time_limit(seconds):
                response = self.session.post(self.sync_url, data=body, auth=self.auth, timeout=seconds,
                                             allow_redirects=False, headers={"Content-Type": "application/json"})
        except transport.RedirectRefused as exc:
            return classify(attempt, error=exc)
        except _NETWORK_ERRORS as exc:
            return classify(attempt, error=exc, rand=self._rand)
        except requests.RequestException as exc:  # an answer requests cannot read (bad headers, encoding)
            return classify(attempt, error=exc, rand=self._rand, final=True)
        return classify(attempt, response, rand=self._rand)

    def submit(self, keys, deadline, request_id="-"):
        """Ask OMS to migrate ``keys`` (at most ``MAX_KEYS_PER_REQUEST``); returns an ``OmsResult``."""
        body = self.body(keys)
        result = OmsResult.not_sent("no time left for an OMS request")
        for attempt in range(1, self.max_attempts + 1):
            budget = deadline.remaining_for_requests()
            if budget < MIN_ATTEMPT_SECONDS:
                break
            started = time.monotonic()
            result, wait = self._attempt(body, attempt, min(self.timeout, budget))
            logs.log(logger, logging.DEBUG, "oms attempt", keys=len(keys), attempt=attempt,
                     max_attempts=self.max_attempts, status=result.status,
                     elapsed_ms=(time.monotonic() - started) * 1000, request_id=request_id)
            if wait is None or attempt == self.max_attempts:
                return result
            if wait + MIN_ATTEMPT_SECONDS > deadline.remaining_for_requests():
                break
            self._sleep(wait)
        if result.attempts:
            result.reason = "out of time after %d attempt(s)%s" % (
                result.attempts, "; last: %s" % result.reason if result.reason else "")
        return result
