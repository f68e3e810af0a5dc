# -*- coding: utf-8 -*-
"""One page of the audit's pass, judged (``PageJudge``): a source page from the cursor, the destination and the
markers up to its last key, merged as ``verify`` merges them, with the comparison the sync task asks for; and the
pass's counts (``PassCounts``). ``audit.Auditor`` drives the pages; nothing here writes the state."""
from cos2oms import listings, logs, markers as marker_names, verify
from cos2oms.verify_merge import ACCEPTED, DIFFER, ERROR, FAILED, MISSING, UNMARKED, Summary, Window, merge

#: Source keys judged per page: the cursor is saved after each (tests make it small).
PAGE = listings.PAGE


class PassCounts(Summary):
    """A pass's counts: verify's summary fields, ``recent`` (not judged: within the grace window) and
    ``resubmit_capped`` (keys that needed resubmitting past ``AUDIT_MAX_RESUBMIT``: not sent)."""

    FIELDS = Summary.FIELDS + ("recent", "resubmit_capped")

    @classmethod
    def from_dict(cls, values):
        counts = cls()
        for name in cls.FIELDS:
            value = (values or {}).get(name)
            setattr(counts, name, value if isinstance(value, int) else 0)
        return counts

    def add(self, other):
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def all_clear(self):
        return self.missing == 0 and self.differ == 0 and self.errors == 0


class Page(object):
    """One page judged: its counts, the event keys to resubmit, the last key, whether the listing goes on, or
    ``failure`` (why it could not be judged)."""

    def __init__(self):
        self.counts = PassCounts()
        self.resubmit = []
        self.last_key = None
        self.goes_on = False
        self.failure = None


class PageJudge(object):
    """Judges pages for one invocation. ``setup``: a resolved ``commands.buckets.Setup``; ``marker_store``: the
    log bucket's ``MarkerStore``; ``obs_lister``/``source_lister``: the destination's and the source's listers;
    ``comparison``: a ``comparison.Comparison``; ``found(result)``: called with each missing or differing
    ``Result``; ``page_size``: source keys a page."""

    def __init__(self, setup, marker_store, obs_lister, source_lister, comparison, found, page_size=PAGE):
        self.setup = setup
        self.marker_store = marker_store
        self.obs_lister = obs_lister
        self.source_lister = source_lister
        self.comparison = comparison
        self.found = found
        self.page_size = page_size
        self.lookup = verify.MarkerLookup(setup)
        self.crc64_lookup = verify.Crc64Lookup(setup, obs_lister.client, source_lister.client)

    def judge(self, cursor, cutoff):
        """The page after ``cursor``; objects last modified at or after ``cutoff`` (epoch seconds) are ``recent``,
        not judged. A listing or marker look-up that fails makes a ``Page`` with ``failure``, counted nowhere."""
        page = Page()
        listed = listings.paged(self.source_lister, "source", "", cursor, page_size=self.page_size)
        try:
            entries, page.goes_on = next(listed, ([], False))
        except listings.ListingError as exc:
            page.failure = "source listing failed: %s" % exc.cause
            return page
        finally:
            listed.close()
        if entries:
            page.last_key = entries[-1].key
        upto = page.last_key if page.goes_on else None  # the last page reaches the end of every listing
        page.counts.recent = sum(1 for entry in entries if entry.mtime >= cutoff)
        streams = self._listings(cursor, upto, set(entry.key for entry in entries), page.counts)
        try:
            results = merge(entries, streams[0], streams[1], streams[2], Window(None, cutoff), self.comparison,
                            self.lookup.is_long, self.lookup, self.crc64_lookup)
            for result in results:
                if result.symbol == ERROR:
                    page.failure = result.why
                    return page
                if result.symbol == MISSING and result.why not in (UNMARKED, ACCEPTED, FAILED):
                    page.failure = "the markers of %s could not be read (%s)" % (logs.show(result.key), result.why)
                    return page
                page.counts.count(result)
                if result.symbol in (MISSING, DIFFER):
                    self.found(result)
                    if (result.symbol == DIFFER and not result.kept) or (result.symbol == MISSING
                                                                         and result.why != FAILED):
                        page.resubmit.append(self.setup.source.event_prefix + result.key)
        finally:
            for stream in streams:
                stream.close()
        return page

    def _listings(self, cursor, upto, source_keys, counts):
        """The destination and the two marker listings from the cursor up to ``upto``, prefixes taken off."""
        prefix = self.setup.obs.prefix
        destination = listings.stripped_pages(
            listings.pages(self.obs_lister, "destination", prefix, prefix + cursor), prefix)
        streams = [_counting_extras(_bounded(_entries(destination), upto), source_keys, counts)]
        for kind, name in ((marker_names.SUCCESS, "success markers"), (marker_names.FAILED, "failed markers")):
            listed_prefix = verify.marker_listing_prefix(self.setup, kind)
            marker_pages = (entries for entries, _ in self.marker_store.listing(listed_prefix, name,
                                                                                marker=listed_prefix + cursor))
            streams.append(_bounded(_entries(listings.stripped_pages(marker_pages, listed_prefix)), upto))
        return streams


def _entries(page_iter):
    for page in page_iter:
        for entry in page:
            yield entry


def _bounded(entries, upto):
    """The entries of a sorted stream up to the key ``upto`` (None: all); stops pulling past it."""
    for entry in entries:
        if upto is not None and entry.key > upto:
            return
        yield entry


def _counting_extras(entries, source_keys, counts):
    """The destination ``entries`` as they are, counting those that are no source key (``extra``)."""
    for entry in entries:
        if entry.key not in source_keys:
            counts.extra += 1
        yield entry
