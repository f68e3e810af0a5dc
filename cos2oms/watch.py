# -*- coding: utf-8 -*-
"""The whole-request time limit (``transport``'s first policy): ``with time_limit(seconds):`` bounds every
request the current thread makes inside it, as a whole. Each socket read is clamped to the time left (by the
adapter), and a watchdog thread shuts the connection down when the limit passes, so a server that trickles
its answer cannot keep a request alive past it; name resolution and each address's connect get only the
time left, so an unreachable host or a slow resolver cannot either.

The limit is per thread (``threading.local``): workers sharing one session never see each other's limits.
``WatchedHTTPPool``/``WatchedHTTPSPool`` are urllib3's pools that honour it (``transport.DeadlineAdapter``
uses them).
"""
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
from contextlib import contextmanager

try:  # urllib3 as requests uses it (SCF's 3.6 runtime: requests 2.21 with urllib3 1.24)
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from urllib3.util.connection import allowed_gai_family
except ImportError:  # pragma: no cover - very old requests that vendor urllib3
    from requests.packages.urllib3 import HTTPConnectionPool, HTTPSConnectionPool
    from requests.packages.urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from requests.packages.urllib3.util.connection import allowed_gai_family

_local = threading.local()


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


class WatchedHTTPPool(_WatchedPoolMixin, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class WatchedHTTPSPool(_WatchedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def current():
    """This thread's innermost ``time_limit`` block (its ``until`` and whether it ``fired``), or None."""
    return getattr(_local, "watch", None)
