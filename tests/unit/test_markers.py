# -*- coding: utf-8 -*-
"""markers and storage: marker names, one SDK attempt per call whatever the SDK line, calls bounded by the
invocation's time through the transport's per-thread limit."""
import pytest

from cos2oms import listings, logs, markers, settings, storage, transport
from cos2oms.deadline import Deadline
from tests import support
from tests.unit.loopback import Loopback, Reply


def test_marker_names_are_the_guides():
    assert markers.marker_key("t1", markers.SUCCESS, "/125/b/a b") == \
        "oms_source_record/t1/success_object//125/b/a b"
    assert markers.marker_key("t1", markers.FAILED, "/125/b/x") == "oms_source_record/t1/failed_object//125/b/x"


@pytest.mark.parametrize("version,retry", [((1, 6, 6), 1), ((1, 8, 2), 1), ((1, 8, 3), 0), ((1, 9, 44), 0),
                                           ((), 1)])
def test_one_attempt_whatever_the_sdk_line(version, retry):
    assert storage.single_attempt_retry(version) == retry


COS_ID_HEADER = {"x-cos-request-id": "NjU0"}
ERROR_503 = b"<?xml version='1.0'?><Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>"


def real_store(server):
    """A MarkerStore over the real COS client (whichever SDK line is installed), sending to ``server``."""
    s = settings.load(support.env(COS_ADDRESS="%s:%d" % server.address, COS_SCHEME="http",
                                  COS_ENDPOINT="cos.internal"))
    return markers.MarkerStore(storage.build_cos_client(s), support.LOG_BUCKET, support.TASK)


def test_the_real_client_makes_one_request_per_call_whatever_the_sdk_line():
    """The caller decides what is tried again, within the invocation's time: the SDK never retries."""
    with Loopback(Reply(503, COS_ID_HEADER, ERROR_503)) as cos:
        with pytest.raises(storage.CosServiceError):
            real_store(cos).client.put_object(Bucket=support.LOG_BUCKET, Body=b"", Key="k")
    assert len(cos.received) == 1


def test_a_marker_write_redirected_elsewhere_fails_at_once_and_the_target_hears_nothing():
    with Loopback() as target, Loopback(Reply(307, dict(COS_ID_HEADER, Location=target.url + "/k"))) as cos:
        cause = real_store(cos).write(markers.FAILED, "/1/b/k")
    assert cause is not None and "redirect" in cause
    assert len(cos.received) == 1 and target.received == []


def test_a_200_without_coss_request_id_is_not_a_stored_marker():
    """A captive portal's or a proxy's page answering 200 would otherwise count as the marker written."""
    with Loopback(Reply(200, body=b"<html>Log in to the Wi-Fi</html>")) as portal:
        cause = real_store(portal).write(markers.SUCCESS, "/1/b/k")
    assert cause is not None and storage.COS_REQUEST_ID in cause


def test_a_marker_write_is_cut_at_the_invocations_end_however_slowly_cos_answers():
    """COS trickling its answer (10 s, a byte every 50 ms) never holds the write past the invocation."""
    with Loopback(Reply(200, COS_ID_HEADER, b"x" * 200, trickle=0.05)) as cos:
        cause = real_store(cos).write(markers.SUCCESS, "/1/b/k", Deadline(1.0))
        assert cos.trickled.get(timeout=5.0) is False  # the connection was cut before the answer was whole
    assert cause is not None


class HangingCos(object):
    """A client whose calls each take the whole time the transport allows them, on a fake clock."""

    def __init__(self, clock):
        self.clock = clock
        self.limits = []

    def put_object(self, Bucket, Body, Key):
        left = transport.time_left()
        self.limits.append(left)
        self.clock[0] += storage.COS_TIMEOUT if left is None else left
        raise storage.CosClientError("Read timed out")


def test_marker_writes_stay_within_the_invocation(caplog):
    clock = [0.0]
    client = HangingCos(clock)
    store = markers.MarkerStore(client, support.LOG_BUCKET, support.TASK, sleep=lambda s: None)
    deadline = Deadline(3.0, clock=lambda: clock[0], started=0.0)
    clock[0] = 2.4  # OMS used the request budget
    causes = [store.write(markers.FAILED, "/1/b/k%d" % i, deadline) for i in range(5)]
    assert clock[0] <= 3.0 - markers.END_MARGIN + 0.01
    assert all(limit is not None and limit <= storage.COS_TIMEOUT for limit in client.limits)
    assert causes[-1] == "no time left in the invocation"
    assert all(cause for cause in causes)
    assert len([r for r in caplog.records if "marker not written" in r.getMessage()]) == 5


def test_unbounded_calls_get_the_cos_timeout_as_a_whole():
    client = HangingCos([0.0])
    store = markers.MarkerStore(client, support.LOG_BUCKET, support.TASK, sleep=lambda s: None)
    store.write(markers.FAILED, "/1/b/k", None)
    assert len(client.limits) == markers.COS_ATTEMPTS
    assert all(0 < limit <= storage.COS_TIMEOUT for limit in client.limits)


@pytest.mark.parametrize("text", ["/1/b/a\nb", "a\rb", "a\u2028b", "a\x85b", "a\x00b", "a\x1bb", "a\x7fb"])
def test_nothing_shown_in_a_log_line_can_split_it(text):
    shown = logs.show(text)
    assert len(shown.splitlines()) == 1 and shown.isprintable()


def test_network_text_is_capped():
    shown = logs.short("x" * 10 ** 6)
    assert len(shown) < logs.TEXT_CAP + 40 and shown.endswith("...(+%d chars)" % (10 ** 6 - logs.TEXT_CAP))


@pytest.mark.parametrize("name,safe", [
    ("a/b c+%41 中文", True), ("a\x01", False), ("cr\rlf", False), ("tab\tx", False), (" lead", False),
    ("trail ", False), ("del\x7f", False), ("c1\x85", False), ("nbsp\xa0inside", True), ("\ufffe", False),
])
def test_names_a_batch_delete_cannot_carry_unchanged(name, safe):
    assert markers.xml_safe(name) is safe


def test_long_keys_get_a_hashed_marker_name_within_cos_limits():
    key = "/1253970026/b/" + "长" * 280  # 854 bytes: the guide's name would be over COS's 850
    name = markers.marker_key("t1", markers.FAILED, key)
    assert name.startswith("oms_source_record/t1/failed_object_long/") and len(name.encode("utf-8")) < 200
    assert markers.is_long("t1", markers.FAILED, name)
    assert markers.marker_key("t1", markers.FAILED, key[:-1]) != name
    short = "/1253970026/b/" + "x" * 700
    assert markers.marker_key("t1", markers.FAILED, short) == "oms_source_record/t1/failed_object/" + short


@pytest.mark.parametrize("object_key", ["a/./b", "tail/..", "up/../x", "./lead", "tail/.", "../up"])
def test_names_a_url_path_would_resolve_get_a_hashed_marker_name(object_key):
    key = "/1253970026/b/" + object_key
    name = markers.marker_key("t1", markers.FAILED, key)
    assert markers.is_long("t1", markers.FAILED, name)
    assert "/./" not in name and "/../" not in name and not name.endswith((".", ".."))


@pytest.mark.parametrize("object_key", ["x..y", ".hidden", "a/...", "dots../b", "a.b/c."])
def test_dots_that_are_not_path_segments_keep_the_guides_name(object_key):
    key = "/1253970026/b/" + object_key
    assert markers.marker_key("t1", markers.FAILED, key) == "oms_source_record/t1/failed_object/" + key


class ListingCos(object):
    """A client answering ``list_objects`` with the given pages, recording the markers asked for."""

    def __init__(self, *pages):
        self.pages = list(pages)
        self.asked = []

    def list_objects(self, Bucket, Prefix, Marker, MaxKeys, EncodingType):
        self.asked.append(Marker)
        return self.pages.pop(0)


PREFIX = markers.marker_prefix(support.TASK, markers.FAILED)


def page(*names, **fields):
    answer = {"Name": support.LOG_BUCKET, "Prefix": PREFIX, "EncodingType": "url", "IsTruncated": "false",
              "Contents": [{"Key": PREFIX + n} for n in names]}
    answer.update(fields)
    return answer


def listed(*pages):
    store = markers.MarkerStore(ListingCos(*pages), support.LOG_BUCKET, support.TASK)
    return store.list_page(markers.FAILED)


def test_a_listing_page_is_decoded_when_it_says_it_is_encoded():
    names, following, cause = listed(page("/1/b/a%2Bb", "/1/b/x%0Dy"))
    assert (names, following, cause) == ([PREFIX + "/1/b/a+b", PREFIX + "/1/b/x\ry"], None, None)


def test_a_listing_page_that_is_not_encoded_is_taken_as_it_is():
    names, _, cause = listed(page("/1/b/%41", "/1/b/a+b", EncodingType=None))
    assert cause is None and names == [PREFIX + "/1/b/%41", PREFIX + "/1/b/a+b"]


def test_the_next_page_starts_after_the_last_name_listed_whatever_next_marker_says():
    names, following, cause = listed(page("/1/b/k0", IsTruncated="true", NextMarker=PREFIX + "/1/b/k9"))
    assert cause is None and following == PREFIX + "/1/b/k0"


@pytest.mark.parametrize("answer,problem", [
    ({"Code": "SlowDown", "Message": "later"}, "not one"),  # an error document answered with 200
    ({"html": {"body": "Log in"}}, "not one"),  # a portal's page
    (page("/1/b/k", Prefix="oms_source_record/"), "another prefix"),
    (page("/1/b/k1", "/1/b/k0"), "out of order"),
    (page("/1/b/k0", "/1/b/k0"), "out of order"),  # the same name twice
    (dict(page(), Contents=[{"Key": "elsewhere/k"}]), "outside"),
    (page(IsTruncated="true"), "sent no keys"),
    (page("/1/b/k", IsTruncated="maybe"), "does not say"),
    (dict(page(), Contents=[{"Size": "0"}]), "without a name"),
], ids=["error-document", "portal", "other-prefix", "backwards", "duplicate", "outside", "truncated-empty",
        "truncated-unknown", "nameless"])
def test_an_answer_that_is_not_this_listing_is_an_error_never_the_end(answer, problem):
    names, following, cause = listed(answer)
    assert (names, following) == ([], None) and problem in cause


class FailingCos(object):
    def __init__(self):
        self.calls = 0

    def put_object(self, Bucket, Body, Key):
        self.calls += 1
        raise storage.CosServiceError("PUT", "<Error><Code>InternalError</Code></Error>", 503)


def test_no_pause_before_a_second_attempt_that_would_end_past_the_invocation():
    clock = [2.82]
    pauses = []
    store = markers.MarkerStore(FailingCos(), support.LOG_BUCKET, support.TASK, sleep=pauses.append,
                                rand=lambda: 0.5)
    deadline = Deadline(3.0, clock=lambda: clock[0], started=0.0)
    cause = store.write(markers.FAILED, "/1/b/k", deadline)
    assert store.client.calls == 1 and pauses == []  # 0.18 s left: a call, but not a 0.125 s pause and a call
    assert "no time left" in cause


# ----------------------------------------------------------------------------- listings and look-ups for the commands

def dated(*names, **fields):
    answer = page(*names, **fields)
    for item in answer["Contents"]:
        item.update(Size="0", LastModified="2024-05-01T10:20:00.500Z", ETag='"d41d8cd98f00b204e9800998ecf8427e"')
    return answer


def test_the_commands_listing_stops_at_its_limit_and_says_whether_it_went_on():
    client = ListingCos(dated("/1/b/k0", "/1/b/k1", IsTruncated="true"), dated("/1/b/k2", IsTruncated="true"))
    store = markers.MarkerStore(client, support.LOG_BUCKET, support.TASK)
    got = list(store.listing(PREFIX, "failed markers", limit=3, page_size=2, sleep=lambda s: None))
    assert [([e.key[len(PREFIX):] for e in entries], goes_on) for entries, goes_on in got] == [
        (["/1/b/k0", "/1/b/k1"], True), (["/1/b/k2"], True)]
    assert client.asked == ["", PREFIX + "/1/b/k1"]
    assert got[0][0][0].mtime == 1714558800.5  # LastModified, in epoch seconds


def test_the_commands_listing_refuses_an_answer_that_is_not_one_after_trying_again():
    client = ListingCos(*[{"Code": "SlowDown", "Message": "later"}] * 3)
    store = markers.MarkerStore(client, support.LOG_BUCKET, support.TASK)
    pauses = []
    with pytest.raises(listings.ListingError) as raised:
        list(store.listing(PREFIX, "failed markers", sleep=pauses.append))
    assert len(client.asked) == listings.ATTEMPTS == 3 and len(pauses) == 2
    assert raised.value.last == "COS answered a listing that is not one"


class HeadCos(object):
    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked = []

    def head_object(self, Bucket, Key):
        self.asked.append(Key)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_look_up_is_none_for_no_marker_and_tries_a_network_error_again():
    missing = storage.CosServiceError("HEAD", {"code": "NoSuchResource", "message": "m"}, 404)
    store = markers.MarkerStore(HeadCos(missing), support.LOG_BUCKET, support.TASK)
    assert store.head("m") is None and store.client.asked == ["m"]
    found = {"Last-Modified": "Wed, 01 May 2024 10:20:00 GMT"}
    store = markers.MarkerStore(HeadCos(storage.CosClientError("reset"), found), support.LOG_BUCKET, support.TASK)
    assert store.head("m", sleep=lambda s: None) == found and store.client.asked == ["m", "m"]


def test_a_refused_look_up_is_not_tried_again():
    refused = storage.CosServiceError("HEAD", {"code": "AccessDenied", "message": "m"}, 403)
    store = markers.MarkerStore(HeadCos(refused, {}), support.LOG_BUCKET, support.TASK)
    with pytest.raises(listings.ListingError) as raised:
        store.head("m", sleep=lambda s: None)
    assert raised.value.status == 403 and store.client.asked == ["m"]


class ClientWithoutReads(object):
    """A COS client that can list and write but not read objects (an SDK, or a fake, lacking ``get_object``)."""

    def put_object(self, **kwargs):
        return {}


def test_a_call_the_client_cannot_make_is_a_cause_never_an_exception():
    """Every MarkerStore call answers with a cause: status and the audit read documents through it and must
    report an unreadable one, not stop."""
    store = markers.MarkerStore(ClientWithoutReads(), support.LOG_BUCKET, support.TASK)
    data, cause = store.read_document("oms_source_record/%s/audit/state.json" % support.TASK)
    assert data is None and "AttributeError" in cause
    assert store.write(markers.SUCCESS, "/1/b/k") is None
