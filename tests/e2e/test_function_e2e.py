"""The function end to end: ``index.main_handler`` over real HTTP on loopback, with the real COS SDK.

OMS is ``local.oms_server`` (every request's signature re-derived with huaweicloudsdkcore), the log bucket
is ``local.cos_server`` (moto behind a COS-auth adapter). Each test configures the function's environment
and gives ``index`` a fresh client cache, so the real COS client is built against the loopback COS server.
The recurring question is "was any key lost?": every created object must end up accepted by OMS with a
success marker, or with a failed marker, or at least named in an ERROR line when the marker itself fails.
"""

import logging
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import index
from cos2oms import handler, logs, retry, storage
from cos2oms import markers as marker_names
from local import world
from tests import support

SUCCESS, FAILED = marker_names.SUCCESS, marker_names.FAILED
#: Seconds a bounded invocation may overrun its limit on a busy machine (thread scheduling, not the function).
LIMIT_TOLERANCE = 0.5
LOG_BUCKET = support.LOG_BUCKET  # omslog-1253970026: the loop-guard record below lives in this bucket
NAMES = support.TRICKY_NAMES + ["~'\""]
FUNCTION_LOGGERS = ("cos2oms",) + logs.QUIET_LOGGERS


# ============================================================================ set-up

def configure(monkeypatch, oms_server, cos_server, bucket=LOG_BUCKET, **overrides):
    """The function's environment against these servers (``None`` removes a variable), a fresh client cache,
    and a short back-off base so that retries do not sleep for long (the back-off code itself still runs)."""
    world.install(world.environment(oms_server, cos_server, log_bucket=bucket, **overrides), monkeypatch)
    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
    monkeypatch.setattr(retry, "BACKOFF_BASE", 0.01)


@pytest.fixture(autouse=True)
def _restore_logger_levels():
    """``main_handler`` sets its loggers' levels (LOG_LEVEL, and the SDK's held at WARNING): undo that."""
    levels = {name: logging.getLogger(name).level for name in FUNCTION_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def fn(monkeypatch, oms_server, cos_server):
    """The function configured against this test's servers; ``fn.setenv`` changes a variable."""
    configure(monkeypatch, oms_server, cos_server)
    return monkeypatch


def closed_port():
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_cos_answered_everything(cos_server, timeout=5.0):
    """A request still in the COS server when it stops would recreate its bucket in moto's global state
    (then held by no running server): wait for the answers the client gave up on."""
    deadline = time.monotonic() + timeout
    while len(cos_server.requests) < sum(cos_server.counts.values()) and time.monotonic() < deadline:
        time.sleep(0.01)


def markers(cos_server, kind):
    return cos_server.keys(LOG_BUCKET, support.marker(kind, ""))


def marker_set(kind, keys):
    return sorted(support.marker(kind, k) for k in keys)


def verified_batches(oms_server):
    """The keys of each OMS request, as OMS decodes them; every request must have verified."""
    assert [r.verified for r in oms_server.requests] == [True] * oms_server.request_count
    return [r.keys_unquote for r in oms_server.requests]


def events(*names, **kwargs):
    return support.event(*[support.record(n, **kwargs) for n in names])


def error_lines(caplog):
    """The function's own ERROR lines (the COS SDK logs its errors too)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("cos2oms")]


# ============================================================================ the happy path

@pytest.mark.parametrize("name", ["cos_put_console.json", "cos_post_console.json", "cos_put_captured.json"])
def test_console_and_captured_events_are_accepted_and_recorded(fn, oms_server, cos_server, name):
    event = support.load_event(name)
    key = event["Records"][0]["cos"]["cosObject"]["key"]
    assert index.main_handler(event, {"request_id": "e2e", "time_limit_in_ms": 3000}) is True
    assert verified_batches(oms_server) == [[key]]
    assert markers(cos_server, SUCCESS) == [support.marker(SUCCESS, key)]
    assert markers(cos_server, FAILED) == []


@pytest.mark.parametrize("name", NAMES)
def test_tricky_key_reaches_oms_intact_with_either_decode_and_names_its_marker(fn, oms_server, cos_server, name):
    key = support.event_key(name)
    assert index.main_handler(events(name), None) is True
    assert oms_server.received_keys("unquote") == [key]
    assert oms_server.received_keys("unquote_plus") == [key]
    assert verified_batches(oms_server) == [[key]]
    assert cos_server.keys(LOG_BUCKET) == ["oms_source_record/%s/success_object/%s" % (support.TASK, key)]


def test_23_records_make_three_signed_requests_in_event_order_and_23_markers(fn, oms_server, cos_server):
    names = ["f%02d.bin" % i for i in range(23)]
    keys = [support.event_key(n) for n in names]
    assert index.main_handler(events(*names), None) is True
    assert verified_batches(oms_server) == [keys[:10], keys[10:20], keys[20:]]
    assert markers(cos_server, SUCCESS) == marker_set(SUCCESS, keys)


def test_removal_events_send_nothing_and_write_no_marker(fn, oms_server, cos_server):
    event = events("gone.txt", "gone2.txt", event_name="cos:ObjectRemove:Delete")
    assert index.main_handler(event, None) is True
    assert oms_server.request_count == 0
    assert cos_server.counts == {}


def test_mixed_event_sends_only_the_creations(fn, oms_server, cos_server):
    no_name = support.record("noname.txt")
    del no_name["event"]["eventName"]  # absent eventName: a creation
    event = support.event(support.record("new.txt"), support.record("old.txt", event_name="cos:ObjectRemove:Delete"),
                          support.record("copy.txt", event_name="cos:ObjectCreated:Copy"), no_name)
    keys = [support.event_key(n) for n in ("new.txt", "copy.txt", "noname.txt")]
    assert index.main_handler(event, None) is True
    assert verified_batches(oms_server) == [keys]
    assert markers(cos_server, SUCCESS) == marker_set(SUCCESS, keys)


def test_loop_guard_skips_the_record_of_our_own_marker(fn, oms_server, cos_server):
    assert index.main_handler(events("a.txt"), None) is True
    [written] = cos_server.keys(LOG_BUCKET)
    # The record COS would deliver if the trigger also watched the log bucket: the marker just written.
    name, appid = LOG_BUCKET.rsplit("-", 1)
    own = support.record(written, bucket=name, appid=appid)
    oms_server.clear()
    cos_server.clear()
    assert index.main_handler(support.event(own), None) is True
    assert oms_server.request_count == 0
    assert cos_server.counts == {}


# ============================================================================ faults: no key lost

def test_oms_refusing_connections_leaves_failed_markers(fn, oms_server, cos_server, caplog):
    fn.setenv("SYNC_URL", "http://127.0.0.1:%d%s" % (closed_port(), support.SYNC_PATH))
    assert index.main_handler(events("a.txt", "b.txt"), None) is False
    assert markers(cos_server, FAILED) == marker_set(FAILED, [support.event_key("a.txt"), support.event_key("b.txt")])
    assert markers(cos_server, SUCCESS) == []
    assert any("attempts=3" in line and "ConnectionError" in line for line in error_lines(caplog))


def test_oms_hanging_past_oms_timeout_is_retried_then_failed(fn, oms_server, cos_server):
    fn.setenv("OMS_TIMEOUT", "0.5")
    fn.setenv("OMS_MAX_ATTEMPTS", "2")
    oms_server.script(("hang", 10), ("hang", 10))
    started = time.monotonic()
    assert index.main_handler(events("a.txt"), None) is False
    assert 1.0 <= time.monotonic() - started < 5.0  # two attempts of 0.5 s, not the 10 s hang
    assert [r.action for r in oms_server.requests] == ["hang", "hang"]
    assert markers(cos_server, FAILED) == [support.marker(FAILED, support.event_key("a.txt"))]


@pytest.mark.parametrize("script", [["reset"], [429], [500, 503]], ids=["reset", "429", "5xx-twice"])
def test_transient_oms_failures_are_retried_until_accepted(fn, oms_server, cos_server, script):
    oms_server.script(*script)
    assert index.main_handler(events("a.txt"), None) is True
    assert oms_server.request_count == len(script) + 1
    assert all(r.verified for r in oms_server.requests)
    assert markers(cos_server, SUCCESS) == [support.marker(SUCCESS, support.event_key("a.txt"))]
    assert markers(cos_server, FAILED) == []


def test_400_is_final_for_its_batch_only(fn, oms_server, cos_server, caplog):
    """Not retried, and unlike 401/403 it does not stop the next batch."""
    oms_server.script(400)
    names = ["k%02d" % i for i in range(12)]
    keys = [support.event_key(n) for n in names]
    assert index.main_handler(events(*names), None) is False
    assert [r.status for r in oms_server.requests] == [400, 200]
    assert markers(cos_server, FAILED) == marker_set(FAILED, keys[:10])
    assert markers(cos_server, SUCCESS) == marker_set(SUCCESS, keys[10:])
    assert any("OMS.0001" in line and keys[0] in line for line in error_lines(caplog))


@pytest.mark.parametrize("count", [1, 25])
def test_401_from_a_wrong_secret_key_is_sent_once_whatever_the_key_count(fn, oms_server, cos_server, caplog, count):
    """A real signature mismatch (wrong HW_SK): five of them lock the access key, so one per run at most."""
    fn.setenv("HW_SK", "wrong" + oms_server.sk[5:])
    keys = [support.event_key("k%02d" % i) for i in range(count)]
    assert index.main_handler(events(*["k%02d" % i for i in range(count)]), None) is False
    assert [(r.verified, r.status) for r in oms_server.requests] == [(False, 401)]
    assert markers(cos_server, FAILED) == marker_set(FAILED, keys)
    assert any("APIG.0301" in line for line in error_lines(caplog))


def test_hang_within_scf_time_limit_returns_in_time_with_the_failed_marker(fn, oms_server, cos_server):
    """Default OMS_TIMEOUT (5 s) is longer than the 3 s limit: the handler must still finish in time."""
    oms_server.script(("hang", 10))
    started = time.monotonic()
    assert index.main_handler(events("a.txt"), {"time_limit_in_ms": 3000}) is False
    assert time.monotonic() - started < 3.0 + LIMIT_TOLERANCE
    assert markers(cos_server, FAILED) == [support.marker(FAILED, support.event_key("a.txt"))]


def test_slow_log_bucket_still_returns_within_the_time_limit(fn, oms_server, cos_server, caplog):
    """Scaled down for speed: COS_TIMEOUT 0.5 s, a 1 s limit, a log bucket answering after 0.6 s, three keys
    that OMS refuses: their failures must all be visible before SCF would stop the invocation, and since no
    failed marker could be stored, the invocation raises so that SCF retries or dead-letters the event."""
    fn.setattr(storage, "COS_TIMEOUT", 0.5)
    fn.setenv("LOG_BUCKET", "slowlog-1253970026")
    cos_server.latency = 0.6
    oms_server.script(400)
    names = ["a.txt", "b.txt", "c.txt"]
    started = time.monotonic()
    with pytest.raises(index.SyncFailed, match="3 object"):
        index.main_handler(events(*names), {"time_limit_in_ms": 1000})
    elapsed = time.monotonic() - started
    wait_until_cos_answered_everything(cos_server)
    assert all(any(support.event_key(n) in line for line in error_lines(caplog)) for n in names)
    assert elapsed < 1.0 + LIMIT_TOLERANCE


@pytest.mark.parametrize("fault, cause", [("unreachable", "CosClientError"), ("500", "COS answered 500")])
def test_log_bucket_failure_keeps_the_oms_outcome_and_names_the_key(fn, oms_server, cos_server, caplog, fault,
                                                                    cause):
    if fault == "unreachable":
        fn.setenv("COS_ADDRESS", "127.0.0.1:%d" % closed_port())
    else:
        cos_server.fail_all(500)
    assert index.main_handler(events("a.txt"), None) is True
    assert verified_batches(oms_server) == [[support.event_key("a.txt")]]
    errors = error_lines(caplog)
    assert len(errors) == 1 and errors[0].startswith('marker not written key="%s" ' % support.event_key("a.txt"))
    assert cause in errors[0]


def test_raise_on_failure_raises_after_writing_the_failed_marker(fn, oms_server, cos_server):
    fn.setenv("RAISE_ON_FAILURE", "true")
    oms_server.script(400)
    with pytest.raises(index.SyncFailed):
        index.main_handler(events("a.txt"), None)
    assert markers(cos_server, FAILED) == [support.marker(FAILED, support.event_key("a.txt"))]


# ============================================================================ bad input

@pytest.mark.parametrize("event", [None, [], "Records", 42, {}, {"records": []}, {"Records": {}},
                                   {"Records": None}, {"Records": "abc"}])
def test_an_event_that_is_not_a_cos_event_raises_value_error_and_sends_nothing(fn, oms_server, cos_server, event):
    with pytest.raises(ValueError, match="Records"):
        index.main_handler(event, None)
    assert oms_server.request_count == 0
    assert cos_server.counts == {}


def test_malformed_records_fail_but_the_good_ones_are_synced(fn, oms_server, cos_server, caplog):
    no_key = support.record("x")
    del no_key["cos"]["cosObject"]["key"]
    int_key = support.record("y")
    int_key["cos"]["cosObject"]["key"] = 42
    event = support.event("not a record", support.record("good1.txt"), no_key, None, int_key, {},
                          support.record("good2.txt"))
    good = [support.event_key("good1.txt"), support.event_key("good2.txt")]
    assert index.main_handler(event, None) is False
    assert verified_batches(oms_server) == [good]
    assert cos_server.keys(LOG_BUCKET) == marker_set(SUCCESS, good)
    assert sum("malformed" in line for line in error_lines(caplog)) == 5


# ============================================================================ fuzz

FUZZ_BUCKET = "fuzzlog-1253970026"  # moto's bucket names are global: not the per-test servers' bucket


@pytest.fixture(scope="module")
def shared_servers():
    with world.World() as shared:
        yield shared.oms, shared.cos


def _json():
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


ANY_JSON = _json()
# Keys as COS delivers them, and arbitrary text (lone surrogates included: json.loads can produce them).
NAME = st.text(st.characters(exclude_categories=()), max_size=12)
KEY = st.builds(lambda bucket, name: "/1253970026/%s/%s" % (bucket, name),
                st.sampled_from(["testpic", "fuzzlog"]), st.one_of(NAME, st.just("oms_source_record/x"))) | NAME


def _or_junk(strategy):
    """Usually ``strategy``, sometimes any JSON value in its place."""
    return st.one_of(strategy, strategy, strategy, ANY_JSON)


def _record(required):
    """A record of the real shape. ``required``: cos.cosObject.key, cosBucket and eventName are present
    (the usual case); otherwise every field is optional and any of them may be junk."""
    wrap = (lambda s: s) if required else _or_junk

    def part(fields, extra):
        if required:
            return st.fixed_dictionaries(fields, optional=extra)
        return st.fixed_dictionaries({}, optional=dict(fields, **extra))

    cos_object = part({"key": wrap(KEY)}, {"size": ANY_JSON, "url": ANY_JSON, "meta": ANY_JSON, "vid": ANY_JSON})
    cos_bucket = part({"name": wrap(st.sampled_from(["testpic", "fuzzlog"])), "appid": wrap(st.just("1253970026"))},
                      {"region": ANY_JSON})
    cos = part({"cosObject": wrap(cos_object), "cosBucket": wrap(cos_bucket)}, {"cosSchemaVersion": ANY_JSON})
    event = part({"eventName": wrap(EVENT_NAME)}, {"eventTime": ANY_JSON, "eventSource": ANY_JSON})
    return part({"cos": wrap(cos), "event": wrap(event)}, {})


EVENT_NAME = st.sampled_from(["cos:ObjectCreated:Put", "cos:ObjectCreated:Post", "cos:ObjectCreated:Copy",
                              "cos:ObjectCreated:", "cos:ObjectRemove:Delete", "", "cos:objectcreated:put"])
RECORD = st.one_of(_record(required=True), _record(required=True), _record(required=False), ANY_JSON)
EVENT = st.one_of(
    st.fixed_dictionaries({"Records": st.lists(RECORD, max_size=4)}, optional={"extra": ANY_JSON}),
    st.fixed_dictionaries({}, optional={"Records": ANY_JSON}),
    ANY_JSON,
)


def is_cos_event(event):
    return isinstance(event, dict) and isinstance(event.get("Records"), list)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=EVENT)
def test_fuzzed_events_give_a_bool_or_value_error_and_lose_no_accepted_key(monkeypatch, caplog, shared_servers,
                                                                           event):
    """Only a malformed event as a whole raises (ValueError); otherwise a bool. Every key OMS accepted has
    its success marker, or an ERROR line naming it (moto refuses some names, e.g. with a newline). True
    comes with no ERROR line but a failed marker write's; False always with an ERROR line."""
    oms_srv, cos_srv = shared_servers
    configure(monkeypatch, oms_srv, cos_srv, bucket=FUZZ_BUCKET)  # same values every example: idempotent
    caplog.clear()
    seen = oms_srv.request_count
    try:
        result = index.main_handler(event, {"request_id": "fuzz", "time_limit_in_ms": 3000})
    except ValueError:
        assert not is_cos_event(event), "ValueError for an event with a list 'Records'"
        return
    assert isinstance(result, bool) and is_cos_event(event)
    assert all(r.verified and r.status == 200 for r in oms_srv.requests[seen:])
    errors = error_lines(caplog)
    stored = set(cos_srv.keys(FUZZ_BUCKET))
    for key in [k for r in oms_srv.requests[seen:] for k in r.keys_unquote]:
        assert ("oms_source_record/%s/success_object/%s" % (support.TASK, key) in stored
                or any("marker not written key=%s " % logs.show(key) in line for line in errors)), key
    if result:
        assert all(line.startswith("marker not written") for line in errors)
    else:
        assert errors


# ============================================================================ secrets, warm containers

def test_no_secret_in_any_log_record_at_debug(monkeypatch, caplog):
    """Every logger at DEBUG, through real COS (with a session token) and OMS: no secret, no signature."""
    with world.World(cos={"token": support.COS_TOKEN}) as loopback:
        oms_srv, cos_srv = loopback.oms, loopback.cos
        configure(monkeypatch, oms_srv, cos_srv, LOG_LEVEL="DEBUG")  # COS_TOKEN: the server's
        caplog.set_level(logging.DEBUG)  # the root: every logger, the libraries' included
        oms_srv.script(500)  # a retry, so the attempt lines are logged too
        assert index.main_handler(events("a.txt", "b.txt"), {"request_id": "secrets"}) is True
        cos_auth = [r.headers["authorization"] for r in cos_srv.requests]
    oms_auth = [r.headers["authorization"] for r in oms_srv.requests]
    assert len(oms_auth) == 2 and len(cos_auth) == 2 and all(r.headers.get("x-cos-security-token")
                                                             for r in cos_srv.requests)
    forbidden = [support.HW_SK, support.COS_KEY, support.COS_TOKEN, "Signature=", "q-signature"]
    forbidden += oms_auth + [a.rsplit("Signature=", 1)[1] for a in oms_auth]
    forbidden += cos_auth + [a.rsplit("q-signature=", 1)[1] for a in cos_auth]
    logged = []
    for record in caplog.records:
        logged += [record.getMessage(), repr(record.args), record.exc_text or ""]
    text = "\n".join(logged)
    assert "canonical request" in text  # DEBUG really was on
    leaks = [secret for secret in forbidden if secret in text]
    assert leaks == []


def test_warm_invocations_reuse_the_oms_connection_and_the_cos_client(monkeypatch, oms_server, cos_server):
    configure(monkeypatch, oms_server, cos_server)
    built = []

    def build(settings):
        built.append(settings.cos_client_key())
        return storage.build_cos_client(settings)

    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache(cos_factory=build))
    for _ in range(5):
        assert index.main_handler(support.load_event("cos_put_console.json"), {"time_limit_in_ms": 3000}) is True
    assert oms_server.new_connections == 1
    assert len(built) == 1
    assert [r.verified for r in oms_server.requests] == [True] * 5
    assert cos_server.counts == {"put": 5}


def test_one_log_line_per_oms_request_and_per_key(fn, oms_server, cos_server, caplog):
    assert index.main_handler(events("a b.txt", "c.txt"), {"request_id": "req-42"}) is True
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("cos2oms") and r.levelno == logging.INFO]
    request_lines = [line for line in lines if line.startswith("oms request accepted")]
    object_lines = [line for line in lines if line.startswith("object accepted")]
    assert len(request_lines) == 1 and len(object_lines) == 2
    for line in request_lines + object_lines:
        assert "task=%s" % support.TASK in line and "status=200" in line and "attempts=1" in line
        assert "request_id=req-42" in line
    assert "key=\"%s\" " % support.event_key("a b.txt") in object_lines[0]

