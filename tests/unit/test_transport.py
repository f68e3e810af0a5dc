# -*- coding: utf-8 -*-
"""transport: the per-thread time limit, and the watchdog's rule that it never cuts a connection that is no
longer its request's (the end-to-end behaviour is in tests/e2e/test_transport.py)."""
import threading
import time

import pytest

from cos2oms import transport


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
    monkeypatch.setattr(transport, "_shutdown", cut.append)
    watch = transport._Watch(time.monotonic())
    conn = FakeConn()
    watch.use(conn)
    watch.release(conn)  # back in the pool: another request may be using it now
    watch.fire()
    assert cut == [] and watch.fired


def test_the_connection_in_use_is_cut_when_time_runs_out(monkeypatch):
    cut = []
    monkeypatch.setattr(transport, "_shutdown", cut.append)
    watch = transport._Watch(time.monotonic())
    conn = FakeConn()
    watch.use(conn)
    watch.fire()
    assert cut == [conn.sock]


def test_a_closed_watch_does_nothing(monkeypatch):
    cut = []
    monkeypatch.setattr(transport, "_shutdown", cut.append)
    watch = transport._Watch(time.monotonic())
    watch.use(FakeConn())
    watch.close()
    watch.fire()
    assert cut == [] and not watch.fired


def test_the_watchdog_runs_actions_in_time_order_and_skips_cancelled_ones():
    watchdog = transport._Watchdog()
    ran = []
    done = threading.Event()
    now = time.monotonic()
    watchdog.call_at(now + 0.06, lambda: (ran.append("late"), done.set()))
    cancelled = watchdog.call_at(now + 0.02, lambda: ran.append("cancelled"))
    watchdog.call_at(now + 0.04, lambda: ran.append("early"))
    watchdog.cancel(cancelled)
    assert done.wait(5.0)
    assert ran == ["early", "late"]


def test_sessions_never_follow_redirects():
    session = transport.new_session({})
    assert session.max_redirects == 0
    assert isinstance(session.get_adapter("https://oms.example/"), transport.DeadlineAdapter)
    assert session.get_redirect_target(object()) is None


def test_connections_through_a_proxy_are_watched_too():
    adapter = transport.new_session({"HTTPS_PROXY": "http://proxy.invalid:3128"}).get_adapter("https://oms.example/")
    manager = adapter.proxy_manager_for("http://proxy.invalid:3128")
    assert manager.pool_classes_by_scheme["https"] is transport._WatchedHTTPSPool
    assert adapter.poolmanager.pool_classes_by_scheme["http"] is transport._WatchedHTTPPool
