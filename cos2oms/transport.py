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
each other's limits, and nothing writes the SDK's private state. The limit itself (the watchdog, the watched
connections and pools) is ``watch``; ``time_limit`` and ``time_left`` are used through this module.
"""
import os
import time

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from cos2oms import watch
from cos2oms.watch import time_left, time_limit  # the first policy, in a module of its own

__all__ = ["BODY_CAP", "DeadlineAdapter", "ERROR_BODY_CAP", "LeanSession", "OutOfTime", "POOL_SIZE", "RedirectRefused",
           "Session", "new_session", "time_left", "time_limit", "uses_proxies"]

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


class RedirectRefused(requests.exceptions.RequestException):
    """A 3xx answer: never followed, never success."""

    def __init__(self, status, location):
        requests.exceptions.RequestException.__init__(
            self, "redirect refused: HTTP %s to %s" % (status, (location or "-")[:200]))
        self.status = status
        self.location = location


class OutOfTime(requests.exceptions.ReadTimeout):
    """The request would run, or ran, past the thread's time limit."""


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
        self.poolmanager.pool_classes_by_scheme = {"http": watch.WatchedHTTPPool, "https": watch.WatchedHTTPSPool}

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = HTTPAdapter.proxy_manager_for(self, proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": watch.WatchedHTTPPool, "https": watch.WatchedHTTPSPool}
        return manager

    def send(self, request, stream=False, timeout=None, **kwargs):
        limit = watch.current()
        if limit is None:
            return self._send(request, stream, timeout, kwargs)
        left = limit.until - time.monotonic()
        if left <= 0 or limit.fired:
            raise OutOfTime("no time left for the request", request=request)
        try:
            response = self._send(request, stream, _clamp(timeout, left), kwargs)
        except requests.exceptions.RequestException:
            if limit.fired:
                raise OutOfTime("the request ran past its time limit (%.1f s)" % left, request=request) from None
            raise
        if limit.fired:
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


class LeanSession(object):
    """What a COS client of ours sends through: the SDK still builds every request (URL, headers, body, the
    signature by its own ``CosS3Auth``) and reads every answer (``CosServiceError``, ``CosClientError``,
    parsed bodies); the request goes straight to ``session``'s adapter (``transport.DeadlineAdapter``: the
    whole-request time limit, no redirects, the request-id check, capped bodies), prepared as
    ``requests.Session.request`` prepares it (the session's headers under the request's, the body's
    ``Content-Length``, then the auth), without what that adds per call for what our requests never use:
    cookies (none are sent or kept), hooks, environment settings, redirect resolution. About 0.2 ms less CPU
    per marker PUT, of about 0.7 ms.

    A request with proxies, a stream or other options, and every request while ``session`` honours the
    environment (a proxy variable is set: ``transport.new_session``), goes through ``session.request``."""

    def __init__(self, session):
        self.session = session

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=True, proxies=None, stream=False, verify=None, cert=None, **kwargs):
        session = self.session
        if kwargs or proxies or stream or session.trust_env or not isinstance(data, (bytes, type(None))):
            return session.request(method, url, params=params, data=data, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=allow_redirects, proxies=proxies, stream=stream,
                                   verify=verify, cert=cert, **kwargs)
        prepared = prepare(session, method.upper(), url, params, data, headers, auth)
        if verify is None:  # only https reads it: requests looks a CA bundle path up on disk per request
            verify = session.verify if prepared.url[:6].lower() == "https:" else True
        return session.get_adapter(prepared.url).send(prepared, timeout=timeout, verify=verify,
                                                      cert=cert or session.cert, proxies={})

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def put(self, url, **kwargs):
        return self.request("PUT", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)

    def head(self, url, **kwargs):
        return self.request("HEAD", url, **kwargs)


def prepare(session, method, url, params, body, headers, auth):
    """The ``PreparedRequest`` ``session.prepare_request`` makes of a request with a ``bytes`` body (or
    none), no cookies and no hooks. The SDK's URLs are already quoted: they are taken as they are unless the
    request has query parameters (then requests' own ``prepare_url`` adds them)."""
    prepared = PreparedRequest()
    prepared.method = method
    if params:
        prepared.prepare_url(url, params)
    else:
        prepared.url = url
    merged = CaseInsensitiveDict(session.headers)
    for name, value in (headers or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    prepared.headers = merged
    prepared.body = body or None
    if body:
        merged["Content-Length"] = str(len(body))
    elif method not in ("GET", "HEAD") and merged.get("Content-Length") is None:
        merged["Content-Length"] = "0"
    prepared.hooks = {"response": []}
    if auth is not None:
        prepared = auth(prepared) or prepared
    return prepared

