# -*- coding: utf-8 -*-
"""verify's comparison chosen per sync task (``cos2oms.comparison``), through the merge that uses it, and verify's
resubmit list and counts (Python 3.6+). Expectations are written out here, never read from the module."""
import io
import itertools
import json
import types

import pytest

from cos2oms import oms_tasks, verify
from cos2oms.comparison import Comparison, crc64_value
from cos2oms.listings import Entry, ListingError
from cos2oms.verify_merge import ALL_TIME, DIFFER, ERROR, MATCH, MISSING, Summary, merge

MD5_A = "0cc175b9c0f1b6a831c399e269772661"
MD5_B = "92eb5ffee6ae2fec3ad71c777531578f"

# Each case: (source entry, destination entry, the CRC64s a HEAD of each would give).
CASES = {
    "size": (Entry("size", 4, 100.0, MD5_A), Entry("size", 5, 200.0, MD5_B), (7, 8)),
    "older, CRC64s equal": (Entry("older, CRC64s equal", 4, 100.0, MD5_A), Entry("older, CRC64s equal", 4, 50.0, MD5_A),
                            (7, 7)),
    "older, CRC64s differ": (Entry("older, CRC64s differ", 4, 100.0, MD5_A),
                             Entry("older, CRC64s differ", 4, 50.0, MD5_B), (7, 8)),
    "older, no CRC64 on the destination": (Entry("older, no CRC64 on the destination", 4, 100.0, MD5_A),
                                           Entry("older, no CRC64 on the destination", 4, 50.0, MD5_A), (7, None)),
    "older, no CRC64 on the source": (Entry("older, no CRC64 on the source", 4, 100.0, MD5_A),
                                      Entry("older, no CRC64 on the source", 4, 50.0, MD5_A), (None, 8)),
    "MD5 only": (Entry("MD5 only", 4, 100.0, MD5_A), Entry("MD5 only", 4, 100.9, MD5_B), (7, 8)),
    "same": (Entry("same", 4, 100.0, MD5_A), Entry("same", 4, 100.5, MD5_A.upper()), (7, 7)),
}

SIZE = "size 4 on the source, 5 on the destination"
OLDER = "the destination (1970-01-01T00:00:50Z) is older than the source (1970-01-01T00:01:40Z)"
MD5 = "MD5 %s on the source, %s on the destination" % (MD5_A, MD5_B)
CRC64 = "CRC64 7 on the source, 8 on the destination"

# What verify says of each case (with --checksum), per consistency_check: None is a match.
SIZE_LAST_MODIFIED_SAYS = {"size": SIZE, "older, CRC64s equal": OLDER, "older, CRC64s differ": OLDER,
                           "older, no CRC64 on the destination": OLDER, "older, no CRC64 on the source": OLDER,
                           "MD5 only": MD5, "same": None}
SAYS = {
    "size_last_modified": SIZE_LAST_MODIFIED_SAYS,
    "no_check": SIZE_LAST_MODIFIED_SAYS,  # HTTP sources only: for COS, size and last-modified time
    None: SIZE_LAST_MODIFIED_SAYS,  # not said: OMS's default
    "crc64": {"size": SIZE, "older, CRC64s equal": None, "older, CRC64s differ": CRC64,
              "older, no CRC64 on the destination": OLDER, "older, no CRC64 on the source": OLDER,
              "MD5 only": MD5, "same": None},
}

# Whether resubmitting repairs a difference, per overwrite mode (size, age, or content alone).
ALL = {"size": True, "older": True, "content": True}
REPAIRS = {
    "NO_OVERWRITE": {"size": False, "older": False, "content": False},
    "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE": {"size": True, "older": True, "content": False},
    None: {"size": True, "older": True, "content": False},  # not said: OMS's default
    "CRC64_COMPARISON_OVERWRITE": ALL,
    "FULL_OVERWRITE": ALL,
    "A_MODE_NOT_KNOWN_HERE": ALL,  # as verify did before it read the mode: resubmit
}
DIFFERENCE = {"size": "size", "older, CRC64s differ": "older", "older, CRC64s equal": "older",
              "older, no CRC64 on the destination": "older", "older, no CRC64 on the source": "older",
              "MD5 only": "content"}
KEPT = {
    "NO_OVERWRITE": " (the sync task's overwrite mode NO_OVERWRITE keeps the destination's copy: resubmitting does "
                    "not replace it)",
    "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE": " (the sync task's overwrite mode "
                                               "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE keeps a copy of the same size "
                                               "that is not older: resubmitting does not replace it)",
    None: " (OMS's default overwrite mode SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE keeps a copy of the same size that "
          "is not older: resubmitting does not replace it)",
}


def crc64s_of(calls):
    def lookup(source, destination):
        calls.append(source.key)
        assert destination.key == source.key
        return CASES[source.key][2]
    return lookup


@pytest.mark.parametrize("check, mode, case", list(itertools.product(
    sorted(SAYS, key=str), sorted(REPAIRS, key=str), sorted(CASES))))
def test_every_consistency_check_overwrite_mode_and_kind_of_difference(check, mode, case):
    source, destination, _ = CASES[case]
    calls = []
    comparison = Comparison(check, mode, checksum=True, told=mode is not None)
    result, = merge([source], [destination], comparison=comparison, crc64_lookup=crc64s_of(calls))
    why = SAYS[check][case]
    if why is None:
        assert (result.symbol, result.why, result.kept) == (MATCH, None, False)
    else:
        kept = not REPAIRS[mode][DIFFERENCE[case]]
        assert (result.symbol, result.why, result.kept) == (DIFFER, why + (KEPT[mode] if kept else ""), kept)
    # Only a crc64 task's same-size, older copies are looked up.
    assert calls == ([case] if check == "crc64" and case.startswith("older") else [])


def test_a_task_said_by_showsynctask_and_one_not_said():
    task = oms_tasks.SyncTaskSettings("photos-1", "ap-guangzhou", "dst", "cn-north-4", "NO_OVERWRITE", "crc64")
    told = Comparison.for_task(task, checksum=True)
    assert (told.consistency_check, told.overwrite_mode, told.checksum, told.told) == (
        "crc64", "NO_OVERWRITE", True, True)
    unknown = Comparison.for_task(None)
    assert (unknown.consistency_check, unknown.overwrite_mode, unknown.checksum, unknown.told) == (
        None, None, False, False)


def test_the_line_naming_the_comparison_says_whose_settings_they_are():
    task = oms_tasks.SyncTaskSettings("photos-1", "ap-guangzhou", "dst", "cn-north-4", "NO_OVERWRITE", "crc64")
    message, fields = Comparison.for_task(task).describe()
    assert message == "verify compares as the sync task's settings say"
    assert dict(fields) == {
        "consistency_check": "crc64", "object_overwrite_mode": "NO_OVERWRITE",
        "compares": "size and last-modified time (the destination not older, to the second); CRC64 (a HEAD of both) "
                    "where a copy of the same size is older, else size and last-modified time",
        "resubmits": "no difference: the task never replaces an object the destination holds"}
    message, fields = Comparison.for_task(None, checksum=True).describe()
    assert message == "verify compares as OMS's defaults (ShowSyncTask did not answer) settings say"
    assert dict(fields) == {
        "consistency_check": "size_last_modified (OMS's default)",
        "object_overwrite_mode": "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE (OMS's default)",
        "compares": "size and last-modified time (the destination not older, to the second); MD5 ETags where both "
                    "are plain MD5s (--checksum)",
        "resubmits": "differences of size or age; not an MD5 or CRC64 difference alone"}
    assert Comparison("size_last_modified", "FULL_OVERWRITE", told=True).describe()[1]["resubmits"] == \
        "every difference"


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("18446744073709551615", 2 ** 64 - 1), (" 123 ", 123), ("18446744073709551616", None), ("", None),
    (None, None), ("-1", None), ("0x10", None), ("12a", None)])
def test_a_crc64_header_is_a_decimal_uint64(text, value):
    assert crc64_value(text) == value


# ----------------------------------------------------------------------------- the merge's CRC64 hook

def crc64_task(mode="SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE"):
    return Comparison("crc64", mode, told=True)


def older_pair(key="k"):
    return [Entry(key, 4, 100.0, MD5_A)], [Entry(key, 4, 50.0, MD5_B)]


def test_crc64s_equal_make_an_older_copy_a_match():
    source, destination = older_pair()
    assert [(r.symbol, r.why) for r in merge(source, destination, comparison=crc64_task(),
                                             crc64_lookup=lambda s, d: (12345, 12345))] == [(MATCH, None)]


def test_crc64s_that_differ_are_the_reason():
    source, destination = older_pair()
    got = list(merge(source, destination, comparison=crc64_task(), crc64_lookup=lambda s, d: (1, 2)))
    assert [(r.symbol, r.why, r.kept) for r in got] == [(DIFFER, "CRC64 1 on the source, 2 on the destination",
                                                         False)]


@pytest.mark.parametrize("answer", [(None, 2), (1, None), (None, None), None])
def test_without_both_crc64s_the_copy_is_judged_by_size_and_last_modified_time(answer):
    source, destination = older_pair()
    got = list(merge(source, destination, comparison=crc64_task(), crc64_lookup=lambda s, d: answer))
    assert [(r.symbol, r.why) for r in got] == [(DIFFER, OLDER)]


def test_without_a_lookup_a_crc64_task_falls_back_as_oms_does():
    source, destination = older_pair()
    assert [(r.symbol, r.why) for r in merge(source, destination, comparison=crc64_task())] == [(DIFFER, OLDER)]


def test_a_crc64_look_up_that_fails_is_an_error_for_that_key_never_a_match():
    source = [Entry("a", 4, 100.0, None), Entry("b", 4, 100.0, None), Entry("c", 1, 100.0, None)]
    destination = [Entry("a", 4, 50.0, None), Entry("b", 4, 50.0, None)]

    def lookup(s, d):
        if s.key == "a":
            raise ListingError("CRC64 look-up of the destination", "after 3 attempt(s): OBS answered 503 - -")
        return (5, 5)

    got = list(merge(source, destination, comparison=crc64_task(), crc64_lookup=lookup))
    assert [(r.symbol, r.key, r.why) for r in got] == [
        (ERROR, "a", "CRC64 look-up failed: after 3 attempt(s): OBS answered 503 - -"),
        (MATCH, "b", None), (MISSING, "c", "unmarked")]
    summary = Summary()
    for result in got:
        summary.count(result)
    assert (summary.source, summary.errors, summary.matched, summary.missing) == (3, 1, 1, 1)


def test_merge_still_takes_the_checksum_flag():
    source, destination = [Entry("a", 4, 100.0, MD5_A)], [Entry("a", 4, 100.0, MD5_B)]
    assert [r.symbol for r in merge(source, destination, (), (), ALL_TIME, False)] == [MATCH]
    assert [r.symbol for r in merge(source, destination, comparison=True)] == [DIFFER]


# ----------------------------------------------------------------------------- verify: counts and resubmit list

class _Stream(list):
    def close(self):
        pass


def verify_with(monkeypatch, comparison, source, destination):
    """verify.verify over these listings (no markers): (summary, report lines, resubmit list)."""
    monkeypatch.setattr(verify, "open_listings", lambda setup, client: [
        _Stream(source), _Stream(destination), _Stream(), _Stream()])

    class NoLongKeys(object):
        def __init__(self, setup):
            pass

        def is_long(self, key):
            return False

    monkeypatch.setattr(verify, "MarkerLookup", NoLongKeys)
    setup = types.SimpleNamespace(window=ALL_TIME, source=types.SimpleNamespace(event_prefix="/1250000000/photos/"))
    out, resubmit = io.StringIO(), io.StringIO()
    summary = verify.verify(setup, None, out, Summary(), comparison=comparison, resubmit_to=resubmit)
    return summary, out.getvalue().splitlines(), [json.loads(line) for line in resubmit.getvalue().splitlines()]


def test_verify_leaves_the_differences_the_task_keeps_out_of_the_resubmit_list(monkeypatch):
    source = [Entry("gone", 4, 100.0, MD5_A), Entry("md5", 4, 100.0, MD5_A), Entry("older", 4, 100.0, MD5_A),
              Entry("same", 4, 100.0, MD5_A)]
    destination = [Entry("md5", 4, 100.0, MD5_B), Entry("older", 4, 50.0, MD5_A), Entry("same", 4, 100.0, MD5_A)]

    default = Comparison(checksum=True)  # OMS's default overwrite mode keeps the MD5 difference
    summary, lines, resubmit = verify_with(monkeypatch, default, source, destination)
    assert resubmit == ["/1250000000/photos/gone", "/1250000000/photos/older"]
    assert lines[1] == 'differ  "md5": ' + MD5 + KEPT[None]
    assert summary.as_dict() == {"source": 4, "matched": 1, "missing": 1, "differ": 2, "extra": 0, "errors": 0,
                                 "missing_unmarked": 1, "missing_accepted": 0, "missing_failed": 0,
                                 "differ_kept": 1, "resubmitted": 0}
    assert summary.exit_status == 1  # a difference kept is still a difference

    keeps_all = Comparison("size_last_modified", "NO_OVERWRITE", checksum=True, told=True)
    summary, lines, resubmit = verify_with(monkeypatch, keeps_all, source, destination)
    assert resubmit == ["/1250000000/photos/gone"]  # missing: always resubmitted
    assert (summary.differ, summary.differ_kept) == (2, 2)
    assert lines[2] == 'differ  "older": ' + OLDER + KEPT["NO_OVERWRITE"]

    overwrites = Comparison("size_last_modified", "FULL_OVERWRITE", checksum=True, told=True)
    summary, _, resubmit = verify_with(monkeypatch, overwrites, source, destination)
    assert resubmit == ["/1250000000/photos/gone", "/1250000000/photos/md5", "/1250000000/photos/older"]
    assert (summary.differ, summary.differ_kept) == (2, 0)


def test_the_human_summary_says_how_many_differences_the_task_keeps():
    summary = Summary()
    summary.source, summary.differ, summary.differ_kept = 3, 3, 3
    assert summary.describe() == ("verify: 3 source object(s): 0 matched, 0 missing (0 no marker, 0 accepted by OMS, "
                                  "0 failed), 3 differ (3 kept by the task's overwrite mode), 0 extra, 0 error(s)")
    summary.differ_kept = 1
    assert summary.describe().endswith("3 differ (1 kept by the task's overwrite mode), 0 extra, 0 error(s); "
                                       "--resubmit sends the missing and differing keys to OMS again")
