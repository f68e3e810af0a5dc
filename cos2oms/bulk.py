# -*- coding: utf-8 -*-
"""The bulk engine shared by ``replay``, ``backfill`` and ``verify --resubmit``: keys -> batches of 10 ->
bounded workers -> OMS -> markers, each batch's markers written concurrently.

Keys are pulled from an iterator only as workers free up (at most ``2 * workers`` batches in flight), so a
listing of any size streams through in constant memory. Results come back as each batch completes, so the
caller can act on them at once (replay deletes failed markers in chunks as batches complete).

The first batch is sent alone: wrong credentials then cost one refusal, not one per worker (five failed
AK/SK signatures lock the key for five minutes), and after a refusal nothing more is sent.
"""
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from cos2oms import cli, handler, oms, transport
from cos2oms.batching import batched
from cos2oms.deadline import Deadline

DEFAULT_WORKERS = 8
#: Marker writes in flight per worker (a batch's ten markers go out together), up to the connections the
#: COS client keeps (``transport.POOL_SIZE``): more would open and discard a connection per marker.
MARKER_WRITES_PER_WORKER = 10
#: Connections of the COS client the run itself uses beside the marker writers (replay lists and batch-deletes
#: markers on the same client): kept free, or each would open and discard one ("connection pool is full").
RUN_CONNECTIONS = 1
NOT_SENT_STOPPING = "not sent: the run is stopping"
NOT_SENT_NO_TIME = "not sent: no time left for OMS requests (the rest is kept for markers)"


class Outcome(object):
    """One batch: its keys, OMS's result, and {key: cause} for the markers that could not be written."""

    def __init__(self, keys, result, unwritten):
        self.keys = keys
        self.result = result
        self.unwritten = unwritten

    @property
    def sent(self):
        return self.result.attempts > 0


class Engine(object):
    """Runs batches through ``submitter`` (a ``sync.Submitter``) with ``workers`` concurrent OMS requests.

    ``write_failed``: write a failed marker for each key OMS did not accept (backfill, resubmit); replay's
    keys have one already. ``stopping``: a ``threading.Event``; once set, batches not yet sent come back
    unsent (their keys keep whatever marker they had). ``mark_unsent=False``: a batch never sent (stopping, no
    time left) gets no failed marker either: the caller keeps its keys (the audit's pending resubmissions).
    """

    def __init__(self, submitter, workers=DEFAULT_WORKERS, write_failed=True, stopping=None, mark_unsent=True):
        self.submitter = submitter
        self.workers = max(1, min(workers, transport.POOL_SIZE))
        self.write_failed = write_failed
        self.mark_unsent = mark_unsent
        self.stopping = stopping or threading.Event()

    def out_of_time(self):
        return self.submitter.deadline.remaining_for_requests() < oms.MIN_ATTEMPT_SECONDS

    def _run_batch(self, keys, marker_pool):
        if self.stopping.is_set():
            result = oms.OmsResult.not_sent(NOT_SENT_STOPPING)
        elif self.out_of_time():
            result = oms.OmsResult.not_sent(NOT_SENT_NO_TIME)
        else:
            result = self.submitter.send(keys)
        if not result.attempts and not (self.write_failed and self.mark_unsent):
            return Outcome(keys, result, {})  # never sent: its keys have failed markers, or the caller keeps them
        return Outcome(keys, result, self.submitter.record(keys, result, self.write_failed, marker_pool))

    def run(self, keys):
        """Send ``keys`` (any iterable of event keys); yields an ``Outcome`` per batch as each completes.

        Once ``stopping`` is set no more keys are pulled; batches already pulled come back (unsent when they
        had not started), so every key pulled from ``keys`` is yielded exactly once. A KeyboardInterrupt
        inside the engine sets ``stopping``, yields what was in flight, then propagates.
        """
        batches = batched(keys, oms.MAX_KEYS_PER_REQUEST)
        marker_threads = min(self.workers * MARKER_WRITES_PER_WORKER, transport.POOL_SIZE - RUN_CONNECTIONS)
        with ThreadPoolExecutor(self.workers) as pool, ThreadPoolExecutor(marker_threads) as markers:
            first = next(batches, None)
            if first is None:
                return
            yield self._run_batch(first, markers)
            pending = set()
            ready = []
            try:
                while not self.stopping.is_set():  # looked at before a pull: a batch pulled always comes back
                    batch = next(batches, None)
                    if batch is None:
                        break
                    pending.add(pool.submit(self._run_batch, batch, markers))
                    while len(pending) >= 2 * self.workers:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        ready.extend(done)
                        while ready:
                            yield ready.pop().result()
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    ready.extend(done)
                    while ready:
                        yield ready.pop().result()
            except GeneratorExit:
                self.stopping.set()
                wait(pending)
                raise
            except BaseException:
                self.stopping.set()  # batches not yet started come back at once, unsent
                for future in list(ready) + list(pending):
                    yield future.result()
                raise


# ------------------------------------------------------------------------------------------------- processes

#: Items a worker process takes at a time (replay: failed markers; backfill: keys).
CHUNK = 500
_worker = {}


def _start_worker(setup, setup_args, logging_config):
    """In a worker process: Ctrl-C is the parent's to handle (the worker finishes its chunk); logging as the
    parent's; the state (settings, clients) built once by ``setup``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cli.configure_child_logging(logging_config)
    _worker["state"] = setup(*setup_args)


def _run_chunk(handle, chunk):
    return handle(_worker["state"], chunk)


def processes_usable():
    """Worker processes need Python 3.7+ (ProcessPoolExecutor's initializer); SCF's 3.6 runtime never uses them."""
    return sys.version_info >= (3, 7)


def fan_out(pullediter, handle, setup, setup_args, processes, logging_config, stopping):
    """Command line only: ``handle(state, chunk)`` for each chunk in one of ``processes`` spawned worker
    processes (the GIL keeps threads of one process to one core); yields ``(chunk, result)`` as each completes.

    ``setup(*setup_args)`` builds each worker's state once; ``setup``, ``handle`` and their arguments must be
    picklable (module-level functions, ``Settings``). At most ``2 * processes`` chunks are in flight, pulled
    lazily. Once ``stopping`` is set no more chunks are handed out and those in flight are waited for.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # never fork a process that has threads running
    pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker,  # novermin (3.7+,
                               initargs=(setup, setup_args, logging_config))  # the CLI checks: processes_usable)
    pullediter = iter(pullediter)
    pending = {}
    try:
        while not stopping.is_set():  # looked at before a chunk is pulled: a pulled chunk is always sent
            chunk = next(pullediter, None)
            if chunk is None:
                break
            pending[pool.submit(_run_chunk, handle, chunk)] = chunk
            while len(pending) >= 2 * processes:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()
        pool.shutdown(wait=True)
    except BaseException:
        stopping.set()
        pool.shutdown(wait=False)
        raise


def sender_state(settings, workers):
    """A worker process's submitter for ``send_chunk``, built once."""
    return handler.build_submitter(settings, Deadline(None)), workers


def send_chunk(state, keys):
    """In a worker process: send ``keys`` with markers as the function writes them; returns the counts."""
    submitter, workers = state
    counts = {"accepted": 0, "failed": 0, "errors": 0}
    for outcome in Engine(submitter, workers, write_failed=True).run(keys):
        counts["accepted" if outcome.result.accepted else "failed"] += len(outcome.keys)
        counts["errors"] += len(outcome.unwritten)
    return counts


# ------------------------------------------------------------------------------------------------- sending

class SendCounts(object):
    """What ``send_keys`` did: keys accepted, keys failed, markers that could not be written."""

    def __init__(self):
        self.accepted = 0
        self.failed = 0
        self.errors = 0  # markers that could not be written


def send_keys(submitter, event_keys, workers=DEFAULT_WORKERS, progress=None, stopping=None, processes=1,
              settings=None, logging_config=None):
    """Send ``event_keys`` (any iterable, pulled as workers free up) to OMS through the shared bulk engine: at
    most 10 a request, ``workers`` requests at a time, the first alone; each key's marker written as the
    function writes it (success when OMS accepted, else failed). Once ``stopping`` is set nothing more is sent
    (keys not sent are counted as failed). ``processes`` > 1 (with ``settings``): after the first chunk, sent
    here, chunks go to worker processes. Returns a ``SendCounts``."""
    counts = SendCounts()
    stopping = stopping or threading.Event()

    def add(accepted=0, failed=0, errors=0, sent=0):
        counts.accepted += accepted
        counts.failed += failed
        counts.errors += errors
        if progress is not None:
            progress.update(sent)

    def here(keys):
        for outcome in Engine(submitter, workers, write_failed=True, stopping=stopping).run(keys):
            accepted = len(outcome.keys) if outcome.result.accepted else 0
            add(accepted, len(outcome.keys) - accepted, len(outcome.unwritten), len(outcome.keys))

    if processes <= 1 or settings is None:
        here(event_keys)
        return counts
    pulled = batched(event_keys, CHUNK)
    here(next(pulled, []))
    if submitter.auth_refused:
        here(key for chunk in pulled for key in chunk)  # not sent: failed markers, as the function writes them
        return counts
    for chunk, sent in fan_out(pulled, send_chunk, sender_state, (settings, workers), processes, logging_config,
                               stopping):
        add(sent=len(chunk), **sent)
    return counts
