"""What the loopback servers share: a socketserver-style server served from a daemon thread."""

from __future__ import annotations

import logging
import threading


class BackgroundServer:
    """Start/stop and context management. Subclasses build the server in ``_make_server``; ``_before_join``
    runs once the server stops accepting (release what could hold a handler thread), ``_after_stop`` last."""

    thread_name = "loopback-server"
    _server = None
    _thread: threading.Thread | None = None

    def _make_server(self):
        raise NotImplementedError

    def _before_join(self) -> None:
        pass

    def _after_stop(self) -> None:
        pass

    def start(self):
        self._server = self._make_server()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._before_join()
        self._thread.join(timeout=5)
        self._server = None
        self._after_stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_until_interrupted(server: BackgroundServer, describe) -> None:
    """For the servers' command lines: start ``server``, print ``describe(server)`` (what a client needs),
    serve until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with server:
        print(describe(server), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
