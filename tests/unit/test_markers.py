# -*- coding: utf-8 -*-
"""markers and storage: marker names, one SDK attempt per call whatever the SDK line, calls bounded by the
invocation's time through the transport's per-thread limit."""
import pytest

from cos2oms import logs, markers, settings, storage, transport
from cos2oms.deadline import Deadline
from tests import support


def test_marker_names_are_the_guides():
    assert markers.marker_key("t1", markers.SUCCESS, "/125/b/a b") == \
        "oms_source_record/t1/success_object//125/b/a b"
    assert markers.marker_key("t1", markers.FAILED, "/125/b/x") == "oms_source_record/t1/failed_object//125/b/x"


@pytest.mark.parametrize("version,retry", [((1, 6, 6), 1), ((1, 8, 2), 1), ((1, 8, 3), 0), ((1, 9, 44), 0),
                                           ((), 1)])
def test_one_attempt_whatever_the_sdk_line(version, retry):
    assert storage.single_attempt_retry(version) == retry


def test_sdk_version_is_read():
    assert len(storage.sdk_version()) == 3 and storage.sdk_version() >= (1, 6, 6)


def test_real_client_sends_through_our_transport():
    s = settings.load(support.env(COS_ADDRESS="127.0.0.1:9000", COS_SCHEME="http", COS_ENDPOINT="cos.internal"))
    client = storage.build_cos_client(s)
    assert isinstance(client, storage.CosS3Client)
    session = client._session.session  # the SDK sends through a storage.LeanSession over our session
    assert isinstance(session, transport.Session)  # redirects refused, requests time-limited
    assert isinstance(session.get_adapter("http://127.0.0.1:9000/"), transport.DeadlineAdapter)


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
    store = markers.MarkerStore(FailingCos(), support.LOG_BUCKET, support.TASK, sleep=pauses.append)
    deadline = Deadline(3.0, clock=lambda: clock[0], started=0.0)
    cause = store.write(markers.FAILED, "/1/b/k", deadline)
    assert store.client.calls == 1 and pauses == []  # 0.18 s left: a call, but not a pause and a call
    assert "no time left" in cause
