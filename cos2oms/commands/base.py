# -*- coding: utf-8 -*-
"""The command layer's shared skeleton, once: exit statuses, the options every command shares (``-v``,
``--log-file``, ``--workers``, ``--processes``), configuration errors, the counts and the run of a command
that ends with a human summary and a JSON last line (``run_counted``: Ctrl-C included), progress counted in
chunks, and a command as a program of its own (``main``). ``cli`` is the output part it uses (log lines, the
progress bar, Ctrl-C).

Exit statuses: 0 when all is well, 1 when something failed or needs attention, 2 on bad configuration or usage.
"""
import argparse
import collections
import json
import os
import sys
import threading

from cos2oms import bulk, cli

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


def _whole_number(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number, got %r" % text) from None


def positive_int(text, most=None):
    """argparse type: a whole number, at least 1 (and at most ``most``)."""
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %s" % text)
    if most is not None and value > most:
        raise argparse.ArgumentTypeError("must be at most %d, got %s" % (most, text))
    return value


def bounded_int(low, high):
    """An argparse type: a whole number from ``low`` to ``high``."""
    def parse(text):
        value = _whole_number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError("must be from %d to %d, got %s" % (low, high, text))
        return value
    return parse


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
    """``-v`` and ``--log-file``, for every command (``cli.Output`` reads them)."""
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="on a terminal, show the per-key lines too (as LOG_LEVEL=INFO does)")
    parser.add_argument("--log-file", metavar="FILE", type=writable_file,
                        help="also write every log line (at LOG_LEVEL) to FILE")


def config_error(prog, exc):
    """Say what is wrong with the configuration (``exc``: a ``ConfigError``) on standard error; EXIT_CONFIG."""
    print("%s: configuration error: %s" % (prog, exc), file=sys.stderr)
    return EXIT_CONFIG


def main(description, add_command_arguments, run, argv=None, environ=None, out=None, prog=None):
    """A command as a program of its own (``python replay.py``): its options, then ``run``'s exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_command_arguments(parser)
    return run(parser.parse_args(argv), environ, out, prog)


class Counts(object):
    """A run's counts, each named in ``FIELDS`` and starting at 0: the JSON last line, in that order."""

    FIELDS = ()

    def __init__(self):
        for name in self.FIELDS:
            setattr(self, name, 0)

    def as_dict(self):
        return collections.OrderedDict((name, getattr(self, name)) for name in self.FIELDS)


def run_counted(args, settings, environ, out, logger, summary, work, describe, exit_status, on_interrupt=None):
    """The run of a command that counts into ``summary`` (``as_dict()``: the JSON last line) and returns its
    exit status.

    Its output is set up for the run (``cli.Output``: log lines, ``-v``, ``--log-file``, the progress bar), and
    the first Ctrl-C sets ``stopping`` (``cli.stop_on_interrupt``). ``work(output, stopping)`` does the run; it
    returns True when it stopped early by itself. A run that was interrupted (that, a KeyboardInterrupt, or
    ``stopping`` set) calls ``on_interrupt()`` (its warning line, the counts to settle). Then the human summary
    ``describe(interrupted)`` on a terminal, the JSON last line on ``out``; EXIT_FAILED when interrupted, else
    ``exit_status()``.
    """
    stopping = threading.Event()
    interrupted = False
    with cli.Output(args, settings, environ) as output, cli.stop_on_interrupt(stopping, logger):
        try:
            interrupted = work(output, stopping) is True
        except KeyboardInterrupt:
            interrupted = True
        interrupted = interrupted or stopping.is_set()
        if interrupted and on_interrupt is not None:
            on_interrupt()
        output.summary(describe(interrupted))
    print(json.dumps(summary.as_dict()), file=out)
    return EXIT_FAILED if interrupted else exit_status()


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

