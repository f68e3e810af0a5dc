"""The floor for ``bench/replay.py``: a replay's protocol work done with nothing but ``http.client``.

The same requests as a replay of the same failed markers, against the same stand-ins: the failed markers
listed 1,000 a page (URL-encoded names), a signed OMS POST per 10 keys (``cos2oms.signer``, the function's
own signer), a success marker PUT per key, then a batch delete (``POST /?delete``, with ``Content-MD5``, its answer
read) of the replayed failed markers per 100. Every COS request is signed (COS's HMAC-SHA1 scheme, written out
below) and carries the virtual-host ``Host`` header. Connections are kept alive, one per thread and server.
Threads as replay has them: ``workers`` OMS workers, a pool of marker writers (a batch's markers go out
together), deletes between batches; with ``processes`` > 1, chunks of 500 names go to that many spawned
worker processes, each doing the same. What it leaves out is what a client library adds per call: no
request objects, hooks, adapters, retries, time limits, answer checks or logging.

``run(cos_hello, oms_hello, processes, workers)`` -> keys replayed (``bench/replay_servers.py``'s hello lines).
"""

import hashlib
import hmac
import http.client
import json
import re
import threading
import time
from base64 import b64encode
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape, unescape

from cos2oms import signer

PAGE = 1000
BATCH = 10  # keys per OMS request
DELETE_CHUNK = 100  # failed markers per batch delete (replay's)
PROCESS_CHUNK = 500  # names per worker process task (bulk.CHUNK)
MARKER_THREADS = 64  # bulk's marker writers: min(workers * 10, transport.POOL_SIZE)
_KEY = re.compile(r"<Key>(.*?)</Key>", re.S)


class Wire(object):
    """Keep-alive connections (one per thread and server), signed requests."""

    def __init__(self, cos, oms):
        host, _, port = cos["address"].partition(":")
        self.cos_at = (host, int(port))
        self.bucket = cos["bucket"]
        self.cos_host = "%s.cos.ap-guangzhou.myqcloud.com" % self.bucket
        self.secret_id, self.secret_key = cos["secret_id"], cos["secret_key"]
        url = urlsplit(oms["sync_url"])
        self.oms_at, self.oms_path = (url.hostname, url.port), url.path
        self.oms_host = url.netloc
        self.ak, self.sk = oms["ak"], oms["sk"]
        self._local = threading.local()

    def _send(self, name, at, method, path, body, headers):
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more on a new one
            conn = getattr(self._local, name, None)
            if conn is None:
                conn = http.client.HTTPConnection(*at)
                setattr(self._local, name, conn)
            try:
                conn.request(method, path, body, headers)
                response = conn.getresponse()
                data = response.read()
                return response.status, data
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                setattr(self._local, name, None)
                if attempt == 2:
                    raise

    def cos(self, method, key, body=b"", query=None, headers=None):
        """One signed COS request: ``key`` the object (``""`` for the bucket), ``query`` a dict."""
        headers = dict(headers or (), Host=self.cos_host)
        path = "/" + quote(key, safe="/-_.~")
        if query:
            path += "?" + "&".join(k if v is None else "%s=%s" % (k, quote(v, safe="-_.~"))
                                   for k, v in sorted(query.items()))
        headers["Authorization"] = self.cos_authorization(method, "/" + key, query or {}, headers)
        status, data = self._send("cos", self.cos_at, method, path, body, headers)
        if status != 200:
            raise RuntimeError("COS answered %s to %s %s" % (status, method, path))
        return data

    def cos_authorization(self, method, path, query, headers):
        """COS's request signature (q-sign-algorithm=sha1) over the method, path, query and headers."""
        def encoded(items):
            pairs = sorted((quote(k, safe="-_.~").lower(), quote(v or "", safe="-_.~")) for k, v in items)
            return ";".join(k for k, _ in pairs), "&".join("%s=%s" % pair for pair in pairs)

        param_list, params = encoded(query.items())
        header_list, signed = encoded(headers.items())
        now = int(time.time())
        sign_time = "%d;%d" % (now - 60, now + 3600)
        http_string = "%s\n%s\n%s\n%s\n" % (method.lower(), path, params, signed)
        string_to_sign = "sha1\n%s\n%s\n" % (sign_time, hashlib.sha1(http_string.encode("utf-8")).hexdigest())
        sign_key = hmac.new(self.secret_key.encode(), sign_time.encode(), hashlib.sha1).hexdigest()
        signature = hmac.new(sign_key.encode(), string_to_sign.encode(), hashlib.sha1).hexdigest()
        return ("q-sign-algorithm=sha1&q-ak=%s&q-sign-time=%s&q-key-time=%s&q-header-list=%s&q-url-param-list=%s"
                "&q-signature=%s" % (self.secret_id, sign_time, sign_time, header_list, param_list, signature))

    def oms(self, keys):
        """One signed OMS sync request; True when accepted."""
        body = json.dumps({"object_keys": [quote(k, safe="/~") for k in keys]}).encode("utf-8")
        headers = {"content-type": "application/json", "host": self.oms_host, "x-sdk-date": signer.now_sdk_date()}
        names = sorted(headers)
        canonical = signer.canonical_request("POST", self.oms_path, {}, headers, names, body)
        sig = signer.signature(signer.string_to_sign(canonical, headers["x-sdk-date"]), self.sk)
        headers["Authorization"] = signer.authorization_value(sig, self.ak, names)
        status, _ = self._send("oms", self.oms_at, "POST", self.oms_path, body, headers)
        return status == 200

    def list_page(self, prefix, marker):
        """One page of names after ``marker``: (names, truncated)."""
        query = {"prefix": prefix, "max-keys": str(PAGE), "encoding-type": "url"}
        if marker:
            query["marker"] = marker
        text = self.cos("GET", "", query=query).decode("utf-8")
        names = [unquote(unescape(name)) for name in _KEY.findall(text)]
        return names, "<IsTruncated>true</IsTruncated>" in text

    def delete(self, names):
        """One batch delete, not quiet (as replay asks it): raises unless the answer names every key deleted."""
        body = ("<Delete><Quiet>false</Quiet>%s</Delete>" % "".join("<Object><Key>%s</Key></Object>" % escape(n)
                                                                   for n in names)).encode("utf-8")
        md5 = b64encode(hashlib.md5(body).digest()).decode()
        answer = self.cos("POST", "", body, {"delete": None},
                          {"Content-MD5": md5, "Content-Type": "application/xml", "Content-Length": str(len(body))})
        deleted = set(unescape(name) for name in _KEY.findall(answer.decode("utf-8")))
        if not deleted.issuperset(names):
            raise RuntimeError("COS did not delete %d of %d keys" % (len(set(names) - deleted), len(names)))


def names(wire, prefix):
    """Every name under ``prefix``, page by page."""
    marker = ""
    while True:
        page, truncated = wire.list_page(prefix, marker)
        yield from page
        if not truncated or not page:
            return
        marker = page[-1]


class Replayer(object):
    """``workers`` OMS threads and a pool of marker writers, kept for every run of this process (as replay
    keeps its clients), over one ``Wire``."""

    def __init__(self, wire, workers, task):
        root = "oms_source_record/%s/" % task
        self.failed, self.success = root + "failed_object/", root + "success_object/"
        self.wire = wire
        self.workers = workers
        self.pool = ThreadPoolExecutor(workers)
        self.writers = ThreadPoolExecutor(min(workers * BATCH, MARKER_THREADS))

    def _batch(self, batch):
        """One OMS request, then the success markers of its keys: the failed markers now removable."""
        if not self.wire.oms([name[len(self.failed):] for name in batch]):
            return []
        list(self.writers.map(lambda name: self.wire.cos("PUT", self.success + name[len(self.failed):]), batch))
        return batch

    def run(self, failed_names):
        """Replay ``failed_names``; returns how many were replayed (success marker written, failed one deleted)."""
        replayed = 0
        removable = []
        pending = set()

        def take(done):
            nonlocal replayed
            for future in done:
                removable.extend(future.result())
            while len(removable) >= DELETE_CHUNK:
                self.wire.delete(removable[:DELETE_CHUNK])
                replayed += DELETE_CHUNK
                del removable[:DELETE_CHUNK]

        for batch in chunked(failed_names, BATCH):
            pending.add(self.pool.submit(self._batch, batch))
            if len(pending) >= 2 * self.workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                take(done)
        take(pending)
        if removable:
            self.wire.delete(removable)
            replayed += len(removable)
        return replayed

    def close(self):
        self.pool.shutdown()
        self.writers.shutdown()


_process_state = {}


def _start_process(cos, oms, workers, task):
    _process_state["replayer"] = Replayer(Wire(cos, oms), workers, task)


def _replay_chunk(chunk):
    return _process_state["replayer"].run(chunk)


def chunked(items, size):
    """``items`` in lists of ``size``, pulled lazily."""
    items = iter(items)
    chunk = list(islice(items, size))
    while chunk:
        yield chunk
        chunk = list(islice(items, size))


def run(cos, oms, processes, workers, task):
    """Replay every failed marker of ``task`` in the stand-ins ``cos`` and ``oms`` (their hello lines)."""
    wire = Wire(cos, oms)
    replayer = Replayer(wire, workers, task)
    if processes <= 1:
        try:
            return replayer.run(names(wire, replayer.failed))
        finally:
            replayer.close()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    replayed = 0
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start_process,
                             initargs=(cos, oms, workers, task)) as pool:
        pending = set()
        for chunk in chunked(names(wire, replayer.failed), PROCESS_CHUNK):
            pending.add(pool.submit(_replay_chunk, chunk))
            while len(pending) >= 2 * processes:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                replayed += sum(future.result() for future in done)
        replayed += sum(future.result() for future in pending)
    replayer.close()
    return replayed
