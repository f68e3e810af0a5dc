"""transport over real sockets: whole-request limits against a trickling server, redirects refused, bodies
capped, limits per thread, kept-alive connections unharmed by a limit that ran out elsewhere."""

import threading
import time

import pytest
import requests

from cos2oms import transport
from local.hostile import Answer, HostileServer

#: Seconds a bounded request may overrun its limit on a busy machine (thread scheduling).
TOLERANCE = 0.5


@pytest.fixture
def server():
    with HostileServer() as hostile:
        yield hostile


def test_a_trickled_body_is_cut_at_the_limit_not_at_each_read(server):
    server.script(Answer(200, body=b"x" * 400, trickle=0.02))  # 8 s in all, a byte every 20 ms
    session = transport.new_session({})
    started = time.monotonic()
    with pytest.raises(requests.Timeout), transport.time_limit(0.5):
        session.get(server.url + "/slow", timeout=5.0)
    assert time.monotonic() - started < 0.5 + TOLERANCE


def test_no_request_is_started_without_time_left(server):
    session = transport.new_session({})
    with pytest.raises(transport.OutOfTime), transport.time_limit(0):
        session.get(server.url + "/never")
    assert server.requests == []


def test_a_redirect_is_refused_with_its_location(server):
    server.script(Answer(302, headers={"Location": "http://elsewhere.invalid/x"}))
    session = transport.new_session({})
    with pytest.raises(transport.RedirectRefused) as refused:
        session.get(server.url + "/moved")
    assert (refused.value.status, refused.value.location) == (302, "http://elsewhere.invalid/x")


def test_error_bodies_are_read_up_to_the_cap(server):
    server.script(Answer(500, body=b"e" * (10 * transport.ERROR_BODY_CAP)))
    response = transport.new_session({}).get(server.url + "/error")
    assert response.status_code == 500 and response.content == b"e" * transport.ERROR_BODY_CAP


def test_a_success_body_over_the_cap_is_an_error(server, monkeypatch):
    monkeypatch.setattr(transport, "BODY_CAP", 1000)
    server.script(Answer(200, body=b"o" * 5000))
    with pytest.raises(requests.RequestException, match="larger than 1000 bytes"):
        transport.new_session({}).get(server.url + "/big")


def test_another_threads_limit_does_not_touch_this_request(server):
    server.script(Answer(200, body=b"y" * 40, trickle=0.02))  # 0.8 s
    session = transport.new_session({})
    outcome = {}

    def bounded():
        try:
            with transport.time_limit(0.2):
                session.get(server.url + "/bounded", timeout=5.0)
        except requests.Timeout as exc:
            outcome["bounded"] = exc

    thread = threading.Thread(target=bounded)
    thread.start()
    response = session.get(server.url + "/unbounded", timeout=5.0)
    thread.join()
    assert response.content == b"y" * 40
    assert isinstance(outcome["bounded"], requests.Timeout)


def test_a_kept_alive_connection_outlives_the_limit_of_the_request_before(server):
    session = transport.new_session({})
    with transport.time_limit(0.3):
        assert session.get(server.url + "/fast").status_code == 200
    time.sleep(0.5)  # past the first limit: a watchdog that fired late would cut the pooled connection
    server.script(Answer(200, body=b"z" * 20, trickle=0.02))
    assert session.get(server.url + "/slow", timeout=5.0).content == b"z" * 20
    assert server.requests[0].peer == server.requests[1].peer  # the same connection, reused


def test_a_head_answer_has_no_body_whatever_its_content_length(server):
    server.script(Answer(200, headers={"Content-Length": "1234"}))
    with transport.time_limit(2.0):
        response = transport.new_session({}).head(server.url + "/object")
    assert response.status_code == 200 and response.content == b""


def test_a_body_cut_short_of_its_content_length_is_an_error(server):
    server.script(Answer(200, headers={"Content-Length": "100"}, body=b"{}", cut=True))
    with pytest.raises(requests.ConnectionError):
        transport.new_session({}).get(server.url + "/cut")


def test_an_interim_answer_is_a_broken_exchange_and_its_connection_is_never_reused(server):
    """A 103 Early Hints leaves the real answer on the connection: read as the answer to the next request
    sent on it, one request's 200 would stand for another's."""
    server.script(Answer(200, interim=(103,), body=b"first"), Answer(500, body=b"second"))
    session = transport.new_session({})
    with pytest.raises(requests.ConnectionError, match="interim answer HTTP 103"):
        session.get(server.url + "/one")
    second = session.get(server.url + "/two")
    assert (second.status_code, second.content) == (500, b"second")  # its own answer, not the first's 200
    assert server.requests[0].peer != server.requests[1].peer  # on a new connection


def test_a_session_requiring_a_header_refuses_answers_without_it(server):
    server.script(Answer(200, body=b"<html>captive portal</html>"),
                  Answer(200, headers={"x-cos-request-id": "NjU0"}, body=b"ok"))
    session = transport.new_session({}, required_header="x-cos-request-id")
    with pytest.raises(requests.ConnectionError, match="without x-cos-request-id"):
        session.get(server.url + "/portal")
    assert session.get(server.url + "/cos").content == b"ok"


@pytest.fixture
def blackhole():
    """A loopback address:port whose SYNs are dropped (its accept queue is full): a connect there hangs."""
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(listener.getsockname())
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.1)
    probe = socket.socket()
    probe.settimeout(0.3)
    with pytest.raises(socket.timeout):  # the precondition: a connect there does hang
        probe.connect(listener.getsockname())
    probe.close()
    yield listener.getsockname()
    for sock in fillers + [listener]:
        sock.close()


def test_every_address_of_a_host_shares_the_time_left(monkeypatch, blackhole):
    """A host with several unreachable addresses (an AAAA and an A record in a VPC without egress): each
    address must get only the time left, not the whole connect timeout again."""
    import socket
    real = socket.getaddrinfo

    def three_addresses(host, port, *args, **kwargs):
        if host == "unreachable.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", blackhole)] * 3
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", three_addresses)
    started = time.monotonic()
    with pytest.raises(requests.RequestException), transport.time_limit(1.0):
        transport.new_session({}).get("http://unreachable.test:%d/" % blackhole[1], timeout=5.0)
    assert time.monotonic() - started < 1.0 + TOLERANCE


def test_a_resolver_that_hangs_is_bounded_by_the_limit(monkeypatch, server):
    import socket
    real = socket.getaddrinfo
    release = threading.Event()

    def hanging(host, port, *args, **kwargs):
        if host == "slow-dns.test":
            release.wait(30)
        return real("127.0.0.1" if host == "slow-dns.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.monotonic()
    try:
        with pytest.raises(requests.RequestException), transport.time_limit(0.5):
            transport.new_session({}).get("http://slow-dns.test:%d/" % server.port, timeout=5.0)
        assert time.monotonic() - started < 0.5 + TOLERANCE
    finally:
        release.set()
    assert server.requests == []
