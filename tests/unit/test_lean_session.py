# -*- coding: utf-8 -*-
"""transport.LeanSession: the COS client sends exactly what the SDK sends through a requests session (same
URL, headers, Authorization by the SDK's own CosS3Auth, body), on whichever SDK line is installed (3.11:
qcloud_cos 1.9.x; 3.6: qcloud_cos_v5 1.6.6), and fails the same way; it goes on sending through our
transport's adapter, whose policy (time limit, no redirects, COS's request id) still applies."""
import time

import pytest
import requests
import responses

from cos2oms import settings, storage, transport
from tests import support

ADDRESS = "127.0.0.1:9000"
ENDPOINT = "cos-internal.ap-guangzhou.tencentcos.cn"
KEYS = [
    "oms_source_record/t1/success_object//1250000000/src/a b+c%41 中文?#&=.jpg",
    "oms_source_record/t1/failed_object_long/" + "ab" * 32,
    "oms_source_record/t1/success_object//1/src/tilde~quote'dquote\"<amp&>.txt",
]
ENVIRONMENTS = {
    "address, http, role token": dict(COS_ADDRESS=ADDRESS, COS_SCHEME="http"),
    "address, https, endpoint, no token": dict(COS_ADDRESS=ADDRESS, COS_ENDPOINT=ENDPOINT,
                                               TENCENTCLOUD_SESSIONTOKEN=None),
    "the SDK's endpoint": dict(),
    "endpoint": dict(COS_ENDPOINT=ENDPOINT),
}


class Recorder(transport.DeadlineAdapter):
    """Records each request the way it reaches our adapter, and answers as COS does (nothing is sent)."""

    def __init__(self, answer=None):
        transport.DeadlineAdapter.__init__(self, required_header=storage.COS_REQUEST_ID)
        self.sent = []
        self.answer = answer or (lambda request: (200, {}, b""))

    def send(self, request, **kwargs):
        self.sent.append((request.method, request.url, dict(request.headers), request.body, kwargs.get("timeout")))
        status, headers, body = self.answer(request)
        response = requests.Response()
        response.status_code = status
        response.headers = requests.structures.CaseInsensitiveDict(dict({storage.COS_REQUEST_ID: "r1"}, **headers))
        response._content = body
        response.url = request.url
        response.request = request
        return response



def verdict(exc):
    """What the retry policy makes of an SDK error: whether to try again, and why."""
    found = storage.classify_error(exc)
    return found.retry, found.reason

def text(value):
    """A header value as a string (the SDKs give some as bytes)."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def client(environ, lean, adapter):
    session = transport.new_session({})
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return storage.build_cos_client(settings.load(support.env(**environ)), session=session, lean=lean)


def delete_answer(request):
    body = request.body.decode("utf-8")
    keys = body.split("<Key>")[1:]
    deleted = "".join("<Deleted><Key>%s</Key></Deleted>" % key.split("</Key>")[0] for key in keys)
    return 200, {"Content-Type": "application/xml"}, ("<DeleteResult>%s</DeleteResult>" % deleted).encode("utf-8")


CALLS = [
    ("put_object, empty", lambda c: c.put_object(Bucket=support.LOG_BUCKET, Body=b"", Key=KEYS[0])),
    ("put_object, a body", lambda c: c.put_object(Bucket=support.LOG_BUCKET, Body=u"/1/src/中文".encode("utf-8"),
                                                  Key=KEYS[1])),
    ("delete_object", lambda c: c.delete_object(Bucket=support.LOG_BUCKET, Key=KEYS[2])),
    ("delete_objects", lambda c: c.delete_objects(Bucket=support.LOG_BUCKET, Delete={
        "Object": [{"Key": k} for k in KEYS], "Quiet": "false"})),
    ("list_objects", lambda c: c.list_objects(Bucket=support.LOG_BUCKET, Prefix="oms_source_record/t1/",
                                              Marker=KEYS[0], MaxKeys=1000, EncodingType="url")),
]


@pytest.fixture
def frozen_clock(monkeypatch):
    """The SDK signs with int(time.time()): one value for both clients."""
    monkeypatch.setattr(time, "time", lambda: 1767225600.25)


@pytest.mark.parametrize("environ", sorted(ENVIRONMENTS), ids=str)
@pytest.mark.parametrize("name,call", CALLS, ids=[name for name, _ in CALLS])
def test_the_lean_path_sends_what_the_sdk_sends(environ, name, call, frozen_clock):
    answers = {"delete_objects": delete_answer,
               "list_objects": lambda r: (200, {}, b"<ListBucketResult><Name>b</Name><IsTruncated>false"
                                                   b"</IsTruncated></ListBucketResult>")}
    through_requests, lean = Recorder(answers.get(name)), Recorder(answers.get(name))
    expected = call(client(ENVIRONMENTS[environ], False, through_requests))
    assert call(client(ENVIRONMENTS[environ], True, lean)) == expected
    assert lean.sent == through_requests.sent  # values as given: bytes or not, they go the same way
    [(_, url, headers, _, timeout)] = lean.sent
    headers = dict((name, text(value)) for name, value in headers.items())
    assert headers["Authorization"].startswith("q-sign-algorithm=sha1&q-ak=%s&" % support.COS_ID)
    assert timeout == storage.COS_TIMEOUT
    if "address" in environ:  # the virtual host, while the request goes to the address
        assert url.startswith(("http://%s/" % ADDRESS, "https://%s/" % ADDRESS))
        assert headers["Host"].startswith(support.LOG_BUCKET + ".cos")
    if "no token" in environ:
        assert "x-cos-security-token" not in headers
    elif "endpoint" not in environ or "address" in environ:
        assert headers["x-cos-security-token"] == support.COS_TOKEN


@pytest.mark.parametrize("status,body", [
    (403, b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>no</Message>"
          b"<RequestId>r1</RequestId></Error>"),
    (503, b"<Error><Code>SlowDown</Code><Message>slow</Message></Error>"),
    (404, b""),
])
def test_cos_errors_are_the_sdks(status, body, frozen_clock):
    def failing(request):
        return status, {"Content-Type": "application/xml"}, body

    errors = []
    for lean in (False, True):
        with pytest.raises(storage.CosServiceError) as caught:
            client(ENVIRONMENTS["the SDK's endpoint"], lean, Recorder(failing)).put_object(
                Bucket=support.LOG_BUCKET, Body=b"", Key=KEYS[0])
        errors.append((caught.value.get_status_code(), caught.value.get_error_code(), caught.value.get_error_msg(),
                       storage.describe_error(caught.value), verdict(caught.value)))
    assert errors[0] == errors[1]
    assert errors[1][0] == status


@pytest.fixture
def cos_mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def real_client(lean):
    return storage.build_cos_client(settings.load(support.env(COS_ADDRESS=ADDRESS, COS_SCHEME="http")), lean=lean)


@pytest.mark.parametrize("headers,refusal", [
    ({"Location": "https://elsewhere.example/x", storage.COS_REQUEST_ID: "r1"}, "redirect refused"),
    ({}, "without x-cos-request-id"),
])
def test_the_transport_still_refuses_what_it_refuses(cos_mock, headers, refusal):
    status = 302 if "Location" in headers else 200
    cos_mock.add(responses.PUT, "http://%s/%s" % (ADDRESS, "k"), status=status, headers=headers)
    causes = []
    for lean in (False, True):
        with pytest.raises(storage.CosClientError) as caught:
            real_client(lean).put_object(Bucket=support.LOG_BUCKET, Body=b"", Key="k")
        causes.append((str(caught.value), verdict(caught.value)))
    assert causes[0] == causes[1]
    assert refusal in causes[1][0]


def test_requests_are_time_limited_as_a_whole(cos_mock):
    cos_mock.add(responses.PUT, "http://%s/k" % ADDRESS, headers={storage.COS_REQUEST_ID: "r1"})
    with transport.time_limit(0.0):
        with pytest.raises(storage.CosClientError) as caught:
            real_client(True).put_object(Bucket=support.LOG_BUCKET, Body=b"", Key="k")
    assert "no time left" in str(caught.value)
    assert not cos_mock.calls


class Session(object):
    """A session that records what the lean session hands back to ``session.request``."""

    trust_env = False
    headers = {}

    def __init__(self, trust_env=False):
        self.trust_env = trust_env
        self.requests = []

    def request(self, method, url, **kwargs):
        self.requests.append((method, url, kwargs.get("proxies"), kwargs.get("stream")))
        return "answer"

    def get_adapter(self, url):
        raise AssertionError("the lean path was taken")


@pytest.mark.parametrize("trust_env,kwargs", [
    (True, {}),  # a proxy variable is set: requests reads the environment per request
    (False, {"proxies": {"https": "http://proxy:3128"}}),
    (False, {"stream": True}),  # get_object's body is read later, by the caller
])
def test_what_the_lean_path_does_not_cover_goes_through_the_session(trust_env, kwargs):
    session = Session(trust_env)
    assert transport.LeanSession(session).get("https://b.cos.example/k", timeout=2, **kwargs) == "answer"
    assert session.requests == [("GET", "https://b.cos.example/k", kwargs.get("proxies"), kwargs.get("stream", False))]


@pytest.mark.parametrize("scheme,verify", [("https", "/etc/ssl/bundle.pem"), ("http", True)])
def test_a_ca_bundle_is_handed_on_for_https_only(scheme, verify):
    """requests looks a CA bundle path up on disk for every request, https or not: http never reads it."""
    seen = []

    class Adapter(Recorder):
        def send(self, request, **kwargs):
            seen.append(kwargs["verify"])
            return Recorder.send(self, request, **kwargs)

    session = transport.new_session({"REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"})
    session.mount(scheme + "://", Adapter())
    transport.LeanSession(session).put(scheme + "://b.cos.example/k", data=b"", timeout=2)
    assert seen == [verify]


# ----------------------------------------------------------------------------- the markers' fast listing

LISTINGS = {
    "a page that goes on": b"<?xml version='1.0' encoding='utf-8' ?><ListBucketResult><Name>b</Name>"
    b"<Prefix>oms_source_record/t1/failed_object/</Prefix><Marker></Marker><MaxKeys>2</MaxKeys>"
    b"<IsTruncated>true</IsTruncated><NextMarker>zzz</NextMarker><EncodingType>url</EncodingType>"
    b"<Contents><Key>oms_source_record/t1/failed_object//1/src/a%20b%2Bc%2541%E4%B8%AD.jpg</Key>"
    b"<LastModified>2024-05-01T00:00:00.000Z</LastModified><ETag>\"e\"</ETag><Size>0</Size></Contents>"
    b"<Contents><Key>oms_source_record/t1/failed_object//1/src/b%0A</Key><Size>0</Size></Contents>"
    b"</ListBucketResult>",
    "the last page, one entry, names not encoded": b"<ListBucketResult><Name>b</Name>"
    b"<Prefix>oms_source_record/t1/failed_object/</Prefix><IsTruncated>false</IsTruncated>"
    b"<Contents><Key>oms_source_record/t1/failed_object//1/src/%41</Key></Contents></ListBucketResult>",
    "empty": b"<ListBucketResult><Name>b</Name><Prefix>oms_source_record/t1/failed_object/</Prefix>"
    b"<IsTruncated>false</IsTruncated></ListBucketResult>",
    "another prefix": b"<ListBucketResult><Name>b</Name><Prefix>other/</Prefix><IsTruncated>false</IsTruncated>"
    b"</ListBucketResult>",
    "an entry without a name": b"<ListBucketResult><Name>b</Name><Prefix>oms_source_record/t1/failed_object/"
    b"</Prefix><IsTruncated>false</IsTruncated><Contents><Key></Key></Contents></ListBucketResult>",
    "goes on, no names": b"<ListBucketResult><Name>b</Name><Prefix>oms_source_record/t1/failed_object/</Prefix>"
    b"<IsTruncated>true</IsTruncated></ListBucketResult>",
    "not a listing": b"<Error><Code>NoSuchBucket</Code><Message>no</Message></Error>",
    "says neither": b"<ListBucketResult><Name>b</Name><Prefix>oms_source_record/t1/failed_object/</Prefix>"
    b"</ListBucketResult>",
}


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_the_markers_listing_sends_and_reads_what_list_objects_does(name, frozen_clock, monkeypatch):
    """``MarkerStore.list_page`` through ``listings.list_objects_reader`` (ElementTree) and through the SDK's
    ``list_objects`` (``xml_to_dict``, what it does without the reader): the same request, the same page."""
    from cos2oms import listings, markers

    found = []
    reader = listings.list_objects_reader
    for fast in (False, True):
        monkeypatch.setattr(listings, "list_objects_reader", reader if fast else lambda client: None)
        recorder = Recorder(lambda request: (200, {"Content-Type": "application/xml"}, LISTINGS[name]))
        store = markers.MarkerStore(client(ENVIRONMENTS["the SDK's endpoint"], True, recorder), support.LOG_BUCKET,
                                    "t1")
        found.append((store.list_page(markers.FAILED, marker="oms_source_record/t1/failed_object/", max_keys=2),
                      recorder.sent))
    assert found[1] == found[0]
    assert len(found[1][1]) == 1  # one request, no attempt again for an answer that is no listing
