"""Loopback stand-in for a Tencent COS bucket endpoint (the function's log bucket).

moto's S3 server does the storage; a small WSGI adapter in front of it speaks COS:

- With ``CosConfig(IP=..., Port=...)`` both SDK lines (1.6.6 and 1.9.x) send virtual-host style requests:
  ``Host: {BucketName-APPID}.cos.{region}.myqcloud.com`` and the URL-quoted object key as the path. The
  adapter takes the bucket from the Host header and hands moto a path-style request (``/{bucket}/{key}``,
  ``Host`` = the loopback address, a placeholder AWS ``Authorization``).
- It checks the COS v5 ``Authorization`` (``q-sign-algorithm=sha1&q-ak=...&q-signature=...``): the
  SecretId, the signature itself (recomputed from the received request), its time window, and the
  ``x-cos-security-token`` (required when a token is configured, refused when not). Failures answer 403
  with a COS XML error body.
- It applies COS's limits that moto lacks: batch delete needs a matching ``Content-MD5`` and at most
  1,000 keys; a listing returns at most 1,000 keys a page.
- Faults (``fail_next``, ``fail_all``), per-request latency, per-kind request counters.
- ``crc64``: HEAD and GET answers carry the object's CRC64-ECMA, as COS sends it (``x-cos-hash-crc64ecma``, a
  decimal), computed from its bytes (``crc64_ecma``); off by default, as for an object uploaded without one.

moto keeps its state in process-global backends. Each CosServer uses its own moto account id (header
``x-moto-account-id``) and drops that account's data when it stops, so servers do not see each other's
objects. S3 bucket names are global in moto, though: two CosServers running at once cannot both hold a
bucket of the same name. ``python -m local.cos_server --port 0`` runs it by hand.
"""

from __future__ import annotations

import argparse
import base64
import collections
import functools
import hashlib
import hmac
import io
import itertools
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape, unescape

from moto.s3.models import FakeKey, s3_backends
from moto.server import create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

from local import fake_credentials
from local.serving import BackgroundServer, run_until_interrupted

log = logging.getLogger(__name__)

MAX_LIST_KEYS = 1000
MAX_DELETE_KEYS = 1000
MOTO_REGION = "us-east-1"
MOTO_AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20200101/us-east-1/s3/aws4_request, "
                      "SignedHeaders=host, Signature=0")
ERROR_CODES = {400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey", 409: "OperationAborted",
               429: "SlowDown", 500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable",
               504: "GatewayTimeout"}

_account_ids = itertools.count(900000000001)


def _crc64_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1  # ECMA-182, reflected
        table.append(crc)
    return table


_CRC64_TABLE = _crc64_table()


def crc64_ecma(data: bytes) -> int:
    """CRC-64/XZ (ECMA-182 polynomial, reflected, initial value and final XOR all ones): what COS calls
    ``crc64ecma`` and OBS ``checksum-crc64ecma``."""
    crc = 0xFFFFFFFFFFFFFFFF
    for byte in data:
        crc = _CRC64_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


@functools.cache
def _moto_s3_app():
    """moto's S3 WSGI app: stateless itself (state is in ``s3_backends``), so one serves every CosServer."""
    return create_backend_app("s3")


# ----------------------------------------------------------------------------- COS v5 signature

def cos_signature(secret_key: str, method: str, path: str, params: dict[str, str], headers: dict[str, str],
                  key_time: str, sign_time: str | None = None) -> str:
    """``q-signature`` of the COS v5 request signature (HMAC-SHA1 of the HttpString's SHA-1).

    ``path`` is the decoded object key with a leading ``/`` (``/`` for bucket requests); ``params`` and
    ``headers`` are the signed ones, names lower case, values decoded (they are URL-encoded here).
    """
    def pairs(items: dict[str, str]) -> str:
        encoded = {quote(k, "-_.~").lower(): quote(v.encode("utf-8", "surrogateescape"), "-_.~")
                   for k, v in items.items()}
        return "&".join(f"{k}={v}" for k, v in sorted(encoded.items()))

    http_string = f"{method.lower()}\n{path}\n{pairs(params)}\n{pairs(headers)}\n"
    string_to_sign = f"sha1\n{sign_time or key_time}\n{hashlib.sha1(http_string.encode()).hexdigest()}\n"
    sign_key = hmac.new(secret_key.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    return hmac.new(sign_key.encode(), string_to_sign.encode(), hashlib.sha1).hexdigest()


def _wsgi_header(environ: dict, name: str) -> str | None:
    """A request header from a WSGI environ, as the client's text (WSGI holds it as Latin-1)."""
    key = name.upper().replace("-", "_")
    value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key)
    return None if value is None else value.encode("latin-1").decode("utf-8", "surrogateescape")


# ----------------------------------------------------------------------------- records and faults

@dataclass
class CosRequest:
    """What the server saw of one request, and what it answered."""

    kind: str  # put, get, head, delete, list, batch_delete, put_bucket, head_bucket, other
    method: str
    bucket: str
    key: str
    query: str
    headers: dict[str, str]
    status: int | None = None
    error_code: str | None = None
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    status: int
    code: str | None
    remaining: int | None  # None: until heal()
    kind: str | None
    key_prefix: str | None

    def matches(self, request: CosRequest) -> bool:
        return ((self.kind is None or request.kind == self.kind)
                and (self.key_prefix is None or request.key.startswith(self.key_prefix)))


def _request_kind(method: str, key: str, params: dict[str, str]) -> str:
    if not key:
        if method == "GET":
            return "list"
        if method == "POST" and "delete" in params:
            return "batch_delete"
        return {"PUT": "put_bucket", "HEAD": "head_bucket"}.get(method, "other")
    return {"PUT": "put", "GET": "get", "HEAD": "head", "DELETE": "delete"}.get(method, "other")


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:  # noqa: A002 (werkzeug's signature)
        log.log(logging.ERROR if type == "error" else logging.DEBUG, message, *args)


# ----------------------------------------------------------------------------- server

class CosServer(BackgroundServer):
    """Loopback COS endpoint backed by moto. Use as a context manager, or ``start()`` / ``stop()``.

    Point the SDK at it with ``CosConfig(IP="127.0.0.1", Port=cos.port, Scheme="http", ...)``, i.e.
    ``COS_ADDRESS=cos.address``. ``latency``: seconds added to every request (may be changed while
    running). ``auto_create``: buckets spring into being on first use; otherwise only ``create_bucket``
    makes them and other names get COS's ``NoSuchBucket``. ``crc64``: HEAD and GET answers carry the object's
    CRC64 (``CRC64_HEADER``; may be changed while running).
    """

    CRC64_HEADER = "x-cos-hash-crc64ecma"

    def __init__(self, secret_id: str = fake_credentials.COS_SECRET_ID,
                 secret_key: str = fake_credentials.COS_SECRET_KEY,
                 token: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 latency: float = 0.0, auto_create: bool = True, crc64: bool = False):
        self.secret_id, self.secret_key, self.token = secret_id, secret_key, token
        self.latency = latency
        self.crc64 = crc64
        self.auto_create = auto_create
        self.account_id = str(next(_account_ids))
        self._address = (host, port)
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._records: list[CosRequest] = []
        self._counts: collections.Counter[str] = collections.Counter()

    # --- lifecycle

    thread_name = "cos-server"

    def _make_server(self):
        self._moto = _moto_s3_app()
        return make_server(self._address[0], self._address[1], self._wsgi, threaded=True,
                           request_handler=_QuietHandler)

    def _after_stop(self) -> None:
        """Drop this server's moto data."""
        self._drop_moto_account()

    # --- addresses

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def ip(self) -> str:
        return self._address[0]

    @property
    def address(self) -> str:
        """``host:port``, the function's ``COS_ADDRESS``."""
        return f"{self.ip}:{self.port}"

    # --- buckets and objects, straight from moto (no HTTP, no counters)

    @property
    def _backend(self):
        return s3_backends[self.account_id]["aws"]

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket`` (``BucketName-APPID``) unless it exists."""
        with self._lock:
            if bucket not in self._backend.buckets:
                self._backend.create_bucket(bucket, MOTO_REGION)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """All object keys in ``bucket`` under ``prefix``, sorted; [] when there is no such bucket."""
        found = self._backend.buckets.get(bucket)
        return sorted(k for k in list(found.keys.keys()) if k.startswith(prefix)) if found else []

    def put_keys(self, bucket: str, keys: list[str], body: bytes = b"") -> None:
        """Seed objects fast (about 10,000 a second), bypassing HTTP."""
        self.create_bucket(bucket)
        for key in keys:
            self._backend.put_object(bucket, key, body, disable_notification=True)

    # --- faults, counters, records

    def fail_next(self, n: int = 1, status: int = 500, code: str | None = None, *,
                  kind: str | None = None, key_prefix: str | None = None) -> None:
        """Answer the next ``n`` requests (of ``kind``, for keys under ``key_prefix``) with ``status``."""
        with self._lock:
            self._faults.append(_Fault(status, code, n, kind, key_prefix))

    def fail_all(self, status: int = 500, code: str | None = None, *,
                 kind: str | None = None, key_prefix: str | None = None) -> None:
        """Answer every request (of ``kind``, for keys under ``key_prefix``) with ``status`` until heal()."""
        with self._lock:
            self._faults.append(_Fault(status, code, None, kind, key_prefix))

    def heal(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def counts(self) -> dict[str, int]:
        """Requests received, by kind (put, list, batch_delete, delete, head, get, ...), faults included."""
        with self._lock:
            return dict(self._counts)

    @property
    def requests(self) -> list[CosRequest]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget records, counters and faults (objects stay)."""
        with self._lock:
            self._records.clear()
            self._counts.clear()
            self._faults.clear()

    # --- request handling (server threads)

    def _wsgi(self, environ: dict, start_response):
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or "/"
        raw_path, _, query = raw_uri.partition("?")
        params = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        host = re.sub(r":\d+$", "", _wsgi_header(environ, "host") or "")
        bucket = host.split(".", 1)[0] if "." in host and not re.fullmatch(r"[\d.]+", host) else ""
        key = unquote(raw_path[1:])
        method = environ["REQUEST_METHOD"]
        # Read the whole body first, whatever the answer: closing a socket with unread data sends RST,
        # which can destroy the answer before the client reads it.
        stream = environ["wsgi.input"]
        body = stream.read() if environ.get("wsgi.input_terminated") else stream.read(
            int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        request = CosRequest(kind=_request_kind(method, key, params), method=method, bucket=bucket, key=key,
                             query=query, headers={k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                                                   if k.startswith("HTTP_")})
        with self._lock:
            self._counts[request.kind] += 1
        if self.latency:
            time.sleep(self.latency)

        def answer(status: int, code: str, message: str):
            return self._error(request, start_response, status, code, message, host + raw_path)

        if self._server is None:  # stopped while this request waited: leave moto's shared state alone
            return answer(503, "ServiceUnavailable", "the loopback COS server is stopping")
        fault = self._take_fault(request)
        if fault:
            return answer(fault.status, fault.code or ERROR_CODES.get(fault.status, "InternalError"),
                          "fault injected by the loopback COS server")
        if not bucket:
            return answer(400, "InvalidURI", "expected virtual-host style: Host: BucketName-APPID.cos...")
        denied = self._check_authorization(environ, method, key, params)
        if denied:
            return answer(403, *denied)

        if request.kind == "batch_delete":
            refused = _check_batch_delete(environ, body)
            if refused:
                return answer(400, *refused)
        if request.kind == "list" and params.get("max-keys", "").isdigit() and int(params["max-keys"]) > MAX_LIST_KEYS:
            query = re.sub(r"(?i)(^|&)max-keys=\d+", rf"\g<1>max-keys={MAX_LIST_KEYS}", query)
        if self.auto_create and bucket not in self._backend.buckets:
            if bucket in s3_backends.bucket_accounts:
                return answer(409, "BucketAlreadyExists", "another CosServer in this process holds this bucket")
            self.create_bucket(bucket)
        return self._call_moto(environ, start_response, request, f"/{bucket}{raw_path}", query)

    def _take_fault(self, request: CosRequest) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _check_authorization(self, environ: dict, method: str, key: str,
                             params: dict[str, str]) -> tuple[str, str] | None:
        """None when the COS v5 signature holds, else (COS error code, message)."""
        auth = dict(part.partition("=")[::2] for part in (_wsgi_header(environ, "authorization") or "").split("&"))
        needed = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list",
                  "q-signature")
        if any(name not in auth for name in needed) or auth["q-sign-algorithm"] != "sha1":
            return "AccessDenied", "Authorization missing or not a COS q-sign-algorithm=sha1 signature"
        if auth["q-ak"] != self.secret_id:
            return "InvalidAccessKeyId", "The SecretId you provided does not exist"
        token = _wsgi_header(environ, "x-cos-security-token")
        if token != self.token:
            return "AccessDenied", ("x-cos-security-token does not match the temporary key" if self.token
                                    else "x-cos-security-token sent with a permanent key")
        try:
            start, end = (int(t) for t in auth["q-key-time"].split(";"))
        except ValueError:
            return "AccessDenied", "q-key-time is not start;end"
        if not start - 60 <= time.time() <= end:
            return "AccessDenied", "Request has expired"
        header_names = [n for n in auth["q-header-list"].split(";") if n]
        param_names = [n for n in auth["q-url-param-list"].split(";") if n]
        missing = [n for n in header_names if _wsgi_header(environ, unquote(n)) is None]
        missing += [n for n in param_names if unquote(n) not in params]
        if missing:
            return "SignatureDoesNotMatch", f"signed but not sent: {missing}"
        expected = cos_signature(
            self.secret_key, method, "/" + key,
            {unquote(n): params[unquote(n)] for n in param_names},
            {unquote(n): _wsgi_header(environ, unquote(n)) for n in header_names},
            auth["q-key-time"], auth["q-sign-time"])
        if not hmac.compare_digest(expected, auth["q-signature"]):
            return "SignatureDoesNotMatch", ("The request signature we calculated does not match "
                                             "the signature you provided")
        return None

    def _call_moto(self, environ: dict, start_response, request: CosRequest, path: str, query: str):
        environ = {k: v for k, v in environ.items() if not k.startswith("HTTP_X_COS_")}
        environ["PATH_INFO"] = unquote(path, encoding="latin-1")
        environ["RAW_URI"] = environ["REQUEST_URI"] = path + (f"?{query}" if query else "")
        environ["QUERY_STRING"] = query
        environ["HTTP_HOST"] = self.address
        environ["HTTP_AUTHORIZATION"] = MOTO_AUTHORIZATION
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account_id
        response: list = []
        chunks = self._moto(environ, lambda status, headers, exc_info=None: response.extend([status, headers]))
        body = b"".join(chunks)
        status, headers = response
        request.status = int(status.split()[0])
        request_id = uuid.uuid4().hex
        if request.status >= 400 and body:
            # moto's S3 errors lack <Resource> and <TraceId>; the COS SDK reads an error only when its
            # body has Code, Message, Resource and RequestId, so answer COS's shape.
            code, message = (re.search(rb"<%s>([^<]*)</%s>" % (tag, tag), body) for tag in (b"Code", b"Message"))
            request.error_code = code[1].decode() if code else "InternalError"
            body = _error_xml(request.error_code, unescape(message[1].decode()) if message else request.error_code,
                              f"{request.headers.get('host', '')}/{request.key}", request_id)
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            headers.append(("Content-Type", "application/xml"))
        if request.kind == "list":
            body = self._real_next_marker(body, "encoding-type=url" in query.lower())
        if request.method != "HEAD":  # a HEAD answer's Content-Length is the object's size
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        headers.append(("x-cos-request-id", request_id))
        if self.crc64 and request.kind in ("head", "get") and request.status == 200:
            stored = self._backend.buckets[request.bucket].keys.get(request.key)
            if stored is not None:
                headers.append((self.CRC64_HEADER, str(crc64_ecma(stored.value))))
        self._record(request)
        start_response(status, headers)
        return [body]

    def _real_next_marker(self, body: bytes, url_encoded: bool) -> bytes:
        """moto's NextMarker is an opaque token (S3 ListObjects V1 has none without a delimiter);
        COS answers the last key listed, URL-encoded under encoding-type=url. Put that back."""
        def last_key(match: re.Match) -> bytes:
            key = self._backend._pagination_tokens.get(match[1].decode(), match[1].decode())
            return b"<NextMarker>%s</NextMarker>" % escape(quote(key) if url_encoded else key).encode()
        return re.sub(rb"<NextMarker>([^<]*)</NextMarker>", last_key, body)

    def _error(self, request: CosRequest, start_response, status: int, code: str, message: str, resource: str):
        request.status, request.error_code = status, code
        self._record(request)
        request_id = uuid.uuid4().hex
        body = b"" if request.method == "HEAD" else _error_xml(code, message, resource, request_id)
        start_response(f"{status} {code}", [("Content-Type", "application/xml"),
                                            ("Content-Length", str(len(body))), ("x-cos-request-id", request_id)])
        return [body]

    def _record(self, request: CosRequest) -> None:
        log.info("COS %s %s/%s -> %s%s", request.method, request.bucket, request.key, request.status,
                 f" {request.error_code}" if request.error_code else "")
        with self._lock:
            self._records.append(request)

    def _drop_moto_account(self) -> None:
        if self.account_id not in s3_backends:
            return
        backend = self._backend
        for bucket in backend.buckets.values():
            s3_backends.bucket_accounts.pop(bucket.name, None)
        backend.buckets.clear()
        # moto tracks every FakeKey ever made in a class-wide list (for its reset); let ours go.
        kept = []
        for key in list(FakeKey.instances_tracked):
            if key.account_id == self.account_id:
                key.dispose()
            else:
                kept.append(key)
        FakeKey.instances_tracked[:] = kept
        del s3_backends[self.account_id]


def _error_xml(code: str, message: str, resource: str, request_id: str) -> bytes:
    """A COS error body: the SDKs read Code, Message, Resource and RequestId (and TraceId if present)."""
    return (f"<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n\t<Code>{escape(code)}</Code>\n"
            f"\t<Message>{escape(message)}</Message>\n\t<Resource>{escape(resource)}</Resource>\n"
            f"\t<RequestId>{request_id}</RequestId>\n\t<TraceId>{request_id}</TraceId>\n</Error>").encode()


def _check_batch_delete(environ: dict, body: bytes) -> tuple[str, str] | None:
    """COS's rules for ``POST /?delete`` that moto does not enforce."""
    md5 = _wsgi_header(environ, "content-md5")
    if md5 is None:
        return "InvalidRequest", "Missing required header for this request: Content-MD5"
    if md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
        return "InvalidDigest", "The Content-MD5 you specified is not valid"
    try:
        objects = ElementTree.fromstring(body).findall("Object")
    except ElementTree.ParseError:
        return "MalformedXML", "The XML you provided was not well-formed"
    if not 1 <= len(objects) <= MAX_DELETE_KEYS:
        return "MalformedXML", f"a batch delete names 1 to {MAX_DELETE_KEYS} objects, not {len(objects)}"
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret-id", default=fake_credentials.COS_SECRET_ID)
    parser.add_argument("--secret-key", default=fake_credentials.COS_SECRET_KEY)
    parser.add_argument("--token", default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    run_until_interrupted(CosServer(args.secret_id, args.secret_key, args.token, host=args.host, port=args.port,
                                    latency=args.latency), lambda cos: cos.address)


if __name__ == "__main__":
    main()
