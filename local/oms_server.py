"""Loopback stand-in for Huawei Cloud OMS's "sync request" API, as reached through API Gateway.

It serves ``POST /v2/{project_id}/sync-tasks/{task_id}/events`` on 127.0.0.1 (HTTP/1.1, keep-alive) and
plays both parts of the real path:

- API Gateway: checks every request's ``SDK-HMAC-SHA256`` signature with huaweicloudsdkcore's own signer
  (an oracle independent of the project's ``signer.py``) and answers 401 ``APIG.0301`` like the gateway;
- OMS: checks the body is ``{"object_keys": [...]}`` (at most 10 keys) and answers 200 ``{}``.

Every request is recorded (keys as sent and as OMS would decode them, signature verdict, TCP connection),
and a script of per-request actions (status codes, delays, hangs, connection resets) lets tests stage
failures. ``python -m local.oms_server --port 0`` runs it by hand; with ``--source``/``--destination`` (and
their buckets) it copies what it accepts, as OMS does, ``--no-copy KEY`` accepting a key and not copying it.
"""

from __future__ import annotations

import argparse
import collections
import hmac
import itertools
import json
import logging
import os
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from local import fake_credentials
from local.oms_tasks import TASKS_PATH, Tasks
from local.serving import BackgroundServer, run_until_interrupted

log = logging.getLogger(__name__)

EVENTS_PATH = re.compile(r"^/v2/(?P<project_id>[^/]+)/sync-tasks/(?P<task_id>[^/]+)/events$")
AUTHORIZATION = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<signed_headers>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-fA-F]+)$"
)
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_KEYS_PER_REQUEST = 10
# Sync task queries: ShowSyncTask (GET .../sync-tasks/{id}) and ListSyncTaskStatistic (.../statistics).
TASK_PATH = re.compile(r"^/v2/(?P<project_id>[^/]+)/sync-tasks/(?P<task_id>[^/]+)(?P<statistics>/statistics)?$")
STATISTIC_TYPES = ("REQUEST", "SUCCESS", "FAILURE", "SKIP", "SIZE")
FIVE_MINUTES_MS, ONE_HOUR_MS = 300_000, 3_600_000
MAX_STATISTIC_POINTS = 1000  # the API's documented array length
# OMS's error body shape for a task it does not know; the code itself is a stand-in (not documented).
NO_SUCH_TASK = {"error_code": "OMS.0404", "error_msg": "The sync task does not exist"}

# Error bodies by status. APIG.0301 (signature), APIG.0308 (throttling), APIG.0101 (no such API),
# APIG.0201/0202 (backend timeout/unavailable) are API Gateway's codes; the OMS.* codes are stand-ins.
ERROR_BODIES = {
    400: {"error_code": "OMS.0001", "error_msg": "Invalid request"},
    401: {"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication information: "
                                                  "verify aksk signature fail"},
    403: {"error_code": "OMS.0003", "error_msg": "Forbidden: oms:synctask:createEvent is not allowed"},
    404: {"error_code": "APIG.0101", "error_msg": "The API does not exist or has not been published "
                                                  "in the environment"},
    429: {"error_code": "APIG.0308", "error_msg": "The throttling threshold has been reached"},
    500: {"error_code": "OMS.0500", "error_msg": "Internal server error"},
    502: {"error_code": "APIG.0202", "error_msg": "Backend unavailable"},
    503: {"error_code": "OMS.0503", "error_msg": "Service unavailable"},
    504: {"error_code": "APIG.0201", "error_msg": "Backend timeout"},
}


# ----------------------------------------------------------------------------- signature check

@dataclass
class Verdict:
    """Outcome of checking one request's signature: ``ok``, and if not, why (APIG-style text)."""

    ok: bool
    reason: str = ""
    signed_headers: list[str] = field(default_factory=list)


def verify_signature(method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes,
                     ak: str, sk: str, now: datetime | None = None,
                     max_skew: float | None = 900.0) -> Verdict:
    """Check an ``SDK-HMAC-SHA256`` request the way API Gateway does, with huaweicloudsdkcore's signer.

    ``headers`` maps lower-case names to values as received (Host included). The request is rebuilt
    from exactly the headers its ``SignedHeaders`` names, signed with ``Signer(BasicCredentials(ak, sk))``
    at the received ``X-Sdk-Date``, and the signatures compared in constant time. Names are passed in
    lower case so that the SDK does not add its own ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` for
    non-JSON bodies: the payload is hashed unless the client itself sent and signed that header.
    ``max_skew``: seconds ``X-Sdk-Date`` may differ from ``now`` (the gateway allows 15 minutes).
    """
    match = AUTHORIZATION.match(headers.get("authorization", "").strip())
    if not match:
        return Verdict(False, "Authorization header missing or not SDK-HMAC-SHA256")
    signed_headers = match["signed_headers"].split(";")
    verdict = Verdict(False, signed_headers=signed_headers)
    if match["ak"] != ak:
        verdict.reason = f"access key {match['ak']!r} not found"
        return verdict
    unusable = [name for name in signed_headers if "_" in name or name != name.lower()]
    if unusable:
        verdict.reason = f"signed header names must be lower case without '_': {unusable}"
        return verdict
    missing = [name for name in ("host", "x-sdk-date") if name not in signed_headers]
    missing += [name for name in signed_headers if name not in headers]
    if missing:
        verdict.reason = f"headers not signed or not sent: {missing}"
        return verdict
    try:
        date = datetime.strptime(headers["x-sdk-date"], DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        verdict.reason = f"X-Sdk-Date {headers['x-sdk-date']!r} is not {DATE_FORMAT}"
        return verdict
    now = now or datetime.now(timezone.utc)
    if max_skew is not None and abs((now - date).total_seconds()) > max_skew:
        verdict.reason = f"X-Sdk-Date {headers['x-sdk-date']} is more than {max_skew:.0f} s from now"
        return verdict

    def rebuild() -> SdkRequest:
        return SdkRequest(method=method, schema="http", host=headers["host"], resource_path=raw_path,
                          query_params=parse_qsl(query, keep_blank_values=True),
                          header_params={name: headers[name] for name in signed_headers}, body=body)

    signer = Signer(BasicCredentials(ak, sk))
    expected = AUTHORIZATION.match(signer.sign(rebuild()).header_params["Authorization"])
    if expected["signed_headers"] == match["signed_headers"] and hmac.compare_digest(
            expected["signature"], match["signature"].lower()):
        verdict.ok = True
        return verdict
    # Like the gateway, echo our canonical request ('|' for newlines) so a mismatch can be debugged.
    canonical = signer._process_canonical_request(rebuild(), expected["signed_headers"].split(";"))
    verdict.reason = f"signature mismatch, canonical request: {canonical.replace(chr(10), '|')}"
    return verdict


# ----------------------------------------------------------------------------- scripted actions

@dataclass(frozen=True)
class Action:
    """One scripted reaction: ``status`` (answer ``status`` with ``body``), ``delay`` (sleep ``seconds``,
    then answer normally), ``hang`` (never answer until ``seconds`` pass or the server stops),
    ``reset`` (abort the connection with a TCP RST), ``normal`` (answer normally)."""

    kind: str
    status: int | None = None
    body: object = None
    seconds: float = 0.0

    @classmethod
    def parse(cls, spec: object) -> Action:
        """``429`` | ``(400, {...})`` | ``"reset"`` | ``"hang"`` | ``("hang", s)`` | ``("delay", s)`` |
        ``"normal"`` | ``None``."""
        if isinstance(spec, Action):
            return spec
        if spec is None or spec == "normal":
            return cls("normal")
        if isinstance(spec, int):
            return cls("status", status=spec)
        if spec == "reset":
            return cls("reset")
        if spec == "hang":
            return cls("hang", seconds=300.0)
        if isinstance(spec, tuple) and len(spec) == 2:
            head, arg = spec
            if isinstance(head, int):
                return cls("status", status=head, body=arg)
            if head in ("delay", "hang"):
                return cls(head, seconds=float(arg))
        raise ValueError(f"unknown OMS action {spec!r}")


# ----------------------------------------------------------------------------- records

@dataclass
class OmsRequest:
    """What the server saw of one request, and what it did."""

    method: str
    path: str
    project_id: str | None
    task_id: str | None
    headers: dict[str, str]
    body: bytes
    raw_keys: list[str]
    keys_unquote: list[str]
    keys_unquote_plus: list[str]
    verified: bool
    reason: str
    signed_headers: list[str]
    connection_id: int
    action: str
    status: int | None = None  # None: no answer (hang, reset)
    received_at: float = field(default_factory=time.monotonic)


def _object_keys(body: bytes) -> list[str] | None:
    """The ``object_keys`` list of an OMS body, or None when the body is not of that shape."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    keys = doc.get("object_keys") if isinstance(doc, dict) else None
    if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
        return keys
    return None


# ----------------------------------------------------------------------------- server

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so that connection reuse shows in the records
    disable_nagle_algorithm = True  # headers and body go out separately: Nagle would hold the body ~40 ms
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.owner._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connection_closed(self.connection)

    def do_POST(self) -> None:
        if not self.server.owner._handle_query(self):  # migration tasks; sync events as before
            self.server.owner._handle(self)

    def do_GET(self) -> None:
        if not self.server.owner._handle_query(self):  # sync task queries; any other GET as before
            self.server.owner._handle(self)

    do_PUT = do_DELETE = do_PATCH = do_POST

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib's signature)
        log.debug("%s " + format, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], owner: OmsServer):
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class OmsServer(BackgroundServer):
    """Loopback OMS sync-task endpoint. Use as a context manager, or ``start()`` / ``stop()``.

    ``latency``: seconds added to every answer; ``new_connection_delay``: seconds slept once per
    accepted TCP connection (stands in for TCP + TLS set-up); ``max_skew``: allowed ``X-Sdk-Date``
    drift in seconds (None: unchecked). Both delays may be changed while running.
    """

    def __init__(self, ak: str, sk: str, *, host: str = "127.0.0.1", port: int = 0,
                 latency: float = 0.0, new_connection_delay: float = 0.0,
                 max_skew: float | None = 900.0):
        self.ak, self.sk = ak, sk
        self.latency = latency
        self.new_connection_delay = new_connection_delay
        self.max_skew = max_skew
        self._address = (host, port)
        self._stopping = threading.Event()
        self._lock = threading.Condition()
        self._script: collections.deque[Action] = collections.deque()
        self._records: list[OmsRequest] = []
        self._open_connections: set[socket.socket] = set()
        self._connection_ids = itertools.count(1)
        self._new_connections = 0
        # OMS's part after accepting (copying off until ``migrate``): one ``local.obs_server.CopyRecord`` per copy.
        self.copies: list = []
        self.migration = None
        # Migration tasks (CreateTask/ShowTask/StartTask): scripting hooks and received bodies there.
        self.tasks = Tasks(self)

    # --- lifecycle

    thread_name = "oms-server"

    def _make_server(self):
        self._stopping.clear()
        return _HTTPServer(self._address, self)

    def stop(self) -> None:
        """Stop serving; releases hanging requests and closes open connections. Never blocks long."""
        self._stopping.set()
        super().stop()

    def _before_join(self) -> None:
        with self._lock:
            open_connections = list(self._open_connections)
        for sock in open_connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # --- addresses

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def sync_url(self, project: str = "proj", task: str = "task-1") -> str:
        """The ``SYNC_URL`` of a sync task on this server."""
        return f"{self.url}/v2/{project}/sync-tasks/{task}/events"

    # --- scripting and inspection

    def script(self, *actions: object) -> None:
        """Queue reactions for the next requests, one each (see ``Action.parse``); then normal again."""
        parsed = [Action.parse(a) for a in actions]
        with self._lock:
            self._script.extend(parsed)

    @property
    def requests(self) -> list[OmsRequest]:
        with self._lock:
            return list(self._records)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._records)

    @property
    def new_connections(self) -> int:
        with self._lock:
            return self._new_connections

    def received_keys(self, decode: str = "unquote") -> list[str]:
        """Keys of the requests answered 200, in order, decoded as OMS would (``unquote``,
        ``unquote_plus``) or as sent (``raw``)."""
        attr = {"unquote": "keys_unquote", "unquote_plus": "keys_unquote_plus", "raw": "raw_keys"}[decode]
        return [key for r in self.requests if r.status == 200 for key in getattr(r, attr)]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[OmsRequest]:
        """Block until at least ``n`` requests were received; TimeoutError otherwise."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._records) >= n, timeout):
                raise TimeoutError(f"{len(self._records)} OMS requests received, expected {n}")
            return list(self._records)

    def clear(self) -> None:
        """Forget records, counters and any script left."""
        with self._lock:
            self._records.clear()
            self._script.clear()
            self._new_connections = 0

    def migrate(self, source, source_bucket: str, destination, destination_bucket: str, prefix: str = "",
                delay: float = 0.05, overwrite: str | None = None):
        """Copy each accepted object, as OMS does: from ``source_bucket`` on ``source`` (a CosServer, or a
        ``local.obs_server.CosEndpoint``) to ``destination_bucket`` on ``destination`` (an ObsServer, or an
        ``ObsEndpoint``) under ``prefix``, ``delay`` seconds after the request, recorded in ``self.copies``.
        ``overwrite``: the object overwrite mode (default: the task's, ``task_details``). Returns the
        ``local.obs_server.Migration`` (``no_copy``: event keys to accept and never copy; ``wait()``: until no
        copy is pending)."""
        from local.obs_server import Migration

        overwrite = overwrite or self.task_details["object_overwrite_mode"]
        self.migration = Migration(source, source_bucket, destination, destination_bucket, prefix, delay,
                                   records=self.copies, overwrite=overwrite)
        return self.migration

    # --- request handling (server threads)

    def _connection_opened(self, sock: socket.socket) -> int:
        with self._lock:
            self._open_connections.add(sock)
            self._new_connections += 1
            connection_id = next(self._connection_ids)
        if self.new_connection_delay:
            time.sleep(self.new_connection_delay)
        return connection_id

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_connections.discard(sock)

    def _handle(self, handler: _Handler) -> None:
        body = _read_body(handler)
        url = urlsplit(handler.path)
        headers = {name.lower(): ", ".join(_utf8(v) for v in handler.headers.get_all(name))
                   for name in set(handler.headers.keys())}
        verdict = verify_signature(handler.command, url.path, url.query, headers, body,
                                   self.ak, self.sk, max_skew=self.max_skew)
        route = EVENTS_PATH.match(url.path) if handler.command == "POST" else None
        keys = _object_keys(body)
        with self._lock:
            action = self._script.popleft() if self._script else Action("normal")
        record = OmsRequest(
            method=handler.command, path=url.path,
            project_id=route["project_id"] if route else None, task_id=route["task_id"] if route else None,
            headers=headers, body=body, raw_keys=keys or [],
            keys_unquote=[unquote(k) for k in keys or []], keys_unquote_plus=[unquote_plus(k) for k in keys or []],
            verified=verdict.ok, reason=verdict.reason, signed_headers=verdict.signed_headers,
            connection_id=handler.connection_id, action=action.kind,
        )

        if action.kind in ("hang", "reset"):
            self._record(record)
            handler.close_connection = True
            if action.kind == "reset":
                _reset_connection(handler)
            else:
                self._stopping.wait(action.seconds)
            return
        if action.kind == "delay":
            time.sleep(action.seconds)

        if action.kind == "status":
            status, answer = action.status, action.body if action.body is not None else _error_body(action.status)
        elif not route:
            status, answer = 404, _error_body(404)
        elif not verdict.ok:
            status, answer = 401, _error_body(401, verdict.reason)
        elif keys is None or not headers.get("content-type", "").startswith("application/json"):
            status, answer = 400, _error_body(
                400, 'the body must be JSON {"object_keys": [strings]} sent as application/json')
        elif not 1 <= len(keys) <= MAX_KEYS_PER_REQUEST:
            status, answer = 400, _error_body(400, f"object_keys must hold 1 to {MAX_KEYS_PER_REQUEST} keys")
        else:
            status, answer = 200, {}
            if self.migration is not None:  # what OMS then does: copy each object, a little later
                self.migration.accepted(record.keys_unquote, record.task_id)
        record.status = status
        self._record(record)
        if self.latency:
            time.sleep(self.latency)
        _send_json(handler, status, answer)

    def _record(self, record: OmsRequest) -> None:
        log.info("OMS %s %s keys=%d verified=%s action=%s -> %s%s", record.method, record.path,
                 len(record.raw_keys), record.verified, record.action, record.status,
                 f" ({record.reason})" if record.reason else "")
        with self._lock:
            self._records.append(record)
            self._lock.notify_all()

    # --- sync task queries (GET), answered from what this server received and copied

    #: ShowSyncTask's descriptive fields (replace per instance to stage another task).
    task_details = {
        "src_cloud_type": "Tencent", "src_region": "ap-guangzhou", "src_bucket": "testpic-1253970026",
        "dst_region": "cn-north-4", "dst_bucket": "loopback-obs", "description": "loopback sync task",
        "enable_metadata_migration": False, "enable_restore": False, "app_id": "1253970026",
        "object_overwrite_mode": "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE", "dst_storage_policy": "STANDARD",
        "consistency_check": "size_last_modified",
    }
    _task_statuses: dict[str, str | None] | None = None

    def set_task_status(self, task_id: str, status: str | None) -> None:
        """``SYNCHRONIZING`` (every task's default), ``STOPPED``, or None: no such task (its GETs answer 404)."""
        with self._lock:
            self._task_statuses = dict(self._task_statuses or {}, **{task_id: status})

    def task_status(self, task_id: str) -> str | None:
        with self._lock:
            return (self._task_statuses or {}).get(task_id, "SYNCHRONIZING")

    def accepted(self, task_id: str) -> list[tuple[float, str]]:
        """(wall-clock time, key as OMS decodes it) of each key of ``task_id`` that a POST had accepted (200)."""
        offset = time.time() - time.monotonic()
        return [(r.received_at + offset, key) for r in self.requests
                if r.method == "POST" and r.task_id == task_id and r.status == 200 for key in r.keys_unquote]

    def copy_outcomes(self, task_id: str) -> list[tuple[float, bool, int, bool]]:
        """(wall-clock time, ok, size, skipped) of each copy made for one of ``task_id``'s keys, from
        ``self.copies`` when this server copies objects (records with a time, the event key, the size and ok); []
        when it does not.
        An accepted key with no copy record counts as neither SUCCESS nor FAILURE."""
        copies = list(getattr(self, "copies", None) or [])
        if not copies:
            return []
        keys = {key for _, key in self.accepted(task_id)}
        outcomes = []
        for copy in copies:
            when, key, ok, size, copy_task, skipped = _copy_facts(copy)
            if copy_task == task_id or (copy_task is None and key in keys):
                outcomes.append((when, ok, size, skipped))
        return outcomes

    def _series(self, task_id: str, start_ms: int, end_ms: int, bucket_ms: int) -> dict[str, dict[int, int]]:
        """Per data type, bucket start (ms) -> count, for events in [start_ms, end_ms]."""
        series: dict[str, dict[int, int]] = {kind: collections.Counter() for kind in STATISTIC_TYPES}

        def add(kind: str, when: float, n: int) -> None:
            ms = int(when * 1000)
            if start_ms <= ms <= end_ms:
                series[kind][ms // bucket_ms * bucket_ms] += n

        for when, _ in self.accepted(task_id):
            add("REQUEST", when, 1)
        for when, ok, size, skipped in self.copy_outcomes(task_id):
            add("SKIP" if skipped else "SUCCESS" if ok else "FAILURE", when, 1)
            if ok and not skipped:
                add("SIZE", when, size)
        return series

    def _handle_query(self, handler: _Handler) -> bool:
        """Answer ShowSyncTask / ListSyncTaskStatistic and the migration tasks' CreateTask / ShowTask / StartTask
        (``self.tasks``, local.oms_tasks) (signature checked, scripted actions applied, recorded);
        False, touching nothing, for any other path."""
        url = urlsplit(handler.path)
        route = TASKS_PATH.match(url.path) or (TASK_PATH.match(url.path) if handler.command == "GET" else None)
        if not route:
            return False
        migration_task = route.re is TASKS_PATH
        body = _read_body(handler)
        headers = {name.lower(): ", ".join(_utf8(v) for v in handler.headers.get_all(name))
                   for name in set(handler.headers.keys())}
        verdict = verify_signature(handler.command, url.path, url.query, headers, body,
                                   self.ak, self.sk, max_skew=self.max_skew)
        with self._lock:
            action = self._script.popleft() if self._script else Action("normal")
        record = OmsRequest(
            method=handler.command, path=url.path, project_id=route["project_id"], task_id=route["task_id"],
            headers=headers, body=body, raw_keys=[], keys_unquote=[], keys_unquote_plus=[],
            verified=verdict.ok, reason=verdict.reason, signed_headers=verdict.signed_headers,
            connection_id=handler.connection_id, action=action.kind,
        )
        if action.kind in ("hang", "reset"):
            self._record(record)
            handler.close_connection = True
            if action.kind == "reset":
                _reset_connection(handler)
            else:
                self._stopping.wait(action.seconds)
            return True
        if action.kind == "delay":
            time.sleep(action.seconds)
        if action.kind == "status":
            status, answer = action.status, action.body if action.body is not None else _error_body(action.status)
        elif not verdict.ok:
            status, answer = 401, _error_body(401, verdict.reason)
        elif migration_task:
            status, answer = self.tasks.handle(handler.command, route, body)
        elif self.task_status(route["task_id"]) is None:
            status, answer = 404, dict(NO_SUCH_TASK)
        else:
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            query = self._statistics_answer if route["statistics"] else self._task_answer
            status, answer = query(route["task_id"], params)
        record.status = status
        self._record(record)
        if self.latency:
            time.sleep(self.latency)
        _send_json(handler, status, answer)
        return True

    def _task_answer(self, task_id: str, params: dict[str, str]) -> tuple[int, dict]:
        """ShowSyncTask: the month of ``query_time`` (UTC months here) counted from the records."""
        if not params.get("query_time", "").isdigit():
            return 400, _error_body(400, "query_time (milliseconds) is required")
        moment = datetime.fromtimestamp(int(params["query_time"]) / 1000, timezone.utc)
        month = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
        start_ms, end_ms = int(month.timestamp() * 1000), int(following.timestamp() * 1000) - 1
        counts = {kind: sum(points.values()) for kind, points in self._series(task_id, start_ms, end_ms,
                                                                               ONE_HOUR_MS).items()}
        first = min([when for when, _ in self.accepted(task_id)] + [time.time()])
        return 200, {
            "sync_task_id": task_id, **self.task_details, "status": self.task_status(task_id),
            "create_time": int(first * 1000), "last_start_time": int(first * 1000),
            "monthly_acceptance_request": counts["REQUEST"], "monthly_success_object": counts["SUCCESS"],
            "monthly_failure_object": counts["FAILURE"], "monthly_skip_object": counts["SKIP"],
            "monthly_size": counts["SIZE"],
        }

    def _statistics_answer(self, task_id: str, params: dict[str, str]) -> tuple[int, dict]:
        """ListSyncTaskStatistic: 5-minute buckets for ranges up to a day, else hourly (a stand-in rule);
        every bucket of the range, zeros included."""
        kinds = params.get("data_type", "").split(",")
        if not all(kind in STATISTIC_TYPES for kind in kinds):
            return 400, _error_body(400, f"data_type must be a comma-separated list of {','.join(STATISTIC_TYPES)}")
        if not (params.get("start_time", "").isdigit() and params.get("end_time", "").isdigit()):
            return 400, _error_body(400, "start_time and end_time (milliseconds) are required")
        start_ms, end_ms = int(params["start_time"]), int(params["end_time"])
        bucket_ms = FIVE_MINUTES_MS if end_ms - start_ms <= 24 * ONE_HOUR_MS else ONE_HOUR_MS
        buckets = list(range(start_ms // bucket_ms * bucket_ms, end_ms + 1, bucket_ms))
        if start_ms > end_ms or len(buckets) > MAX_STATISTIC_POINTS:
            return 400, _error_body(400, "start_time must not be after end_time, nor the range too long")
        series = self._series(task_id, start_ms, end_ms, bucket_ms)
        return 200, {
            "sync_task_id": task_id,
            "statistic_time_type": "FIVE_MINUTES" if bucket_ms == FIVE_MINUTES_MS else "ONE_HOUR",
            "statistic_datas": [{"data_type": kind, "data": [{"time_stamp": b, "statistic_num": series[kind][b]}
                                                              for b in buckets]} for kind in kinds],
        }


def _copy_facts(copy: object) -> tuple[float, str | None, bool, int, str | None, bool]:
    """(wall-clock time, event key, ok, size, task id or None, skipped) of one copy record (an object or a
    dict); a skipped object is one the task's overwrite mode left as the destination had it (OMS's SKIP)."""
    def get(*names: str) -> object:
        for name in names:
            value = copy.get(name) if isinstance(copy, dict) else getattr(copy, name, None)
            if value is not None:
                return value
        return None

    when = get("time", "copied_at", "at", "timestamp")
    when = time.time() if not isinstance(when, (int, float)) else float(when)
    if when < 1e9:  # a time.monotonic() reading
        when += time.time() - time.monotonic()
    return when, get("event_key", "key", "source_key"), bool(get("ok", "success")), int(get("size") or 0), \
        get("task_id"), bool(get("skipped"))


def _utf8(value: str) -> str:
    """http.server decodes header bytes as Latin-1; clients sign their UTF-8 text."""
    return value.encode("latin-1").decode("utf-8", "replace")


def _read_body(handler: _Handler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        size = int(handler.rfile.readline().split(b";")[0], 16)
        while size:
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
            size = int(handler.rfile.readline().split(b";")[0], 16)
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _error_body(status: int, detail: str = "") -> dict:
    if status < 400:
        return {}
    body = dict(ERROR_BODIES.get(status, {"error_code": f"OMS.{status:04d}", "error_msg": "Error"}))
    if detail:
        body["error_msg"] = f"{body['error_msg']}, {detail}" if status == 401 else detail
    return body


def _send_json(handler: _Handler, status: int, answer: object) -> None:
    payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json;charset=UTF-8")
    handler.send_header("Content-Length", str(len(payload)))
    handler.send_header("X-Request-Id", uuid.uuid4().hex)
    handler.end_headers()
    handler.wfile.write(payload)


def _reset_connection(handler: _Handler) -> None:
    """Abort with RST: SO_LINGER 0, then close the descriptor at once (the stdlib would send FIN first)."""
    sock = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os.close(sock.detach())


def main(argv: list[str] | None = None) -> None:
    from local.obs_server import OVERWRITE_MODES, SIZE_LAST_MODIFIED, CosEndpoint, ObsEndpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=(
        "With --source and --destination it also copies, as OMS does, each accepted object from the source bucket "
        "(python -m local.cos_server) to the destination bucket (python -m local.obs_server), logging each copy."))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ak", default=fake_credentials.HW_AK)
    parser.add_argument("--sk", default=fake_credentials.HW_SK)
    parser.add_argument("--project", default="proj")
    parser.add_argument("--task", default="task-1")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--new-connection-delay", type=float, default=0.0)
    copying = parser.add_argument_group("copying accepted objects")
    copying.add_argument("--source", metavar="HOST:PORT", help="the loopback COS server holding the source bucket")
    copying.add_argument("--source-bucket", metavar="NAME-APPID", help="the source bucket")
    copying.add_argument("--source-secret-id", default=fake_credentials.COS_SECRET_ID)
    copying.add_argument("--source-secret-key", default=fake_credentials.COS_SECRET_KEY)
    copying.add_argument("--destination", metavar="URL", help="the loopback OBS server's endpoint, http://HOST:PORT")
    copying.add_argument("--destination-bucket", metavar="NAME", help="the destination bucket")
    copying.add_argument("--destination-ak", default=fake_credentials.OBS_AK)
    copying.add_argument("--destination-sk", default=fake_credentials.OBS_SK)
    copying.add_argument("--destination-prefix", default="", help="put before each key on the destination")
    copying.add_argument("--copy-delay", type=float, default=0.05, metavar="S",
                         help="seconds between accepting a request and copying its objects (default 0.05)")
    copying.add_argument("--overwrite", choices=OVERWRITE_MODES, default=SIZE_LAST_MODIFIED,
                         help="the task's object overwrite mode (default, as OMS's: %(default)s)")
    copying.add_argument("--no-copy", action="append", default=[], metavar="EVENT_KEY",
                         help="accept this event key (/{appid}/{bucket name}/{key}) and do not copy it, the next "
                              "time it is accepted; may be repeated")
    args = parser.parse_args(argv)
    copy_options = (args.source, args.source_bucket, args.destination, args.destination_bucket)
    if any(copy_options) and not all(copy_options):
        parser.error("copying needs --source, --source-bucket, --destination and --destination-bucket")
    if args.no_copy and not all(copy_options):
        parser.error("--no-copy needs copying (--source, --destination and their buckets)")
    server = OmsServer(args.ak, args.sk, host=args.host, port=args.port, latency=args.latency,
                       new_connection_delay=args.new_connection_delay)
    server.task_details = dict(server.task_details, object_overwrite_mode=args.overwrite)
    if all(copy_options):
        migration = server.migrate(CosEndpoint(args.source, args.source_secret_id, args.source_secret_key),
                                   args.source_bucket, ObsEndpoint(args.destination, args.destination_ak,
                                                                   args.destination_sk),
                                   args.destination_bucket, args.destination_prefix, args.copy_delay)
        migration.no_copy.update(args.no_copy)
    run_until_interrupted(server, lambda oms: oms.sync_url(args.project, args.task))


if __name__ == "__main__":
    main()
