"""``cos2oms backfill`` end to end: the source bucket and the log bucket on the loopback COS server, OMS on the
loopback OMS server (signatures checked).

What must hold: exactly the source objects last modified in the window are sent (as event keys, at most 10 a
request), each gets the marker the function would write, the summary agrees with what OMS received and what
is in the log bucket, and the exit status says whether every key in the window was accepted.
"""

import pytest

from cos2oms import listings, markers
from cos2oms.commands import backfill as backfill_command
from tests.e2e import migration as world
from tests.e2e.migration import EVENT_PREFIX, T0, TRICKY

HOUR = 3600


@pytest.fixture
def environ(oms_server, cos_server):
    return world.environ(oms_server, cos_server, None)


def backfill_run(environ, *argv):
    return world.run(backfill_command, environ, *argv)


def seed_hours(cos, n, stem="img/"):
    """Object i last modified i hours after T0."""
    keys = ["%s%03d" % (stem, i) for i in range(n)]
    for i, key in enumerate(keys):
        world.source(cos, key, mtime=T0 + i * HOUR)
    return keys


def test_sends_exactly_the_window_with_markers(environ, oms_server, cos_server, monkeypatch):
    monkeypatch.setattr(listings, "PAGE", 4)
    keys = seed_hours(cos_server, 30)
    names = [name for name in TRICKY if "\n" not in name]  # the loopback COS server cannot store "\n" in a name
    for name in names:
        world.source(cos_server, "img/010 " + name, mtime=T0 + 10 * HOUR)
    expected = sorted(keys[5:25] + ["img/010 " + name for name in names])

    status, lines, result = backfill_run(environ, "--since", "2024-05-01T17:00:00Z", "--until", "2024-05-02T13:00Z")

    assert result == {"listed": 30 + len(names), "in_window": len(expected), "accepted": len(expected), "failed": 0,
                      "errors": 0}
    assert list(result) == ["listed", "in_window", "accepted", "failed", "errors"]
    assert status == 0 and lines == []
    assert sorted(oms_server.received_keys()) == sorted(EVENT_PREFIX + k for k in expected)
    assert all(r.verified and 1 <= len(r.raw_keys) <= 10 for r in oms_server.requests if r.method == "POST")
    assert world.markers_of(cos_server, markers.SUCCESS, keys + expected) == set(expected)
    assert world.markers_of(cos_server, markers.FAILED, keys + expected) == set()


def test_prefix_and_open_ended_window(environ, oms_server, cos_server):
    seed_hours(cos_server, 6, "a/")
    seed_hours(cos_server, 6, "b/")
    status, _, result = backfill_run(environ, "--since", "2024-05-01T15:00:00Z", "--prefix", "b/")
    assert (status, result["in_window"], result["accepted"]) == (0, 3, 3)
    assert sorted(oms_server.received_keys()) == [EVENT_PREFIX + "b/%03d" % i for i in (3, 4, 5)]


def test_dry_run_sends_nothing_and_writes_nothing(environ, oms_server, cos_server):
    seed_hours(cos_server, 12)
    before = cos_server.keys(world.LOG_BUCKET)
    status, _, result = backfill_run(environ, "--since", "2024-05-01", "--dry-run")
    assert result == {"listed": 12, "in_window": 12, "accepted": 0, "failed": 0, "errors": 0}
    assert status == 0
    # only the sync task's settings were asked (ShowSyncTask); nothing sent
    assert [r.method for r in oms_server.requests] == ["GET"] and cos_server.keys(world.LOG_BUCKET) == before


def test_refused_keys_get_failed_markers_and_exit_1(environ, oms_server, cos_server):
    keys = seed_hours(cos_server, 25)
    oms_server.script("normal", "normal", 400)  # ShowSyncTask, the first request alone, then the second refused
    status, _, result = backfill_run(environ, "--since", "2024-05-01", "--workers", "1")
    assert result == {"listed": 25, "in_window": 25, "accepted": 15, "failed": 10, "errors": 0}
    assert status == 1
    failed = world.markers_of(cos_server, markers.FAILED, keys)
    assert failed == set(keys[10:20])
    assert world.markers_of(cos_server, markers.SUCCESS, keys) == set(keys) - failed


def test_a_listing_that_fails_midway_sends_what_was_listed_and_exits_1(environ, oms_server, cos_server,
                                                                       monkeypatch):
    monkeypatch.setattr(listings, "PAGE", 5)
    keys = seed_hours(cos_server, 20)
    world.fail_listing_requests(cos_server, monkeypatch, 3)
    status, _, result = backfill_run(environ, "--since", "2024-05-01")
    assert result == {"listed": 10, "in_window": 10, "accepted": 10, "failed": 0, "errors": 1}
    assert status == 1
    assert sorted(oms_server.received_keys()) == [EVENT_PREFIX + k for k in keys[:10]]


def test_names_from_a_server_that_ignores_encoding_type_are_sent_as_they_are(environ, oms_server, cos_server,
                                                                             monkeypatch):
    keys = ["a+b.jpg", "%41.jpg", "c%2Bd e.jpg", "100%.jpg"]
    for key in keys:
        world.source(cos_server, key, mtime=T0)
    world.ignore_encoding_type(cos_server, monkeypatch)
    status, _, result = backfill_run(environ, "--since", "2024-05-01")
    assert (status, result["accepted"]) == (0, 4)
    assert sorted(oms_server.received_keys()) == sorted(EVENT_PREFIX + k for k in keys)
    assert world.markers_of(cos_server, markers.SUCCESS, keys) == set(keys)


def test_an_impossible_date_is_refused_naming_the_option(environ, capsys):
    with pytest.raises(SystemExit) as raised:
        backfill_run(environ, "--since", "2024-02-30")
    assert raised.value.code == 2
    assert "argument --since: '2024-02-30' is not a time: day is out of range for month" in capsys.readouterr().err


def test_a_real_1000_key_page(environ, oms_server, cos_server):
    """1,200 objects (two real listing pages), 1,000 in the window: 100 OMS requests of 10."""
    for i in range(1200):
        world.source(cos_server, "p/%04d" % i, mtime=T0 + (HOUR if i < 1000 else -HOUR))
    cos_server.clear()
    status, _, result = backfill_run(environ, "--since", "2024-05-01T12:30:00Z")
    assert result == {"listed": 1200, "in_window": 1000, "accepted": 1000, "failed": 0, "errors": 0}
    assert status == 0
    assert cos_server.counts["list"] == 2
    posts = [r for r in oms_server.requests if r.method == "POST"]
    assert len(posts) == 100 and all(len(r.raw_keys) == 10 for r in posts)


def test_since_is_required(environ, capsys):
    with pytest.raises(SystemExit) as raised:
        backfill_run(environ)
    assert raised.value.code == 2


@pytest.mark.parametrize("overrides, variable", [({"SOURCE_BUCKET": "other-1253970026"}, "SOURCE_BUCKET"),
                                                 ({"SOURCE_REGION": "Not A Region"}, "SOURCE_REGION"),
                                                 ({"HW_SK": None}, "HW_SK")])
def test_bad_configuration_exits_2(oms_server, cos_server, capsys, overrides, variable):
    import argparse
    parser = argparse.ArgumentParser()
    backfill_command.add_arguments(parser)
    environ = world.environ(oms_server, cos_server, None, **overrides)
    assert backfill_command.run(parser.parse_args(["--since", "1d"]), environ=environ) == 2
    assert variable in capsys.readouterr().err


def test_worker_processes_send_every_key_once_with_its_marker(environ, oms_server, cos_server):
    """The first chunk of keys in this process (the credentials probe), the others in two worker processes."""
    keys = ["many/%04d" % i for i in range(1300)]
    for key in keys:
        world.source(cos_server, key, mtime=T0)
    oms_server.script(*[None] * 71 + [400])  # after ShowSyncTask  # one batch refused, in a worker

    status, _, result = backfill_run(environ, "--since", "2024-05-01", "--processes", "2", "--workers", "4")

    assert result == {"listed": 1300, "in_window": 1300, "accepted": 1290, "failed": 10, "errors": 0}
    assert status == 1
    assert sorted(k for r in oms_server.requests for k in r.keys_unquote) == sorted(EVENT_PREFIX + k for k in keys)
    failed = world.markers_of(cos_server, markers.FAILED, keys)
    assert len(failed) == 10 and world.markers_of(cos_server, markers.SUCCESS, keys) == set(keys) - failed
