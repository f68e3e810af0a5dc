# -*- coding: utf-8 -*-
"""The HTTP transport every request of ours goes through: OMS's, and the COS SDK's (both SDK lines take a
``requests`` session).

Policy that must hold for every request lives here, where every request passes:

* **Whole-request time limit.** ``with time_limit(seconds):`` bounds every request the current thread makes
  inside it, as a whole: each socket read is clamped to the time left, and a watchdog shuts the connection
  down when the limit passes, so a server that trickles its answer a byte at a time cannot keep a request
  alive past it. A request cut short raises ``requests.Timeout``, never returns a partial answer.
* **No redirects.** A 3xx answer raises ``RedirectRefused``: it is never followed (credentials and the
  session token never leave for another host) and never taken for success (the COS SDK counts any status
  below 400 as success).
* **Capped bodies.** An error body is read up to ``ERROR_BODY_CAP`` bytes and a success body up to
  ``BODY_CAP``; what is over is not read.
* **Only final answers.** An interim answer (1xx other than the ``100 Continue`` that ``http.client`` skips,
  e.g. ``103 Early Hints``) is a broken exchange: its connection still holds the real answer, which would
  otherwise be read as the answer to the next request sent on it. It is closed and raises
  ``requests.ConnectionError``.
* **Connecting within the limit too.** Name resolution runs in a helper thread joined with the time left,
  and each resolved address gets at most the time left, so a host with several unreachable addresses, or a
  slow resolver, cannot hold a request past its limit before it even has a socket.
* **The right server** (optional): a session built with ``required_header`` takes an answer without that
  header (COS always sends ``x-cos-request-id``) for a network error, not for COS's: a captive portal's
  ``200`` never counts as a stored marker.

The limit is per thread (``threading.local``), so workers sharing one session and one COS client never see
each other's limits, and nothing writes the SDK's private state.
"""
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
from contextlib import contextmanager

import requests
from requests.adapters import HTTPAdapter

try:  # urllib3 as requests uses it (SCF's 3.6 runtime: requests 2.21 with urllib3 1.24)
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from urllib3.util.connection import allowed_gai_family
except ImportError:  # pragma: no cover - very old requests that vendor urllib3
    from requests.packages.urllib3 import HTTPConnectionPool, HTTPSConnectionPool
    from requests.packages.urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from requests.packages.urllib3.util.connection import allowed_gai_family

#: Bytes of an error (non-2xx) body read: enough for any OMS or COS error document.
ERROR_BODY_CAP = 8 * 1024
#: Bytes of a success body read: a COS listing page of 1,000 URL-encoded 850-byte keys fits.
BODY_CAP = 16 * 1024 * 1024
#: Connections kept per host. The bulk engine's threads share one session (OMS) and one COS client, and
#: never run more requests at once than this (``cli.MAX_WORKERS``, ``bulk.Engine``); connections are opened
#: only as they are needed.
POOL_SIZE = 64
_CHUNK = 64 * 1024
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

_local = threading.local()


class RedirectRefused(requests.exceptions.RequestException):
    """A 3xx answer: never followed, never success."""

    def __init__(self, status, location):
        requests.exceptions.RequestException.__init__(
            self, "redirect refused: HTTP %s to %s" % (status, (location or "-")[:200]))
        self.status = status
        self.location = location


class OutOfTime(requests.exceptions.ReadTimeout):
    """The request would run, or ran, past the thread's time limit."""


# ----------------------------------------------------------------------------------------- time limit

@contextmanager
def time_limit(seconds):
    """Bound the requests this thread makes inside the block to ``seconds`` from now, as a whole, bodies read
    after the request returned included (``None``: no bound). Nested limits: the tighter one wins."""
    outer = getattr(_local, "watch", None)
    until = None if seconds is None else time.monotonic() + max(0.0, seconds)
    if outer is not None and (until is None or outer.until < until):
        until = outer.until
    if until is None:
        yield
        return
    watch = _Watch(until)
    entry = _watchdog.call_at(until, watch.fire)
    _local.watch = watch
    try:
        yield
    finally:
        _local.watch = outer
        _watchdog.cancel(entry)
        watch.close()


def time_left():
    """Seconds left under this thread's limit, or None when unbounded."""
    watch = getattr(_local, "watch", None)
    return None if watch is None else watch.until - time.monotonic()


class _Watchdog(object):
    """One daemon thread that runs actions at given monotonic times; cancelled entries are skipped."""

    def __init__(self):
        self._cond = threading.Condition()
        self._heap = []
        self._order = itertools.count()
        self._thread = None
        self._pid = None

    def call_at(self, when, action):
        entry = [when, next(self._order), action]
        with self._cond:
            if self._thread is None or self._pid != os.getpid():  # also after a fork
                self._heap, self._pid = [], os.getpid()
                self._thread = threading.Thread(target=self._run, name="cos2oms-watchdog")
                self._thread.daemon = True
                self._thread.start()
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    @staticmethod
    def cancel(entry):
        entry[2] = None

    def _run(self):
        while True:
            with self._cond:
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                action = heapq.heappop(self._heap)[2]
            if action is not None:
                try:
                    action()
                except Exception:  # a dead socket must not stop the watchdog
                    pass


_watchdog = _Watchdog()


def _shutdown(sock):
    """Shut a connected socket down from another thread, whatever wraps it (ssl, pyOpenSSL): the blocked
    reader wakes with end-of-file. A duplicate descriptor is used, so the owner's objects are not touched."""
    fileno = sock.fileno()
    if fileno < 0:
        return
    dup = socket.fromfd(fileno, socket.AF_INET, socket.SOCK_STREAM)
    try:
        dup.shutdown(socket.SHUT_RDWR)
    finally:
        dup.close()


class _Watch(object):
    """One ``time_limit`` block: the connection its current request is using, and whether its time ran out.
    A connection handed back to the pool is forgotten first, so a late watchdog can never cut a request that
    is not ours."""

    def __init__(self, until):
        self.until = until
        self.lock = threading.Lock()
        self.conn = None
        self.fired = False
        self.done = False
        self.rearmed = None

    def use(self, conn):
        with self.lock:
            self.conn = conn
        conn._cos2oms_watch = self

    def release(self, conn):
        with self.lock:
            if self.conn is conn:
                self.conn = None

    def fire(self):
        with self.lock:
            if self.done:
                return
            self.fired = True
            if self.conn is None:
                return
            sock = getattr(self.conn, "sock", None)
            if sock is not None:
                _shutdown(sock)
            else:  # still connecting (bounded by its clamped timeout): look again until it has a socket
                self.rearmed = _watchdog.call_at(time.monotonic() + 0.05, self.fire)

    def close(self):
        with self.lock:
            self.done = True
            if self.rearmed is not None:
                _watchdog.cancel(self.rearmed)


def _resolve(host, port, seconds):
    """``socket.getaddrinfo`` for a TCP connection to ``host``, given at most ``seconds``: it runs in a daemon
    thread (a resolver cannot be interrupted), which is left to finish on its own when time runs out."""
    try:
        ipaddress.ip_address(host)
        numeric = True
    except ValueError:
        numeric = False
    if numeric:  # nothing to look up
        return socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    outcome = {}

    def look_up():
        try:
            outcome["addresses"] = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=look_up, name="cos2oms-resolve")
    thread.daemon = True
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        raise socket.timeout("resolving %s took longer than the %.1f s left" % (host, seconds))
    if "error" in outcome:
        raise outcome["error"]
    return outcome["addresses"]


class _WatchedConnectionMixin(object):
    """urllib3's connection with name resolution and each address's connect bounded by the time left."""

    def _new_conn(self):
        watch = getattr(_local, "watch", None)
        if watch is None:
            return super(_WatchedConnectionMixin, self)._new_conn()
        host, timeout = self._dns_host, self.timeout
        try:
            try:
                addresses = _resolve(host.strip("[]"), self.port, watch.until - time.monotonic())
            except socket.timeout as exc:
                raise ConnectTimeoutError(self, str(exc)) from exc
            except socket.gaierror as exc:
                raise NewConnectionError(self, "Failed to resolve %s: %s" % (host, exc)) from exc
            error = None
            for address in addresses:
                left = watch.until - time.monotonic()
                if left <= 0:
                    break
                self._dns_host = address[4][0]
                self.timeout = min(timeout, left) if isinstance(timeout, (int, float)) else left
                try:
                    return super(_WatchedConnectionMixin, self)._new_conn()
                except Exception as exc:  # urllib3's NewConnectionError / ConnectTimeoutError: the next one
                    error = exc
            if error is not None and watch.until > time.monotonic():
                raise error
            raise ConnectTimeoutError(self, "connecting to %s ran past the time limit" % host)
        finally:
            self._dns_host, self.timeout = host, timeout


class _WatchedHTTPConnection(_WatchedConnectionMixin, HTTPConnectionPool.ConnectionCls):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, HTTPSConnectionPool.ConnectionCls):
    pass


class _WatchedPoolMixin(object):
    def _get_conn(self, *args, **kwargs):
        conn = super(_WatchedPoolMixin, self)._get_conn(*args, **kwargs)
        watch = getattr(_local, "watch", None)
        if watch is not None:
            watch.use(conn)
        return conn

    def _put_conn(self, conn):
        watch = getattr(conn, "_cos2oms_watch", None)
        if watch is not None:
            watch.release(conn)
            conn._cos2oms_watch = None
        return super(_WatchedPoolMixin, self)._put_conn(conn)


class _WatchedHTTPPool(_WatchedPoolMixin, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_WatchedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# ----------------------------------------------------------------------------------------- adapter

def _clamp(timeout, seconds):
    """requests' ``timeout`` (None, a number or (connect, read)) with each part at most ``seconds``."""
    if isinstance(timeout, tuple):
        return tuple(seconds if part is None else min(part, seconds) for part in timeout)
    return seconds if timeout is None else min(timeout, seconds)


def _read_capped(response, cap):
    """Read at most ``cap`` bytes of the body (as requests would: decoded, chunked or not); True when the whole
    body was read."""
    if response._content is not False:  # already read (a test double such as ``responses`` does that)
        chunks = [response._content or b""]
        size = len(chunks[0])
    else:
        chunks, size = [], 0
    for chunk in response.raw.stream(_CHUNK, decode_content=True) if response._content is False else ():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            break
    data = b"".join(chunks)
    response._content = data[:cap]
    response._content_consumed = True
    return size <= cap


def _cut_short(response):
    """True when fewer body bytes arrived than the answer's Content-Length says (urllib3 1.x does not check)."""
    try:
        length = int(response.headers.get("Content-Length", ""))
        received = response.raw.tell()
    except (TypeError, ValueError, AttributeError):
        return False
    return received < length


class DeadlineAdapter(HTTPAdapter):
    """``HTTPAdapter`` applying this module's policy to every request sent through it. ``required_header``:
    a header every answer of the intended server carries (COS: ``x-cos-request-id``)."""

    __attrs__ = HTTPAdapter.__attrs__ + ["required_header"]  # what requests pickles

    def __init__(self, *args, **kwargs):
        self.required_header = kwargs.pop("required_header", None)
        HTTPAdapter.__init__(self, *args, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        HTTPAdapter.init_poolmanager(self, *args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = HTTPAdapter.proxy_manager_for(self, proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        return manager

    def send(self, request, stream=False, timeout=None, **kwargs):
        watch = getattr(_local, "watch", None)
        if watch is None:
            return self._send(request, stream, timeout, kwargs)
        left = watch.until - time.monotonic()
        if left <= 0 or watch.fired:
            raise OutOfTime("no time left for the request", request=request)
        try:
            response = self._send(request, stream, _clamp(timeout, left), kwargs)
        except requests.exceptions.RequestException:
            if watch.fired:
                raise OutOfTime("the request ran past its time limit (%.1f s)" % left, request=request) from None
            raise
        if watch.fired:
            response.close()
            raise OutOfTime("the request ran past its time limit (%.1f s)" % left, request=request)
        return response

    def _send(self, request, stream, timeout, kwargs):
        response = HTTPAdapter.send(self, request, stream=True, timeout=timeout, **kwargs)
        status = response.status_code
        if status < 200:  # an interim answer: the real one is still on this connection
            response.raw.close()
            response.close()
            raise requests.exceptions.ConnectionError("interim answer HTTP %s taken for a final one: "
                                                      "connection closed" % status, request=request)
        if 300 <= status <= 399:
            location = response.headers.get("Location")
            response.close()
            raise RedirectRefused(status, location)
        if self.required_header and self.required_header not in response.headers:
            response.raw.close()
            response.close()
            raise requests.exceptions.ConnectionError("HTTP %s without %s: not an answer from the intended "
                                                      "server" % (status, self.required_header), request=request)
        if stream:
            return response
        try:
            complete = _read_capped(response, BODY_CAP if 200 <= status <= 299 else ERROR_BODY_CAP)
        except Exception as exc:  # a connection that broke mid-body: as requests reports it
            response.close()
            raise requests.exceptions.ConnectionError(exc, request=request) from exc
        if complete and request.method != "HEAD" and status not in (204, 304) and _cut_short(response):
            response.close()
            raise requests.exceptions.ConnectionError("answer cut short: fewer bytes than its Content-Length",
                                                      request=request)
        if complete:
            response.raw.release_conn()
        else:
            response.raw.close()  # the rest stays unread: this connection cannot be reused
            if 200 <= status <= 299:
                raise requests.exceptions.ContentDecodingError(
                    "answer larger than %d bytes: not read" % BODY_CAP, request=request)
        return response


class Session(requests.Session):
    """A session that never follows a redirect (the adapter refuses them before this could)."""

    def get_redirect_target(self, resp):
        return None


def uses_proxies(environ=None):
    """True when a proxy variable is set, which requests must go on honouring per request."""
    names = set(name.lower() for name in (os.environ if environ is None else environ))
    return any(name in names for name in PROXY_VARIABLES)


def new_session(environ=None, pool_size=POOL_SIZE, required_header=None):
    """The session for OMS and COS requests, kept for the life of a warm container. ``required_header``: see
    ``DeadlineAdapter``."""
    environ = os.environ if environ is None else environ
    session = Session()
    session.max_redirects = 0
    if not uses_proxies(environ):
        # Otherwise every request scans the whole environment for proxy settings (about 15% of a marker
        # PUT's CPU in replay). What else requests takes from the environment is read once, here: the CA
        # bundle; our requests always carry their own auth, so .netrc never applies.
        session.trust_env = False
        session.verify = next((environ[name] for name in CA_BUNDLE_VARIABLES if environ.get(name)), True)
    adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0,
                              required_header=required_header)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
