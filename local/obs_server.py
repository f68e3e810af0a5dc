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
copies the object from the source bucket (a ``CosServer``) to the destination bucket (an ``ObsServer``),
under a prefix, and records each copy in ``OmsServer.copies``. ``no_copy`` scripts OMS's worst failure:
an event accepted and never copied. ``python -m local.obs_server --port 0`` runs the server by hand.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
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
    Faults, latency and counters as ``CosServer`` (``fail_next(kind="list")`` fails listings).
    """

    thread_name = "obs-server"

    def __init__(self, ak: str = fake_credentials.OBS_AK, sk: str = fake_credentials.OBS_SK, *,
                 host: str = "127.0.0.1", port: int = 0, latency: float = 0.0, auto_create: bool = True):
        super().__init__(ak, sk, None, host=host, port=port, latency=latency, auto_create=auto_create)

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


def put_object(server: CosServer, bucket: str, key: str, body: bytes = b"", last_modified: float | None = None) -> None:
    """Seed one object into a CosServer or ObsServer, bypassing HTTP; ``last_modified`` in epoch seconds."""
    server.create_bucket(bucket)
    stored = server._backend.put_object(bucket, key, body, disable_notification=True)
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

@dataclass
class CopyRecord:
    """One object OMS copied (or failed to): wall-clock ``time``, the event key, the destination key."""

    time: float
    event_key: str
    destination_key: str | None
    size: int
    ok: bool
    reason: str = ""
    task_id: str | None = None


@dataclass
class Migration:
    """Where an OMS sync task copies from and to, and how: ``delay`` seconds after acceptance, in a thread.

    ``no_copy``: event keys OMS accepts and does not copy, the next time each is accepted (the fault verify
    must catch; a resubmission is then copied); keys of another bucket or objects no longer in the source are
    recorded as failed copies.
    """

    source: CosServer
    source_bucket: str  # BucketName-APPID
    destination: ObsServer
    destination_bucket: str
    prefix: str = ""
    delay: float = 0.05
    no_copy: set[str] = field(default_factory=set)
    records: list[CopyRecord] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _pending: int = 0

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
        try:
            body = read_object(self.source, self.source_bucket, key)
            if body is None:
                return failed("no such object in the source bucket")
            put_object(self.destination, self.destination_bucket, self.prefix + key, body)
        except Exception as exc:  # a server stopped under us: the copy failed
            return failed("%s: %s" % (type(exc).__name__, exc))
        return CopyRecord(time.time(), event_key, self.prefix + key, len(body), True, "", task_id)

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

