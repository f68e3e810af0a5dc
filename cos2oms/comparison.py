# -*- coding: utf-8 -*-
"""verify's comparison, chosen per sync task (pure: no I/O; ``verify`` and the audit use it, the function does not).

OMS judges a copy by the task's ``consistency_check`` and, when the destination already holds the name,
replaces it or not by its ``object_overwrite_mode`` (ShowSyncTask). ``Comparison`` says what verify says of
a pair the same way:

* ``size_last_modified`` (OMS's default; ``no_check``, meant for HTTP sources, behaves so for COS): the
  destination holds the source when the sizes are equal and its last-modified time is not older, to the
  second. With ``--checksum`` also equal MD5 ETags, where both are plain MD5s.
* ``crc64``: OMS compares the CRC64 of both objects' metadata, and falls back to size/last-modified when either
  has none. Sizes that differ settle it from the listings; so does a same-size destination that is not older
  (as for ``size_last_modified``); a same-size destination that is older needs both CRC64s (``UNSETTLED``:
  a HEAD of each, ``judge(..., crc64s)``).

Whether resubmitting a key would repair a difference, per overwrite mode: ``NO_OVERWRITE`` never;
``SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE`` (OMS's default) when the sizes differ or the destination is older,
never for an MD5 or CRC64 difference alone; ``CRC64_COMPARISON_OVERWRITE`` for size, age and content (MD5,
CRC64) differences; ``FULL_OVERWRITE`` always. A mode this module does not know: always (as before it was read).
A missing object is always repaired by resubmitting it.
"""
import collections
import math
import time

# consistency_check
SIZE_LAST_MODIFIED_CHECK = "size_last_modified"
CRC64_CHECK = "crc64"
NO_CHECK = "no_check"
DEFAULT_CHECK = SIZE_LAST_MODIFIED_CHECK

# object_overwrite_mode
NO_OVERWRITE = "NO_OVERWRITE"
SIZE_LAST_MODIFIED_OVERWRITE = "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE"
CRC64_OVERWRITE = "CRC64_COMPARISON_OVERWRITE"
FULL_OVERWRITE = "FULL_OVERWRITE"
DEFAULT_OVERWRITE = SIZE_LAST_MODIFIED_OVERWRITE

# Kinds of difference.
SIZE, OLDER, MD5, CRC64 = "size", "older", "md5", "crc64"

Difference = collections.namedtuple("Difference", "kind why")
Difference.__doc__ = """Why a pair differs: ``kind`` (SIZE, OLDER, MD5 or CRC64) and the report's reason."""

#: ``Comparison.judge``'s answer for a pair that needs both objects' CRC64 (``crc64``: same size, older copy).
UNSETTLED = Difference(None, "needs both objects' CRC64")

_WHAT_REPAIRS = {
    NO_OVERWRITE: (),
    SIZE_LAST_MODIFIED_OVERWRITE: (SIZE, OLDER),
    CRC64_OVERWRITE: (SIZE, OLDER, MD5, CRC64),
    FULL_OVERWRITE: (SIZE, OLDER, MD5, CRC64),
}
_KEEPS = {
    NO_OVERWRITE: "keeps the destination's copy",
    SIZE_LAST_MODIFIED_OVERWRITE: "keeps a copy of the same size that is not older",
}


def is_plain_md5(etag):
    """True for a single-part upload's ETag (32 hex digits); a multipart ETag ends in ``-N``."""
    return bool(etag) and len(etag) == 32 and all(c in "0123456789abcdefABCDEF" for c in etag)


def show_time(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def is_older(source, destination):
    """True when ``destination`` was last modified before ``source``, to the second."""
    return math.floor(destination.mtime) < math.floor(source.mtime)


def crc64_value(text):
    """A CRC64 header's value (COS ``x-cos-hash-crc64ecma``, OBS ``x-obs-checksum-crc64ecma``: a decimal
    uint64) as an int; None when there is none or it is not one."""
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text.isdigit() or len(text) > 20:
        return None
    value = int(text)
    return value if value < 2 ** 64 else None


class Comparison(object):
    """The comparison of one sync task: ``consistency_check`` and ``overwrite_mode`` as ShowSyncTask said them
    (None: not said, OMS's default taken), ``checksum`` (``--checksum``: MD5 ETags too), ``told``: whether
    ShowSyncTask answered at all."""

    def __init__(self, consistency_check=None, overwrite_mode=None, checksum=False, told=False):
        self.consistency_check = consistency_check
        self.overwrite_mode = overwrite_mode
        self.checksum = bool(checksum)
        self.told = told
        self.crc64 = consistency_check == CRC64_CHECK
        self.mode = overwrite_mode or DEFAULT_OVERWRITE

    @classmethod
    def for_task(cls, task, checksum=False):
        """The comparison of ``task`` (an ``oms_tasks.SyncTaskSettings``, or None when OMS did not say)."""
        if task is None:
            return cls(checksum=checksum)
        return cls(task.consistency_check, task.object_overwrite_mode, checksum, told=True)

    def judge(self, source, destination, crc64s=None):
        """None when ``destination`` holds ``source``, else a ``Difference``; ``UNSETTLED`` for a pair that needs
        both objects' CRC64 (``crc64``: same size, destination older) until they are given: ``crc64s``, the
        pair (source's, destination's; each an int, or None where the object has none)."""
        if source.size != destination.size:
            return Difference(SIZE, "size %d on the source, %d on the destination" % (source.size, destination.size))
        if is_older(source, destination):
            if self.crc64 and crc64s is None:
                return UNSETTLED
            source_crc, destination_crc = crc64s if self.crc64 else (None, None)
            if source_crc is None or destination_crc is None:  # OMS's fallback: size and last-modified time
                return Difference(OLDER, "the destination (%s) is older than the source (%s)" % (
                    show_time(destination.mtime), show_time(source.mtime)))
            if source_crc != destination_crc:
                return Difference(CRC64, "CRC64 %d on the source, %d on the destination" % (source_crc,
                                                                                           destination_crc))
        if self.checksum and is_plain_md5(source.etag) and is_plain_md5(destination.etag) \
                and source.etag.lower() != destination.etag.lower():
            return Difference(MD5, "MD5 %s on the source, %s on the destination" % (source.etag.lower(),
                                                                                   destination.etag.lower()))
        return None

    def repairs(self, source, destination, kind):
        """Whether the task replaces ``destination`` with ``source`` when the key is resubmitted, for a pair that
        differs by ``kind``. A size or age difference is seen in the pair itself whatever ``kind`` names."""
        if self.mode not in _WHAT_REPAIRS:
            return True
        if self.mode == SIZE_LAST_MODIFIED_OVERWRITE and (source.size != destination.size
                                                          or is_older(source, destination)):
            return True
        return kind in _WHAT_REPAIRS[self.mode]

    def kept(self):
        """What a report line adds to a difference the task would not repair."""
        return " (%s %s %s: resubmitting does not replace it)" % (
            "the sync task's overwrite mode" if self.overwrite_mode else "OMS's default overwrite mode", self.mode,
            _KEEPS.get(self.mode, "keeps it"))

    def describe(self):
        """(message, fields) of the line naming the comparison chosen for this task."""
        said = "the sync task's" if self.told else "OMS's defaults (ShowSyncTask did not answer)"
        fields = collections.OrderedDict()
        fields["consistency_check"] = self.consistency_check or "%s (OMS's default)" % DEFAULT_CHECK
        fields["object_overwrite_mode"] = self.overwrite_mode or "%s (OMS's default)" % DEFAULT_OVERWRITE
        compares = "size and last-modified time (the destination not older, to the second)"
        if self.crc64:
            compares += "; CRC64 (a HEAD of both) where a copy of the same size is older, else size and " \
                        "last-modified time"
        elif self.consistency_check not in (None, SIZE_LAST_MODIFIED_CHECK, NO_CHECK):
            compares += " (consistency check not known here)"
        if self.checksum:
            compares += "; MD5 ETags where both are plain MD5s (--checksum)"
        fields["compares"] = compares
        repaired = _WHAT_REPAIRS.get(self.mode)
        if repaired is None:
            fields["resubmits"] = "every difference (overwrite mode not known here)"
        elif not repaired:
            fields["resubmits"] = "no difference: the task never replaces an object the destination holds"
        elif repaired == (SIZE, OLDER):
            fields["resubmits"] = "differences of size or age; not an MD5 or CRC64 difference alone"
        else:
            fields["resubmits"] = "every difference"
        return "verify compares as %s settings say" % said, fields
