# -*- coding: utf-8 -*-
"""bulk: every key pulled is sent and accounted for, also when the run is stopping."""
import concurrent.futures
import threading

import pytest

from cos2oms import bulk


class ThreadPoolForProcesses(concurrent.futures.ThreadPoolExecutor):
    """ProcessPoolExecutor's signature on threads: the worker state is set by the test, not the initializer."""

    def __init__(self, workers, mp_context=None, initializer=None, initargs=()):
        concurrent.futures.ThreadPoolExecutor.__init__(self, workers)


def test_a_chunk_pulled_after_a_stop_request_is_still_sent(monkeypatch):
    """The check comes before the pull: a chunk taken from the listing is never dropped unsent (its keys would
    be counted in the window and in no outcome)."""
    if not bulk.processes_usable():
        pytest.skip("worker processes need Python 3.7+ (ProcessPoolExecutor's initializer)")
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", ThreadPoolForProcesses)
    monkeypatch.setitem(bulk._worker, "state", None)
    stopping = threading.Event()
    pulled = []

    def chunks():
        for n in range(10):
            chunk = ["k%d-%d" % (n, i) for i in range(3)]
            pulled.append(chunk)
            if n == 2:
                stopping.set()  # Ctrl-C while the third chunk is being listed
            yield chunk

    sent = list(bulk.fan_out(chunks(), lambda state, chunk: len(chunk), None, (), 2, None, stopping))

    assert sorted(chunk for chunk, _ in sent) == sorted(pulled)
    assert len(pulled) == 3
