# -*- coding: utf-8 -*-
"""verify's merge, and the listing plumbing under it, as pure functions over iterators (Python 3.6+).

The merge is checked against a naive oracle over whole sets on hypothesis-generated listings, including
listings that fail part-way (nothing past a failure may be called matched or missing).
"""
import argparse
import io
import json
import threading

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from cos2oms import listings, report, verify_merge
from cos2oms.commands import buckets
from cos2oms.comparison import Comparison, is_plain_md5
from cos2oms.listings import Entry, ListingError
from cos2oms.verify_merge import (ACCEPTED, ALL_TIME, DIFFER, ERROR, EXTRA, FAILED, MATCH, MISSING, UNKNOWN_BROKEN,
                            UNKNOWN_LONG, UNKNOWN_LOOKUP, UNMARKED, Marker, Result, Window, merge)

MD5_A = "0cc175b9c0f1b6a831c399e269772661"
MD5_B = "92eb5ffee6ae2fec3ad71c777531578f"


def entry(key, size=1, mtime=100.0, etag=MD5_A):
    return Entry(key, size, mtime, etag)


def failing(items, error_at, listing="destination"):
    """``items`` until position ``error_at``, then a ListingError."""
    for i, item in enumerate(items):
        if i == error_at:
            raise ListingError(listing, "COS answered 500 \"InternalError\"")
        yield item
    if error_at >= len(items):
        raise ListingError(listing, "COS answered 500 \"InternalError\"")


def outcomes(results):
    return [(r.symbol, r.key, r.why) for r in results]


# ----------------------------------------------------------------------------- the merge, by example

def test_each_outcome_in_key_order():
    source = [entry("a"), entry("b", size=2), entry("c", mtime=200.0), entry("d"), entry("e"), entry("f")]
    destination = [entry("a"), entry("b", size=3), entry("c", mtime=150.0), entry("c2"), entry("f", mtime=500.0)]
    got = outcomes(merge(source, destination, success=["d"], failed=["e"]))
    assert got == [
        (MATCH, "a", None),
        (DIFFER, "b", "size 2 on the source, 3 on the destination"),
        (DIFFER, "c", "the destination (1970-01-01T00:02:30Z) is older than the source (1970-01-01T00:03:20Z)"),
        (EXTRA, "c2", "only on the destination"),
        (MISSING, "d", ACCEPTED),
        (MISSING, "e", FAILED),
        (MATCH, "f", None),
    ]


def test_last_modified_is_compared_to_the_second():
    source = [entry("a", mtime=100.9)]
    assert outcomes(merge(source, [entry("a", mtime=100.0)])) == [(MATCH, "a", None)]
    assert outcomes(merge(source, [entry("a", mtime=99.99)]))[0][0] == DIFFER


def test_with_both_markers_the_newer_decides_and_a_tie_says_waiting_for_replay():
    source = [entry(k) for k in "abcdefg"]
    success = [Marker("a", 200.0), Marker("b", 100.0), Marker("c", 100.9), Marker("d", None), Marker("f", 1.0),
               Entry("g", 0, 300.0, None)]  # a marker listing's entries serve as they are
    failed = [Marker("a", 100.0), Marker("b", 200.0), Marker("c", 100.0), Marker("d", 100.0), Marker("e", 1.0),
              Entry("g", 0, 299.0, None)]
    assert outcomes(merge(source, [], success, failed)) == [
        (MISSING, "a", ACCEPTED),  # accepted after the refusal: OMS lost it
        (MISSING, "b", FAILED),  # refused after the acceptance
        (MISSING, "c", FAILED),  # the same second: the failed marker is there, replay will send it
        (MISSING, "d", FAILED),  # a time not known: the same
        (MISSING, "e", FAILED), (MISSING, "f", ACCEPTED), (MISSING, "g", ACCEPTED)]
    # Bare keys are markers whose time is not known.
    got = outcomes(merge([entry("a"), entry("b"), entry("c")], [], success=["a", "c"], failed=["a", "b"]))
    assert got == [(MISSING, "a", FAILED), (MISSING, "b", FAILED), (MISSING, "c", ACCEPTED)]
    assert outcomes(merge([entry("z")], [])) == [(MISSING, "z", UNMARKED)]


def test_checksum_compares_plain_md5s_only():
    source = [entry("a", etag=MD5_A), entry("b", etag=MD5_A), entry("c", etag="abc-2")]
    destination = [entry("a", etag=MD5_A.upper()), entry("b", etag=MD5_B), entry("c", etag=MD5_B)]
    assert [r.symbol for r in merge(source, destination)] == [MATCH, MATCH, MATCH]
    got = outcomes(merge(source, destination, comparison=Comparison("size_last_modified", "FULL_OVERWRITE", True)))
    assert [g[0] for g in got] == [MATCH, DIFFER, MATCH]
    assert got[1][2] == "MD5 %s on the source, %s on the destination" % (MD5_A, MD5_B)


def test_the_window_passes_over_source_objects_and_their_copies_and_extras_need_all_time():
    source = [entry("a", mtime=50.0), entry("b", mtime=100.0), entry("c", mtime=150.0)]
    destination = [entry("0"), entry("a", mtime=50.0), entry("c", size=9, mtime=150.0), entry("d")]
    for window in (Window(100.0, 150.0), Window(75.0, 125.0)):
        assert outcomes(merge(source, destination, window=window)) == [(MISSING, "b", UNMARKED)]
    assert [g[:2] for g in outcomes(merge(source, destination, window=Window(None, 150.0)))] == [
        (MATCH, "a"), (MISSING, "b")]  # open at one end is a window too: no extras
    got = outcomes(merge(source, destination, window=Window(None, None)))
    assert [g[:2] for g in got] == [(EXTRA, "0"), (MATCH, "a"), (MISSING, "b"), (DIFFER, "c"), (EXTRA, "d")]


def test_long_keys_get_their_state_from_the_lookup_or_unknown():
    source = [entry("long"), entry("short")]
    got = outcomes(merge(source, [], success=["long", "short"], long_marker=lambda key: key == "long"))
    assert got == [(MISSING, "long", UNKNOWN_LONG), (MISSING, "short", ACCEPTED)]
    got = outcomes(merge(source, [], long_marker=lambda key: key == "long", marker_lookup=lambda key: FAILED))
    assert got == [(MISSING, "long", FAILED), (MISSING, "short", UNMARKED)]


def test_a_destination_failure_ends_the_merge_with_the_key_in_hand():
    source = [entry(k) for k in "abcde"]
    destination = failing([entry("a"), entry("b")], 2)
    got = outcomes(merge(source, destination))
    assert got[:2] == [(MATCH, "a", None), (MATCH, "b", None)]
    assert got[2][:2] == (ERROR, "c") and got[2][2].startswith("destination listing failed: ")
    assert len(got) == 3  # nothing past the failure is matched, missing or extra


def test_a_source_failure_ends_the_merge_and_reports_no_extras_past_it():
    source = failing([entry("a")], 1, "source")
    got = outcomes(merge(source, [entry("a"), entry("z")]))
    assert got[0] == (MATCH, "a", None)
    assert got[1][0] == ERROR and got[1][1] is None and got[1][2].startswith("source listing failed")
    assert len(got) == 2


def test_a_marker_listing_failure_makes_states_unknown_and_is_reported_once():
    source = [entry(k) for k in "abcd"]
    success = failing(["a"], 1, "success markers")
    got = outcomes(merge(source, [], success=success, failed=["b", "c"]))
    assert got[0] == (MISSING, "a", ACCEPTED)
    assert got[1][0] == ERROR and got[1][1] is None and got[1][2].startswith("success marker listing failed")
    assert got[2:] == [(MISSING, "b", UNKNOWN_BROKEN), (MISSING, "c", UNKNOWN_BROKEN), (MISSING, "d", UNKNOWN_BROKEN)]


def test_markers_are_read_only_as_far_as_the_missing_keys_need():
    read = []

    def markers():
        for key in ["a", "b", "c", "d"]:
            read.append(key)
            yield key

    list(merge([entry("a"), entry("b")], [entry("a")], success=markers()))
    assert read == ["a", "b"]


def test_summary_counts_and_exit_status():
    summary = verify_merge.Summary()
    results = list(merge([entry("a"), entry("b"), entry("c", size=5)], [entry("a"), entry("c"), entry("x")],
                         failed=["b"]))
    for result in results:
        summary.count(result)
    assert summary.as_dict() == {"source": 3, "matched": 1, "missing": 1, "differ": 1, "extra": 1, "errors": 0,
                                 "missing_unmarked": 0, "missing_accepted": 0, "missing_failed": 1,
                                 "differ_kept": 0, "resubmitted": 0}
    assert list(summary.as_dict()) == list(verify_merge.Summary.FIELDS)
    assert summary.exit_status == 1
    clean = verify_merge.Summary()
    for result in merge([entry("a")], [entry("a"), entry("b")]):
        clean.count(result)
    assert clean.exit_status == 0  # extra objects on the destination are reported, not a failure


def test_report_lines():
    missing, differ, extra = list(merge([entry("a\nb"), entry("c", size=2)], [entry("c"), entry("d")]))
    assert report.describe(missing) == 'missing "a\\nb": no marker: the event never reached the function'
    assert report.describe(differ) == 'differ  "c": size 2 on the source, 1 on the destination'
    assert report.combined_line(differ) == "* c\n"  # rclone's format: the key as it is
    assert report.combined_line(extra) == "- d\n"
    assert report.combined_line(missing) == '+ "a\\nb"\n'  # a line break: a JSON string


def combined_path(key, symbol=MISSING):
    line = report.combined_line(Result(symbol, key, None, None, None))
    assert line[:2] == symbol + " " and line.endswith("\n")
    return line[2:-1]


@pytest.mark.parametrize("key, path", [
    ("a b+c%41.jpg", "a b+c%41.jpg"), ("中文\t\x01\x7f\u200e.jpg", "中文\t\x01\x7f\u200e.jpg"),
    ('inner "quotes"', 'inner "quotes"'), (' "lead space', ' "lead space'),
    ('"quoted"', '"\\"quoted\\""'), ("evil\n= innocent.jpg", '"evil\\n= innocent.jpg"'),
    ("a\rb", '"a\\rb"'), ("a\x0bb\x0cc", '"a\\u000bb\\fc"'), ("\x1c\x1d\x1e", '"\\u001c\\u001d\\u001e"'),
    ("a\x85b\u2028c\u2029d", '"a\\u0085b\\u2028c\\u2029d"'), ("中\n文", '"中\\n文"'),
])
def test_a_combined_path_is_the_key_unless_it_breaks_a_line_or_starts_with_a_quote(key, path):
    assert combined_path(key) == path


@hypothesis_settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(u'ab= "\\\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\t\x01\u4e2d'), min_size=1,
               max_size=8))
def test_a_combined_line_is_one_line_for_every_reader_and_gives_its_key_back(key):
    line = report.combined_line(Result(MATCH, key, None, None, None))
    assert line.splitlines() == [line[:-1]]  # str.splitlines
    assert io.StringIO(line, newline=None).readlines() == [line]  # universal newlines
    path = line[2:-1]
    assert (json.loads(path) if path.startswith('"') else path) == key
    assert path.startswith('"') == (key.startswith('"') or "".join(key.splitlines()) != key)


def test_an_error_about_no_key_is_a_json_line_no_key_could_give():
    line = report.combined_line(Result(ERROR, None, None, None, 'source listing failed: COS answered 403 "A"\nB'))
    assert line == '! "source listing failed: COS answered 403 \\"A\\" B"\n'
    text = json.loads(line[2:-1])
    assert not text.startswith('"') and "".join(text.splitlines()) == text  # which no key's path decodes to


def test_a_failed_marker_look_up_is_counted_as_an_error():
    summary = verify_merge.Summary()
    for result in merge([entry("long")], [], long_marker=lambda key: True, marker_lookup=lambda key: UNKNOWN_LOOKUP):
        summary.count(result)
    assert (summary.missing, summary.errors, summary.exit_status) == (1, 1, 1)


# ----------------------------------------------------------------------------- the merge against an oracle

KEYS = st.text(alphabet=st.sampled_from(u"ab/ +%\u4e2d\x01\u00e9z"), min_size=1, max_size=3)
ENTRY_FIELDS = st.tuples(st.integers(0, 2), st.sampled_from([10.0, 10.5, 20.0, 30.0]),
                         st.sampled_from([MD5_A, MD5_B, "abc-3", None]))


def listing(draw_keys, fields):
    return [Entry(k, *f) for k, f in zip(sorted(draw_keys), fields)]


@st.composite
def worlds(draw):
    source_keys = draw(st.sets(KEYS, max_size=12))
    destination_keys = draw(st.sets(st.one_of(st.sampled_from(sorted(source_keys) or ["a"]), KEYS), max_size=12))
    source = listing(source_keys, draw(st.lists(ENTRY_FIELDS, min_size=len(source_keys),
                                                max_size=len(source_keys))))
    destination = listing(destination_keys, draw(st.lists(ENTRY_FIELDS, min_size=len(destination_keys),
                                                          max_size=len(destination_keys))))
    pool = sorted(source_keys) or ["a"]
    marker_times = st.sampled_from([None, 1.0, 1.5, 2.0])
    success = [Marker(k, draw(marker_times))
               for k in sorted(draw(st.sets(st.one_of(st.sampled_from(pool), KEYS), max_size=6)))]
    failed = [Marker(k, draw(marker_times))
              for k in sorted(draw(st.sets(st.one_of(st.sampled_from(pool), KEYS), max_size=6)))]
    since = draw(st.sampled_from([None, 10.0, 20.0]))
    until = draw(st.sampled_from([None, 20.0, 30.5]))
    return source, destination, success, failed, Window(since, until), draw(st.booleans())


def oracle(source, destination, success, failed, window, checksum):
    """What verify must say, from whole sets."""
    destination_by_key = dict((e.key, e) for e in destination)
    source_keys = set(e.key for e in source)
    results = []
    for s in source:
        if s.mtime not in window:
            continue
        d = destination_by_key.get(s.key)
        if d is None:
            succeeded, refused = (dict(markers).get(s.key, False) for markers in (success, failed))
            if succeeded is not False and refused is not False:  # both: the strictly newer success, else failed
                newer = None not in (succeeded, refused) and int(succeeded) > int(refused)
                state = ACCEPTED if newer else FAILED
            else:
                state = ACCEPTED if succeeded is not False else FAILED if refused is not False else UNMARKED
            results.append((MISSING, s.key, state))
            continue
        same = s.size == d.size and int(d.mtime) >= int(s.mtime)
        if same and checksum and is_plain_md5(s.etag) and is_plain_md5(d.etag):
            same = s.etag == d.etag
        results.append((MATCH if same else DIFFER, s.key))
    if window == ALL_TIME:  # a destination-only object belongs to no window
        results += [(EXTRA, d.key) for d in destination if d.key not in source_keys]
    return sorted(results, key=lambda r: r[1])


def simplified(results):
    return [(r.symbol, r.key, r.why) if r.symbol == MISSING else (r.symbol, r.key) for r in results]


@hypothesis_settings(max_examples=400, deadline=None)
@given(worlds())
def test_merge_agrees_with_the_set_oracle(world):
    source, destination, success, failed, window, checksum = world
    got = simplified(merge(iter(source), iter(destination), iter(success), iter(failed), window, checksum))
    assert got == oracle(*world)


@hypothesis_settings(max_examples=300, deadline=None)
@given(worlds(), st.integers(0, 12), st.sampled_from(["source", "destination"]))
def test_a_failure_part_way_never_yields_a_false_outcome(world, error_at, which):
    source, destination, success, failed, window, checksum = world
    broken_source = failing(source, error_at, "source") if which == "source" else iter(source)
    broken_destination = failing(destination, error_at) if which == "destination" else iter(destination)
    got = list(merge(broken_source, broken_destination, success, failed, window, checksum))
    truth = oracle(*world)
    assert got and got[-1].symbol == ERROR  # the failure is reported, last
    assert sum(1 for r in got if r.symbol == ERROR) == 1
    # Every other outcome is one the complete listings give.
    for result in simplified(got[:-1]):
        assert result in truth


# ----------------------------------------------------------------------------- pages, parsing, prefetch

def fake_lister(keys, fail=None):
    """list_once over sorted ``keys``; ``fail``: {call number: exception}."""
    calls = []

    def list_once(prefix, marker, page_size):
        calls.append((prefix, marker, page_size))
        if fail and len(calls) in fail:
            raise fail[len(calls)]
        after = [k for k in sorted(keys) if k > marker and k.startswith(prefix)]
        page = after[:page_size]
        return [entry(k) for k in page], len(after) > page_size, None
    return list_once, calls


def test_pages_follow_the_last_key():
    list_once, calls = fake_lister(["p/%d" % i for i in range(7)] + ["q"])
    pages = list(listings.pages(list_once, "source", "p/", page_size=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [c[1] for c in calls] == ["", "p/2", "p/5"]


def test_pages_try_again_on_network_errors_then_give_up():
    import requests
    list_once, calls = fake_lister(["a", "b"], fail={1: requests.ConnectionError("reset")})
    sleeps = []
    assert len(list(listings.pages(list_once, "source", sleep=sleeps.append))[0]) == 2
    assert len(sleeps) == 1
    always = dict((i, requests.ConnectionError("reset")) for i in range(1, 10))
    list_once, calls = fake_lister(["a"], fail=always)
    with pytest.raises(ListingError) as raised:
        list(listings.pages(list_once, "source", sleep=lambda s: None))
    assert len(calls) == listings.ATTEMPTS and raised.value.listing == "source"


def test_pages_do_not_try_again_a_refusal():
    problem = listings.PageProblem("OBS answered 403 \"AccessDenied\"", False)
    list_once, calls = fake_lister(["a"], fail={1: problem})
    with pytest.raises(ListingError, match="403"):
        list(listings.pages(list_once, "destination", sleep=lambda s: None))
    assert len(calls) == 1


def test_pages_refuse_a_listing_out_of_order_or_outside_its_prefix():
    def backwards(prefix, marker, page_size):
        return [entry("b"), entry("a")], False, None
    with pytest.raises(ListingError, match="out of order"):
        list(listings.pages(backwards, "source"))

    def elsewhere(prefix, marker, page_size):
        return [entry("q")], False, None
    with pytest.raises(ListingError, match="outside"):
        list(listings.pages(elsewhere, "source", "p/"))

    def empty_but_truncated(prefix, marker, page_size):
        return [], True, None
    with pytest.raises(ListingError, match="sent no keys"):
        list(listings.pages(empty_but_truncated, "source"))


LISTING = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>'
           b'<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextMarker>c%2Bd</NextMarker>'
           b'<Contents><Key>a%20b%2Bc%25%01%E4%B8%AD</Key><LastModified>2024-05-01T12:00:00.250Z</LastModified>'
           b'<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>7</Size></Contents>'
           b'<Contents><Key>plus+space</Key><LastModified>2024-05-01T12:00:00Z</LastModified>'
           b'<Size>0</Size></Contents></ListBucketResult>')


def test_parse_listing_decodes_names_as_each_sdk_does():
    entries, truncated, next_marker = listings.parse_listing(LISTING)
    assert entries[0] == Entry(u"a b+c%\x01\u4e2d", 7, 1714564800.25, MD5_A)
    assert entries[1].key == "plus+space" and entries[1].etag is None  # COS: unquote
    assert truncated is True and next_marker == "c+d"
    from urllib.parse import unquote_plus
    entries, _, _ = listings.parse_listing(LISTING, unquote_plus)
    assert entries[1].key == "plus space"  # OBS: unquote_plus


def test_parse_listing_takes_names_as_they_are_when_the_answer_does_not_say_it_encoded_them():
    """A server that ignores encoding-type=url: decoding its names would turn "a+b" into "a b", "%41" into "A"."""
    raw = LISTING.replace(b"<EncodingType>url</EncodingType>", b"").replace(
        b"a%20b%2Bc%25%01%E4%B8%AD", u"a+b%41 \u4e2d".encode("utf-8"))
    from urllib.parse import unquote_plus
    for decode in (listings.unquote, unquote_plus):
        entries, _, next_marker = listings.parse_listing(raw, decode)
        assert [e.key for e in entries] == [u"a+b%41 \u4e2d", "plus+space"] and next_marker == "c%2Bd"
    namespaced = LISTING.replace(b"<EncodingType>url</EncodingType>", b"")
    assert listings.parse_listing(namespaced)[0][0].key == "a%20b%2Bc%25%01%E4%B8%AD"


def test_stripped_pages_leave_out_the_object_named_as_the_prefix():
    pages = [[entry("p/"), entry("p/a")], [entry("p/b")]]
    assert [[e.key for e in page] for page in listings.stripped_pages(iter(pages), "p/")] == [["a"], ["b"]]


@pytest.mark.parametrize("body", [b"not xml", b"<Error><Code>x</Code></Error>",
                                  b"<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>"])
def test_parse_listing_refuses_what_is_not_a_listing(body):
    with pytest.raises(ValueError):
        listings.parse_listing(body)


@pytest.mark.parametrize("text, seconds", [
    ("2024-05-01T12:00:00.000Z", 1714564800.0), ("2024-05-01T12:00:00Z", 1714564800.0),
    ("2024-05-01T20:00:00+08:00", 1714564800.0), ("2024-05-01 12:00:00", 1714564800.0),
])
def test_parse_time(text, seconds):
    assert listings.parse_time(text) == seconds


@pytest.mark.parametrize("text", ["2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
                                  "2024-05-01T24:00:00Z", "2024-05-01T23:60:00Z", "2024-05-01T23:59:60Z",
                                  "2024-05-01T12:00:00+24:00", "2024-05-01T12:00:00+08:60"])
def test_parse_time_refuses_a_time_that_does_not_exist(text):
    with pytest.raises(ValueError, match="no such time"):
        listings.parse_time(text)


@pytest.mark.parametrize("text, seconds", [
    ("2024-05-01", 1714521600.0), ("2024-05-01T12:00", 1714564800.0), ("2024-05-01T20:00+08:00", 1714564800.0),
    ("2024-05-01T12:00:00Z", 1714564800.0), ("90s", 1000.0 - 90), ("30m", 1000.0 - 1800), ("24h", 1000.0 - 86400),
    ("7d", 1000.0 - 7 * 86400), ("2w", 1000.0 - 14 * 86400), ("1.5h", 1000.0 - 5400),
])
def test_parse_when(text, seconds):
    assert buckets.parse_when(text, now=1000.0) == seconds


@pytest.mark.parametrize("text", ["", "yesterday", "24", "2024-13-45x", "5y"])
def test_parse_when_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        buckets.parse_when(text, now=1000.0)


@pytest.mark.parametrize("text, problem", [
    ("2024-02-30", "day is out of range for month"), ("2023-02-29", "day is out of range for month"),
    ("2024-13-01", "month must be in 1..12"), ("2024-05-01T25:00", "hour must be in 0..23"),
    ("2024-05-01T23:61", "minute must be in 0..59"), ("2024-05-01T23:59:60Z", "second must be in 0..59"),
    ("2024-05-01T12:00+25:00", "the offset +25:00 is out of range"),
])
def test_parse_when_refuses_a_time_that_does_not_exist_rather_than_shift_it(text, problem):
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        buckets.parse_when(text, now=1000.0)
    assert str(raised.value) == "%r is not a time: %s" % (text, problem)
    assert buckets.parse_when("2024-02-29") == 1709164800.0  # a leap day is one


def test_window_bounds():
    window = Window(10.0, 20.0)
    assert 10.0 in window and 19.9 in window and 20.0 not in window and 9.9 not in window
    assert 0.0 in ALL_TIME


def test_prefetch_reads_ahead_a_bounded_number_of_pages_and_raises_in_place():
    produced = []
    gate = threading.Event()

    def pages():
        for i in range(100):
            produced.append(i)
            yield [entry("k%03d" % i)]
        gate.wait(5)
        raise ListingError("source", "boom")

    stream = listings.Prefetch(pages(), depth=2)
    it = iter(stream)
    assert next(it).key == "k000"
    import time
    time.sleep(0.2)
    assert len(produced) <= 4  # the page handed out, two queued, one waiting to be queued
    keys = []
    gate.set()
    with pytest.raises(ListingError):
        for item in it:
            keys.append(item.key)
    assert len(keys) == 99
    stream.close()


def test_prefetch_close_stops_the_reader():
    def pages():
        i = 0
        while True:
            i += 1
            yield [entry("k%09d" % i)]

    stream = listings.Prefetch(pages(), depth=1)
    next(iter(stream))
    stream.close()
    assert not stream._thread.is_alive()
