# -*- coding: utf-8 -*-
"""A scripted HTTP server on 127.0.0.1 for unit tests that must go through real sockets (the transport's
policy lives below requests' API). Runs on Python 3.6 too, unlike ``local/``'s servers.

    with Loopback(Reply(302, {"Location": other.url + "/x"})) as server:
        ... requests to server.url ...
        server.received  # [(method, path, headers, body)]

Each request gets the next scripted ``Reply``; the last one repeats.
"""
import queue
import socketserver
import threading
from collections import namedtuple
from http.server import BaseHTTPRequestHandler

#: ``trickle``: seconds between the body's bytes (the head is sent at once); the server then puts on its
#: ``trickled`` queue True when the whole body was sent, False when the client hung up first.
Reply = namedtuple("Reply", "status headers body trickle")
Reply.__new__.__defaults__ = ({}, b"", 0.0)
Received = namedtuple("Received", "method path headers body")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        owner = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = owner.next_reply(Received(self.command, self.path, dict(self.headers), body))
        self.send_response(reply.status)
        headers = dict({"Content-Length": str(len(reply.body))}, **reply.headers)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if not reply.trickle:
            self.wfile.write(reply.body)
            return
        try:
            for index in range(len(reply.body)):
                if owner.stopping.wait(reply.trickle):
                    break
                self.wfile.write(reply.body[index:index + 1])
                self.wfile.flush()
            else:
                owner.trickled.put(True)
                return
        except OSError:  # the client closed the connection
            pass
        self.close_connection = True
        owner.trickled.put(False)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Loopback(object):
    def __init__(self, *replies):
        self.replies = list(replies) or [Reply(200)]
        self.received = []
        self.trickled = queue.Queue()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self.address = ("127.0.0.1", self._server.server_address[1])

    def next_reply(self, received):
        with self._lock:
            self.received.append(received)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def __enter__(self):
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01})
        thread.daemon = True
        thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
