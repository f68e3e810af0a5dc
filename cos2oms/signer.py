# -*- coding: utf-8 -*-
"""Huawei Cloud API Gateway request signing (SDK-HMAC-SHA256).

A drop-in port of the signer in Huawei's OMS guide: the public names (``HttpRequest``, ``Signer`` with
``Key``/``Secret``, ``Sign``, ``Verify`` and the module-level helpers) behave as they do there and produce
an identical ``Authorization`` for identical input, so code written against the guide works unchanged.

Beyond the guide:

* ``Verify`` compares in constant time.
* ``SignerAuth`` is a ``requests`` auth hook: it signs the exact URL and body bytes that go on the wire,
  afresh on every send (retries get a new ``X-Sdk-Date``).
* ``canonical_request`` / ``string_to_sign`` / ``signature`` / ``authorization_value`` are plain functions
  over (method, path, query, headers, body), one per step of the algorithm, for callers that do not
  want the guide's mutable request object.

The canonical request may be logged at DEBUG (the first thing anyone needs when the gateway answers
APIG.0301); the secret key and the signature never are.

Runs on Python 3.6+ with only the standard library (``requests`` only for ``SignerAuth``).
"""
import binascii
import copy
import hashlib
import hmac
import logging
import time
from datetime import datetime
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    # the guide's names
    "BasicDateFormat", "Algorithm", "HeaderXDate", "HeaderHost", "HeaderAuthorization", "HeaderContentSha256",
    "urlencode", "findHeader", "HexEncodeSHA256Hash", "hmacsha256", "HttpRequest", "StringToSign",
    "CanonicalRequest", "CanonicalURI", "CanonicalQueryString", "CanonicalHeaders", "SignedHeaders",
    "SignStringToSign", "AuthHeaderValue", "Signer",
    # one function per step, and the requests hook
    "canonical_uri", "canonical_query_string", "canonical_headers", "canonical_request", "string_to_sign",
    "signature", "authorization_value", "now_sdk_date", "SignerAuth",
]

BasicDateFormat = "%Y%m%dT%H%M%SZ"
Algorithm = "SDK-HMAC-SHA256"
HeaderXDate = "X-Sdk-Date"
HeaderHost = "host"
HeaderAuthorization = "Authorization"
HeaderContentSha256 = "x-sdk-content-sha256"

logger = logging.getLogger("cos2oms.signer")  # under the function's logger, so LOG_LEVEL applies


# --------------------------------------------------------------------------------------------------
# The algorithm, one step per function (pure: no request object is changed).
# --------------------------------------------------------------------------------------------------

def urlencode(s):
    """Percent-encode everything but unreserved characters (``~`` included), as the gateway does."""
    return quote(s, safe="~")


def HexEncodeSHA256Hash(data):
    """Hex SHA-256 of ``data`` (bytes)."""
    return hashlib.sha256(data).hexdigest()


def hmacsha256(keyByte, message):
    """HMAC-SHA256 of ``message`` under ``keyByte`` (both str, UTF-8 encoded), raw digest."""
    return hmac.new(keyByte.encode("utf-8"), message.encode("utf-8"), digestmod=hashlib.sha256).digest()


def canonical_uri(path):
    """Each path segment decoded once and re-encoded; always ends with ``/``."""
    urlpath = "/".join(urlencode(segment) for segment in unquote(path).split("/"))
    if not urlpath.endswith("/"):
        urlpath += "/"
    return urlpath


def canonical_query_string(query):
    """``query`` maps a decoded name to a value or a list of values; sorted by name, then value."""
    pairs = []
    for key in sorted(query):
        values = query[key]
        if not isinstance(values, list):
            values = [values]
        for value in sorted(str(v) for v in values):
            pairs.append(urlencode(key) + "=" + urlencode(value))
    return "&".join(pairs)


def canonical_headers(headers, signed_headers):
    """``name:value`` lines for the signed headers (names lower-cased, values stripped), newline-ended."""
    lowered = {}
    for key, value in headers.items():
        lowered[key.lower()] = value.strip()
    return "".join(name + ":" + lowered[name] + "\n" for name in signed_headers)


def canonical_request(method, path, query, headers, signed_headers, body):
    """The canonical request: method, URI, query, headers, signed header names, payload hash."""
    payload_hash = _find(headers, HeaderContentSha256)
    if payload_hash is None:
        payload_hash = HexEncodeSHA256Hash(body)
    return "\n".join([
        method.upper(),
        canonical_uri(path),
        canonical_query_string(query),
        canonical_headers(headers, signed_headers),
        ";".join(signed_headers),
        payload_hash,
    ])


def string_to_sign(canonical, sdk_date):
    """``sdk_date`` is the ``X-Sdk-Date`` value (``YYYYMMDDTHHMMSSZ``)."""
    return "%s\n%s\n%s" % (Algorithm, sdk_date, HexEncodeSHA256Hash(canonical.encode("utf-8")))


def signature(string_to_sign_value, secret):
    """Hex HMAC-SHA256 of the string to sign under the secret key."""
    return binascii.hexlify(hmacsha256(secret, string_to_sign_value)).decode()


def authorization_value(sig, access_key, signed_headers):
    """The ``Authorization`` header value."""
    return "%s Access=%s, SignedHeaders=%s, Signature=%s" % (Algorithm, access_key, ";".join(signed_headers), sig)


def now_sdk_date():
    """The current UTC time as an ``X-Sdk-Date`` value."""
    return time.strftime(BasicDateFormat, time.gmtime())


def _find(headers, name):
    name = name.lower()
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _to_bytes(body):
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


# --------------------------------------------------------------------------------------------------
# The guide's public API (names kept for compatibility).
# --------------------------------------------------------------------------------------------------

def findHeader(r, header):
    """The value of ``header`` in ``r.headers``, matched case-insensitively, or None."""
    return _find(r.headers, header)


def StringToSign(canonicalRequest, t):
    """``t`` is a ``datetime``."""
    return string_to_sign(canonicalRequest, datetime.strftime(t, BasicDateFormat))


def CanonicalURI(r):
    return canonical_uri(r.uri)


def CanonicalQueryString(r):
    # The guide sorts list values in place; kept, since callers may rely on it.
    for value in r.query.values():
        if isinstance(value, list):
            value.sort()
    return canonical_query_string(r.query)


def CanonicalHeaders(r, signedHeaders):
    """As the guide: also rewrites each header value, stripped, as UTF-8 bytes read as Latin-1 (the form
    ``http.client`` puts on the wire)."""
    result = canonical_headers(r.headers, signedHeaders)
    for key in list(r.headers):
        r.headers[key] = r.headers[key].strip().encode("utf-8").decode("iso-8859-1")
    return result


def SignedHeaders(r):
    """Every header of the request, lower-cased and sorted."""
    return sorted(key.lower() for key in r.headers)


def CanonicalRequest(r, signedHeaders):
    headers_block = CanonicalHeaders(r, signedHeaders)
    payload_hash = findHeader(r, HeaderContentSha256)
    if payload_hash is None:
        payload_hash = HexEncodeSHA256Hash(r.body)
    return "%s\n%s\n%s\n%s\n%s\n%s" % (r.method.upper(), CanonicalURI(r), CanonicalQueryString(r),
                                       headers_block, ";".join(signedHeaders), payload_hash)


def SignStringToSign(stringToSign, signingKey):
    return signature(stringToSign, signingKey)


def AuthHeaderValue(signature_value, AppKey, signedHeaders):
    return authorization_value(signature_value, AppKey, signedHeaders)


def _parse_query(raw):
    query = {}
    for pair in raw.split("&"):
        key, _, value = pair.partition("=")
        if key != "":
            query.setdefault(unquote(key), []).append(unquote(value))
    return query


class HttpRequest(object):
    """A request to sign: ``HttpRequest(method, url, headers=None, body="")``.

    ``url`` is split as the guide does: ``scheme`` (default ``http``), ``host`` (with any port), ``uri``
    (the path), ``query`` (decoded name -> list of decoded values). ``body`` may be str (UTF-8 encoded)
    or bytes.
    """

    def __init__(self, method="", url="", headers=None, body=""):
        self.method = method
        scheme, sep, rest = url.partition("://")
        if not sep:
            scheme, rest = "http", url
        rest, _, raw_query = rest.partition("?")
        host, slash, path = rest.partition("/")
        self.scheme = scheme
        self.host = host
        self.uri = "/" + path if slash else "/"
        self.query = _parse_query(raw_query)
        self.headers = {} if headers is None else copy.deepcopy(headers)
        self.body = _to_bytes(body)


class Signer(object):
    """Signs ``HttpRequest`` objects with an access key (``Key``) and secret key (``Secret``)."""

    def __init__(self):
        self.Key = ""
        self.Secret = ""

    def __repr__(self):
        return "Signer(Key=%r, Secret=<redacted>)" % (self.Key,)

    def _signature(self, r, t):
        if isinstance(r.body, str):
            r.body = r.body.encode("utf-8")
        signed = SignedHeaders(r)
        canonical = CanonicalRequest(r, signed)
        logger.debug("canonical request: %s", canonical.replace("\n", "|"))
        return SignStringToSign(StringToSign(canonical, t), self.Secret), signed

    def Verify(self, r, authorization):
        """True when ``authorization`` (a signature in hex) is the request's signature."""
        header_time = findHeader(r, HeaderXDate)
        if header_time is None:
            return False
        t = datetime.strptime(header_time, BasicDateFormat)
        expected, _ = self._signature(r, t)
        return hmac.compare_digest(expected.encode("ascii"), _to_bytes(authorization))

    def Sign(self, r):
        """Set ``X-Sdk-Date`` (if absent), ``host`` (if absent), ``Authorization`` and ``content-length``;
        append the canonical query string to ``r.uri``."""
        header_time = findHeader(r, HeaderXDate)
        if header_time is None:
            header_time = now_sdk_date()
            r.headers[HeaderXDate] = header_time
        t = datetime.strptime(header_time, BasicDateFormat)
        if findHeader(r, HeaderHost) is None:
            r.headers["host"] = r.host
        sig, signed = self._signature(r, t)
        r.headers[HeaderAuthorization] = AuthHeaderValue(sig, self.Key, signed)
        r.headers["content-length"] = str(len(r.body))
        query = CanonicalQueryString(r)
        if query != "":
            r.uri = r.uri + "?" + query


# --------------------------------------------------------------------------------------------------
# requests integration.
# --------------------------------------------------------------------------------------------------

try:
    from requests.auth import AuthBase as _AuthBase
except ImportError:  # signing alone needs nothing but the standard library
    _AuthBase = object


class SignerAuth(_AuthBase):
    """``requests`` auth: ``session.post(url, data=body, auth=SignerAuth(ak, sk))``.

    Signs ``content-type`` (when present), ``host`` and ``x-sdk-date``: the headers the gateway needs and
    nothing a proxy or ``requests`` itself might rewrite. The date is taken afresh on every call, and any
    stale ``Authorization`` is replaced, so a retried request is signed anew. ``clock`` returns an
    ``X-Sdk-Date`` value (for tests).
    """

    signed_header_names = ("content-type", "host", "x-sdk-date")

    def __init__(self, access_key, secret_key, clock=now_sdk_date):
        self.access_key = access_key
        self._secret_key = secret_key
        self._clock = clock

    def __repr__(self):
        return "SignerAuth(access_key=%r, secret_key=<redacted>)" % (self.access_key,)

    def __call__(self, prepared):
        parts = urlsplit(prepared.url)
        for name in (HeaderAuthorization, HeaderXDate, HeaderHost):
            prepared.headers.pop(name, None)
        prepared.headers[HeaderXDate] = self._clock()
        prepared.headers[HeaderHost] = parts.netloc
        headers = {}
        for name in self.signed_header_names:
            value = _find(prepared.headers, name)
            if value is not None:
                headers[name] = value
        signed = sorted(headers)
        canonical = canonical_request(prepared.method, parts.path or "/", _parse_query(parts.query), headers,
                                      signed, _to_bytes(prepared.body))
        logger.debug("canonical request: %s", canonical.replace("\n", "|"))
        sig = signature(string_to_sign(canonical, headers["x-sdk-date"]), self._secret_key)
        prepared.headers[HeaderAuthorization] = authorization_value(sig, self.access_key, signed)
        return prepared
