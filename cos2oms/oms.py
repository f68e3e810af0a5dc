# -*- coding: utf-8 -*-
"""The OMS client: sync requests (the events POST) and the task queries, over one reading of OMS's answers.

``POST SYNC_URL`` with ``{"object_keys": [...]}`` (at most ``MAX_KEYS_PER_REQUEST`` keys), signed with
SDK-HMAC-SHA256. HTTP 200 means accepted. The task queries (``show_sync_task``: ShowSyncTask, ``GET
.../sync-tasks/{id}?query_time=``; ``list_statistics``: ListSyncTaskStatistic, ``GET .../statistics?...``)
are signed GETs on the task's address, read from ``SYNC_URL``; the migration task calls (``create_task``,
``show_task``, ``start_task``: CreateTask, ShowTask, StartTask) are signed requests on ``/v2/{project}/tasks``
of that project, answered as the queries are (``OmsAnswer``).

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

from cos2oms import logs, retry, settings as settings_module, transport
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


class _Outcome(object):
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


class OmsResult(_Outcome):
    """The outcome of one sync request (all its attempts)."""

    def __init__(self, accepted, status=None, error_code=None, error_msg=None, attempts=0, oms_request_id=None,
                 reason=None):
        _Outcome.__init__(self, status, error_code, error_msg, reason, oms_request_id)
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


def _read(response, cap=None):
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
    body, text = _read(response, transport.ERROR_BODY_CAP)
    if isinstance(body, dict) and ("error_code" in body or "error_msg" in body):
        return _text(body.get("error_code")), _text(body.get("error_msg"))
    return None, text.strip()[:logs.TEXT_CAP] or None


def _text(value):
    """An error field as a short string, whatever JSON type OMS (or whoever answered) gave it."""
    if value is None or isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else json.dumps(value)[:logs.TEXT_CAP]  # nan, inf too


def _request_id(response):
    value = response.headers.get("X-Request-Id")
    return value if isinstance(value, str) else None


def _answer_verdict(response):
    """``retry``'s verdict on an OMS answer that is not a 200, and its error fields."""
    error_code, error_msg = _error_fields(response)
    return retry.classify(response.status_code, error_code, retry_after=retry.retry_after(response.headers)), \
        error_code, error_msg


def _problem(exc):
    """An exception met reading an answer, for a message: a ValueError's own words, else its type too."""
    if type(exc) is ValueError:
        return str(exc)
    return "%s: %s" % (type(exc).__name__, logs.short(str(exc)))


class OmsAnswer(_Outcome):
    """One OMS query's outcome: ``body`` (a dict) when OMS answered 200 with JSON, else why not."""

    def __init__(self, query, status=None, body=None, error_code=None, error_msg=None, reason=None,
                 request_id=None):
        _Outcome.__init__(self, status, error_code, error_msg, reason, request_id)
        self.query = query
        self.body = body

    @property
    def ok(self):
        return self.body is not None

    @property
    def retryable(self):
        """Worth asking again later: no answer (timeout, connection), an unreadable 200, or what ``retry``
        would try again (408, 429, 5xx)."""
        return self.status is None or self.status == 200 or retry.classify(self.status).retry

    def describe(self):
        """``HTTP 401 APIG.0301: ...`` or the reason; network values escaped and capped."""
        if self.status is None:
            return self.reason or "no answer"
        text = "HTTP %s" % self.status
        if self.error_code or self.error_msg:
            text += " error_code=%s error_msg=%s" % (logs.short(self.error_code), logs.short(self.error_msg))
        if self.reason:
            text += " (%s)" % self.reason
        return text

    def as_dict(self):
        cap = logs.TEXT_CAP
        return {"query": self.query, "status": self.status,
                "error_code": self.error_code[:cap] if self.error_code else None,
                "error_msg": self.error_msg[:cap] if self.error_msg else None, "reason": self.reason,
                "oms_request_id": self.request_id[:cap] if self.request_id else None}


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
            return OmsResult(True, 200, attempts=attempt, oms_request_id=_request_id(response)), None
        verdict, error_code, error_msg = _answer_verdict(response)
        return OmsResult(False, response.status_code, error_code, error_msg, attempt, _request_id(response)), verdict

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

    # ------------------------------------------------------------------------------------- task queries

    def task_url(self):
        return settings_module.task_address(self.sync_url)[0]

    def show_sync_task(self, query_time_ms, deadline=None):
        """ShowSyncTask: the task's status, buckets and the month's counters; an ``OmsAnswer`` (``task``)."""
        return self._query(self.task_url(), {"query_time": int(query_time_ms)}, "task", deadline)

    def list_statistics(self, params, deadline=None):
        """ListSyncTaskStatistic with ``params`` (``data_type``, ``start_time``, ``end_time``); an
        ``OmsAnswer`` (``statistics``)."""
        return self._query(self.task_url() + "/statistics", params, "statistics", deadline)

    def _call(self, method, url, params, body, seconds, query):
        """One signed request (``get`` or ``post``): (``OmsAnswer``, ``retry.Verdict`` or None)."""
        kwargs = {"params": params} if body is None else {"params": params, "data": body}
        try:
            response, exc = self._send(method, url, seconds, **kwargs)
        except Exception as exc:  # what the HTTP stack raises on an answer nothing foresaw: still no answer
            return OmsAnswer(query, reason="no usable answer: %s" % _problem(exc)), retry.classify(error=exc)
        if exc is not None:
            if isinstance(exc, transport.RedirectRefused):
                reason = "redirect refused: HTTP %s to %s" % (exc.status, logs.short(exc.location))
            elif isinstance(exc, requests.Timeout):
                reason = "no answer within %g s (OMS_TIMEOUT)" % seconds
            else:
                reason = "%s: %s" % (type(exc).__name__, logs.short(str(exc)))
            return OmsAnswer(query, reason=reason), retry.classify(error=exc)
        request_id = _request_id(response)
        if response.status_code == 200:
            parsed, text = _read(response)
            if method == "post" and not text.strip():
                parsed = {}  # StartTask answers 200 with no body
            if isinstance(parsed, dict):
                return OmsAnswer(query, 200, parsed, request_id=request_id), None
            reason = "answer is not a JSON object: %s" % logs.short(text[:200])
            return OmsAnswer(query, 200, reason=reason, request_id=request_id), \
                retry.classify(error=retry.Unreadable(reason))
        verdict, error_code, error_msg = _answer_verdict(response)
        return OmsAnswer(query, response.status_code, error_code=error_code, error_msg=error_msg,
                         request_id=request_id), verdict

    def _query(self, url, params, query, deadline, method="get", body=None, max_attempts=None):
        """A signed request, tried as ``retry`` says (at most ``max_attempts``, default ``OMS_MAX_ATTEMPTS``);
        an ``OmsAnswer`` (never an exception), logged."""
        started = time.monotonic()
        data = None if body is None else json.dumps(body).encode("utf-8")
        outcome = self._run(lambda number, seconds: self._call(method, url, params, data, seconds, query), deadline,
                            max_attempts)
        answer = outcome.result or OmsAnswer(query, reason="no time left for an OMS request")
        logs.log(logger, logging.INFO if answer.ok else logging.WARNING,
                 "oms query" if answer.ok else "oms query failed", query=query, status=answer.status,
                 error_code=answer.error_code, error_msg=answer.error_msg, reason=answer.reason,
                 oms_request_id=answer.request_id, elapsed_ms=(time.monotonic() - started) * 1000)
        return answer

    # ------------------------------------------------------------------------------------- migration tasks

    def tasks_url(self):
        """``https://host/v2/{project_id}/tasks``: the migration tasks' address in the sync task's project."""
        return self.task_url().rsplit("/sync-tasks/", 1)[0] + "/tasks"

    def create_task(self, body, deadline=None):
        """CreateTask (``POST .../tasks``) with ``body`` (a ``CreateTaskReq``); an ``OmsAnswer`` (``id``).
        One attempt only: a request that timed out may have created the task, and a second would copy twice."""
        return self._query(self.tasks_url(), None, "create_task", deadline, "post", body, max_attempts=1)

    def show_task(self, task_id, deadline=None):
        """ShowTask (``GET .../tasks/{task_id}``); an ``OmsAnswer`` (``ShowTaskResponse``)."""
        return self._query("%s/%s" % (self.tasks_url(), quote(str(task_id), safe="")), None, "show_task", deadline)

    def start_task(self, task_id, body, deadline=None):
        """StartTask (``POST .../tasks/{task_id}/start``) with ``body`` (a ``StartTaskReq``)."""
        return self._query("%s/%s/start" % (self.tasks_url(), quote(str(task_id), safe="")), None, "start_task",
                           deadline, "post", body)
