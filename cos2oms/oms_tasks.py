# -*- coding: utf-8 -*-
"""The OMS task queries (ShowSyncTask, ListSyncTaskStatistic) and migration task calls (CreateTask, ShowTask,
StartTask): ``TaskClient``, the OMS client (``oms``) with them, and their outcome ``OmsAnswer``; signed, tried
and read as the events POST is. Command-only (``status``, ``verify``, ``backfill``, ``task``): kept off the
function's import path (its cold start)."""
import collections
import json
import logging
import time
from urllib.parse import quote

import requests

from cos2oms import logs, retry, settings as settings_module, transport
from cos2oms.oms import Outcome, OmsClient, answer_verdict, logger, read_answer, request_id_of  # logger: cos2oms.oms


class OmsAnswer(Outcome):
    """One OMS query's outcome: ``body`` (a dict) when OMS answered 200 with JSON, else why not."""

    def __init__(self, query, status=None, body=None, error_code=None, error_msg=None, reason=None,
                 request_id=None):
        Outcome.__init__(self, status, error_code, error_msg, reason, request_id)
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

    @property
    def rejected(self):
        """OMS answered that the request itself is wrong (a 4xx not worth sending again, 401/403 aside: those are
        ``refused``): a body, a task id or a node's credentials it does not take. Asking again changes nothing."""
        return self.status is not None and 400 <= self.status < 500 and not self.refused and not self.retryable

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


class TaskClient(OmsClient):
    """An ``OmsClient`` that also asks about its task."""

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
            return OmsAnswer(query, reason="no usable answer: %s" % logs.problem(exc)), retry.classify(error=exc)
        if exc is not None:
            if isinstance(exc, transport.RedirectRefused):
                reason = "redirect refused: HTTP %s to %s" % (exc.status, logs.short(exc.location))
            elif isinstance(exc, requests.Timeout):
                reason = "no answer within %g s (OMS_TIMEOUT)" % seconds
            else:
                reason = "%s: %s" % (type(exc).__name__, logs.short(str(exc)))
            return OmsAnswer(query, reason=reason), retry.classify(error=exc)
        request_id = request_id_of(response)
        if response.status_code == 200:
            parsed, text = read_answer(response)
            if method == "post" and not text.strip():
                parsed = {}  # StartTask answers 200 with no body
            if isinstance(parsed, dict):
                return OmsAnswer(query, 200, parsed, request_id=request_id), None
            reason = "answer is not a JSON object: %s" % logs.short(text[:200])
            return OmsAnswer(query, 200, reason=reason, request_id=request_id), \
                retry.classify(error=retry.Unreadable(reason))
        verdict, error_code, error_msg = answer_verdict(response)
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


# ----------------------------------------------------------------------------------------- the sync task's settings

_SYNC_TASK_FIELDS = "src_bucket src_region dst_bucket dst_region object_overwrite_mode consistency_check"


class SyncTaskSettings(collections.namedtuple("SyncTaskSettings", _SYNC_TASK_FIELDS)):
    """What a ShowSyncTask answer says of where the task copies from and to, and how (None: not said)."""


def sync_task_settings(body):
    """The ``SyncTaskSettings`` of a ShowSyncTask answer (a dict). ``src_bucket`` as ``BucketName-APPID``: a
    Tencent bucket named without its APPID gets ``app_id`` appended."""
    def text(name):
        value = body.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    bucket, app_id = text("src_bucket"), text("app_id")
    if bucket and app_id and not bucket.endswith("-" + app_id):
        bucket = "%s-%s" % (bucket, app_id)
    return SyncTaskSettings(bucket, text("src_region"), text("dst_bucket"), text("dst_region"),
                            text("object_overwrite_mode"), text("consistency_check"))
