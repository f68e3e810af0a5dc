# -*- coding: utf-8 -*-
"""The OMS client: sync requests (the events POST) and the task queries, over one reading of OMS's answers.

``POST SYNC_URL`` with ``{"object_keys": [...]}`` (at most ``MAX_KEYS_PER_REQUEST`` keys), signed with
SDK-HMAC-SHA256. HTTP 200 means accepted. The task queries (``show_sync_task``: ShowSyncTask, ``GET
.../sync-tasks/{id}?query_time=``; ``list_statistics``: ListSyncTaskStatistic, ``GET .../statistics?...``)
are signed GETs on the task's address, read from ``SYNC_URL``: ``oms_tasks.TaskClient``, this client with the
queries and the migration task calls (CreateTask, ShowTask, StartTask), which only the commands use (kept off
the function's import path, its cold start).

Every request is tried as ``retry`` says: connection errors, timeouts, 408, 429 and 5xx again, with
exponential back-off and full jitter, at most ``max_attempts`` attempts (``OMS_MAX_ATTEMPTS``), each bounded
as a whole by ``timeout`` (``OMS_TIMEOUT``) and never past the deadline's request budget. Any other answer is
final: a redirect is never followed (a 200 at its end would say nothing about OMS), and a 401/403 also marks
the credentials as refused, so callers send nothing more (five failed AK/SK signatures lock the key for five
minutes).
"""
import json
import logging
import random
import time
from urllib.parse import quote

import requests

from cos2oms import logs, retry, transport
from cos2oms.signer import SignerAuth

MAX_KEYS_PER_REQUEST = 10
AUTH_STATUSES = retry.AUTH_STATUSES
#: An OMS attempt with less time than this left is not started (``bulk`` stops sending below it too).
MIN_ATTEMPT_SECONDS = retry.MIN_ATTEMPT_SECONDS

logger = logging.getLogger("cos2oms.oms")


def encode_key(key, encoding):
    """The key as OMS must receive it: percent-encoded (``url``) so that OMS's single decode, whether
    ``unquote`` or ``unquote_plus``, gives the event key back; or unchanged (``raw``, the guide's way)."""
    if encoding == "raw":
        return key
    # quote(key, safe="/") as OMS documents; "~" is kept explicitly so that Python 3.6 (whose quote still
    # escapes it) sends the same bytes as 3.7+.
    return quote(key, safe="/~")


class Outcome(object):
    """What OMS answered to one request (all its attempts), or why it did not: what sync requests and task
    queries share. ``request_id``: OMS's ``X-Request-Id``."""

    def __init__(self, status=None, error_code=None, error_msg=None, reason=None, request_id=None):
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.reason = reason
        self.request_id = request_id

    @property
    def refused(self):
        """OMS refused our credentials (401/403): send no more in this run."""
        return self.status in AUTH_STATUSES


class OmsResult(Outcome):
    """The outcome of one sync request (all its attempts)."""

    def __init__(self, accepted, status=None, error_code=None, error_msg=None, attempts=0, oms_request_id=None,
                 reason=None):
        Outcome.__init__(self, status, error_code, error_msg, reason, oms_request_id)
        self.accepted = accepted
        self.attempts = attempts

    @property
    def oms_request_id(self):
        return self.request_id

    @property
    def auth_refused(self):
        return self.refused

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


def read_answer(response, cap=None):
    """(the body parsed as JSON, or None when it is not JSON or nested too deeply to parse; its text): decoded
    without requests' charset detection, the first ``cap`` bytes only when given."""
    text = (response.content or b"")[:cap].decode("utf-8", "replace")
    try:
        return json.loads(text), text
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return None, text


def _error_fields(response):
    """OMS's ``error_code``/``error_msg`` from a JSON error body, else a short excerpt of the body. The
    transport has already capped the body; it is read up to ``transport.ERROR_BODY_CAP`` here."""
    body, text = read_answer(response, transport.ERROR_BODY_CAP)
    if isinstance(body, dict) and ("error_code" in body or "error_msg" in body):
        return _text(body.get("error_code")), _text(body.get("error_msg"))
    return None, text.strip()[:logs.TEXT_CAP] or None


def _text(value):
    """An error field as a short string, whatever JSON type OMS (or whoever answered) gave it."""
    if value is None or isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else json.dumps(value)[:logs.TEXT_CAP]  # nan, inf too


def request_id_of(response):
    """OMS's ``X-Request-Id`` of an answer, or None."""
    value = response.headers.get("X-Request-Id")
    return value if isinstance(value, str) else None


def answer_verdict(response):
    """``retry``'s verdict on an OMS answer that is not a 200, and its error fields."""
    error_code, error_msg = _error_fields(response)
    return retry.classify(response.status_code, error_code, retry_after=retry.retry_after(response.headers)), \
        error_code, error_msg


class OmsClient(object):
    """Sends sync requests and task queries for one task. ``session`` is a ``transport.new_session()`` kept
    across invocations."""

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

    @classmethod
    def from_settings(cls, settings, session=None, **kwargs):
        return cls(session or transport.new_session(), settings.sync_url, settings.hw_ak, settings.hw_sk,
                   settings.oms_timeout, settings.oms_max_attempts, settings.key_encoding, **kwargs)

    def _run(self, attempt, deadline, max_attempts=None):
        time_left = retry.unbounded if deadline is None else deadline.remaining_for_requests
        return retry.run(attempt, max_attempts or self.max_attempts, time_left, max_seconds=self.timeout,
                         min_seconds=MIN_ATTEMPT_SECONDS, sleep=self._sleep, rand=self._rand)

    # ------------------------------------------------------------------------------------- sync requests

    def body(self, keys):
        return json.dumps({"object_keys": [encode_key(k, self.key_encoding) for k in keys]}).encode("utf-8")

    def _send(self, method, url, seconds, **kwargs):
        """One signed request (``session.post`` or ``session.get``), bounded as a whole by ``seconds``, never
        redirected: (response, None), or (None, the ``requests`` exception: a network error, a refused
        redirect, an answer requests cannot read)."""
        try:
            with transport.time_limit(seconds):
                return getattr(self.session, method)(url, auth=self.auth, timeout=seconds, allow_redirects=False,
                                                     headers={"Content-Type": "application/json"}, **kwargs), None
        except requests.RequestException as exc:
            return None, exc

    def _post(self, body, attempt, seconds):
        """One POST: (``OmsResult``, ``retry.Verdict`` or None)."""
        response, exc = self._send("post", self.sync_url, seconds, data=body)
        if isinstance(exc, transport.RedirectRefused):
            return OmsResult(False, exc.status, attempts=attempt,
                             reason="redirect refused: %s to %s" % (exc.status, exc.location or "-")), \
                retry.classify(error=exc)
        if exc is not None:
            return OmsResult(False, attempts=attempt, reason="%s: %s" % (type(exc).__name__, exc)), \
                retry.classify(error=exc)
        if response.status_code == 200:
            return OmsResult(True, 200, attempts=attempt, oms_request_id=request_id_of(response)), None
        verdict, error_code, error_msg = answer_verdict(response)
        return OmsResult(False, response.status_code, error_code, error_msg, attempt, request_id_of(response)), verdict

    def submit(self, keys, deadline, request_id="-"):
        """Ask OMS to migrate ``keys`` (at most ``MAX_KEYS_PER_REQUEST``); returns an ``OmsResult``."""
        body = self.body(keys)

        def attempt(number, seconds):
            started = time.monotonic()
            result, verdict = self._post(body, number, seconds)
            logs.log(logger, logging.DEBUG, "oms attempt", keys=len(keys), attempt=number,
                     max_attempts=self.max_attempts, status=result.status,
                     elapsed_ms=(time.monotonic() - started) * 1000, request_id=request_id)
            return result, verdict

        outcome = self._run(attempt, deadline)
        if not outcome.attempts:
            return OmsResult.not_sent("no time left for an OMS request")
        result = outcome.result
        if outcome.out_of_time:
            result.reason = "out of time after %d attempt(s)%s" % (
                result.attempts, "; last: %s" % result.reason if result.reason else "")
        return result
