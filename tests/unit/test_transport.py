# -*- coding: utf-8 -*-
"""transport: the per-thread time limit, and the watchdog's rule that it never cuts a connection that is no
longer its request's (the end-to-end behaviour is in tests/e2e/test_transport.py)."""
import threading
import time

import pytest
import requests

from cos2oms import transport
from cos2oms import watch as watch_module
from tests.unit.loopback import Loopback, Reply


def test_no_limit_outside_a_block():
    assert transport.time_left() is None
    with transport.time_limit(None):
        assert transport.time_left() is None


def test_nested_limits_the_tighter_wins():
    with transport.time_limit(5.0):
        with transport.time_limit(60.0):
            assert transport.time_left() <= 5.0
        with transport.time_limit(1.0):
            assert transport.time_left() <= 1.0
        assert 1.0 < transport.time_left() <= 5.0
    assert transport.time_left() is None


def test_limits_are_per_thread():
    seen = []
    with transport.time_limit(1.0):
        thread = threading.Thread(target=lambda: seen.append(transport.time_left()))
        thread.start()
        thread.join()
    assert seen == [None]


@pytest.mark.parametrize("timeout,seconds,expected", [
    (None, 2.0, 2.0), (5.0, 2.0, 2.0), (1.0, 2.0, 1.0), ((3.0, 9.0), 2.0, (2.0, 2.0)), ((1.0, None), 2.0, (1.0, 2.0)),
])
def test_each_timeout_part_is_clamped_to_the_time_left(timeout, seconds, expected):
    assert transport._clamp(timeout, seconds) == expected


class FakeConn(object):
    def __init__(self):
        self.sock = object()


def test_a_connection_handed_back_is_never_cut(monkeypatch):
    cut = []
    monkeypatch.setattr(watch_module, "_shutdown", cut.append)
    watch = watch_module._Watch(time.monotonic())
    conn = FakeConn()
    watch.use(conn)
    watch.release(conn)  # back in the pool: another request may be using it now
    watch.fire()
    assert cut == [] and watch.fired


def test_the_connection_in_use_is_cut_when_time_runs_out(monkeypatch):
    cut = []
    monkeypatch.setattr(watch_module, "_shutdown", cut.append)
    watch = watch_module._Watch(time.monotonic())
    conn = FakeConn()
    watch.use(conn)
    watch.fire()
    assert cut == [conn.sock]


def test_a_closed_watch_does_nothing(monkeypatch):
    cut = []
    monkeypatch.setattr(watch_module, "_shutdown", cut.append)
    watch = watch_module._Watch(time.monotonic())
    watch.use(FakeConn())
    watch.close()
    watch.fire()
    assert cut == [] and not watch.fired


def test_the_watchdog_runs_actions_in_time_order_and_skips_cancelled_ones():
    watchdog = watch_module._Watchdog()
    ran = []
    done = threading.Event()
    now = time.monotonic()
    watchdog.call_at(now + 0.06, lambda: (ran.append("late"), done.set()))
    cancelled = watchdog.call_at(now + 0.02, lambda: ran.append("cancelled"))
    watchdog.call_at(now + 0.04, lambda: ran.append("early"))
    watchdog.cancel(cancelled)
    assert done.wait(5.0)
    assert ran == ["early", "late"]


@pytest.mark.parametrize("status,method", [(301, "GET"), (302, "POST"), (303, "POST"), (307, "POST"),
                                           (308, "PUT")])
def test_a_redirect_is_refused_and_its_target_hears_nothing(status, method):
    """Credentials and the body never leave for another host, and a 3xx is never an answer."""
    with Loopback() as target, Loopback(Reply(status, {"Location": target.url + "/elsewhere"})) as origin:
        with pytest.raises(transport.RedirectRefused) as refused:
            transport.new_session({}).request(method, origin.url + "/x", data=b"payload",
                                              headers={"Authorization": "secret-token"})
    assert (refused.value.status, refused.value.location) == (status, target.url + "/elsewhere")
    assert len(origin.received) == 1 and target.received == []


@pytest.mark.parametrize("status", [404, 503])
def test_an_error_body_is_capped_and_the_next_request_reads_its_own_answer(status):
    """What is over the cap stays unread, and the next request on the session still reads its own answer."""
    big = b"e" * (3 * transport.ERROR_BODY_CAP)
    with Loopback(Reply(status, body=big), Reply(200, body=b"next")) as server:
        session = transport.new_session({})
        first = session.get(server.url + "/error")
        second = session.get(server.url + "/next")
    assert (first.status_code, first.content) == (status, big[:transport.ERROR_BODY_CAP])
    assert (second.status_code, second.content) == (200, b"next")


@pytest.fixture
def proxy(monkeypatch):
    """A loopback server set as the HTTP proxy in the environment, which trickles its answer (10 s)."""
    with Loopback(Reply(200, body=b"p" * 200, trickle=0.05)) as server:
        for name in transport.PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.setenv("HTTP_PROXY", server.url)
        yield server


def test_a_request_through_a_proxy_is_bounded_by_the_time_limit_too(proxy):
    session = transport.new_session()
    with pytest.raises(requests.Timeout), transport.time_limit(0.3):
        session.get("http://oms.invalid/events", timeout=5.0)
    assert [r.path for r in proxy.received] == ["http://oms.invalid/events"]  # the proxy was used
    assert proxy.trickled.get(timeout=5.0) is False  # the connection was cut, not read to the end (10 s)
