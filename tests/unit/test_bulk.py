# -*- coding: utf-8 -*-
"""bulk: the engine's first batch alone, its interrupt paths, and every key pulled sent and accounted for, also
when the run is stopping."""
import concurrent.futures
import queue
import threading

import pytest

from cos2oms import bulk, markers, oms, sync
from cos2oms.deadline import Deadline
from tests import support


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


# ------------------------------------------------------------------------------------------------- Engine
# The engine over a real sync.Submitter, with OMS and the log bucket faked below it. Batches are held and
# released by events (the run's ``stopping`` among them), never by sleeping; SAFETY bounds a wait that only
# a broken engine reaches.

SAFETY = 10.0
KEYS = ["/1253970026/b/k%03d" % n for n in range(100)]
BATCHES = [KEYS[i:i + 10] for i in range(0, 100, 10)]


class Oms(object):
    """Stands in for OmsClient: answers ``status`` to every request. A batch whose first key is in ``held``
    is kept in flight until the run is stopping (``started`` says when it is)."""

    def __init__(self, stopping, status=200, held=()):
        self.stopping = stopping
        self.status = status
        self.held = set(held)
        self.sent = []
        self.started = queue.Queue()
        self.saw_stopping = {}

    def submit(self, keys, deadline, request_id="-"):
        self.sent.append(list(keys))
        if keys[0] in self.held:
            self.started.put(keys[0])
            self.saw_stopping[keys[0]] = self.stopping.wait(SAFETY)
        return oms.OmsResult(self.status == 200, self.status, attempts=1)

    def wait_started(self, count):
        return sorted(self.started.get(timeout=SAFETY) for _ in range(count))


class Markers(object):
    """Stands in for MarkerStore: records the markers written."""

    task_id = support.TASK

    def __init__(self):
        self.written = []

    def write(self, kind, key, deadline=None):
        self.written.append((kind, key))


def engine(status=200, held=(), workers=2, write_failed=True):
    stopping = threading.Event()
    service = Oms(stopping, status, held)
    submitter = sync.Submitter(service, Markers(), Deadline(None))
    return bulk.Engine(submitter, workers, write_failed=write_failed, stopping=stopping), service


def keys_pulled(pulled, keys=KEYS, before=None):
    """``keys``, recording each as it is pulled; ``before(n)`` runs before the n-th is handed out."""
    for n, key in enumerate(keys):
        if before is not None:
            before(n)
        pulled.append(key)
        yield key


def sent_keys(outcomes):
    return sorted(key for outcome in outcomes for key in outcome.keys)


def test_the_first_batch_is_answered_before_any_other_key_is_taken():
    """So that wrong credentials cost one refusal, not one per worker."""
    run, service = engine(workers=8)
    pulled = []
    outcomes = run.run(keys_pulled(pulled))
    first = next(outcomes)
    assert first.keys == BATCHES[0] and first.result.accepted
    assert service.sent == [BATCHES[0]] and pulled == BATCHES[0]
    rest = list(outcomes)
    assert sent_keys([first] + rest) == KEYS and sorted(service.sent) == BATCHES


@pytest.mark.parametrize("status", [401, 403])
def test_after_a_refusal_of_the_credentials_nothing_more_is_sent(status):
    run, service = engine(status=status, workers=8)
    outcomes = list(run.run(iter(KEYS)))
    assert service.sent == [BATCHES[0]]
    assert sent_keys(outcomes) == KEYS and not [o for o in outcomes if o.result.accepted]
    assert sorted(key for _, key in run.submitter.markers.written) == KEYS  # each key has its failed marker


def test_a_keyboard_interrupt_inside_stops_the_run_yields_what_was_in_flight_then_propagates():
    run, service = engine(held=(BATCHES[1][0], BATCHES[2][0]))

    def interrupt(n):
        if n == 30:  # Ctrl-C while the listing is read, batches 2 and 3 in flight
            service.wait_started(2)
            raise KeyboardInterrupt

    pulled = []
    outcomes = []
    with pytest.raises(KeyboardInterrupt):
        for outcome in run.run(keys_pulled(pulled, before=interrupt)):
            outcomes.append(outcome)
    assert run.stopping.is_set()
    assert service.saw_stopping == {BATCHES[1][0]: True, BATCHES[2][0]: True}
    assert sent_keys(outcomes) == sorted(pulled) == KEYS[:30]
    assert all(outcome.sent and outcome.result.accepted for outcome in outcomes)


def test_a_consumer_that_stops_early_leaves_nothing_running():
    """Closing the run (a ``break`` out of it, an exception in the caller) stops it: batches in flight are
    finished, nothing more is pulled or sent once close() returns."""
    held = [batch[0] for batch in BATCHES[2:]]
    run, service = engine(held=held)
    pulled = []
    outcomes = run.run(keys_pulled(pulled))
    assert next(outcomes).keys == BATCHES[0]
    assert next(outcomes).keys == BATCHES[1]  # the others are held until the run stops
    service.wait_started(2)  # one per worker
    outcomes.close()
    assert run.stopping.is_set()
    assert service.saw_stopping and all(service.saw_stopping.values())
    held_sent = [batch[0] for batch in service.sent if batch[0] in held]
    assert sorted(service.saw_stopping) == sorted(held_sent)  # every request sent has returned
    assert len(pulled) < len(KEYS)


@pytest.mark.parametrize("write_failed", [False, True])
def test_once_stopping_is_set_unsent_batches_come_back_unsent_and_every_key_pulled_comes_back_once(
        write_failed):
    run, service = engine(held=(BATCHES[1][0], BATCHES[2][0]), write_failed=write_failed)

    def stop(n):
        if n == 40:  # batches 2 and 3 in flight, batch 4 waiting for a worker
            service.wait_started(2)
            run.stopping.set()

    pulled = []
    outcomes = list(run.run(keys_pulled(pulled, before=stop)))
    assert sent_keys(outcomes) == sorted(pulled) and len(pulled) <= 50
    unsent = [outcome for outcome in outcomes if not outcome.sent]
    assert sorted(service.sent) == BATCHES[:3] and sent_keys(unsent) == sorted(pulled[30:])
    assert set(outcome.result.reason for outcome in unsent) == {bulk.NOT_SENT_STOPPING}
    failed_markers = sorted(key for kind, key in run.submitter.markers.written if kind == markers.FAILED)
    assert failed_markers == (sorted(pulled[30:]) if write_failed else [])  # replay's keep theirs
