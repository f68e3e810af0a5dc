"""``cos2oms verify`` end to end: the source bucket and the markers on the loopback COS server (moto behind the
COS adapter, signatures checked), the destination on the loopback OBS server (moto, listed with Huawei's OBS
SDK, signatures checked), OMS on the loopback OMS server (copying accepted objects where a test asks).

What must hold: every source object is reported once, as matched, missing (with the cause the markers give),
differing or an error; nothing past a failed listing is ever reported as matched or missing; the last line is
the JSON summary and agrees with the report lines and the combined file.
"""

import argparse
import hashlib
import io
import json
import logging
import time

import pytest

from cos2oms import listings, markers, retry, verify
from local import world as loopback
from cos2oms import report, verify_merge
from cos2oms.commands import verify as verify_command
from local.cos_server import crc64_ecma
from tests.e2e import migration as world
from tests.e2e.migration import COPIED, EVENT_PREFIX, OBS_BUCKET, SOURCE_BUCKET, T0, TRICKY
from tests.support import TASK

ZERO = {"source": 0, "matched": 0, "missing": 0, "differ": 0, "extra": 0, "errors": 0, "missing_unmarked": 0,
        "missing_accepted": 0, "missing_failed": 0, "differ_kept": 0, "resubmitted": 0}


def summary(**counts):
    return {**ZERO, **counts}


@pytest.fixture
def environ(oms_server, cos_server, obs_server):
    return world.environ(oms_server, cos_server, obs_server)


@pytest.fixture
def small_pages(monkeypatch):
    """Listing pages of 3 keys, so that a few objects span many pages of every listing."""
    monkeypatch.setattr(listings, "PAGE", 3)


def verify_run(environ, *argv):
    return world.run(verify_command, environ, *argv)


def combined(tmp_path, environ, *argv):
    """verify with ``--combined``: (status, lines, summary, the file's text exactly as written)."""
    path = tmp_path / "combined.txt"
    status, lines, result = verify_run(environ, "--combined", str(path), *argv)
    return status, lines, result, path.read_bytes().decode("utf-8")  # no newline translation


def test_an_interrupted_run_says_so_at_the_end_of_its_combined_report(environ, cos_server, obs_server, tmp_path,
                                                                       monkeypatch):
    """Ctrl-C midway: the partial --combined report must not read as a whole one."""
    for key in ("a", "b", "c"):
        world.source(cos_server, key)
        world.destination(obs_server, key)
    merge = verify_merge.merge

    def interrupted_after_one(*args, **kwargs):
        results = merge(*args, **kwargs)
        yield next(results)
        raise KeyboardInterrupt

    monkeypatch.setattr(verify, "merge", interrupted_after_one)
    status, _, result, text = combined(tmp_path, environ)
    assert status == 1 and result["matched"] == 1
    assert text.splitlines() == ["= a", '! "%s"' % report.INTERRUPTED]


# ----------------------------------------------------------------------------- every outcome

@pytest.mark.parametrize("pages", ["real", "small"])
def test_every_outcome_with_tricky_names(environ, oms_server, cos_server, obs_server, tmp_path, monkeypatch, pages):
    if pages == "small":
        monkeypatch.setattr(listings, "PAGE", 2)
    for key in TRICKY:  # all migrated
        world.source(cos_server, key)
        world.destination(obs_server, key)
        world.marker(cos_server, markers.SUCCESS, key)
    world.source(cos_server, "missing/no marker+.jpg")
    world.source(cos_server, "missing/accepted 中文.jpg")
    world.marker(cos_server, markers.SUCCESS, "missing/accepted 中文.jpg")
    world.source(cos_server, "missing/failed%2F.jpg")
    world.marker(cos_server, markers.FAILED, "missing/failed%2F.jpg")
    world.source(cos_server, "differ/size.jpg", b"four")
    world.destination(obs_server, "differ/size.jpg", b"three")
    world.source(cos_server, "differ/age.jpg", mtime=T0)
    world.destination(obs_server, "differ/age.jpg", mtime=T0 - 1)
    world.source(cos_server, "same second.jpg", mtime=T0 + 0.9)
    world.destination(obs_server, "same second.jpg", mtime=T0)
    world.destination(obs_server, "extra/only on OBS\x02.jpg")
    # Not this task's, not this bucket's: never read as ours.
    cos_server.put_keys(world.LOG_BUCKET, [
        markers.marker_key("other-task", markers.SUCCESS, EVENT_PREFIX + "missing/no marker+.jpg"),
        markers.marker_key(TASK, markers.FAILED, "/1253970026/other/missing/no marker+.jpg")])

    status, lines, result, report = combined(tmp_path, environ)

    assert result == summary(source=len(TRICKY) + 6, matched=len(TRICKY) + 1, missing=3, differ=2, extra=1,
                             missing_unmarked=1, missing_accepted=1, missing_failed=1)
    assert status == 1
    assert sorted(lines) == sorted([
        'missing "missing/no marker+.jpg": no marker: the event never reached the function',
        'missing "missing/accepted 中文.jpg": success marker: OMS accepted it and did not copy it',
        'missing "missing/failed%2F.jpg": failed marker: waiting for replay',
        'differ  "differ/size.jpg": size 4 on the source, 5 on the destination',
        'differ  "differ/age.jpg": the destination (2024-05-01T11:59:59Z) is older than the source '
        '(2024-05-01T12:00:00Z)',
        'extra   "extra/only on OBS\\u0002.jpg": only on the destination',
    ])
    expected = sorted([("=", k) for k in TRICKY + ["same second.jpg"]] + [
        ("+", "missing/no marker+.jpg"), ("+", "missing/accepted 中文.jpg"), ("+", "missing/failed%2F.jpg"),
        ("*", "differ/size.jpg"), ("*", "differ/age.jpg"), ("-", "extra/only on OBS\x02.jpg")], key=lambda s: s[1])
    assert world.read_combined(report) == expected  # rclone's combined format, in key order
    # Keys as they are, but for the one with a line break: a JSON string, so that it stays one line.
    assert report.splitlines() == ['%s %s' % (symbol, '"tab\\tnew\\nline"' if "\n" in key else key)
                                   for symbol, key in expected]


def test_a_clean_migration_exits_0(environ, cos_server, obs_server, tmp_path):
    for key in TRICKY:
        world.source(cos_server, key)
        world.destination(obs_server, key)
    status, lines, result = verify_run(environ)
    assert (status, lines, result) == (0, [], summary(source=len(TRICKY), matched=len(TRICKY)))


def test_an_empty_bucket(environ):
    assert verify_run(environ) == (0, [], ZERO)


def test_checksum_compares_md5_etags(environ, oms_server, cos_server, obs_server):
    oms_server.task_details = dict(oms_server.task_details, object_overwrite_mode="FULL_OVERWRITE")  # repairs it
    world.source(cos_server, "a.jpg", b"abcd")
    world.destination(obs_server, "a.jpg", b"abcX")
    assert verify_run(environ)[2]["matched"] == 1
    status, lines, result = verify_run(environ, "--checksum")
    assert result["differ"] == 1 and status == 1
    assert lines == ['differ  "a.jpg": MD5 %s on the source, %s on the destination'
                     % (hashlib.md5(b"abcd").hexdigest(), hashlib.md5(b"abcX").hexdigest())]


def test_long_keys_marker_state(environ, cos_server, obs_server):
    """840-byte keys: their guide-style marker names would be over COS's 850 bytes, so their markers are named
    after the key's hash (cos2oms.markers) and verify looks each up; with both markers, the newer decides."""
    accepted, refused, unmarked = ("%s" % c * 840 for c in "xyz")
    for key in (accepted, refused, unmarked):
        world.source(cos_server, key)
    world.marker(cos_server, markers.SUCCESS, accepted, mtime=T0)  # replay's acceptance after a refusal
    world.marker(cos_server, markers.FAILED, accepted, mtime=T0 - 60)
    world.marker(cos_server, markers.FAILED, refused, mtime=T0)  # a refusal after an acceptance
    world.marker(cos_server, markers.SUCCESS, refused, mtime=T0 - 60)
    status, lines, result = verify_run(environ)
    assert (status, result) == (1, summary(source=3, missing=3, missing_accepted=1, missing_failed=1,
                                           missing_unmarked=1))
    assert lines == ['missing "%s": success marker: OMS accepted it and did not copy it' % accepted,
                     'missing "%s": failed marker: waiting for replay' % refused,
                     'missing "%s": no marker: the event never reached the function' % unmarked]


def test_keys_with_dot_segments_are_looked_up_as_their_markers_are_named(environ, cos_server):
    """'a/../b' gets hashed marker names (a URL path would resolve the segment): verify must look them up, not
    find them missing from the listing's order."""
    accepted, refused = "photos/../a.jpg", "photos/./b.jpg"
    for key in (accepted, refused):
        world.source(cos_server, key)
    world.marker(cos_server, markers.SUCCESS, accepted)
    world.marker(cos_server, markers.FAILED, refused)
    status, lines, result = verify_run(environ)
    assert (status, result) == (1, summary(source=2, missing=2, missing_accepted=1, missing_failed=1))


def test_a_long_keys_marker_look_up_is_tried_again_and_its_failure_is_an_error(environ, cos_server, monkeypatch):
    monkeypatch.setattr(retry, "backoff", lambda attempt, rand=None: 0.0)
    long_key = "y" * 840
    world.source(cos_server, long_key)
    world.marker(cos_server, markers.SUCCESS, long_key)
    cos_server.fail_next(2, 503, kind="head")
    status, lines, result = verify_run(environ)
    assert (status, result) == (1, summary(source=1, missing=1, missing_accepted=1))  # no error: it got through
    assert cos_server.counts["head"] == 3 + 1  # the success marker on its third attempt, then the failed one

    cos_server.clear()
    cos_server.fail_all(403, kind="head")
    status, lines, result = verify_run(environ)
    assert (status, result) == (1, summary(source=1, missing=1, errors=1))
    assert lines == ['missing "%s": marker unknown (marker look-up failed)' % long_key]
    assert cos_server.counts["head"] == 1  # a refusal is not tried again, nor the other marker looked up


def test_with_both_markers_the_newer_tells_the_cause(environ, cos_server):
    """replay accepted it after a refusal (its failed marker outlived that): OMS lost it; a refusal after an
    acceptance: waiting for replay; both in the same second: a failed marker is there, so waiting for replay."""
    for key, success_at, failed_at in [("accepted last", T0 + 60, T0), ("refused last", T0, T0 + 60),
                                       ("same second", T0, T0)]:
        world.source(cos_server, key)
        world.marker(cos_server, markers.SUCCESS, key, mtime=success_at)
        world.marker(cos_server, markers.FAILED, key, mtime=failed_at)
    status, lines, result = verify_run(environ)
    assert result == summary(source=3, missing=3, missing_accepted=1, missing_failed=2)
    assert lines == ['missing "accepted last": success marker: OMS accepted it and did not copy it',
                     'missing "refused last": failed marker: waiting for replay',
                     'missing "same second": failed marker: waiting for replay']


#: Every character that ends a line for some reader: universal newlines (\n, \r, \r\n) or str.splitlines.
LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_a_key_can_never_forge_a_combined_line(environ, cos_server, obs_server, tmp_path):
    forging = ["evil%s= innocent.jpg" % c for c in LINE_BREAKS]
    quoted = ['"quoted".jpg', '"']  # a path starting with a double quote would read as JSON: it is JSON
    plain = ['inner "quotes".jpg', "tab\tand\x01control.jpg", "中文.jpg", "= innocent.jpg"]
    for key in forging + quoted + plain:
        world.source(cos_server, key)
        world.destination(obs_server, key)
    world.source(cos_server, "innocent.jpg")  # missing: "+ innocent.jpg" is its one line

    status, lines, result, report = combined(tmp_path, environ)

    keys = sorted(forging + quoted + plain + ["innocent.jpg"])
    assert result == summary(source=len(keys), matched=len(keys) - 1, missing=1, missing_unmarked=1)
    # One line per key for every reader, each giving its key back.
    assert len(report.splitlines()) == len(io.StringIO(report, newline=None).readlines()) == len(keys)
    assert world.read_combined(report) == [("+" if key == "innocent.jpg" else "=", key) for key in keys]
    assert [line for line in report.splitlines() if line.endswith(" innocent.jpg")] == ["= = innocent.jpg",
                                                                                       "+ innocent.jpg"]
    for key in plain:  # rclone's format: as they are
        assert "= " + key in report.splitlines()
    assert '= "evil\\n= innocent.jpg"' in report.splitlines() and '= "evil\\u2028= innocent.jpg"' in report


def test_an_error_about_no_key_has_its_line_in_the_combined_file(environ, cos_server, obs_server, tmp_path,
                                                                  monkeypatch):
    """A 403 on the source listing: without a line for it, the file would be an empty bucket's."""
    world.source(cos_server, "a")
    world.fail_listing_requests(cos_server, monkeypatch, 1, prefix=lambda p: p == "")
    status, lines, result, report = combined(tmp_path, environ)
    assert (status, result) == (1, summary(errors=1))
    ((symbol, key, text),) = world.read_combined(report)
    assert (symbol, key) == ("!", None)
    assert text.startswith("source listing failed: after 1 attempt(s): COS answered 403")


def test_a_folder_object_named_obs_prefix_is_not_an_object_under_it(oms_server, cos_server, obs_server):
    environ = world.environ(oms_server, cos_server, obs_server, OBS_PREFIX="from-cos/")
    world.source(cos_server, "a")
    world.destination(obs_server, "a", prefix="from-cos/")
    world.destination(obs_server, "from-cos/")  # what a console's "new folder" makes
    assert verify_run(environ) == (0, [], summary(source=1, matched=1))


@pytest.mark.parametrize("ignoring", ["cos", "obs", "both"])
def test_names_from_a_server_that_ignores_encoding_type_are_taken_as_they_are(
        environ, cos_server, obs_server, monkeypatch, small_pages, ignoring):
    keys = ["a+b.jpg", "%41.jpg", "c%2Bd.jpg", "with space.jpg", "100%.jpg", "中文+%E4%B8%AD.jpg"]
    for key in keys:
        world.source(cos_server, key)
        world.destination(obs_server, key)
        world.marker(cos_server, markers.SUCCESS, key)
    world.source(cos_server, "lost+%41.jpg")
    world.marker(cos_server, markers.SUCCESS, "lost+%41.jpg")
    if ignoring in ("cos", "both"):
        world.ignore_encoding_type(cos_server, monkeypatch)
    if ignoring in ("obs", "both"):
        world.ignore_encoding_type(obs_server, monkeypatch)
    status, lines, result = verify_run(environ)
    assert result == summary(source=len(keys) + 1, matched=len(keys), missing=1, missing_accepted=1)
    assert lines == ['missing "lost+%41.jpg": success marker: OMS accepted it and did not copy it']


def test_a_checksum_difference_on_a_newer_copy_needs_a_task_that_overwrites_fully(
        environ, oms_server, cos_server, obs_server):
    """OMS's default overwrite mode compares size and last-modified time: a same-size, newer copy whose MD5
    differs would be skipped, so verify reports it kept and does not resubmit it; a FULL_OVERWRITE task copies
    it, so verify resubmits it there."""
    from local.obs_server import FULL_OVERWRITE

    world.source(cos_server, "a.jpg", b"abcd")
    world.destination(obs_server, "a.jpg", b"abcX")  # same size, copied later
    status, lines, result = verify_run(environ, "--checksum", "--resubmit")
    assert (status, result) == (1, summary(source=1, differ=1, differ_kept=1))
    assert lines == ['differ  "a.jpg": MD5 %s on the source, %s on the destination (the sync task\'s overwrite mode '
                     'SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE keeps a copy of the same size that is not older: '
                     'resubmitting does not replace it)' % (hashlib.md5(b"abcd").hexdigest(),
                                                              hashlib.md5(b"abcX").hexdigest())]
    assert [r.method for r in oms_server.requests] == ["GET"]  # ShowSyncTask; nothing sent

    oms_server.task_details = dict(oms_server.task_details, object_overwrite_mode=FULL_OVERWRITE)
    migration = oms_server.migrate(cos_server, SOURCE_BUCKET, obs_server, OBS_BUCKET, delay=0.0)  # the task's mode
    assert verify_run(environ, "--checksum", "--resubmit")[2] == summary(source=1, differ=1, resubmitted=1)
    migration.wait()
    assert verify_run(environ, "--checksum") == (0, [], summary(source=1, matched=1))


def test_a_no_overwrite_task_keeps_differing_copies_so_resubmit_sends_only_the_missing(
        environ, oms_server, cos_server, obs_server, caplog):
    from local.obs_server import NO_OVERWRITE

    oms_server.task_details = dict(oms_server.task_details, object_overwrite_mode=NO_OVERWRITE)
    migration = oms_server.migrate(cos_server, SOURCE_BUCKET, obs_server, OBS_BUCKET, delay=0.0)
    for key in ("differs.jpg", "gone.jpg", "same.jpg"):
        world.source(cos_server, key, b"data")
    world.destination(obs_server, "differs.jpg", b"another size")
    world.destination(obs_server, "same.jpg", b"data")

    with caplog.at_level(logging.INFO, logger="cos2oms"):
        status, lines, result = verify_run(environ, "--resubmit")
    assert (status, result) == (1, summary(source=3, matched=1, missing=1, missing_unmarked=1, differ=1,
                                           differ_kept=1, resubmitted=1))
    assert lines == ['differ  "differs.jpg": size 4 on the source, 12 on the destination (the sync task\'s overwrite '
                     'mode NO_OVERWRITE keeps the destination\'s copy: resubmitting does not replace it)',
                     'missing "gone.jpg": no marker: the event never reached the function']
    assert oms_server.received_keys() == [EVENT_PREFIX + "gone.jpg"]
    assert "verify compares as the sync task's settings say consistency_check=size_last_modified " \
           "object_overwrite_mode=NO_OVERWRITE" in caplog.text
    migration.wait()
    assert verify_run(environ)[2] == summary(source=3, matched=2, differ=1, differ_kept=1)


def test_a_crc64_task_judges_older_copies_of_the_same_size_by_both_crc64s(environ, oms_server, cos_server,
                                                                         obs_server):
    oms_server.task_details = dict(oms_server.task_details, consistency_check="crc64")
    cos_server.crc64 = obs_server.crc64 = True  # HEADs answer x-cos-hash-crc64ecma, x-obs-checksum-crc64ecma
    for key in ("equal", "other", "size"):
        world.source(cos_server, key, b"abcd", mtime=T0)
    world.destination(obs_server, "equal", b"abcd", mtime=T0 - 3600)  # older, same bytes: OMS calls it consistent
    world.destination(obs_server, "other", b"abcX", mtime=T0 - 3600)
    world.destination(obs_server, "size", b"abcde", mtime=T0 - 3600)  # settled by the listing: no HEAD
    crc = {body: str(crc64_ecma(body)) for body in (b"abcd", b"abcX")}

    status, lines, result = verify_run(environ)
    assert (status, result) == (1, summary(source=3, matched=1, differ=2))
    assert lines == ['differ  "other": CRC64 %s on the source, %s on the destination' % (crc[b"abcd"], crc[b"abcX"]),
                     'differ  "size": size 4 on the source, 5 on the destination']
    assert sorted(r.key for r in cos_server.requests if r.kind == "head") == ["equal", "other"]
    assert sorted(r.key for r in obs_server.requests if r.kind == "head") == ["equal", "other"]

    obs_server.crc64 = False  # without both CRC64s OMS compares size and last-modified time, and so does verify
    status, lines, result = verify_run(environ)
    assert result == summary(source=3, differ=3)
    assert lines[0] == 'differ  "equal": the destination (2024-05-01T11:00:00Z) is older than the source ' \
                       '(2024-05-01T12:00:00Z)'

    obs_server.fail_all(503, kind="head")  # a HEAD that fails is an error for that key, never a match
    status, lines, result = verify_run(environ)
    assert result == summary(source=3, differ=1, errors=2) and status == 1
    assert lines[:2] == ['error   "equal": CRC64 look-up failed: after 3 attempt(s): OBS answered 503 - -',
                         'error   "other": CRC64 look-up failed: after 3 attempt(s): OBS answered 503 - -']


def test_the_source_bucket_is_listed_at_its_own_endpoint(oms_server, cos_server, obs_server):
    """COS_ENDPOINT is the log bucket's: the source bucket in another region is listed at that region's
    endpoint unless SOURCE_ENDPOINT says otherwise (the Host header shows where each request was sent)."""
    internal = "cos-internal.ap-guangzhou.tencentcos.cn"
    world.source(cos_server, "a")
    oms_server.task_details = dict(oms_server.task_details, src_region=None)  # the task does not say: SOURCE_REGION

    def listed_hosts(**overrides):
        cos_server.clear()
        environ = world.environ(oms_server, cos_server, obs_server, COS_ENDPOINT=internal, **overrides)
        assert verify_run(environ)[2] == summary(source=1, missing=1, missing_unmarked=1)
        return {(r.bucket, r.headers["host"].split(":")[0]) for r in cos_server.requests if r.kind == "list"}

    logs_host = (world.LOG_BUCKET, "%s.%s" % (world.LOG_BUCKET, internal))
    assert listed_hosts() == {(SOURCE_BUCKET, "%s.%s" % (SOURCE_BUCKET, internal)), logs_host}  # same region
    assert listed_hosts(SOURCE_REGION="ap-shanghai") == {
        (SOURCE_BUCKET, SOURCE_BUCKET + ".cos.ap-shanghai.myqcloud.com"), logs_host}
    assert listed_hosts(SOURCE_REGION="ap-shanghai", SOURCE_ENDPOINT="cos-internal.ap-shanghai.tencentcos.cn") == {
        (SOURCE_BUCKET, SOURCE_BUCKET + ".cos-internal.ap-shanghai.tencentcos.cn"), logs_host}


# ----------------------------------------------------------------------------- prefixes and windows

def test_prefix_and_destination_prefix(oms_server, cos_server, obs_server, small_pages):
    environ = world.environ(oms_server, cos_server, obs_server, OBS_PREFIX="from-cos/")
    for key in ["a/1", "a/2", "a/3", "a/4", "ab", "b/1"]:
        world.source(cos_server, key)
    for key in ["a/1", "a/2", "a/9", "b/1"]:
        world.destination(obs_server, key, prefix="from-cos/")
    world.destination(obs_server, "a/3")  # not under OBS_PREFIX: not the copy
    world.marker(cos_server, markers.FAILED, "a/4")
    world.marker(cos_server, markers.FAILED, "ab")

    status, lines, result = verify_run(environ, "--prefix", "a/")

    assert result == summary(source=4, matched=2, missing=2, extra=1, missing_unmarked=1, missing_failed=1)
    assert lines == ['missing "a/3": no marker: the event never reached the function',
                     'missing "a/4": failed marker: waiting for replay',
                     'extra   "a/9": only on the destination']


def test_time_window(environ, cos_server, obs_server, small_pages):
    for i in range(10):
        world.source(cos_server, "k%d" % i, mtime=T0 + i * 3600)
    world.destination(obs_server, "k0")
    world.destination(obs_server, "k5")  # copied before the source was written: differs
    since = "2024-05-01T14:00:00Z"
    status, lines, result = verify_run(environ, "--since", since, "--until", "2024-05-01T18:00")
    assert result == summary(source=4, missing=3, differ=1, missing_unmarked=3)  # k2 to k5
    assert [line.split('"')[1] for line in lines] == ["k2", "k3", "k4", "k5"]
    assert lines[-1].startswith('differ  "k5": the destination')
    # An offset is honoured: 23:00+08:00 is 15:00Z.
    assert verify_run(environ, "--since", since, "--until", "2024-05-01T23:00:00+08:00")[2] == summary(
        source=1, missing=1, missing_unmarked=1)
    assert verify_run(environ, "--until", "2024-05-01T13:00:00Z")[2] == summary(source=1, matched=1)


def test_an_object_outside_the_window_is_never_extra_and_a_windowed_run_reports_no_extra(
        environ, cos_server, obs_server, tmp_path):
    world.source(cos_server, "old.jpg", mtime=T0)
    world.destination(obs_server, "old.jpg")
    world.source(cos_server, "new.jpg", mtime=T0 + 86400)
    world.destination(obs_server, "new.jpg", mtime=T0 + 86400 + 60)
    world.destination(obs_server, "only on OBS.jpg")
    assert combined(tmp_path, environ, "--since", "2030-01-01") == (0, [], ZERO, "")
    assert verify_run(environ, "--since", "2024-05-02") == (0, [], summary(source=1, matched=1))
    assert verify_run(environ, "--until", "2024-05-02") == (0, [], summary(source=1, matched=1))
    # Only a run over all time can tell what is on the destination alone.
    assert verify_run(environ) == (0, ['extra   "only on OBS.jpg": only on the destination'],
                                   summary(source=2, matched=2, extra=1))


def test_relative_since(environ, cos_server, obs_server):
    world.source(cos_server, "old", mtime=time.time() - 3 * 86400)
    world.source(cos_server, "new", mtime=time.time() - 3600)
    result = verify_run(environ, "--since", "2d")[2]
    assert result == summary(source=1, missing=1, missing_unmarked=1)


# ----------------------------------------------------------------------------- paging and failures

def test_real_pages_of_1000_in_every_listing(environ, cos_server, obs_server, tmp_path):
    """2,100 objects: the source, the destination and the success markers each span three real 1,000-key
    pages; the missing ones are at the end, so the marker listing is read to its last page."""
    keys = ["img/%05d 图+%%.jpg" % i for i in range(2100)]
    for i, key in enumerate(keys):
        world.source(cos_server, key)
        world.marker(cos_server, markers.SUCCESS, key)
        if i < 2095:
            world.destination(obs_server, key)
    world.marker(cos_server, markers.FAILED, keys[-1], mtime=T0)  # older than its success marker: accepted
    cos_server.clear()
    obs_server.clear()

    status, lines, result, report = combined(tmp_path, environ)

    assert result == summary(source=2100, matched=2095, missing=5, missing_accepted=5)
    assert [line.split('"')[1] for line in lines] == keys[2095:]
    assert report.count("\n") == 2100
    assert obs_server.counts == {"list": 3}
    assert cos_server.counts["list"] == 3 + 3 + 1  # source, success markers, failed markers


@pytest.mark.parametrize("which", ["destination", "source", "success markers"])
def test_a_listing_that_fails_midway_reports_nothing_past_the_failure(environ, cos_server, obs_server, tmp_path,
                                                                      small_pages, monkeypatch, which):
    keys = ["k%02d" % i for i in range(20)]
    for key in keys:
        world.source(cos_server, key)
        if key not in ("k03", "k15"):
            world.destination(obs_server, key)
        world.marker(cos_server, markers.SUCCESS, key)
    if which == "destination":
        world.fail_listing_requests(obs_server, monkeypatch, 3)  # pages 1 and 2 (k00..k05) then 403
    elif which == "source":
        world.fail_listing_requests(cos_server, monkeypatch, 3, prefix=lambda p: p == "")  # k00 to k05, then 403
    else:
        world.fail_listing_requests(cos_server, monkeypatch, 2, prefix="oms_source_record")

    status, lines, result, report = combined(tmp_path, environ)

    assert status == 1 and result["errors"] >= 1
    reported = {line[2:] for line in report.splitlines()}
    if which == "success markers":
        # The markers only tell why: the comparison goes on; the missing keys past the failure get no cause.
        assert result["matched"] == 18 and result["missing"] == 2
        assert any("success marker listing failed" in line for line in lines)
        assert 'missing "k15": marker unknown (marker listing failed)' in lines
        errors = [pair for pair in world.read_combined(report) if pair[0] == "!"]
        assert len(errors) == 1 and errors[0][1] is None and errors[0][2].startswith("success marker listing failed")
        return
    # Nothing past the last key listed before the failure is matched or missing; what came before is exact.
    last_listed = "k06" if which == "destination" else "k05"  # the destination has no k03
    assert sorted(line for line in report.splitlines() if line[0] in "=+") == sorted(
        ("+ " if key == "k03" else "= ") + key for key in keys if key <= last_listed)
    assert result["missing"] == 1 and result["matched"] == (6 if which == "destination" else 5)
    assert any("%s listing failed" % which in line for line in lines)
    if which == "destination":
        assert 'error   "k07": destination listing failed' in "\n".join(lines)  # the key in hand: not checked
        assert report.splitlines()[-1] == "! k07" and "k07" in reported
    else:  # the error names no key: its line says what failed
        assert world.read_combined(report)[-1][:2] == ("!", None)


def test_listing_errors_are_tried_again(environ, cos_server, obs_server):
    world.source(cos_server, "a")
    world.destination(obs_server, "a")
    obs_server.fail_next(2, 503, kind="list")
    cos_server.fail_next(1, 500, kind="list")
    assert verify_run(environ) == (0, [], summary(source=1, matched=1))


# ----------------------------------------------------------------------------- resubmit

def test_resubmit_sends_exactly_the_missing_and_differing_keys_then_omss_copies_make_it_clean(
        environ, oms_server, cos_server, obs_server, small_pages):
    migration = oms_server.migrate(cos_server, SOURCE_BUCKET, obs_server, OBS_BUCKET, delay=0.0)
    # (Not "\n": the loopback COS server cannot take a marker named with a line feed.)
    names = [name for name in TRICKY if "\n" not in name]
    keys = ["ok/%02d" % i for i in range(5)] + ["gone/%02d %s" % (i, names[i % len(names)]) for i in range(23)] + \
        ["differ/a", "differ/b"]
    for key in keys:
        world.source(cos_server, key, mtime=T0)
        if key.startswith("ok/"):
            world.destination(obs_server, key)
    world.destination(obs_server, "differ/a", b"other size")
    world.destination(obs_server, "differ/b", mtime=T0 - 3600)
    world.marker(cos_server, markers.FAILED, "gone/00 with space.jpg")
    resubmitted = sorted(k for k in keys if not k.startswith("ok/"))

    status, lines, result = verify_run(environ, "--resubmit", "--workers", "3")

    assert result == summary(source=30, matched=5, missing=23, differ=2, missing_unmarked=22, missing_failed=1,
                             resubmitted=25)
    assert status == 1  # OMS has accepted them; they are not there yet
    requests = [r for r in oms_server.requests if r.method == "POST"]  # after one ShowSyncTask
    assert all(1 <= len(r.raw_keys) <= 10 for r in requests) and all(r.verified for r in requests)
    assert sorted(oms_server.received_keys()) == sorted(EVENT_PREFIX + k for k in resubmitted)
    assert len(requests) == 3
    assert world.markers_of(cos_server, markers.SUCCESS, keys) == set(resubmitted)  # as the function writes them

    migration.wait()
    assert all(copy.ok for copy in oms_server.copies) and len(oms_server.copies) == 25
    status, lines, result = verify_run(environ)
    assert (status, lines, result) == (0, [], summary(source=30, matched=30))


@pytest.fixture
def restore_logger_levels():
    """``main_handler`` sets its loggers' levels (LOG_LEVEL, and the SDK's held at WARNING): undo that."""
    from cos2oms import logs

    names = ("cos2oms",) + logs.QUIET_LOGGERS
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_an_object_oms_accepts_and_never_copies_found_and_repaired_the_real_way(
        monkeypatch, restore_logger_levels, environ, oms_server, cos_server, obs_server):
    """The function sends the created objects' keys through the loopback OMS, which accepts them all and does
    not copy one of them: verify calls it missing_accepted, and verify --resubmit repairs it."""
    import index
    from cos2oms import handler
    from tests import support

    loopback.install(environ, monkeypatch)  # the function reads its environment
    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
    migration = oms_server.migrate(cos_server, SOURCE_BUCKET, obs_server, OBS_BUCKET, delay=0.0)
    lost = "photos/lost 中文+%.jpg"
    for key in ("photos/kept.jpg", lost):
        world.source(cos_server, key, mtime=time.time())
    migration.no_copy.add(EVENT_PREFIX + lost)
    name, _, appid = SOURCE_BUCKET.rpartition("-")
    event = support.event(*[support.record(key, bucket=name, appid=appid) for key in ("photos/kept.jpg", lost)])

    assert index.main_handler(event, {"request_id": "e2e", "time_limit_in_ms": 3000}) is True
    assert [(copy.event_key, copy.ok) for copy in migration.wait()] == [(EVENT_PREFIX + "photos/kept.jpg", True),
                                                                        (EVENT_PREFIX + lost, False)]
    assert world.markers_of(cos_server, markers.SUCCESS, ["photos/kept.jpg", lost]) == {"photos/kept.jpg", lost}

    assert verify_run(environ) == (1, ['missing "%s": success marker: OMS accepted it and did not copy it' % lost],
                                   summary(source=2, matched=1, missing=1, missing_accepted=1))
    assert verify_run(environ, "--resubmit")[2] == summary(source=2, matched=1, missing=1, missing_accepted=1,
                                                           resubmitted=1)
    migration.wait()
    assert verify_run(environ) == (0, [], summary(source=2, matched=2))


def test_resubmit_refused_by_oms_counts_errors_and_writes_failed_markers(environ, oms_server, cos_server):
    for key in ["a", "b"]:
        world.source(cos_server, key)
    oms_server.script("normal", 400)  # ShowSyncTask answered, the resubmission refused
    status, lines, result = verify_run(environ, "--resubmit")
    assert result == summary(source=2, missing=2, missing_unmarked=2, errors=2)
    assert world.markers_of(cos_server, markers.FAILED, ["a", "b"]) == {"a", "b"}


# ----------------------------------------------------------------------------- configuration

@pytest.mark.parametrize("overrides, variable", [
    ({"SOURCE_BUCKET": "other-1253970026"}, "SOURCE_BUCKET"),  # contradicts the sync task's src_bucket
    ({"SOURCE_BUCKET": "no-appid"}, "SOURCE_BUCKET"),
    ({"SOURCE_BUCKET": world.LOG_BUCKET}, "SOURCE_BUCKET"),
    ({"OBS_BUCKET": "other-bucket"}, "OBS_BUCKET"),  # contradicts the task's dst_bucket
    ({"OBS_ENDPOINT": "https://obs.cn-east-3.myhuaweicloud.com"}, "OBS_ENDPOINT"),  # another region than dst_region
    ({"OBS_ENDPOINT": "obs.cn-north-4.myhuaweicloud.com"}, "OBS_ENDPOINT"),
    ({"OBS_ENDPOINT": "https://user:s3cr3t-pass@obs.cn-north-4.myhuaweicloud.com"}, "OBS_ENDPOINT"),
    ({"OBS_AK": None}, "OBS_AK"),
    ({"SYNC_URL": None}, "SYNC_URL"),
])
def test_bad_configuration_exits_2_naming_the_variable(oms_server, cos_server, obs_server, capsys, overrides,
                                                       variable):
    environ = world.environ(oms_server, cos_server, obs_server, **overrides)
    parser = argparse.ArgumentParser()
    verify_command.add_arguments(parser)
    status = verify_command.run(parser.parse_args([]), environ=environ)
    err = capsys.readouterr().err
    assert status == 2
    assert variable in err
    assert "s3cr3t" not in err


def test_since_after_until_exits_2(environ, capsys):
    parser = argparse.ArgumentParser()
    verify_command.add_arguments(parser)
    status = verify_command.run(parser.parse_args(["--since", "2024-05-02", "--until", "2024-05-01"]), environ=environ)
    assert status == 2 and "--until" in capsys.readouterr().err


def test_an_impossible_date_is_refused_naming_the_option(environ, capsys):
    parser = argparse.ArgumentParser(prog="cos2oms verify")
    verify_command.add_arguments(parser)
    for option, value, problem in [("--since", "2024-02-30", "day is out of range for month"),
                                   ("--until", "2024-05-01T25:00", "hour must be in 0..23"),
                                   ("--since", "2024-05-01T23:61:00Z", "minute must be in 0..59")]:
        with pytest.raises(SystemExit) as raised:
            parser.parse_args([option, value])
        assert raised.value.code == 2
        assert "argument %s: %r is not a time: %s" % (option, value, problem) in capsys.readouterr().err


def test_wrong_obs_credentials_are_an_error_not_a_clean_report(oms_server, cos_server, obs_server):
    environ = world.environ(oms_server, cos_server, obs_server, OBS_SK="not-the-key")
    world.source(cos_server, "a")
    status, lines, result = verify_run(environ)
    assert status == 1 and result["errors"] == 1 and result["matched"] == 0 and result["missing"] == 0
    assert "SignatureDoesNotMatch" in lines[0]


def test_timestamps_in_the_report_are_utc(environ, cos_server, obs_server):
    world.source(cos_server, "a", mtime=COPIED)
    world.destination(obs_server, "a", mtime=T0)
    lines = verify_run(environ)[1]
    assert lines == ['differ  "a": the destination (2024-05-01T12:00:00Z) is older than the source '
                     '(2024-05-01T12:01:00Z)']


# ----------------------------------------------------------------------------- as a command

def run_command(environ, *argv, terminal=False):
    """``python -m cos2oms ARGV`` in a process of its own: (exit status, stdout, what stderr showed)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.e2e.terminal import run_on_terminal

    env = {**environ, "PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"}
    cwd = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "cos2oms", *argv]
    if not terminal:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=120)
        return done.returncode, done.stdout.decode(), done.stderr
    status, stdout, shown = run_on_terminal(command, cwd, env)
    return status, stdout.decode(), shown


def test_a_combined_file_that_cannot_be_written_exits_2_before_anything_is_listed(environ, cos_server, tmp_path):
    world.source(cos_server, "a")
    target = tmp_path / "no such folder" / "report.txt"
    status, stdout, stderr = run_command(environ, "verify", "--combined", str(target))
    assert (status, stdout) == (2, "")
    assert stderr.decode().strip() == "cos2oms verify: --combined: cannot write %s: No such file or directory" % target
    assert cos_server.counts.get("list", 0) == 0


@pytest.mark.parametrize("terminal", [False, True])
def test_the_command_prints_the_report_then_the_summary_and_a_progress_bar_only_on_a_terminal(
        environ, cos_server, obs_server, terminal):
    for i in range(30):
        world.source(cos_server, "k%02d" % i)
        if i != 7:
            world.destination(obs_server, "k%02d" % i)
    status, stdout, stderr = run_command(environ, "verify", terminal=terminal)
    lines = stdout.splitlines()
    assert status == 1
    assert lines[:-1] == ['missing "k07": no marker: the event never reached the function']
    assert json.loads(lines[-1]) == summary(source=30, matched=29, missing=1, missing_unmarked=1)
    if terminal:  # the bar, then the human summary (stdout stays the report and the JSON line)
        assert b"verify:" in stderr and b"30obj" in stderr
        assert b"verify: 30 source object(s): 29 matched, 1 missing (1 no marker" in stderr
    else:
        assert b"\r" not in stderr and b"verify:" not in stderr


# ----------------------------------------------------------------------------- settings from the sync task

def test_buckets_not_configured_are_taken_from_the_sync_task(oms_server, cos_server, obs_server):
    world.source(cos_server, "a")
    world.destination(obs_server, "a")
    environ = world.environ(oms_server, cos_server, obs_server, SOURCE_BUCKET=None, OBS_BUCKET=None)
    assert verify_run(environ)[2] == summary(source=1, matched=1)
    assert [r.method for r in oms_server.requests] == ["GET"]  # ShowSyncTask, once


def test_a_destination_that_contradicts_the_task_exits_2_naming_both_unless_forced(oms_server, cos_server, obs_server,
                                                                                   capsys):
    world.source(cos_server, "a")
    obs_server.create_bucket("typo-bucket")
    environ = world.environ(oms_server, cos_server, obs_server, OBS_BUCKET="typo-bucket")
    parser = argparse.ArgumentParser()
    verify_command.add_arguments(parser)
    status = verify_command.run(parser.parse_args([]), environ=environ, out=io.StringIO())
    error = capsys.readouterr().err
    assert status == 2 and "'typo-bucket'" in error and repr(OBS_BUCKET) in error
    status, _, result = verify_run(environ, "--force")
    assert result == summary(source=1, missing=1, missing_unmarked=1)  # compared with the configured bucket


def test_without_synctask_get_the_configured_values_are_used_with_a_warning(oms_server, cos_server, obs_server,
                                                                           caplog):
    world.source(cos_server, "a")
    world.destination(obs_server, "a")
    oms_server.script(403)
    with caplog.at_level(logging.WARNING):
        status, _, result = verify_run(world.environ(oms_server, cos_server, obs_server, OBS_BUCKET=OBS_BUCKET))
    assert result == summary(source=1, matched=1) and status == 0
    assert "configured values are used" in caplog.text and "oms:synctask:get" in caplog.text
