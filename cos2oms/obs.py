# -*- coding: utf-8 -*-
"""The OBS client (esdk-obs-python, imported only when a client is built: only ``verify`` needs it) and its
lister, beside ``storage``'s COS client: the destination bucket's listing for ``verify``; ``put_text`` and
``delete_object`` for the migration tasks' list files.

A listing page that fails is classified by ``retry`` like every other remote call (``listings.pages`` tries
it again when worth it); the SDK's own retries are off.
"""
import re
import ssl
import threading
import warnings
from urllib.parse import unquote_plus

from cos2oms import logs, retry
from cos2oms.listings import PageProblem, parse_listing

#: Seconds per socket operation of the OBS SDK (it has no whole-request limit).
OBS_TIMEOUT = 30
_LOOPBACK = re.compile(r"^(localhost|\d+\.\d+\.\d+\.\d+)$")


def build_obs_client(obs_settings, ca_bundle=None):
    """An ``obs.ObsClient`` (esdk-obs-python, imported here: only ``verify`` needs it) for listing.

    - OBS signature, no signature negotiation (which would cost a HEAD on the bucket and a permission more);
      path-style requests for a loopback or IP endpoint, virtual-host style (OBS's) otherwise;
    - HTTPS certificates and host names checked (the SDK checks neither unless told): against ``ca_bundle``,
      else REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, else certifi's bundle, else the system's;
    - no redirects followed; the SDK's own retries off (``listings.pages`` tries again).
    """
    import os
    from obs import ObsClient  # esdk-obs-python

    path_style = bool(_LOOPBACK.match(obs_settings.host))
    with warnings.catch_warnings():  # its own SSL context's deprecated protocol constant: replaced below
        warnings.simplefilter("ignore", DeprecationWarning)
        client = ObsClient(access_key_id=obs_settings.ak, secret_access_key=obs_settings.sk,
                           server=obs_settings.endpoint, path_style=path_style, signature="obs",
                           is_signature_negotiation=False, max_retry_count=0, max_redirect_count=0,
                           timeout=OBS_TIMEOUT, long_conn_mode=True)
    if obs_settings.secure:
        ca_bundle = ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if not ca_bundle:
            try:
                import certifi
                ca_bundle = certifi.where()
            except ImportError:
                ca_bundle = None
        client.context = ssl.create_default_context(cafile=ca_bundle)  # verifies the chain and the host name
    return client


class ObsLister(object):
    """One-request listings of an OBS bucket through ``ObsClient.listObjects``.

    The SDK's own parse of the answer gives last-modified times in local time to the second, shifted by an
    hour in summer time zones; the answer is parsed here instead (the SDK looks its parser up by name on the
    client's ``convertor``). A parse failure, which the SDK would swallow, is kept and reported.
    """

    def __init__(self, client, bucket):
        self.client = client
        self.bucket = bucket
        self._problem = threading.local()

        def parse_list_objects(xml, headers=None):
            try:
                return parse_listing(xml.encode("utf-8") if isinstance(xml, str) else xml, unquote_plus)
            except Exception as exc:
                self._problem.cause = "%s: %s" % (type(exc).__name__, logs.short(str(exc)))
                raise

        client.convertor.parseListObjects = parse_list_objects

    def __call__(self, prefix, marker, page_size):
        self._problem.cause = None
        answer = _answer(lambda: self.client.listObjects(self.bucket, prefix=prefix or None, marker=marker or None,
                                                         max_keys=page_size, encoding_type="url"))
        if answer.body is None:
            cause = "OBS's listing could not be read: %s" % (self._problem.cause or "no body")
            raise PageProblem(cause, retry.classify(error=retry.Unreadable(cause)).retry)
        return answer.body


def _answer(call):
    """``call()``'s answer (an SDK ``GetResult``) when OBS answered 2xx, else ``PageProblem`` (``retry``'s
    verdict: tried again when worth it)."""
    try:
        answer = call()
    except Exception as exc:  # the SDK raises when a connection fails: its failure to connect unless typed
        verdict = retry.error_verdict(exc) or retry.Verdict(True, "OBS client error (a network failure)")
        raise PageProblem("%s: %s" % (type(exc).__name__, logs.short(str(exc))), verdict.retry) from None
    status = answer.status or 0
    if not 200 <= status <= 299:
        cause = "OBS answered %s %s %s" % (status or "-", logs.short(answer.errorCode),
                                           logs.short(answer.errorMessage))
        # No status: the SDK got no answer (it reports a failed connection so).
        verdict = retry.classify(status, answer.errorCode) if status else retry.Verdict(True, "no answer")
        raise PageProblem(cause, verdict.retry, status or None)
    return answer


def crc64_header(client, bucket, key):
    """The ``x-obs-checksum-crc64ecma`` header (a decimal) of a HEAD of object ``key``, or None when the object
    has none; ``PageProblem`` when OBS did not answer 2xx (the object not there included). The SDK gives the
    answer's headers with their ``x-obs-`` (or ``x-amz-``) taken off."""
    answer = _answer(lambda: client.getObjectMetadata(bucket, key))
    return dict(answer.header or ()).get("checksum-crc64ecma")


class ObsWriteError(Exception):
    """An OBS write or delete that did not succeed: ``cause`` says why (network values escaped and capped)."""

    def __init__(self, cause):
        Exception.__init__(self, cause)
        self.cause = cause


def _answered(answer, what):
    status = getattr(answer, "status", None) or 0
    if not 200 <= status <= 299:
        raise ObsWriteError("%s: OBS answered %s %s %s" % (what, status or "-", logs.short(answer.errorCode),
                                                           logs.short(answer.errorMessage)))


def put_text(client, bucket, key, content):
    """Write ``content`` (bytes) as object ``key`` of ``bucket``, Content-Type ``text/plain`` (what OMS requires of
    a list file; the SDK would guess it from ``.txt`` only); ``ObsWriteError`` when OBS did not take it."""
    from obs import PutObjectHeader

    try:
        answer = client.putContent(bucket, key, content, headers=PutObjectHeader(contentType="text/plain"))
    except Exception as exc:  # the SDK raises when a connection fails
        raise ObsWriteError("put %s: %s: %s" % (key, type(exc).__name__, logs.short(str(exc)))) from None
    _answered(answer, "put %s" % key)


def delete_object(client, bucket, key):
    """Delete object ``key`` of ``bucket`` (gone already is fine); ``ObsWriteError`` otherwise."""
    try:
        answer = client.deleteObject(bucket, key)
    except Exception as exc:
        raise ObsWriteError("delete %s: %s: %s" % (key, type(exc).__name__, logs.short(str(exc)))) from None
    if getattr(answer, "status", None) != 404:
        _answered(answer, "delete %s" % key)
