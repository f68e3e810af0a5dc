"""The audit end to end: ``audit.main_handler`` invoked again and again with a small time limit, as the timer
does, over a source bucket of thousands of objects on the loopback stand-ins (COS: source and log bucket; OBS:
the destination; OMS: accepting resubmissions), with every kind of finding, a listing that fails, the cap and
invocations killed between pages. What must hold: the pass ends complete, its report equals the truth the
test seeded, OMS received exactly the keys that needed resubmitting (within the cap), nothing recent was
judged, the cursor never passes a page that failed, and a killed invocation costs at most a page judged twice.
"""

import json
import logging
import time

import pytest

import audit as audit_entry
from cos2oms import audit, audit_page, audit_state, listings, markers
from local.world import install
from tests.e2e import migration as world
from tests.e2e.migration import EVENT_PREFIX, LOG_BUCKET, T0
from tests.support import TASK

COPIED = T0 + 60
STATE = "oms_source_record/%s/audit/state.json" % TASK
PAGE = 50
#: Each invocation's time limit, and what a page costs on the invocation's clock (a fake one: the number of
#: pages an invocation judges is 3, whatever the machine's speed). The reserve is 2 s (20%).
LIMIT_MS = 10000
PAGE_COST = 2.0
PAGES_PER_INVOCATION = 3


class Truth:
    """A source bucket seeded with known findings: key -> what the audit must say about it."""

    def __init__(self):
        self.kinds = {}

    def add(self, key, kind):
        self.kinds[key] = kind

    def keys(self, *kinds):
        return sorted(key for key, kind in self.kinds.items() if kind in kinds)

    def count(self, kind):
        return len(self.keys(kind))


def seed(cos, obs, n, recent_every=97, now=None):
    """``n`` source objects: most copied; every 13th missing without a marker, every 17th missing with a success
    marker, every 19th with a failed marker, every 23rd differing in size, every ``recent_every``-th written
    just now (within the grace window, no copy yet); plus destination-only objects."""
    now = time.time() if now is None else now
    truth = Truth()
    for i in range(n):
        key = "obj/%05d.jpg" % i
        if i % recent_every == 5:
            world.source(cos, key, mtime=now - 10)
            truth.add(key, "recent")
            continue
        world.source(cos, key)
        if i % 13 == 1:
            truth.add(key, "missing_unmarked")
        elif i % 17 == 2:
            world.marker(cos, markers.SUCCESS, key, T0 + 1)
            truth.add(key, "missing_accepted")
        elif i % 19 == 3:
            world.marker(cos, markers.FAILED, key, T0 + 1)
            truth.add(key, "missing_failed")
        elif i % 23 == 4:
            world.destination(obs, key, body=b"other size")
            truth.add(key, "differ")
        else:
            world.destination(obs, key)
            world.marker(cos, markers.SUCCESS, key, T0 + 1)
            truth.add(key, "matched")
    for key in ("obj/00010.jpg.extra", "zz/only-on-destination"):
        world.destination(obs, key)
    return truth


def expected_counts(truth, **more):
    counts = {name: 0 for name in audit.PassCounts.FIELDS}
    for kind in ("missing_unmarked", "missing_accepted", "missing_failed", "differ", "matched", "recent"):
        counts[kind] = truth.count(kind)
    counts["missing"] = counts["missing_unmarked"] + counts["missing_accepted"] + counts["missing_failed"]
    counts["source"] = counts["missing"] + counts["differ"] + counts["matched"]
    counts["extra"] = 2
    counts.update(more)
    return counts


def to_resubmit(truth):
    return [EVENT_PREFIX + key for key in truth.keys("missing_unmarked", "missing_accepted", "differ")]


@pytest.fixture
def stand(oms_server, cos_server, obs_server, monkeypatch):
    monkeypatch.setattr(audit, "PAGE", PAGE)
    monkeypatch.setattr(listings, "PAGE", PAGE)
    now = [1000.0]
    monkeypatch.setattr(audit, "monotonic", lambda: now[0])
    judge = audit_page.PageJudge.judge

    def judged_at_a_cost(self, cursor, cutoff):
        now[0] += PAGE_COST
        return judge(self, cursor, cutoff)

    monkeypatch.setattr(audit_page.PageJudge, "judge", judged_at_a_cost)
    environ = world.environ(oms_server, cos_server, obs_server)
    install(environ, monkeypatch)
    return oms_server, cos_server, obs_server, monkeypatch


def state(cos):
    from local.obs_server import read_object
    data = read_object(cos, LOG_BUCKET, STATE)
    return None if data is None else json.loads(data)


class Invoker:
    """``audit.main_handler`` as the timer calls it: a request id each, ``LIMIT_MS`` each."""

    def __init__(self):
        self.n = 0
        self.outcomes = []

    def __call__(self, limit_ms=LIMIT_MS):
        self.n += 1
        outcome = audit_entry.main_handler({"Type": "Timer"}, {"request_id": "inv-%d" % self.n,
                                                               "time_limit_in_ms": limit_ms})
        self.outcomes.append(outcome)
        return outcome

    def until_done(self, most=400):
        for _ in range(most):
            outcome = self()
            if outcome["outcome"] == audit.PASS_DONE:
                return outcome
        raise AssertionError("no pass done in %d invocations: %s" % (most, self.outcomes[-3:]))


def test_a_pass_over_thousands_of_objects_across_invocations_matches_the_truth(stand, caplog):
    oms, cos, obs, monkeypatch = stand
    monkeypatch.setenv("AUDIT_MAX_RESUBMIT", "100000")
    truth = seed(cos, obs, 2000)
    invoke = Invoker()
    caplog.set_level(logging.INFO, logger="cos2oms")

    # a few invocations, then a listing that fails once (a 403 is final at once): the cursor stays put
    first = invoke()
    assert first["outcome"] == audit.OUT_OF_TIME and first["pages"] == PAGES_PER_INVOCATION
    cursor = state(cos)["pass"]["cursor"]
    assert cursor == "obj/%05d.jpg" % (PAGES_PER_INVOCATION * PAGE - 1)  # after whole pages only
    cos.fail_next(1, status=403, kind="list")
    failed = invoke()
    assert failed["outcome"] == audit.RETRY_LATER and failed["pages"] == 0
    saved = state(cos)
    assert saved["pass"]["cursor"] == cursor and saved["pass"]["failures"] == 1
    assert saved["lease"] is None  # released: the next firing goes on at once

    done = invoke.until_done()
    report = done and state(cos)["last"]
    assert state(cos)["pass"] is None
    expected = expected_counts(truth, resubmitted=len(to_resubmit(truth)))
    assert {name: report[name] for name in expected} == expected
    assert report["complete"] is True and report["invocations"] == len(invoke.outcomes)
    assert report["pages"] == 2000 // PAGE
    assert len(invoke.outcomes) == 1 + -(-(2000 // PAGE) // PAGES_PER_INVOCATION)  # and the one that failed
    # OMS got exactly the keys missing (no marker, or accepted and not copied) or differing, each once, in order
    assert oms.received_keys() == to_resubmit(truth)
    # the report object, named after the pass's start, holds the same
    name = done["report"]
    assert name == "oms_source_record/%s/audit/reports/%s.json" % (TASK, time.strftime(
        "%Y%m%dT%H%M%SZ", time.gmtime(report["started_epoch"])))
    from local.obs_server import read_object
    stored = json.loads(read_object(cos, LOG_BUCKET, name))
    assert stored == {k: v for k, v in report.items() if k != "report"}
    # one "audit pass done" line, at ERROR (things were missing), with the report's fields
    lines = [r for r in caplog.records if r.getMessage().startswith("audit pass done")]
    assert len(lines) == 1 and lines[0].levelno == logging.ERROR
    assert "missing_unmarked=%d" % truth.count("missing_unmarked") in lines[0].getMessage()

    # cadence: the next firing is not due, and costs one GET and nothing else
    cos.clear()
    assert invoke()["outcome"] == audit.NOT_DUE
    assert {k: v for k, v in cos.counts.items() if v} == {"get": 1}


def test_recent_objects_are_counted_not_judged_and_the_cap_stops_resubmitting(stand):
    oms, cos, obs, monkeypatch = stand
    monkeypatch.setenv("AUDIT_MAX_RESUBMIT", "40")
    monkeypatch.setenv("AUDIT_GRACE", "2h")
    truth = seed(cos, obs, 600, recent_every=7)
    invoke = Invoker()
    invoke.until_done()
    report = state(cos)["last"]
    needed = to_resubmit(truth)
    assert len(needed) > 40
    assert oms.received_keys() == needed[:40]  # the first 40 in key order, then nothing
    assert report["resubmitted"] == 40 and report["resubmit_capped"] == len(needed) - 40
    assert report["recent"] == truth.count("recent") > 0
    assert report == dict(report, **expected_counts(truth, resubmitted=40, resubmit_capped=len(needed) - 40))


def test_report_only_with_a_cap_of_zero_and_a_grace_that_covers_nothing(stand):
    oms, cos, obs, monkeypatch = stand
    monkeypatch.setenv("AUDIT_MAX_RESUBMIT", "0")
    monkeypatch.setenv("AUDIT_GRACE", "0")
    truth = seed(cos, obs, 300)
    Invoker().until_done()
    report = state(cos)["last"]
    assert oms.received_keys() == []
    # with no grace, the objects written "just now" (10 s before the pass) are judged: missing, no marker
    assert report["recent"] == 0
    assert report["resubmit_capped"] == len(to_resubmit(truth)) + truth.count("recent") > 0
    assert report["resubmitted"] == 0
    assert report["missing_unmarked"] == truth.count("missing_unmarked") + truth.count("recent")


def test_killed_invocations_lose_at_most_a_page_and_never_corrupt_the_state(stand):
    """Two kills: one while judging a page (nothing sent), one after a page's resubmissions were sent and before
    the state says so.
    The killed invocations' leases stand until their deadlines, as SCF's kill leaves them."""
    oms, cos, obs, monkeypatch = stand
    monkeypatch.setenv("AUDIT_MAX_RESUBMIT", "100000")
    truth = seed(cos, obs, 1500)
    clock = [time.time()]
    monkeypatch.setattr(audit, "wall_clock", lambda: clock[0])
    invoke = Invoker()
    assert invoke()["outcome"] == audit.OUT_OF_TIME

    class Killed(Exception):
        pass

    judge = audit_page.PageJudge.judge
    calls = []

    def killed_while_judging(self, cursor, cutoff):
        calls.append(cursor)
        if len(calls) == 2:
            raise Killed()
        return judge(self, cursor, cutoff)

    monkeypatch.setattr(audit_page.PageJudge, "judge", killed_while_judging)
    with pytest.raises(Killed):
        invoke()
    monkeypatch.setattr(audit_page.PageJudge, "judge", judge)
    left = state(cos)
    assert left["lease"]["holder"] == "inv-%d" % invoke.n and left["pass"]["cursor"] == calls[1]
    # the killed invocation's lease stands until its deadline: a firing before then leaves at once
    assert invoke()["outcome"] == audit.BUSY
    assert state(cos) == left
    clock[0] += LIMIT_MS / 1000.0 + 1

    send = audit.Auditor._send_pending
    killed_sending = []

    def killed_after_sending(self, current):
        pending = list(current["pending"])
        send(self, current)
        if not killed_sending:
            killed_sending.extend(pending)
            raise Killed()  # sent, and the state still says pending

    monkeypatch.setattr(audit.Auditor, "_send_pending", killed_after_sending)
    with pytest.raises(Killed):
        invoke()
    monkeypatch.setattr(audit.Auditor, "_send_pending", send)
    assert state(cos)["pass"]["pending"] == killed_sending
    clock[0] += LIMIT_MS / 1000.0 + 1
    invoke.until_done()

    report = state(cos)["last"]
    needed = to_resubmit(truth)
    assert {name: report[name] for name in expected_counts(truth)} == expected_counts(
        truth, resubmitted=len(needed))
    received = oms.received_keys()
    assert sorted(set(received)) == needed
    twice = sorted(set(key for key in received if received.count(key) > 1))
    assert twice == killed_sending  # the killed page's resubmissions alone, sent again
    assert report["invocations"] == len(invoke.outcomes) - 1 + 2  # every invocation that took the lease


def test_a_listing_that_keeps_failing_ends_the_pass_incomplete_never_all_clear(stand, caplog):
    oms, cos, obs, monkeypatch = stand
    for i in range(120):
        world.source(cos, "k%03d" % i)
        world.destination(obs, "k%03d" % i)
    invoke = Invoker()
    assert invoke()["outcome"] == audit.PASS_DONE
    assert state(cos)["last"]["complete"] is True
    clock = [time.time() + 86400 + 1]
    monkeypatch.setattr(audit, "wall_clock", lambda: clock[0])
    cos.fail_all(status=403, kind="list")  # every source page from now on
    caplog.set_level(logging.INFO, logger="cos2oms")
    outcomes = [invoke()["outcome"] for _ in range(audit.MAX_FAILURES)]
    assert outcomes == [audit.RETRY_LATER] * (audit.MAX_FAILURES - 1) + [audit.PASS_DONE]
    report = state(cos)["last"]
    assert report["complete"] is False and report["errors"] >= 1 and report["gave_up_at"] == ""
    assert "source listing failed" in report["failure"]
    assert report["source"] == 0  # nothing past the failure is counted as judged
    line = [r for r in caplog.records if r.getMessage().startswith("audit pass done")][-1]
    assert line.levelno == logging.ERROR and "complete=false" in line.getMessage()


def test_overlapping_invocations_one_holds_the_lease_the_other_leaves(stand):
    oms, cos, obs, monkeypatch = stand
    for i in range(10):
        world.source(cos, "k%03d" % i)
    # another invocation took the lease a moment ago and holds it for 30 s
    from local.obs_server import put_object
    other = audit_state.take_lease(audit_state.empty(), "someone-else", time.time() + 30)
    other["pass"] = audit_state.new_pass(time.time(), audit.PassCounts().as_dict())
    put_object(cos, LOG_BUCKET, STATE, audit_state.dump(other))
    outcome = Invoker()()
    assert outcome["outcome"] == audit.BUSY and outcome["holder"] == "someone-else"
    assert state(cos) == other  # untouched



def test_the_command_once_reports_lines_and_a_json_last_line_then_is_not_due(oms_server, cos_server, obs_server):
    from cos2oms.commands import audit as audit_command

    environ = world.environ(oms_server, cos_server, obs_server)
    for i in range(6):
        world.source(cos_server, "k%d" % i)
        if i != 3:
            world.destination(obs_server, "k%d" % i)
    status, lines, last = world.run(audit_command, environ, "--once")
    assert status == 1  # something was missing
    assert lines == ['missing "k3": no marker: the event never reached the function']
    assert (last["outcome"], last["complete"], last["source"], last["missing_unmarked"], last["resubmitted"]) == (
        "pass_done", True, 6, 1, 1)
    assert oms_server.received_keys() == [EVENT_PREFIX + "k3"]
    assert last["report"].startswith("oms_source_record/%s/audit/reports/" % TASK)
    status, lines, last = world.run(audit_command, environ, "--once")
    assert (status, lines, last["outcome"]) == (0, [], "not_due")
    world.destination(obs_server, "k3")  # OMS copied it
    status, lines, last = world.run(audit_command, environ, "--once", "--force")
    assert (status, lines, last["outcome"], last["matched"], last["complete"]) == (0, [], "pass_done", 6, True)


def test_the_command_refuses_bad_audit_settings_with_exit_2(oms_server, cos_server, obs_server, capsys):
    from cos2oms.commands import audit as audit_command

    environ = world.environ(oms_server, cos_server, obs_server, AUDIT_GRACE="a while")
    parser = __import__("argparse").ArgumentParser()
    audit_command.add_arguments(parser)
    assert audit_command.run(parser.parse_args(["--once"]), environ=environ) == 2
    assert "AUDIT_GRACE" in capsys.readouterr().err


def test_status_shows_the_last_audit_report_beside_omss_figures(oms_server, cos_server, obs_server):
    from cos2oms.commands import audit as audit_command, status as status_command

    environ = world.environ(oms_server, cos_server, obs_server)
    for i in range(4):
        world.source(cos_server, "k%d" % i)
        if i:
            world.destination(obs_server, "k%d" % i)
    world.run(audit_command, environ, "--once")
    out = __import__("io").StringIO()
    status_command.main(["--no-statistics", "--json"], environ=environ, out=out)
    shown = json.loads(out.getvalue())["audit"]
    assert shown["error"] is None and shown["in_progress"] is None
    assert {k: shown["last"][k] for k in ("complete", "source", "matched", "missing", "missing_unmarked",
                                          "resubmitted")} == {"complete": True, "source": 4, "matched": 3,
                                                              "missing": 1, "missing_unmarked": 1, "resubmitted": 1}
    out = __import__("io").StringIO()
    status_command.main(["--no-statistics"], environ=environ, out=out)
    text = out.getvalue()
    assert "OMS task" in text and "judged          4: 1 missing (1 unmarked, 0 accepted, 0 failed), 0 differ" in text


def test_tricky_names_are_judged_and_resubmitted_unchanged_across_pages(stand):
    """Spaces, "+", "%", Chinese, control characters, XML's specials and an 840-byte name (its marker is
    looked up by its hashed name), over pages of 3 keys: each missing one sent to OMS once, as it is."""
    oms, cos, obs, monkeypatch = stand
    monkeypatch.setattr(audit, "PAGE", 3)
    monkeypatch.setattr(listings, "PAGE", 3)
    names = sorted(world.TRICKY)
    # every other one missing; not the one holding a line break, whose success marker the SDK cannot write to
    # the loopback COS
    missing = [key for i, key in enumerate(names) if i % 2 == 0 and "\n" not in key]
    for key in names:
        world.source(cos, key)
        if key not in missing:
            world.destination(obs, key)
    assert len(missing) == 3 and len(missing[-1]) == 840
    world.marker(cos, markers.SUCCESS, names[0], T0 + 1)
    Invoker().until_done()
    report = state(cos)["last"]
    assert oms.received_keys() == [EVENT_PREFIX + key for key in missing]
    assert (report["source"], report["matched"], report["missing_unmarked"], report["missing_accepted"]) == (
        len(names), len(names) - len(missing), len(missing) - 1, 1)
    assert report["complete"] is True and report["errors"] == 0


def test_the_audit_judges_as_the_sync_task_does_and_resubmits_no_difference_it_keeps(
        oms_server, cos_server, obs_server, monkeypatch):
    """A NO_OVERWRITE task keeps whatever the destination holds: the audit counts such a difference
    (``differ_kept``) and resubmits only what is missing."""
    from cos2oms import bucket_settings, handler
    from cos2oms.commands.buckets import Setup
    from cos2oms.deadline import Deadline

    environ = install(world.environ(oms_server, cos_server, obs_server), monkeypatch)
    for key in ("differs.jpg", "gone.jpg", "same.jpg"):
        world.source(cos_server, key)
    world.destination(obs_server, "differs.jpg", b"another size")
    world.destination(obs_server, "same.jpg")
    monkeypatch.setattr(oms_server, "task_details", dict(oms_server.task_details, object_overwrite_mode="NO_OVERWRITE"))
    setup = Setup(audit._Args(), environ, deferred=True)  # as the timer function: the task says how to judge
    submitter = handler.build_submitter(setup.settings, Deadline(None), "audit-test")
    outcome = audit.Auditor(setup, bucket_settings.load_audit(environ), submitter, Deadline(None), "audit-test").run()
    assert outcome["outcome"] == audit.PASS_DONE
    counts = outcome["counts"]
    assert (counts["matched"], counts["differ"], counts["differ_kept"], counts["missing"], counts["resubmitted"]) == (
        1, 1, 1, 1, 1)
    assert oms_server.received_keys() == [EVENT_PREFIX + "gone.jpg"]
