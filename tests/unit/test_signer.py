# -*- coding: utf-8 -*-
"""signer.py: known answers, drop-in agreement with the guide's signer, the requests hook, properties."""
import hmac
import io
import json
import os
import string
from urllib.parse import quote, unquote

import pytest
import requests
from hypothesis import given, settings, strategies as st

import cos2oms.signer
import signer

CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "signer_cases")
CASES = sorted(os.listdir(CASES_DIR))
GUIDE_SIGNER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reference",
                            "guide_signer.py.txt")


def load_guide_signer():
    """The guide's signer.py, verbatim, as an oracle (see tests/reference)."""
    namespace = {"__name__": "guide_signer"}
    with io.open(GUIDE_SIGNER, encoding="utf-8") as f:
        exec(compile(f.read(), GUIDE_SIGNER, "exec"), namespace)
    return namespace


GUIDE = load_guide_signer()


def read_case(name):
    def text(filename):
        with io.open(os.path.join(CASES_DIR, name, filename), encoding="utf-8") as f:
            return f.read()
    return json.loads(text("request.json")), text("canonical_request.txt"), text("string_to_sign.txt"), \
        text("authorization.txt")


def new_signer(module_signer, ak, sk):
    s = module_signer()
    s.Key, s.Secret = ak, sk
    return s


# -------------------------------------------------------------------- known answers, step by step

@pytest.mark.parametrize("case", CASES)
def test_known_answer_canonical_request(case):
    req, canonical, _, _ = read_case(case)
    r = signer.HttpRequest(req["method"], req["url"], req["headers"], req["body"])
    r.headers.setdefault("host", r.host)
    assert signer.CanonicalRequest(r, signer.SignedHeaders(r)) == canonical


@pytest.mark.parametrize("case", CASES)
def test_known_answer_string_to_sign(case):
    req, canonical, sts, _ = read_case(case)
    assert signer.string_to_sign(canonical, req["headers"]["X-Sdk-Date"]) == sts


@pytest.mark.parametrize("case", CASES)
def test_known_answer_authorization_with_the_guides_api(case):
    req, _, _, authorization = read_case(case)
    r = signer.HttpRequest(req["method"], req["url"], req["headers"], req["body"])
    new_signer(signer.Signer, req["ak"], req["sk"]).Sign(r)
    assert r.headers["Authorization"] == authorization


@pytest.mark.parametrize("case", CASES)
def test_known_answer_authorization_through_requests(case):
    req, _, _, authorization = read_case(case)
    auth = signer.SignerAuth(req["ak"], req["sk"], clock=lambda: req["headers"]["X-Sdk-Date"])
    headers = dict((k, v) for k, v in req["headers"].items() if k != "X-Sdk-Date")
    prepared = requests.Request(req["method"], req["url"], headers=headers,
                                data=req["body"].encode("utf-8") or None, auth=auth).prepare()
    assert prepared.headers["Authorization"] == authorization


# -------------------------------------------------------------------- the guide's behaviour, kept

def test_sign_sets_the_guides_headers_and_query():
    r = signer.HttpRequest("POST", "https://h.example:8443/p?b=2&a=1&a=0", {"content-type": "application/json"},
                           '{"x": 1}')
    assert (r.scheme, r.host, r.uri, r.query) == ("https", "h.example:8443", "/p", {"b": ["2"], "a": ["1", "0"]})
    new_signer(signer.Signer, "AK", "SK").Sign(r)
    assert r.headers["host"] == "h.example:8443"
    assert r.headers["content-length"] == "8"
    assert len(r.headers["X-Sdk-Date"]) == 16 and r.headers["X-Sdk-Date"].endswith("Z")
    assert r.uri == "/p?a=0&a=1&b=2"


def test_verify_accepts_its_own_signature_and_rejects_tampering():
    s = new_signer(signer.Signer, "AK", "SK")
    r = signer.HttpRequest("POST", "https://h.example/v2/p/sync-tasks/t/events",
                           {"content-type": "application/json", "X-Sdk-Date": "20261129T000000Z"}, '{"a": 1}')
    s.Sign(r)
    sig = r.headers.pop("Authorization").rsplit("Signature=", 1)[1]
    r.headers.pop("content-length")
    assert s.Verify(r, sig) is True
    assert s.Verify(r, sig[:-1] + ("0" if sig[-1] != "0" else "1")) is False
    r.body = b'{"a": 2}'
    assert s.Verify(r, sig) is False
    assert s.Verify(signer.HttpRequest("GET", "https://h.example/"), sig) is False  # no X-Sdk-Date


def test_verify_compares_in_constant_time(monkeypatch):
    seen = []
    real = hmac.compare_digest
    monkeypatch.setattr(cos2oms.signer.hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    s = new_signer(signer.Signer, "AK", "SK")
    r = signer.HttpRequest("GET", "https://h.example/", {"X-Sdk-Date": "20261129T000000Z"})
    s.Verify(r, "00")
    assert len(seen) == 1


def test_secret_is_not_in_reprs():
    s = new_signer(signer.Signer, "AK", "very-secret")
    assert "very-secret" not in repr(s)
    assert "very-secret" not in repr(signer.SignerAuth("AK", "very-secret"))


def test_signer_auth_signs_each_send_afresh():
    dates = iter(["20261129T000000Z", "20261129T000001Z"])
    auth = signer.SignerAuth("AK", "SK", clock=lambda: next(dates))
    prepared = requests.Request("POST", "http://127.0.0.1:8080/x", data=b"{}",
                                headers={"Content-Type": "application/json"}).prepare()
    first = auth(prepared).headers["Authorization"]
    again = auth(prepared)  # a retry passes through the hook again: new date, one Authorization
    assert again.headers["X-Sdk-Date"] == "20261129T000001Z"
    assert [k.lower() for k in again.headers].count("authorization") == 1
    assert again.headers["Authorization"] != first
    assert again.headers["host"] == "127.0.0.1:8080"


# -------------------------------------------------------------------- agreement with the guide's signer

segment_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"),
                       max_size=12)
path_strategy = st.lists(segment_text, min_size=1, max_size=5).map(lambda segs: "/" + "/".join(segs))
query_text = st.text(alphabet=string.ascii_letters + string.digits + "%+~ -._*中", max_size=8)
header_value = st.text(alphabet=string.ascii_letters + string.digits + " -.:;/=", max_size=20)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "put", "DELETE"]), path=path_strategy,
       query=st.lists(st.tuples(query_text, query_text), max_size=5),
       extra=st.dictionaries(st.sampled_from(["X-Project-Id", "Accept", "x-custom"]), header_value, max_size=2),
       body=st.text(max_size=40))
def test_identical_to_the_guides_signer(method, path, query, extra, body):
    url = "https://oms.example:443" + quote(path, safe="/%") + (
        "?" + "&".join("%s=%s" % (quote(k, safe=""), quote(v, safe="")) for k, v in query) if query else "")
    headers = dict(extra, **{"Content-Type": "application/json", "X-Sdk-Date": "20261129T101010Z"})
    ours, theirs = signer.HttpRequest(method, url, headers, body), GUIDE["HttpRequest"](method, url, headers, body)
    assert (ours.scheme, ours.host, ours.uri, ours.query, ours.body) == \
        (theirs.scheme, theirs.host, theirs.uri, theirs.query, theirs.body)
    new_signer(signer.Signer, "AK", "SK").Sign(ours)
    new_signer(GUIDE["Signer"], "AK", "SK").Sign(theirs)
    assert ours.headers == theirs.headers
    assert ours.uri == theirs.uri


# -------------------------------------------------------------------- properties of the canonical forms

UNRESERVED_OR_ESCAPE = r"(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*"


@settings(max_examples=300, deadline=None)
@given(path=path_strategy)
def test_canonical_uri_is_encoded_once_and_decodes_back(path):
    import re
    canonical = signer.canonical_uri(quote(path, safe="/"))
    assert canonical.endswith("/")
    segments = canonical.split("/")
    assert all(re.match("^%s$" % UNRESERVED_OR_ESCAPE, s) for s in segments)
    decoded = "/".join(unquote(s) for s in segments[:-1]) if canonical != "/" else ""
    assert decoded.rstrip("/") == path.rstrip("/")


@settings(max_examples=300, deadline=None)
@given(path=path_strategy)
def test_canonical_uri_ignores_how_the_path_was_encoded(path):
    raw = path.replace("%", "")  # a literal % in an unencoded path is decoded by the algorithm itself
    assert signer.canonical_uri(raw) == signer.canonical_uri(quote(raw, safe="/"))


def test_canonical_uri_keeps_empty_segments_and_encodes_reserved():
    assert signer.canonical_uri("/a//b") == "/a//b/"
    assert signer.canonical_uri("/") == "/"
    assert signer.canonical_uri("/a b/+/%7E/~/中") == "/a%20b/%2B/~/~/%E4%B8%AD/"


@settings(max_examples=300, deadline=None)
@given(query=st.dictionaries(query_text, st.lists(query_text, min_size=1, max_size=3), max_size=5))
def test_canonical_query_is_sorted_and_round_trips(query):
    canonical = signer.canonical_query_string(query)
    pairs = [p.split("=", 1) for p in canonical.split("&")] if canonical else []
    assert pairs == sorted(pairs, key=lambda kv: (unquote(kv[0]), unquote(kv[1])))
    back = {}
    for k, v in pairs:
        back.setdefault(unquote(k), []).append(unquote(v))
    assert back == dict((k, sorted(v)) for k, v in query.items())


def test_canonical_query_repeated_keys_and_specials():
    assert signer.canonical_query_string({"b": ["2", "1"], "a": "x y", "c": ["+~%"]}) == "a=x%20y&b=1&b=2&c=%2B~%25"


@settings(max_examples=200, deadline=None)
@given(headers=st.dictionaries(st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=10),
                               header_value, min_size=1, max_size=5))
def test_canonical_headers_agree_with_the_guides(headers):
    headers = dict((k, v) for k, v in headers.items() if k.lower() == k or k.lower() not in headers)
    signed = sorted(set(k.lower() for k in headers))
    expected = GUIDE["CanonicalHeaders"](GUIDE["HttpRequest"]("GET", "https://h.example/", dict(headers)), signed)
    assert signer.canonical_headers(headers, signed) == expected


def test_canonical_headers_example():
    headers = {"Content-Type": " application/json ", "HOST": "h.example", "X-Sdk-Date": "20261129T000000Z"}
    assert signer.canonical_headers(headers, ["content-type", "host", "x-sdk-date"]) == \
        "content-type:application/json\nhost:h.example\nx-sdk-date:20261129T000000Z\n"
