# -*- coding: utf-8 -*-
"""The command layer's shared skeleton: exit statuses, the options every command shares, configuration errors,
and progress counted in chunks. ``cli`` is the output part it uses (log lines, the progress bar, Ctrl-C).

Exit statuses: 0 when all is well, 1 when something failed or needs attention, 2 on bad configuration or usage.
"""
import argparse
import os
import sys

from cos2oms import bulk

EXIT_OK = 0
EXIT_FAILED = EXIT_ATTENTION = 1
EXIT_CONFIG = 2


def default_processes():
    """Worker processes for a large run: the CPUs, at most 4 (1 where processes are unusable)."""
    if not bulk.processes_usable():
        return 1
    return max(1, min(4, os.cpu_count() or 1))


#: The most ``--workers``: the connection pools (``transport.POOL_SIZE``) keep this many connections per host.
MAX_WORKERS = 64


def positive_int(text, most=None):
    """argparse type: a whole number, at least 1 (and at most ``most``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number, got %r" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %s" % text)
    if most is not None and value > most:
        raise argparse.ArgumentTypeError("must be at most %d, got %s" % (most, text))
    return value


def workers_count(text):
    """argparse type for ``--workers``: 1 to ``MAX_WORKERS``."""
    return positive_int(text, MAX_WORKERS)


def writable_file(path):
    """argparse type for an output file: it must be writable now, not after the run has done its work."""
    try:
        open(path, "a").close()
    except OSError as exc:
        raise argparse.ArgumentTypeError("cannot write %s: %s" % (path, exc.strerror or exc)) from None
    return path


def add_sending_arguments(parser, what="", default_workers=8):
    """``--workers`` and ``--processes``, for commands that send keys through the bulk engine."""
    parser.add_argument("--workers", type=workers_count, default=default_workers,
                        help="concurrent OMS requests per process%s, 1 to %d (default %d)"
                             % (what, MAX_WORKERS, default_workers))
    parser.add_argument("--processes", type=positive_int, default=default_processes(),
                        help="worker processes for large runs%s (default %d here: the CPUs, at most 4)"
                             % (what, default_processes()))


def add_arguments(parser):
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="on a terminal, show the per-key lines too (as LOG_LEVEL=INFO does)")
    parser.add_argument("--log-file", metavar="FILE", type=writable_file,
                        help="also write every log line (at LOG_LEVEL) to FILE")


def config_error(prog, exc):
    print("%s: configuration error: %s" % (prog, exc), file=sys.stderr)
    return EXIT_CONFIG



class Progress(object):
    """A progress bar (``cli.Output.progress``: tqdm on a terminal, nothing elsewhere), updated in chunks so
    that it costs nothing per object."""

    def __init__(self, bar, chunk=1000):
        self.bar = bar
        self.chunk = chunk
        self._pending = 0

    def update(self, n=1):
        self._pending += n
        if self._pending >= self.chunk:
            self.bar.update(self._pending)
            self._pending = 0

    def close(self):
        if self._pending:
            self.bar.update(self._pending)
            self._pending = 0
        self.bar.close()

