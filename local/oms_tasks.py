"""The loopback OMS's migration tasks (v2 API): ``CreateTask``, ``ShowTask``, ``StartTask``.

``OmsServer`` routes ``POST /v2/{project_id}/tasks``, ``GET /v2/{project_id}/tasks/{task_id}`` and
``POST /v2/{project_id}/tasks/{task_id}/start`` here (signature checked there). Bodies are checked against
huaweicloudsdkoms's request models (``CreateTaskReq``, ``SrcNodeReq``, ``DstNodeReq``, ``ListFile``,
``StartTaskReq``): an unknown field or a wrong type is answered 400, as OMS does. Answers follow the response
models (``CreateTaskResponse``: ``id``, ``task_name``; ``ShowTaskResponse``).

A task really copies, from the source store to the destination store (``Tasks.source``/``destination``: a
CosServer/ObsServer or ``CosEndpoint``/``ObsEndpoint``; by default those of the server's sync-task
``migration``), with the object overwrite mode of the request (``local.obs_server.overwrites``), only objects
modified at or after ``migrate_since`` (seconds), under ``dst_node.save_prefix``. ``task_type`` ``prefix``: every
object under each of ``src_node.object_key`` (``[""]``: the whole bucket); ``list``: the list file(s) named by
``src_node.list_file`` (``list_file_key``: one object, or a folder ending in ``/`` whose objects are all list
files) read from ``list_file.obs_bucket`` on the destination store, one URL-encoded name per line.

Progress is staged over ShowTask calls: the first answers status 1 (waiting), each further one copies
``ceil(total / steps)`` objects (status 2, executing) until all are done (5, succeeded; 4, failed when objects
failed or the task was scripted to fail). Scripting: ``fail_objects(keys, times)``, ``fail_next_task(reason)``,
``refuse_credentials`` (CreateTask/StartTask answer 400 ``OMS.1007``, a stand-in code), ``steps``; ``bodies``
holds every (operation, parsed body) received.

List files are held to what OMS documents for them: a ``.txt`` object whose Content-Type is ``text/plain``, UTF-8
without a BOM, at most 1,024 MB; one that is not ends the task FAILED with ``TRF.0019`` (OMS's code for a list
file whose metadata is wrong), as OMS fails it when it reads the file, not at CreateTask.

Error codes: ``OMS.0054`` (400, "Invalid task ID") and ``TRF.0019`` are OMS's documented codes; the others
(``OMS.0001``, ``OMS.1007``, ``OMS.0066``, ``OMS.0067``, ``OMS.0413``, ``OMS.0500``) are stand-ins: OMS's
documentation lists no code for those cases, and clients must not depend on them.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

TASKS_PATH = re.compile(r"^/v2/(?P<project_id>[^/]+)/tasks(?:/(?P<task_id>[^/]+)(?P<start>/start)?)?$")

# ShowTaskResponse.status (its documentation): 1 waiting, 2 executing, 3 stopped, 4 failed, 5 succeeded,
# 6 retrying, 7 pausing.
WAITING, EXECUTING, STOPPED, FAILED, SUCCEEDED = 1, 2, 3, 4, 5
TASK_TYPES = ("list", "url_list", "object", "prefix")
SERVED_TASK_TYPES = ("prefix", "list", "object")
CONSISTENCY_CHECKS = ("size_last_modified", "crc64", "no_check")
FAILED_LIST_PREFIX = "oms/failed_object_lists/"  # where failed-object lists go in the destination (stand-in)
# OMS's documented codes: an unknown task id (answered 400, not 404), a list file OMS cannot read as one.
NO_SUCH_TASK = "OMS.0054"
BAD_LIST_FILE = "TRF.0019"
# Stand-in codes (OMS documents none for these cases).
INVALID_BODY = "OMS.0001"
BAD_CREDENTIALS = "OMS.1007"
#: OMS's documented limit for one object list file.
LIST_FILE_MAX_BYTES = 1024 * 1024 * 1024


class BodyError(ValueError):
    """A body that does not fit huaweicloudsdkoms's request model: OMS answers 400."""


class ListFileError(ValueError):
    """A list file OMS would not read: the task fails (``TRF.0019``)."""


def read_list_file(store, bucket: str, key: str) -> list[str]:
    """The object names of list file ``key`` (URL-decoded, one a line), held to OMS's rules for list files."""
    got = store.get(bucket, key)
    if got is None:
        raise ListFileError(f"list file {key!r} not found in {bucket}")
    content = got[0]
    content_type = store.content_type(bucket, key)
    if not key.endswith(".txt"):
        raise ListFileError(f"list file {key!r} is not a .txt file")
    if (content_type or "").split(";")[0].strip().lower() != "text/plain":
        raise ListFileError(f"list file {key!r} has Content-Type {content_type!r}, not text/plain")
    if content.startswith(b"\xef\xbb\xbf"):
        raise ListFileError(f"list file {key!r} starts with a UTF-8 BOM")
    if len(content) > LIST_FILE_MAX_BYTES:
        raise ListFileError(f"list file {key!r} is over 1,024 MB")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ListFileError(f"list file {key!r} is not UTF-8") from None
    return [unquote(line) for line in text.splitlines() if line.strip()]


def _model(name: str):
    import huaweicloudsdkoms.v2.model as models

    return getattr(models, name)


def check_body(value: object, model: str, where: str = "") -> None:
    """Raise BodyError unless ``value`` (parsed JSON) fits huaweicloudsdkoms's ``model`` class: a JSON object whose
    fields are all in its ``attribute_map`` (JSON names), each of its ``openapi_types`` type (str, int, bool,
    float, list[...], a nested model)."""
    cls = _model(model)
    if not isinstance(value, dict):
        raise BodyError(f"{where or model} must be a JSON object")
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    for name, item in value.items():
        if name not in by_json:
            raise BodyError(f"unknown field {where}{name!r} in {model}")
        _check_type(item, cls.openapi_types[by_json[name]], f"{where}{name}.")


def _check_type(value: object, kind: str, where: str) -> None:
    if value is None:
        return
    if kind.startswith("list["):
        if not isinstance(value, list):
            raise BodyError(f"{where.rstrip('.')} must be a list")
        for i, item in enumerate(value):
            _check_type(item, kind[5:-1], f"{where.rstrip('.')}[{i}].")
        return
    simple = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float), "object": (object,)}
    if kind in simple:
        if (kind in ("int", "float") and isinstance(value, bool)) or not isinstance(value, simple[kind]):
            raise BodyError(f"{where.rstrip('.')} must be {kind}, not {type(value).__name__}")
        return
    check_body(value, kind, where)


@dataclass
class MigrationTask:
    """One migration task as this server keeps it."""

    id: int
    name: str
    request: dict
    project_id: str
    keys: list[str] = field(default_factory=list)  # the source keys to copy this run
    total: int = 0  # the task's objects (a restart for failed objects keeps the first run's total and counts)
    done: int = 0
    shows: int = 0
    status: int = WAITING
    succeeded: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    complete_size: int = 0
    total_size: int = 0
    error: dict | None = None
    failed_list_key: str | None = None
    start_time: int = 0
    fail_reason: str | None = None
    fail_code: str = "OMS.0500"


class Tasks:
    """The migration tasks of one OmsServer (see the module's docstring)."""

    def __init__(self, server):
        self.server = server
        self.source = None
        self.destination = None
        self.steps = 3
        self.refuse_credentials = False
        self.bodies: list[tuple[str, dict]] = []
        self.tasks: dict[str, MigrationTask] = {}
        self._fail_objects: dict[str, int] = {}
        self._fail_next: list[str] = []
        self._ids = iter(range(1, 1 << 62))
        self._lock = threading.RLock()

    # --- scripting

    def fail_objects(self, keys, times: int = 1) -> None:
        """Source keys whose copy fails, the next ``times`` times each is attempted (a retry then copies it)."""
        with self._lock:
            for key in keys:
                self._fail_objects[key] = times

    def fail_next_task(self, reason: str = "scripted failure") -> None:
        """The next task created ends FAILED (status 4) with ``error_reason`` and copies nothing."""
        with self._lock:
            self._fail_next.append(reason)

    def task(self, task_id) -> MigrationTask:
        return self.tasks[str(task_id)]

    # --- the stores

    def _stores(self):
        migration = getattr(self.server, "migration", None)
        source = self.source or getattr(migration, "source", None)
        destination = self.destination or getattr(migration, "destination", None)
        if source is None or destination is None:
            raise BodyError("this loopback OMS has no source/destination to copy between (Tasks.source/destination)")
        return source, destination

    # --- operations: (status, answer)

    def handle(self, method: str, route, body: bytes) -> tuple[int, dict]:
        import json

        operation = ("CreateTask" if method == "POST" and not route["task_id"] else
                     "StartTask" if method == "POST" and route["start"] else
                     "ShowTask" if method == "GET" and route["task_id"] and not route["start"] else None)
        if operation is None:
            return 404, {"error_code": "APIG.0101", "error_msg": "The API does not exist or has not been published"}
        doc = None
        if operation != "ShowTask":
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                return 400, _error(INVALID_BODY, "the body is not JSON")
        with self._lock:
            self.bodies.append((operation, doc))
            try:
                if operation == "CreateTask":
                    return self._create(route["project_id"], doc)
                if route["task_id"] not in self.tasks:
                    return 400, _error(NO_SUCH_TASK, "Invalid task ID. Enter a valid task ID.")
                if operation == "StartTask":
                    return self._start(self.tasks[route["task_id"]], doc)
                return 200, self._show(self.tasks[route["task_id"]])
            except BodyError as exc:
                return 400, _error(INVALID_BODY, str(exc))

    def _create(self, project_id: str, doc: dict) -> tuple[int, dict]:
        check_body(doc, "CreateTaskReq")
        for required in ("src_node", "dst_node"):
            if not isinstance(doc.get(required), dict):
                raise BodyError(f"{required} is required")
        task_type = doc.get("task_type") or "object"
        if task_type not in TASK_TYPES:
            raise BodyError(f"task_type must be one of {', '.join(TASK_TYPES)}")
        if task_type not in SERVED_TASK_TYPES:
            raise BodyError(f"task_type {task_type} is not served by this loopback OMS")
        if doc.get("consistency_check", "size_last_modified") not in CONSISTENCY_CHECKS:
            raise BodyError(f"consistency_check must be one of {', '.join(CONSISTENCY_CHECKS)}")
        from local.obs_server import OVERWRITE_MODES, SIZE_LAST_MODIFIED

        if doc.get("object_overwrite_mode", SIZE_LAST_MODIFIED) not in OVERWRITE_MODES:
            raise BodyError(f"object_overwrite_mode must be one of {', '.join(OVERWRITE_MODES)}")
        if len(doc.get("description") or "") > 255:
            raise BodyError("description is longer than 255 characters")
        src, dst = doc["src_node"], doc["dst_node"]
        for node, name in ((src, "src_node"), (dst, "dst_node")):
            for needed in ("ak", "sk", "bucket", "region"):
                if not node.get(needed):
                    raise BodyError(f"{name}.{needed} is required")
        if self.refuse_credentials:
            return 400, _error(BAD_CREDENTIALS, "The source or destination AK/SK is invalid")
        if task_type in ("prefix", "object") and not isinstance(src.get("object_key"), list):
            raise BodyError("src_node.object_key is required for a prefix task ([\"\"] for the whole bucket)")
        if task_type == "list":
            listing = src.get("list_file") or {}
            if not (listing.get("list_file_key") and listing.get("obs_bucket")):
                raise BodyError("src_node.list_file with list_file_key and obs_bucket is required for a list task")
        task_id = next(self._ids)
        task = MigrationTask(task_id, f"loopback-task-{task_id}", doc, project_id, start_time=int(time.time() * 1000))
        if self._fail_next:
            task.fail_reason = self._fail_next.pop(0)
        else:
            try:
                task.keys = self._plan(doc)
            except ListFileError as exc:
                task.fail_reason, task.fail_code = str(exc), BAD_LIST_FILE
        self.tasks[str(task_id)] = task
        self._sizes(task)
        return 200, {"id": task_id, "task_name": task.name}

    def _start(self, task: MigrationTask, doc: dict) -> tuple[int, dict]:
        check_body(doc, "StartTaskReq")
        for needed in ("src_ak", "src_sk", "dst_ak", "dst_sk"):
            if not doc.get(needed):
                raise BodyError(f"{needed} is required")
        if self.refuse_credentials:
            return 400, _error(BAD_CREDENTIALS, "The source or destination AK/SK is invalid")
        if task.status in (WAITING, EXECUTING):
            return 400, _error("OMS.0066", "The task is running")
        if doc.get("migrate_failed_object"):
            if not task.failed:
                return 400, _error("OMS.0067", "The task has no failed objects")
            task.keys, task.failed = list(task.failed), []
        else:
            task.keys, task.failed, task.succeeded, task.skipped = self._plan(task.request), [], 0, 0
            task.complete_size, task.total = 0, 0
        self._sizes(task)
        task.done, task.shows, task.status, task.error, task.fail_reason = 0, 0, WAITING, None, None
        return 200, {}

    def _plan(self, doc: dict) -> list[str]:
        """The source keys a task copies, in order: listed (prefix) or read from the list files (list), then only
        those modified at or after ``migrate_since``."""
        from local.obs_server import _store

        source, destination = self._stores()
        src = doc["src_node"]
        bucket = _source_bucket(src)
        if doc.get("task_type") == "list":
            names = []
            for list_key in self._list_files(destination, src["list_file"]):
                names += read_list_file(_store(destination), src["list_file"]["obs_bucket"], list_key)
            keys = list(dict.fromkeys(names))
        else:
            keys = []
            for prefix in src["object_key"] or [""]:
                keys += [k for k in sorted(_list(source, bucket, prefix)) if k not in keys]
        since = doc.get("migrate_since")
        if since:
            stats = {k: _store(source).get(bucket, k) for k in keys}
            keys = [k for k in keys if stats[k] is None or stats[k][1] >= since]
        return keys

    def _sizes(self, task: MigrationTask) -> None:
        """total_size: what OMS found to copy when it listed (this run's keys still in the source)."""
        from local.obs_server import _store

        if task.total:  # a restart for the failed objects: the first run's figures stand
            return
        source, bucket = self._stores()[0], _source_bucket(task.request["src_node"])
        task.total_size = sum(len(got[0]) for got in (_store(source).get(bucket, k) for k in task.keys) if got)
        task.total = len(task.keys)

    def _list_files(self, destination, listing: dict) -> list[str]:
        key = listing["list_file_key"]
        if key.endswith("/"):
            return sorted(_list(destination, listing["obs_bucket"], key))
        return [key]

    def _show(self, task: MigrationTask) -> dict:
        task.shows += 1
        if task.status in (WAITING, EXECUTING) and task.shows > 1:
            if task.fail_reason:
                task.status, task.error = FAILED, {"error_code": task.fail_code, "error_msg": task.fail_reason}
            else:
                task.status = EXECUTING
                step = max(1, math.ceil(len(task.keys) / max(1, self.steps)))
                for key in task.keys[task.done:task.done + step]:
                    self._copy(task, key)
                task.done = min(len(task.keys), task.done + step)
                if task.done >= len(task.keys):
                    self._finish(task)
        return self._answer(task)

    def _copy(self, task: MigrationTask, key: str) -> None:
        from local.obs_server import SIZE_LAST_MODIFIED, _store, overwrites

        doc = task.request
        source, destination = self._stores()
        fails = self._fail_objects.get(key, 0)
        if fails:
            self._fail_objects[key] = fails - 1
            task.failed.append(key)
            return
        got = _store(source).get(_source_bucket(doc["src_node"]), key)
        if got is None:
            task.failed.append(key)
            return
        body, mtime = got
        target = (doc["dst_node"].get("save_prefix") or "") + key
        dst = _store(destination)
        mode = doc.get("object_overwrite_mode") or SIZE_LAST_MODIFIED
        try:
            if not overwrites(mode, (len(body), mtime), dst.stat(doc["dst_node"]["bucket"], target)):
                task.skipped += 1
                return
            dst.put(doc["dst_node"]["bucket"], target, body)
        except Exception:  # a stopped server: the object failed
            task.failed.append(key)
            return
        task.succeeded += 1
        task.complete_size += len(body)

    def _finish(self, task: MigrationTask) -> None:
        task.status = FAILED if task.failed else SUCCEEDED
        if task.failed:
            task.error = {"error_code": "OMS.0413", "error_msg": f"{len(task.failed)} object(s) failed"}
            if task.request.get("enable_failed_object_recording"):
                from local.obs_server import _store

                stamp = int(time.time() * 1000)
                task.failed_list_key = f"{FAILED_LIST_PREFIX}{task.name}/{stamp}.failed_object_list.txt"
                _store(self._stores()[1]).put(task.request["dst_node"]["bucket"], task.failed_list_key,
                                              "".join(quote(k, safe="") + "\n" for k in task.failed).encode())

    def _answer(self, task: MigrationTask) -> dict:
        doc, src, dst = task.request, task.request["src_node"], task.request["dst_node"]
        total = task.total
        finished = task.status in (FAILED, SUCCEEDED)
        answer = {
            "id": task.id, "name": task.name, "task_type": doc.get("task_type") or "object", "status": task.status,
            "description": doc.get("description", ""), "group_type": "NORMAL_TASK",
            "src_node": {"bucket": src["bucket"], "cloud_type": src.get("cloud_type", "AWS"), "region": src["region"],
                         "app_id": src.get("app_id", ""), "object_key": src.get("object_key") or [],
                         **({"list_file": src["list_file"]} if src.get("list_file") else {})},
            "dst_node": {"bucket": dst["bucket"], "region": dst["region"], "save_prefix": dst.get("save_prefix", "")},
            "migrate_since": int(doc.get("migrate_since") or 0) * 1000,  # ShowTask's is milliseconds
            "enable_failed_object_recording": bool(doc.get("enable_failed_object_recording")),
            "enable_metadata_migration": bool(doc.get("enable_metadata_migration")),
            "enable_restore": bool(doc.get("enable_restore")),
            "object_overwrite_mode": doc.get("object_overwrite_mode") or "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE",
            "consistency_check": doc.get("consistency_check") or "size_last_modified",
            "dst_storage_policy": doc.get("dst_storage_policy") or "STANDARD",
            "total_num": total, "successful_num": task.succeeded, "failed_num": len(task.failed),
            "skipped_num": task.skipped, "complete_size": task.complete_size,
            "total_size": task.total_size, "real_size": task.complete_size,
            "progress": 1.0 if finished or not task.keys else task.done / len(task.keys),
            "is_query_over": task.shows > 1 or task.status not in (WAITING,),
            "start_time": task.start_time, "total_time": int(time.time() * 1000) - task.start_time,
            "left_time": 0 if finished else 1, "migrate_speed": 0,
        }
        if task.error:
            answer["error_reason"] = task.error
        if task.failed_list_key:
            answer["failed_object_record"] = {"result": True, "list_file_key": task.failed_list_key, "error_code": ""}
        return answer


def _source_bucket(src: dict) -> str:
    """The source bucket as the loopback COS holds it (``name-appid``): OMS takes a Tencent bucket with or without
    its APPID suffix, the APPID in ``app_id``."""
    bucket, app_id = src["bucket"], src.get("app_id") or ""
    return bucket if not app_id or bucket.endswith("-" + app_id) else f"{bucket}-{app_id}"


def _list(store, bucket: str, prefix: str) -> list[str]:
    """Keys under ``prefix`` in a CosServer/ObsServer (in process) or a Cos/ObsEndpoint (over HTTP)."""
    from local.cos_server import CosServer
    from local.obs_server import objects

    if isinstance(store, CosServer):
        return list(objects(store, bucket, prefix))
    return store.list(bucket, prefix)


def _error(code: str, message: str) -> dict:
    return {"error_code": code, "error_msg": message}
