# -*- coding: utf-8 -*-
"""The audit's state, lease and cadence (``cos2oms.audit_state``) with a fake clock and an in-memory log bucket:
who may work, when a pass is due, and that two invocations racing for the lease never both save."""
import json

import pytest

from cos2oms import audit_state
from cos2oms.audit_state import AuditError, LeaseLost, StateStore

T = 1714564800.0  # 2024-05-01T12:00:00Z
HOUR = 3600.0
DAY = 24 * HOUR


class Bucket(object):
    """The log bucket as ``MarkerStore`` reads and writes documents; ``fail`` makes the next call fail."""

    def __init__(self):
        self.objects = {}
        self.fail = None
        self.gets = self.puts = 0

    def read_document(self, name, deadline=None, most=None):
        self.gets += 1
        if self.fail:
            cause, self.fail = self.fail, None
            return None, cause
        return self.objects.get(name), None

    def write_document(self, name, body, deadline=None):
        self.puts += 1
        if self.fail:
            cause, self.fail = self.fail, None
            return cause
        self.objects[name] = body
        return None


def completed(finished):
    state = audit_state.empty()
    state["last"] = {"finished_epoch": finished, "complete": True}
    return state


def in_progress(started=T):
    state = audit_state.empty()
    state["pass"] = audit_state.new_pass(started, {"source": 0})
    return state


# ----------------------------------------------------------------------------------------------- cadence

def test_the_first_pass_is_due_at_once():
    assert audit_state.decide(audit_state.empty(), "me", T, DAY) == "start"


@pytest.mark.parametrize("since,expected", [(0, "not_due"), (DAY - 1, "not_due"), (DAY, "start"), (DAY + 1, "start")])
def test_a_new_pass_starts_an_interval_after_the_last_one_completed(since, expected):
    assert audit_state.decide(completed(T), "me", T + since, DAY) == expected
    assert audit_state.next_due(completed(T), DAY) == T + DAY


def test_force_starts_a_pass_that_is_not_due_and_a_pass_in_progress_always_goes_on():
    assert audit_state.decide(completed(T), "me", T + 1, DAY, force=True) == "start"
    state = completed(T)
    state["pass"] = audit_state.new_pass(T + 10, {})
    assert audit_state.decide(state, "me", T + 11, DAY) == "continue"


def test_an_interval_of_zero_starts_a_pass_at_every_firing():
    assert audit_state.decide(completed(T), "me", T, 0) == "start"


# ----------------------------------------------------------------------------------------------- the lease

def test_another_holders_lease_keeps_others_out_until_it_ends():
    state = audit_state.take_lease(in_progress(), "a", T + 30)
    assert audit_state.decide(state, "b", T + 29.9, DAY) == "busy"
    assert audit_state.decide(state, "b", T + 30, DAY) == "continue"  # ended: the killed holder's pass goes on
    assert audit_state.decide(state, "a", T + 1, DAY) == "continue"  # its own lease is no obstacle
    assert audit_state.decide(audit_state.release(state), "b", T + 1, DAY) == "continue"


def test_a_lease_ends_at_the_deadline_or_a_while_after_the_last_save_without_one():
    assert audit_state.lease_until(T, 12.5) == T + 12.5
    assert audit_state.lease_until(T, -3) == T
    assert audit_state.lease_until(T, float("inf")) == T + audit_state.UNBOUNDED_LEASE


def test_take_writes_then_reads_back_and_only_the_last_writer_holds_it():
    bucket = Bucket()
    a, b = StateStore(bucket, "task"), StateStore(bucket, "task")
    seen_by_a, seen_by_b = a.read(), b.read()  # both saw no lease
    assert audit_state.decide(seen_by_a, "a", T, DAY) == audit_state.decide(seen_by_b, "b", T, DAY) == "start"
    seen_by_a["pass"] = audit_state.new_pass(T, {})
    seen_by_b["pass"] = audit_state.new_pass(T, {})
    bucket.write_document(a.name, audit_state.dump(audit_state.take_lease(seen_by_a, "a", T + 10)))
    assert b.take(seen_by_b, "b", T + 10) is not None  # b wrote last: b holds it
    assert audit_state.holder(a.read()) == "b"  # a's read back says so: a leaves


def test_both_believing_they_hold_it_the_one_that_does_not_cannot_save():
    """a took it and read it back; b then took it and read it back: at its next save a finds b and stops, and
    b's state is what the bucket holds."""
    bucket = Bucket()
    a, b = StateStore(bucket, "task"), StateStore(bucket, "task")
    state_a = a.take(in_progress(), "a", T + 10)
    state_b = b.take(in_progress(), "b", T + 10)
    assert state_a is not None and state_b is not None
    state_a["pass"]["cursor"] = "k100"
    with pytest.raises(LeaseLost):
        a.save(state_a, "a", T + 10)
    state_b["pass"]["cursor"] = "k050"
    b.save(state_b, "b", T + 11)
    saved = b.read()
    assert saved["pass"]["cursor"] == "k050" and saved["lease"] == {"holder": "b", "until": T + 11}


def test_a_released_lease_stays_released_when_saved():
    bucket = Bucket()
    store = StateStore(bucket, "task")
    state = store.take(in_progress(), "a", T + 10)
    store.save(audit_state.release(state), "a", T + 20)
    assert store.read()["lease"] is None


# ----------------------------------------------------------------------------------------------- storage

def test_names_and_the_report_stamp():
    assert audit_state.state_name("t1") == "oms_source_record/t1/audit/state.json"
    assert audit_state.report_name("t1", T + 5.7) == "oms_source_record/t1/audit/reports/20240501T120005Z.json"


def test_no_state_yet_is_an_empty_one_and_a_round_trip_keeps_it():
    store = StateStore(Bucket(), "task")
    assert store.read() == {"version": 1, "lease": None, "pass": None, "last": None}
    state = audit_state.take_lease(in_progress(), "a", T)
    store.write(state)
    assert store.read() == json.loads(json.dumps(state))


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"version": 2}', b'{"version": 1, "pass": 3}', b"\xff"])
def test_a_state_that_is_not_one_is_an_error_never_a_fresh_start(body):
    bucket = Bucket()
    bucket.objects[audit_state.state_name("task")] = body
    with pytest.raises(AuditError):
        StateStore(bucket, "task").read()


def test_a_read_or_write_that_fails_is_an_error_naming_the_state():
    bucket = Bucket()
    store = StateStore(bucket, "task")
    bucket.fail = "COS answered 503 ServiceUnavailable"
    with pytest.raises(AuditError, match="state.json.*503"):
        store.read()
    bucket.fail = "COS answered 403 AccessDenied"
    with pytest.raises(AuditError, match="403"):
        store.write(audit_state.empty())


def test_a_pass_keeps_the_buckets_it_compares():
    buckets = {"source": "photos-1253970026", "destination": "migrated", "prefix": ""}
    current = audit_state.new_pass(T, {})
    assert audit_state.pinned(current, buckets) is None  # a pass from before passes kept them: goes on
    current["buckets"] = dict(buckets)
    assert audit_state.pinned(current, buckets) is True
    assert audit_state.pinned(current, dict(buckets, prefix="copies/")) is False
    assert audit_state.pinned(current, dict(buckets, destination="elsewhere")) is False
    assert audit_state.pinned(dict(current, buckets="garbled"), buckets) is None
