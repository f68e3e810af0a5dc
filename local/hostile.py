"""A loopback HTTP server that answers as a hostile network would, for adversarial tests.

Each request gets the next scripted ``Answer`` (the last one repeats): any status, headers and body, with
the headers or the body trickled a few bytes at a time, a hang, or a connection cut. Every request is
recorded (method, path, headers, body), so a test can check what reached the server - for instance that a
redirect's target never saw the session token.

    with HostileServer() as server:
        server.script(Answer(301, headers={"Location": "http://elsewhere/"}))
        ... requests to server.url ...
        server.requests  # what was received
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field

from local.serving import BackgroundServer


@dataclass
class Answer:
    """What to answer one request with.

    ``trickle``: seconds between pieces of ``piece`` bytes (headers and body both trickle when
    ``trickle_headers``); ``hang``: seconds to wait before answering anything; ``cut``: close the
    connection after the headers (a body shorter than its Content-Length); ``interim``: statuses of
    interim answers (``103 Early Hints``...) sent before this one, on the same connection.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    trickle: float = 0.0
    piece: int = 1
    trickle_headers: bool = False
    hang: float = 0.0
    cut: bool = False
    interim: tuple = ()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple = ()  # the client's (host, port): the same for requests on one kept-alive connection
    received_at: float = field(default_factory=time.monotonic)


REASONS = {102: "Processing", 103: "Early Hints", 200: "OK", 204: "No Content", 301: "Moved Permanently",
           302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect",
           308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           500: "Internal Server Error", 503: "Service Unavailable"}


def _read_request(rfile) -> Received | None:
    line = rfile.readline(65537)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        line = rfile.readline(65537)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = rfile.read(int(headers.get("content-length") or 0))
    return Received(method, path, headers, body)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        owner: HostileServer = self.server.owner  # type: ignore[attr-defined]
        while not owner.stopping.is_set():
            try:
                request = _read_request(self.rfile)
            except (OSError, ValueError):
                return
            if request is None:
                return
            request.peer = self.client_address
            answer = owner._record(request)
            if not self._answer(answer, owner.stopping):
                return

    def _answer(self, answer: Answer, stopping: threading.Event) -> bool:
        """Send ``answer``; False when the connection is done."""
        if answer.hang and stopping.wait(answer.hang):
            return False
        headers = {"Content-Length": str(len(answer.body)), "Connection": "keep-alive"}
        headers.update(answer.headers)
        head = "".join("HTTP/1.1 %d %s\r\nLink: </style.css>; rel=preload\r\n\r\n"
                       % (status, REASONS.get(status, "Interim")) for status in answer.interim)
        head += "HTTP/1.1 %d %s\r\n" % (answer.status, REASONS.get(answer.status, "Whatever"))
        head += "".join("%s: %s\r\n" % item for item in headers.items()) + "\r\n"
        try:
            self._send(head.encode("latin-1"), answer if answer.trickle_headers else None, stopping)
            if answer.cut:
                self.connection.shutdown(socket.SHUT_RDWR)
                return False
            self._send(answer.body, answer if answer.trickle else None, stopping)
        except OSError:
            return False
        return True

    def _send(self, data: bytes, trickled: Answer | None, stopping: threading.Event) -> None:
        if trickled is None or not trickled.trickle:
            self.wfile.write(data)
            self.wfile.flush()
            return
        for i in range(0, len(data), trickled.piece):
            if stopping.wait(trickled.trickle):
                raise OSError("server stopping")
            self.wfile.write(data[i:i + trickled.piece])
            self.wfile.flush()


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class HostileServer(BackgroundServer):
    """Answers each request with the next scripted ``Answer`` (the last repeats; default: 200, empty)."""

    thread_name = "hostile-server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._address = (host, port)
        self._lock = threading.Lock()
        self._script: list[Answer] = []
        self._last = Answer()
        self.requests: list[Received] = []
        self.stopping = threading.Event()

    def _make_server(self):
        server = _TCPServer(self._address, _Handler)
        server.owner = self
        return server

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.port

    @property
    def url(self) -> str:
        return "http://%s" % self.address

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script = list(answers)
            if answers:
                self._last = answers[-1]

    def _record(self, request: Received) -> Answer:
        with self._lock:
            self.requests.append(request)
            return self._script.pop(0) if self._script else self._last
