# -*- coding: utf-8 -*-
"""OMS migration tasks (CreateTask, ShowTask, StartTask): the request bodies, their check against
huaweicloudsdkoms's models, the list files, and following a task until it ends.

A migration task copies with Huawei's workers what ``backfill``/``verify --resubmit`` would otherwise send as
sync events from this machine: a ``prefix`` task (the window's start as ``migrate_since``, in seconds: OMS
cannot bound the end) or a ``list`` task (list files in OBS, one URL-encoded source key a line). The task
copies with the sync task's ``object_overwrite_mode`` and ``consistency_check`` into its destination under
``OBS_PREFIX``, records failed objects, and writes none of our markers: the next ``verify`` judges the objects
by the destination itself.

Every body is checked against huaweicloudsdkoms's request models (field names and types) before it is sent
where the SDK is installed (``check_body``); without it the check is skipped quietly. The SDK is not a runtime
dependency.
"""
import collections
import logging
import re
import time

from cos2oms import logs
from cos2oms.oms import encode_key

logger = logging.getLogger("cos2oms.migration")

PREFIX, LIST = "prefix", "list"
#: ShowTask's ``status``: 1 waiting, 2 executing, 3 stopped, 4 failed, 5 succeeded, 6 retrying, 7 pausing.
STATUS_NAMES = {1: "waiting", 2: "running", 3: "stopped", 4: "failed", 5: "succeeded", 6: "retrying", 7: "pausing"}
SUCCEEDED, STOPPED, FAILED = 5, 3, 4
FINISHED = (STOPPED, FAILED, SUCCEEDED)
#: The source node for a COS bucket (SrcNodeReq.cloud_type).
TENCENT = "Tencent"
#: OMS's defaults, used where the sync task's settings are not known (``--dry-run``, which asks nothing).
DEFAULT_OVERWRITE = "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE"
DEFAULT_CONSISTENCY = "size_last_modified"
#: CreateTaskReq.description: at most 255 characters, none of ``^<>&"'``.
DESCRIPTION_MAX = 255
_NOT_IN_DESCRIPTION = re.compile("[\\^<>&\"'\x00-\x1f\x7f]")
#: Where list files are written in the list bucket (and the only place clean-up deletes from).
LIST_FILE_FOLDER = "oms-list-files/"
#: One object list file: at most 1,024 MB (OMS's documented limit; also a ``.txt`` object, Content-Type
#: ``text/plain``, UTF-8 without a BOM, one URL-encoded name a line); and at most 100,000 names, our choice (OMS
#: documents no line limit): a file per 100,000 keys keeps each PUT small and a failed one cheap to redo.
LIST_FILE_MAX_LINES = 100000
LIST_FILE_MAX_BYTES = 1024 * 1024 * 1024
#: Fields that hold secrets, in CreateTaskReq's nodes and in StartTaskReq.
SECRET_FIELDS = frozenset(("ak", "sk", "security_token", "src_ak", "src_sk", "src_security_token", "dst_ak",
                           "dst_sk", "dst_security_token"))
REDACTED = "<redacted>"


class BodyError(ValueError):
    """A request body that does not match huaweicloudsdkoms's model: never sent."""


# ----------------------------------------------------------------------------- bodies

def description(text):
    """``text`` as a task description OMS accepts: its forbidden characters replaced, at most 255 characters."""
    return _NOT_IN_DESCRIPTION.sub("_", text)[:DESCRIPTION_MAX]


def source_node(settings, source, object_key=None, list_file=None):
    """SrcNodeReq for the COS source bucket: ``cloud_type`` Tencent, the bucket (``BucketName-APPID``, as the
    sync task names it), its region and ``app_id``, the COS credentials (the role's token as
    ``security_token``); ``object_key`` (the prefixes) or ``list_file``."""
    node = collections.OrderedDict([("cloud_type", TENCENT), ("region", source.region), ("bucket", source.bucket),
                                    ("app_id", source.appid), ("ak", settings.cos_secret_id),
                                    ("sk", settings.cos_secret_key)])
    if settings.cos_token:
        node["security_token"] = settings.cos_token
    if object_key is not None:
        node["object_key"] = list(object_key)
    if list_file is not None:
        node["list_file"] = list_file
    return node


def destination_node(obs_settings, region):
    """DstNodeReq: the OBS bucket and region, ``save_prefix`` = ``OBS_PREFIX`` (where the sync task puts the
    objects and ``verify`` looks), credentials ``OBS_AK``/``OBS_SK``."""
    node = collections.OrderedDict([("ak", obs_settings.ak), ("sk", obs_settings.sk), ("bucket", obs_settings.bucket),
                                    ("region", region)])
    if obs_settings.prefix:
        node["save_prefix"] = obs_settings.prefix
    return node


def list_file(obs_bucket, keys):
    """ListFile for the list files ``keys`` (object names in ``obs_bucket``): one file by its name; several by
    their folder and their number."""
    if len(keys) == 1:
        return collections.OrderedDict([("obs_bucket", obs_bucket), ("list_file_key", keys[0])])
    folder = keys[0].rpartition("/")[0] + "/"
    return collections.OrderedDict([("obs_bucket", obs_bucket), ("list_file_key", folder),
                                    ("list_file_num", str(len(keys)))])


def create_body(task_type, src_node, dst_node, text, sync_task, migrate_since=None):
    """CreateTaskReq: ``sync_task`` gives ``object_overwrite_mode`` and ``consistency_check`` (ShowSyncTask's
    answer, a dict); failed objects recorded; ``migrate_since`` in whole seconds."""
    body = collections.OrderedDict([("task_type", task_type), ("src_node", src_node), ("dst_node", dst_node),
                                    ("description", description(text)),
                                    ("enable_failed_object_recording", True),
                                    ("object_overwrite_mode", sync_task.get("object_overwrite_mode")
                                     or DEFAULT_OVERWRITE),
                                    ("consistency_check", sync_task.get("consistency_check") or DEFAULT_CONSISTENCY)])
    if migrate_since is not None:
        body["migrate_since"] = int(migrate_since)
    return body


def start_body(src_node, dst_node):
    """StartTaskReq restarting a task for its failed objects only (credentials are not kept by OMS)."""
    body = collections.OrderedDict([("src_ak", src_node["ak"]), ("src_sk", src_node["sk"])])
    if src_node.get("security_token"):
        body["src_security_token"] = src_node["security_token"]
    body.update([("dst_ak", dst_node["ak"]), ("dst_sk", dst_node["sk"]), ("migrate_failed_object", True)])
    return body


def redacted(value):
    """``value`` (a body) with every secret replaced by ``"<redacted>"``."""
    if isinstance(value, dict):
        return collections.OrderedDict((k, REDACTED if k in SECRET_FIELDS and v else redacted(v))
                                       for k, v in value.items())
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


# ----------------------------------------------------------------------------- the check against the SDK

def sdk_models():
    """huaweicloudsdkoms's v2 models module, or None where the SDK is not installed."""
    try:
        from huaweicloudsdkoms.v2 import model
    except ImportError:
        return None
    return model


def body_problems(models, model_name, body, path=""):
    """What in ``body`` does not match ``models.<model_name>`` (its ``openapi_types``): unknown fields and
    values of the wrong type, each named by its path."""
    model = getattr(models, model_name, None)
    if model is None:
        return ["%s: no model %s" % (path or "body", model_name)]
    if not isinstance(body, dict):
        return ["%s: %s expected, got %s" % (path or "body", model_name, type(body).__name__)]
    types = model.openapi_types
    problems = []
    for name, value in body.items():
        where = path + name if not path else "%s.%s" % (path, name)
        if name not in types:
            problems.append("%s: no such field in %s" % (where, model_name))
        elif value is not None:
            problems.extend(_type_problems(models, types[name], value, where))
    return problems


_SCALARS = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "object": (object,)}


def _type_problems(models, kind, value, where):
    if kind.startswith("list[") and kind.endswith("]"):
        if not isinstance(value, list):
            return ["%s: a list expected, got %s" % (where, type(value).__name__)]
        problems = []
        for index, item in enumerate(value):
            problems.extend(_type_problems(models, kind[5:-1], item, "%s[%d]" % (where, index)))
        return problems
    if kind in _SCALARS:
        wanted = _SCALARS[kind]
        if not isinstance(value, wanted) or (bool not in wanted and isinstance(value, bool)):
            return ["%s: %s expected, got %s %r" % (where, kind, type(value).__name__, value)]
        return []
    return body_problems(models, kind, value, where)


def check_body(model_name, body, models=None):
    """Raise ``BodyError`` when ``body`` does not match huaweicloudsdkoms's ``model_name``; nothing where the
    SDK is not installed."""
    models = models or sdk_models()
    if models is None:
        return
    problems = body_problems(models, model_name, body)
    if problems:
        raise BodyError("%s does not match huaweicloudsdkoms: %s" % (model_name, "; ".join(problems)))


# ----------------------------------------------------------------------------- list files

def list_lines(keys):
    """Each source key as its list-file line: URL-encoded (UTF-8, ``/`` kept), so that no line break, control
    character, ``%`` or ``+`` in a name can change it; bytes ending with a line feed."""
    for key in keys:
        yield (encode_key(key, "url") + "\n").encode("ascii")


def split_list(keys, max_lines=LIST_FILE_MAX_LINES, max_bytes=LIST_FILE_MAX_BYTES):
    """The list files' contents (bytes) for ``keys``: a new file where one would pass ``max_lines`` lines or
    ``max_bytes`` bytes."""
    lines, size = [], 0
    for line in list_lines(keys):
        if lines and (len(lines) >= max_lines or size + len(line) > max_bytes):
            yield b"".join(lines)
            lines, size = [], 0
        lines.append(line)
        size += len(line)
    if lines:
        yield b"".join(lines)


def list_folder(now=None, unique=""):
    """A fresh folder for one task's list files: ``oms-list-files/{UTC time}-{unique}/``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return "%s%s%s/" % (LIST_FILE_FOLDER, stamp, "-" + unique if unique else "")


def list_file_name(folder, number):
    return "%slist-%05d.txt" % (folder, number)


# ----------------------------------------------------------------------------- the task's state

class TaskState(object):
    """What ShowTask said of a task (``body``: its answer, a dict), as the report wants it."""

    def __init__(self, task_id, body=None):
        self.task_id = task_id
        self.body = body or {}

    def _number(self, name):
        value = self.body.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def status(self):
        return self.body.get("status")

    @property
    def status_name(self):
        return STATUS_NAMES.get(self.status, "unknown" if self.body else "not_seen")

    @property
    def finished(self):
        return self.status in FINISHED

    @property
    def total(self):
        return self._number("total_num")

    @property
    def succeeded(self):
        return self._number("successful_num")

    @property
    def failed(self):
        return self._number("failed_num")

    @property
    def skipped(self):
        return self._number("skipped_num")

    @property
    def bytes(self):
        return self._number("complete_size")

    @property
    def total_bytes(self):
        return self._number("total_size")

    @property
    def done(self):
        return self.succeeded + self.failed + self.skipped

    @property
    def failed_list(self):
        """Where OMS recorded the failed objects (``failed_object_record.list_file_key``), or None."""
        record = self.body.get("failed_object_record")
        key = record.get("list_file_key") if isinstance(record, dict) else None
        return key if isinstance(key, str) and key else None

    @property
    def list_file(self):
        """The task's list file(s), from its source node: (obs_bucket, list_file_key, count), or None."""
        node = self.body.get("src_node")
        found = node.get("list_file") if isinstance(node, dict) else None
        if not isinstance(found, dict) or not isinstance(found.get("list_file_key"), str):
            return None
        try:
            count = int(found.get("list_file_num") or 1)
        except (TypeError, ValueError):
            count = 1
        return found.get("obs_bucket"), found["list_file_key"], count

    @property
    def error(self):
        reason = self.body.get("error_reason")
        if isinstance(reason, dict) and (reason.get("error_code") or reason.get("error_msg")):
            return "%s %s" % (logs.short(reason.get("error_code")), logs.short(reason.get("error_msg")))
        return None

    @property
    def complete(self):
        """It ended with every object copied or skipped."""
        return self.status == SUCCEEDED and self.failed == 0


class Follow(object):
    """Follow a task with ShowTask until it ends (``run``): ``on_state(TaskState)`` after each answer.

    Stops early when ``stopping`` is set (Ctrl-C: the task keeps running in OMS), when OMS refuses the
    credentials (``refused``) or, before any answer showed the task, the question (``rejected``: an unknown task
    id), or after ``max_misses``
    answers in a row that are no answer. ``outcome``: ``finished``, ``interrupted``, ``refused``, ``rejected`` or
    ``lost``; ``answer``: the last failed ``OmsAnswer``, if any."""

    def __init__(self, client, task_id, stopping, on_state=None, interval=5.0, max_misses=5):
        self.client = client
        self.task_id = task_id
        self.stopping = stopping
        self.on_state = on_state
        self.interval = interval
        self.max_misses = max_misses
        self.state = TaskState(task_id)
        self.outcome = None
        self.answer = None

    def run(self, wait_first=False, stale=None, max_stale=3):
        """Until the task ends. ``stale``: the ended state before a restart; an answer that still shows it
        (status and counts unchanged: OMS may not have taken the restart in yet) is not the end, up to
        ``max_stale`` times."""
        misses = 0
        if wait_first and self.stopping.wait(self.interval):
            self.outcome = "interrupted"
            return self.state
        while True:
            if self.stopping.is_set():
                self.outcome = "interrupted"
                return self.state
            answer = self.client.show_task(self.task_id)
            if answer.ok:
                misses = 0
                self.state = TaskState(self.task_id, answer.body)
                if self.on_state is not None:
                    self.on_state(self.state)
                if self.state.finished and stale is not None and max_stale > 0 and \
                        _counts(self.state) == _counts(stale):
                    max_stale -= 1
                elif self.state.finished:
                    self.outcome = "finished"
                    return self.state
            else:
                self.answer = answer
                if answer.refused or (answer.rejected and not self.state.body):
                    self.outcome = "refused" if answer.refused else "rejected"  # rejected: an id OMS never showed
                    return self.state
                misses += 1
                if misses >= self.max_misses or not answer.retryable:
                    self.outcome = "lost"
                    return self.state
            if self.stopping.wait(self.interval):
                self.outcome = "interrupted"
                return self.state


def _counts(state):
    return state.status, state.total, state.succeeded, state.failed, state.skipped, state.bytes
