# -*- coding: utf-8 -*-
"""The audit's state, its lease and its cadence (``audit``: the pass itself).

The state is one JSON object in the log bucket, ``oms_source_record/{task_id}/audit/state.json``::

    {"version": 1,
     "lease": {"holder": REQUEST_ID, "until": EPOCH} or null,
     "pass": {"started": EPOCH, "cursor": KEY, "counts": {...}, "invocations": N, "pages": N,
              "sent": N, "pending": [EVENT KEY, ...], "listed": BOOL, "failures": N,
              "last_failure": TEXT or null,
              "buckets": {"source": BUCKET, "destination": BUCKET, "prefix": OBS_PREFIX}} or null,
     "last": THE LAST REPORT or null}

``pass`` is the pass in progress: ``cursor`` is the last source key fully judged ("" before the first page),
``failures`` the invocations in a row that failed at that cursor, ``sent`` the keys admitted for resubmission
so far (the ``AUDIT_MAX_RESUBMIT`` cap counts them), ``pending`` those of them not yet sent, ``listed`` whether
the source listing has been judged to its end, ``buckets`` what the pass compares (as the invocation that
took the lease resolved them: a pass whose buckets change is started over, never mixed). ``last`` is the
report of the last pass that ended (also written as
``.../audit/reports/{YYYYMMDDTHHMMSSZ of its start}.json``).

COS has no conditional PUT to rely on, so the lease is written, then read back: an invocation works only while
the state it reads back names it as the holder, and reads it again before every save. Two invocations that
both took the lease see each other at the latest at their next save, and the one that does not hold it stops
without saving. Every save writes a whole state, read from the bucket by its writer and advanced by whole
pages, so the state is never a mixture of two invocations' work: at worst a page is judged twice. A lease
ends at its holder's deadline (an invocation killed by SCF leaves it until then), or at the end of the
invocation, which releases it.

Everything here but ``StateStore`` is pure: the clock is an argument.
"""
import json
import time

from cos2oms import markers

VERSION = 1
#: The lease of a run without a time limit (the command line), renewed at every save.
UNBOUNDED_LEASE = 900.0


class AuditError(RuntimeError):
    """The state could not be read or written: the invocation stops (and SCF retries it)."""


class LeaseLost(Exception):
    """Another invocation holds the lease now: stop without saving."""


def audit_prefix(task_id):
    return "%s%s/audit/" % (markers.MARKER_ROOT, task_id)


def state_name(task_id):
    return audit_prefix(task_id) + "state.json"


def stamp(seconds):
    """``YYYYMMDDTHHMMSSZ`` (UTC) of epoch ``seconds``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


def iso(seconds):
    return None if seconds is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def report_name(task_id, started):
    return "%sreports/%s.json" % (audit_prefix(task_id), stamp(started))


def empty():
    return {"version": VERSION, "lease": None, "pass": None, "last": None}


def parse(data):
    """The state held in ``data`` (bytes, or None when there is none yet); ``AuditError`` when it is not one."""
    if data is None:
        return empty()
    try:
        state = json.loads(data.decode("utf-8"))
    except (UnicodeError, ValueError) as exc:
        raise AuditError("the audit state is not JSON: %s" % exc) from None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise AuditError("the audit state is not of version %d" % VERSION)
    for name in ("lease", "pass", "last"):
        if not isinstance(state.get(name), (dict, type(None))):
            raise AuditError("the audit state's %r is not an object" % name)
    return state


#: The largest state read: a page of pending keys of up to 850 bytes each, with room to spare.
MAX_STATE_BYTES = 16 << 20


def dump(state):
    return json.dumps(state, sort_keys=True, ensure_ascii=False).encode("utf-8")


def holder(state):
    lease = state.get("lease") or {}
    return lease.get("holder")


def held_by_another(state, me, now):
    """True while another invocation's lease has not ended."""
    lease = state.get("lease") or {}
    until = lease.get("until")
    return lease.get("holder") not in (None, me) and isinstance(until, (int, float)) and until > now


def take_lease(state, me, until):
    state["lease"] = {"holder": me, "until": until}
    return state


def release(state):
    state["lease"] = None
    return state


def next_due(state, interval):
    """When the next pass may start (epoch seconds): at once with no completed pass, else ``interval`` after
    the last one finished."""
    last = state.get("last") or {}
    finished = last.get("finished_epoch")
    return 0.0 if not isinstance(finished, (int, float)) else finished + interval


def decide(state, me, now, interval, force=False):
    """What an invocation does with ``state``: ``"busy"`` (another holds the lease), ``"continue"`` (a pass is in
    progress), ``"start"`` (a new pass is due, or ``force``) or ``"not_due"``."""
    if held_by_another(state, me, now):
        return "busy"
    if state.get("pass"):
        return "continue"
    if force or now >= next_due(state, interval):
        return "start"
    return "not_due"


def new_pass(now, counts):
    """A pass started at ``now``; ``counts``: its counts, all 0 (a dict)."""
    return {"started": now, "cursor": "", "counts": counts, "invocations": 0, "pages": 0, "sent": 0, "pending": [],
            "listed": False, "failures": 0, "last_failure": None}


def pinned(current, buckets):
    """Whether the pass ``current`` compares ``buckets`` (a dict): True, False when it compared others, None when
    it does not say (a pass from before passes kept them)."""
    kept = current.get("buckets")
    return None if not isinstance(kept, dict) else kept == buckets


def lease_until(now, remaining):
    """The end of a lease taken at ``now`` by an invocation with ``remaining`` seconds (infinite: unbounded)."""
    return now + (UNBOUNDED_LEASE if remaining == float("inf") else max(0.0, remaining))


class StateStore(object):
    """The state and the reports in the log bucket, through a ``markers.MarkerStore``."""

    def __init__(self, store, task_id, deadline=None):
        self.store = store
        self.name = state_name(task_id)
        self.task_id = task_id
        self.deadline = deadline

    def read(self):
        data, cause = self.store.read_document(self.name, self.deadline, MAX_STATE_BYTES)
        if cause is not None:
            raise AuditError("reading the audit state %s failed: %s" % (self.name, cause))
        return parse(data)

    def write(self, state):
        cause = self.store.write_document(self.name, dump(state), self.deadline)
        if cause is not None:
            raise AuditError("writing the audit state %s failed: %s" % (self.name, cause))

    def take(self, state, me, until):
        """Write ``state`` with the lease taken by ``me`` until ``until``, then read it back: the state read when
        ``me`` holds the lease, else None (another invocation wrote after us)."""
        self.write(take_lease(state, me, until))
        back = self.read()
        return back if holder(back) == me else None

    def save(self, state, me, until=None):
        """Write ``state`` if ``me`` still holds the lease (read again first; ``LeaseLost`` if not), its lease
        renewed until ``until`` (when it has one: a released lease stays released)."""
        if holder(self.read()) != me:
            raise LeaseLost()
        if state.get("lease") and until is not None:
            state["lease"]["until"] = until
        self.write(state)

    def write_report(self, report, started):
        name = report_name(self.task_id, started)
        cause = self.store.write_document(name, json.dumps(report, sort_keys=True).encode("utf-8"), self.deadline)
        if cause is not None:
            raise AuditError("writing the audit report %s failed: %s" % (name, cause))
        return name
