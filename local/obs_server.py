"""Loopback stand-in for a Huawei Cloud OBS bucket endpoint (the sync task's destination), and the copying that
OMS does once it has accepted an event.

``ObsServer`` is moto's S3 server behind a small adapter, as ``local.cos_server.CosServer`` is for COS (it
shares that server's moto plumbing: its own moto account, faults, counters, records, seeding):

- Path-style requests (``/{bucket}/{key}``), which is how the OBS SDK (esdk-obs-python) addresses an IP
  endpoint such as ``http://127.0.0.1:PORT``.
- It checks the OBS SDK's signature: ``Authorization: OBS ak:signature`` (OBS's own scheme) or ``AWS
  ak:signature`` (what the SDK sends for path-style requests), HMAC-SHA1 over the canonical string rebuilt
  from the received request, and the date within 15 minutes. Failures answer 403.
- A listing returns at most 1,000 keys a page; moto's opaque ``NextMarker`` is replaced by the last key.

``Migration`` does what OMS does with an accepted event: after a short delay, in a background thread, it
copies the object from the source bucket (a ``CosServer``, or ``CosEndpoint``: one reached over HTTP) to the
destination bucket (an ``ObsServer``, or ``ObsEndpoint``), under a prefix, and records each copy in
``OmsServer.copies``. It honours the task's object overwrite mode as OMS does (by default it skips an object
the destination already holds with the same size and a last-modified time not older). ``no_copy`` scripts
OMS's worst failure: an event accepted and never copied. ``python -m local.obs_server --port 0`` runs the
server by hand.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, unquote

from local.cos_server import MAX_LIST_KEYS, CosRequest, CosServer, _request_kind, _wsgi_header
from local import fake_credentials
from local.serving import run_until_interrupted

#: Query parameters that are part of the signed resource (the OBS SDK's list, for the requests made here).
SUB_RESOURCES = ("acl", "cors", "delete", "lifecycle", "location", "logging", "metadata", "partnumber", "policy",
                 "restore", "storageclass", "storageinfo", "tagging", "uploadid", "uploads", "versionid",
                 "versioning", "versions", "website")
MAX_SKEW = 900.0
AUTHORIZATION = re.compile(r"^(?P<scheme>OBS|AWS) (?P<ak>[^:\s]+):(?P<signature>\S+)$")


def obs_signature(secret_key: str, string_to_sign: str) -> str:
    digest = hmac.new(secret_key.encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def string_to_sign(method: str, raw_path: str, params: dict[str, str], headers: dict[str, str], scheme: str) -> str:
    """The canonical string of OBS's (and S3's version 2) signature, from a received request.

    ``headers``: lower-case names to values; ``raw_path`` as sent (URL-encoded); ``params`` decoded.
    """
    prefix = "x-obs-" if scheme == "OBS" else "x-amz-"
    date = "" if prefix + "date" in headers else headers.get("date", "")
    lines = [method, headers.get("content-md5", ""), headers.get("content-type", ""), date]
    for name in sorted(n for n in headers if n.startswith(prefix)):
        value = headers[name].strip() if name.startswith(prefix + "meta-") else headers[name]
        lines.append("%s:%s" % (name, value))
    resource = raw_path
    signed = sorted((name, value) for name, value in params.items() if name.lower() in SUB_RESOURCES)
    if signed:
        resource += "?" + "&".join(name if value == "" else "%s=%s" % (name, value) for name, value in signed)
    return "\n".join(lines) + "\n" + resource


class ObsServer(CosServer):
    """Loopback OBS endpoint backed by moto: ``OBS_ENDPOINT=obs.endpoint``, ``OBS_AK``/``OBS_SK`` = ``ak``/``sk``.

    ``put_object`` seeds an object (optionally with a given last-modified time); ``objects`` reads them back.
    Faults, latency, counters and ``crc64`` as ``CosServer`` (``fail_next(kind="list")`` fails listings).
    """

    CRC64_HEADER = "x-obs-checksum-crc64ecma"

    thread_name = "obs-server"

    def __init__(self, ak: str = fake_credentials.OBS_AK, sk: str = fake_credentials.OBS_SK, *,
                 host: str = "127.0.0.1", port: int = 0, latency: float = 0.0, auto_create: bool = True,
                 crc64: bool = False):
        super().__init__(ak, sk, None, host=host, port=port, latency=latency, auto_create=auto_create, crc64=crc64)

    @property
    def ak(self) -> str:
        return self.secret_id

    @property
    def sk(self) -> str:
        return self.secret_key

    @property
    def endpoint(self) -> str:
        """``OBS_ENDPOINT``: ``http://127.0.0.1:PORT``."""
        return f"http://{self.address}"

    def _wsgi(self, environ: dict, start_response):
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or "/"
        raw_path, _, query = raw_uri.partition("?")
        params = {k: v for k, v in parse_qsl(query, keep_blank_values=True)}
        bucket, _, raw_key = raw_path[1:].partition("/")
        key = unquote(raw_key)
        method = environ["REQUEST_METHOD"]
        stream = environ["wsgi.input"]
        body = stream.read() if environ.get("wsgi.input_terminated") else stream.read(
            int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        request = CosRequest(kind=_request_kind(method, key, {k.lower(): v for k, v in params.items()}),
                             method=method, bucket=bucket, key=key, query=query,
                             headers={k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                                      if k.startswith("HTTP_")})
        with self._lock:
            self._counts[request.kind] += 1
        if self.latency:
            time.sleep(self.latency)

        def answer(status: int, code: str, message: str):
            return self._error(request, start_response, status, code, message, raw_path)

        if self._server is None:
            return answer(503, "ServiceUnavailable", "the loopback OBS server is stopping")
        fault = self._take_fault(request)
        if fault:
            return answer(fault.status, fault.code or "InternalError", "fault injected by the loopback OBS server")
        if not bucket:
            return answer(400, "InvalidURI", "expected path-style requests: /{bucket}/{key}")
        denied = self._check_obs_authorization(environ, method, raw_path, params)
        if denied:
            return answer(403, *denied)
        if request.kind == "list" and params.get("max-keys", "").isdigit() and int(params["max-keys"]) > MAX_LIST_KEYS:
            query = re.sub(r"(?i)(^|&)max-keys=\d+", rf"\g<1>max-keys={MAX_LIST_KEYS}", query)
        if self.auto_create and bucket not in self._backend.buckets:
            self.create_bucket(bucket)
        return self._call_moto(environ, start_response, request, raw_path, query)

    def _check_obs_authorization(self, environ: dict, method: str, raw_path: str,
                                 params: dict[str, str]) -> tuple[str, str] | None:
        match = AUTHORIZATION.match((_wsgi_header(environ, "authorization") or "").strip())
        if not match:
            return "AccessDenied", "Authorization missing or not 'OBS ak:signature' / 'AWS ak:signature'"
        if match["ak"] != self.ak:
            return "InvalidAccessKeyId", "The access key Id you provided does not exist in our records"
        headers = {k[5:].replace("_", "-").lower(): _wsgi_header(environ, k[5:].replace("_", "-"))
                   for k in environ if k.startswith("HTTP_")}
        for name in ("content-type", "content-md5"):
            value = _wsgi_header(environ, name)
            if value is not None:
                headers[name] = value
        prefix = "x-obs-" if match["scheme"] == "OBS" else "x-amz-"
        date_text = headers.get(prefix + "date") or headers.get("date")
        try:
            date = parsedate_to_datetime(date_text)
        except (TypeError, ValueError):
            return "AccessDenied", "the request has no usable Date"
        if abs((datetime.now(timezone.utc) - date).total_seconds()) > MAX_SKEW:
            return "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large"
        expected = obs_signature(self.sk, string_to_sign(method, raw_path, params, headers, match["scheme"]))
        if not hmac.compare_digest(expected, match["signature"]):
            return "SignatureDoesNotMatch", ("The request signature we calculated does not match the signature you "
                                             "provided")
        return None

    # --- objects, straight from moto

    def put_object(self, bucket: str, key: str, body: bytes = b"", last_modified: float | None = None) -> None:
        """Seed one object; ``last_modified``: epoch seconds (default now)."""
        put_object(self, bucket, key, body, last_modified)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, tuple[int, float]]:
        """{key: (size, last-modified epoch seconds)} of the objects under ``prefix``."""
        return objects(self, bucket, prefix)


def put_object(server: CosServer, bucket: str, key: str, body: bytes = b"", last_modified: float | None = None,
               content_type: str | None = None) -> None:
    """Seed one object into a CosServer or ObsServer, bypassing HTTP; ``last_modified`` in epoch seconds."""
    server.create_bucket(bucket)
    stored = server._backend.put_object(bucket, key, body, disable_notification=True)
    if content_type is not None:
        stored.metadata["Content-Type"] = content_type
    if last_modified is not None:
        stored.last_modified = datetime.fromtimestamp(last_modified, timezone.utc).replace(tzinfo=None)


def read_object(server: CosServer, bucket: str, key: str) -> bytes | None:
    """An object's bytes from a CosServer or ObsServer, or None when it is not there."""
    found = server._backend.buckets.get(bucket)
    stored = found.keys.get(key) if found else None
    return None if stored is None else stored.value


def objects(server: CosServer, bucket: str, prefix: str = "") -> dict[str, tuple[int, float]]:
    found = server._backend.buckets.get(bucket)
    if not found:
        return {}
    result = {}
    for name in list(found.keys.keys()):
        if name.startswith(prefix):
            stored = found.keys.get(name)
            if stored is not None:
                result[name] = (stored.size, stored.last_modified.replace(tzinfo=timezone.utc).timestamp())
    return result


# ----------------------------------------------------------------------------- OMS's copying

log = logging.getLogger(__name__)

#: OMS's ``object_overwrite_mode`` (CreateSyncTask, ShowSyncTask): what a copy does when the destination already
#: holds the key. OMS's default compares size and last-modified time; CRC64 comparison falls back to that when
#: an object has no CRC64 in its metadata (the loopback objects have none).
NO_OVERWRITE = "NO_OVERWRITE"
SIZE_LAST_MODIFIED = "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE"
CRC64 = "CRC64_COMPARISON_OVERWRITE"
FULL_OVERWRITE = "FULL_OVERWRITE"
OVERWRITE_MODES = (NO_OVERWRITE, SIZE_LAST_MODIFIED, CRC64, FULL_OVERWRITE)


def overwrites(mode: str, source: tuple[int, float], destination: tuple[int, float] | None) -> bool:
    """Whether a copy in overwrite ``mode`` replaces ``destination`` (size, last-modified; None: no such object)
    with ``source``: always when there is none; with size/last-modified comparison when the sizes differ or the
    destination is older than the source (to the second): a same-size, newer destination is skipped, whatever
    its content."""
    if destination is None or mode == FULL_OVERWRITE:
        return True
    if mode == NO_OVERWRITE:
        return False
    if mode not in (SIZE_LAST_MODIFIED, CRC64):
        raise ValueError(f"unknown object overwrite mode {mode!r}")
    return source[0] != destination[0] or int(destination[1]) < int(source[1])


class InProcess:
    """A CosServer's or ObsServer's objects, straight from moto (no HTTP): what ``Migration`` reads and writes."""

    def __init__(self, server: CosServer):
        self.server = server

    def get(self, bucket: str, key: str) -> tuple[bytes, float] | None:
        found = self.server._backend.buckets.get(bucket)
        stored = found.keys.get(key) if found else None
        if stored is None:
            return None
        return stored.value, stored.last_modified.replace(tzinfo=timezone.utc).timestamp()

    def stat(self, bucket: str, key: str) -> tuple[int, float] | None:
        got = self.get(bucket, key)
        return None if got is None else (len(got[0]), got[1])

    def content_type(self, bucket: str, key: str) -> str | None:
        found = self.server._backend.buckets.get(bucket)
        stored = found.keys.get(key) if found else None
        return None if stored is None else stored.metadata.get("content-type")

    def put(self, bucket: str, key: str, body: bytes) -> None:
        put_object(self.server, bucket, key, body)


def _http_time(value: str | None) -> float:
    return parsedate_to_datetime(value).timestamp() if value else time.time()


class CosEndpoint:
    """A COS-compatible endpoint reached over HTTP with the COS SDK (``python -m local.cos_server``'s address)."""

    def __init__(self, address: str, secret_id: str = fake_credentials.COS_SECRET_ID,
                 secret_key: str = fake_credentials.COS_SECRET_KEY, region: str = "ap-guangzhou"):
        from qcloud_cos import CosConfig, CosS3Client

        host, _, port = address.rpartition(":")
        self.client = CosS3Client(CosConfig(Region=region, SecretId=secret_id, SecretKey=secret_key, Scheme="http",
                                            IP=host, Port=int(port)))

    def get(self, bucket: str, key: str) -> tuple[bytes, float] | None:
        from qcloud_cos.cos_exception import CosServiceError

        try:
            answer = self.client.get_object(Bucket=bucket, Key=key, KeySimplifyCheck=False)
        except CosServiceError as exc:
            if exc.get_status_code() == 404:
                return None
            raise
        headers = {k.lower(): v for k, v in answer.items() if k != "Body"}
        return answer["Body"].get_raw_stream().read(), _http_time(headers.get("last-modified"))

    def list(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (for the loopback OMS's migration tasks)."""
        keys, marker = [], ""
        while True:
            answer = self.client.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=1000)
            keys += [item["Key"] for item in answer.get("Contents", [])]
            if answer.get("IsTruncated") != "true":
                return keys
            marker = answer.get("NextMarker") or keys[-1]


class ObsEndpoint:
    """An OBS-compatible endpoint reached over HTTP with the OBS SDK (``python -m local.obs_server``'s endpoint)."""

    def __init__(self, endpoint: str, ak: str = fake_credentials.OBS_AK, sk: str = fake_credentials.OBS_SK):
        from obs import ObsClient

        self.client = ObsClient(access_key_id=ak, secret_access_key=sk, server=endpoint, path_style=True,
                                signature="obs", is_signature_negotiation=False, max_retry_count=0)

    def stat(self, bucket: str, key: str) -> tuple[int, float] | None:
        answer = self.client.getObjectMetadata(bucket, key)
        if answer.status == 404:
            return None
        if not 200 <= (answer.status or 0) < 300:
            raise OSError(f"OBS answered {answer.status} {answer.errorCode} to a HEAD of {key!r}")
        return answer.body.contentLength, _http_time(answer.body.lastModified)

    def content_type(self, bucket: str, key: str) -> str | None:
        answer = self.client.getObjectMetadata(bucket, key)
        return answer.body.contentType if 200 <= (answer.status or 0) < 300 else None

    def get(self, bucket: str, key: str) -> tuple[bytes, float] | None:
        answer = self.client.getObject(bucket, key, loadStreamInMemory=True)
        if answer.status == 404:
            return None
        if not 200 <= (answer.status or 0) < 300:
            raise OSError(f"OBS answered {answer.status} {answer.errorCode} to a GET of {key!r}")
        return answer.body.buffer, _http_time(answer.body.lastModified)

    def list(self, bucket: str, prefix: str = "") -> list[str]:
        keys, marker = [], None
        while True:
            answer = self.client.listObjects(bucket, prefix=prefix, marker=marker, max_keys=1000)
            if not 200 <= (answer.status or 0) < 300:
                raise OSError(f"OBS answered {answer.status} {answer.errorCode} to a listing of {bucket!r}")
            keys += [item.key for item in answer.body.contents]
            if not answer.body.is_truncated:
                return keys
            marker = answer.body.next_marker or keys[-1]

    def put(self, bucket: str, key: str, body: bytes) -> None:
        answer = self.client.putContent(bucket, key, body)
        if not 200 <= (answer.status or 0) < 300:
            raise OSError(f"OBS answered {answer.status} {answer.errorCode} to a PUT of {key!r}")


def _store(where):
    return InProcess(where) if isinstance(where, CosServer) else where


@dataclass
class CopyRecord:
    """One object OMS copied (or skipped, or failed to copy): wall-clock ``time``, the event key, the destination
    key. A skipped object (the overwrite mode kept the destination's) is ``ok`` and ``skipped``, size 0."""

    time: float
    event_key: str
    destination_key: str | None
    size: int
    ok: bool
    reason: str = ""
    task_id: str | None = None
    skipped: bool = False


@dataclass
class Migration:
    """Where an OMS sync task copies from and to, and how: ``delay`` seconds after acceptance, in a thread.

    ``source``/``destination``: a CosServer/ObsServer (in this process) or a ``CosEndpoint``/``ObsEndpoint``.
    ``overwrite``: the task's object overwrite mode (``OVERWRITE_MODES``; OMS's default compares size and
    last-modified time). ``no_copy``: event keys OMS accepts and does not copy, the next time each is accepted
    (the fault verify must catch; a resubmission is then copied); keys of another bucket or objects no longer
    in the source are recorded as failed copies.
    """

    source: object
    source_bucket: str  # BucketName-APPID
    destination: object
    destination_bucket: str
    prefix: str = ""
    delay: float = 0.05
    no_copy: set[str] = field(default_factory=set)
    records: list[CopyRecord] = field(default_factory=list)
    overwrite: str = SIZE_LAST_MODIFIED
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _pending: int = 0

    def __post_init__(self) -> None:
        if self.overwrite not in OVERWRITE_MODES:
            raise ValueError(f"overwrite must be one of {', '.join(OVERWRITE_MODES)}, not {self.overwrite!r}")

    @property
    def event_prefix(self) -> str:
        name, _, appid = self.source_bucket.rpartition("-")
        return f"/{appid}/{name}/"

    def accepted(self, event_keys: list[str], task_id: str | None = None) -> None:
        """OMS accepted these (decoded) event keys: copy them ``delay`` seconds from now."""
        with self._cond:
            self._pending += 1
        timer = threading.Timer(self.delay, self._copy_all, args=(list(event_keys), task_id))
        timer.daemon = True
        timer.start()

    def _copy_all(self, event_keys: list[str], task_id: str | None) -> None:
        try:
            for event_key in event_keys:
                record = self._copy(event_key, task_id)
                if record.skipped:
                    log.info("OMS skipped %r: %s", event_key, record.reason)
                elif record.ok:
                    log.info("OMS copied %r to %s/%s (%d bytes)", event_key, self.destination_bucket,
                             record.destination_key, record.size)
                else:
                    log.info("OMS did not copy %r: %s", event_key, record.reason)
                with self._cond:
                    self.records.append(record)
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def _copy(self, event_key: str, task_id: str | None) -> CopyRecord:
        def failed(reason: str) -> CopyRecord:
            return CopyRecord(time.time(), event_key, None, 0, False, reason, task_id)

        with self._cond:
            dropped = event_key in self.no_copy
            self.no_copy.discard(event_key)
        if dropped:
            return failed("fault: accepted and not copied")
        if not event_key.startswith(self.event_prefix):
            return failed("not an object of the source bucket %s" % self.source_bucket)
        key = event_key[len(self.event_prefix):]
        destination_key = self.prefix + key
        try:
            got = _store(self.source).get(self.source_bucket, key)
            if got is None:
                return failed("no such object in the source bucket")
            body, mtime = got
            destination = _store(self.destination)
            if not overwrites(self.overwrite, (len(body), mtime), destination.stat(self.destination_bucket,
                                                                                     destination_key)):
                return CopyRecord(time.time(), event_key, destination_key, 0, True,
                                  f"skipped: the destination's object is kept ({self.overwrite})", task_id, True)
            destination.put(self.destination_bucket, destination_key, body)
        except Exception as exc:  # a server stopped under us: the copy failed
            return failed("%s: %s" % (type(exc).__name__, exc))
        return CopyRecord(time.time(), event_key, destination_key, len(body), True, "", task_id)

    def wait(self, timeout: float = 5.0) -> list[CopyRecord]:
        """Block until no copy is pending; TimeoutError otherwise. Returns the records."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError(f"{self._pending} copy batch(es) still pending")
            return list(self.records)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ak", default=fake_credentials.OBS_AK)
    parser.add_argument("--sk", default=fake_credentials.OBS_SK)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    run_until_interrupted(ObsServer(args.ak, args.sk, host=args.host, port=args.port, latency=args.latency),
                          lambda obs: obs.endpoint)


if __name__ == "__main__":
    main()

