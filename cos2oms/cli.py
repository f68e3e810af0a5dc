# -*- coding: utf-8 -*-
"""What every command shares about its output.

Log lines go to standard error (JSON ones too, with ``LOG_FORMAT=json``): standard output holds only the
command's report and its JSON line. On a terminal a command shows a progress bar and only warnings and
errors, routed around the bar, and ends with a short human summary before its JSON line; ``-v`` (or
``LOG_LEVEL`` set) brings the per-key lines back; ``--log-file FILE`` keeps every line at ``LOG_LEVEL``
whatever the terminal shows. In SCF and when the output is not a terminal, the log lines are exactly the
function's.
"""
import logging
import signal
import sys
import threading
import time
from contextlib import contextmanager

from cos2oms import logs

_LOGGERS = (logs.LOGGER_NAME,) + logs.QUIET_LOGGERS


class _AtLeast(logging.Filter):
    def __init__(self, level):
        logging.Filter.__init__(self)
        self.level = level

    def filter(self, record):
        return record.levelno >= self.level


class NoProgress(object):
    def update(self, n=1):
        pass

    def close(self):
        pass


class PlainProgress(object):
    """A progress line for a terminal without tqdm (Python 3.7, or tqdm not installed): ``replay: 1200 keys
    (340 keys/s)``, or ``N/TOTAL`` and a percentage when the total is known, rewritten in place (``\\r``) at
    most every ``interval`` seconds and once more, ending the line, on ``close``. ``clear`` blanks it so that a
    log line can take its place; the next update draws it again."""

    def __init__(self, stream, desc, unit="key", total=None, clock=time.monotonic, interval=0.2):
        self.stream, self.desc, self.unit, self.total = stream, desc, unit, total
        self.n = 0
        self._clock, self._interval = clock, interval
        self._started = clock()
        self._drawn_at = None  # when the line was last drawn; None: not on screen
        self._width = 0
        self._closed = False
        self._lock = threading.Lock()

    def update(self, n=1):
        with self._lock:
            self.n += n
            now = self._clock()
            if not self._closed and (self._drawn_at is None or now - self._drawn_at >= self._interval):
                self._draw(now)

    def clear(self):
        with self._lock:
            if self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
            self._width, self._drawn_at = 0, None

    def close(self):
        with self._lock:
            if not self._closed:
                self._closed = True
                self._draw(self._clock(), end="\n")

    def text(self, now):
        units = self.unit + "s"
        elapsed = now - self._started
        rate = " (%.0f %s/s)" % (self.n / elapsed, units) if elapsed >= self._interval else ""
        if self.total:
            return "%s: %d/%d %s, %d%%%s" % (self.desc, self.n, self.total, units, 100 * self.n // self.total, rate)
        return "%s: %d %s%s" % (self.desc, self.n, units, rate)

    def _draw(self, now, end=""):
        text = self.text(now)
        # The cursor is left at the start of the line: a worker process's log line (its own, not routed through
        # this process's handlers) then overwrites the progress line instead of running on from its end.
        self.stream.write("\r" + text + " " * max(0, self._width - len(text)) + (end or "\r"))
        self.stream.flush()
        self._width = 0 if end else len(text)
        self._drawn_at = now


class _ClearProgress(logging.Filter):
    """On a console handler: blanks the plain progress lines before a log line is written (tqdm's own bar is
    routed around by ``logging_redirect_tqdm`` instead)."""

    def __init__(self, bars):
        logging.Filter.__init__(self)
        self.bars = bars

    def filter(self, record):
        for bar in self.bars:
            bar.clear()
        return True


def _tqdm():
    """tqdm's bar and its logging redirect, or None where tqdm is not installed (as on Python 3.7)."""
    try:
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm
    except ImportError:
        return None
    return tqdm, logging_redirect_tqdm


class Output(object):
    """A command's output for one run: ``with Output(args, settings, environ) as out: out.progress(...)``."""

    def __init__(self, args, settings, environ, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = isatty(self.stream)
        self.settings = settings
        self.quiet = self.interactive and not getattr(args, "verbose", False) and not environ.get("LOG_LEVEL")
        self.log_file = getattr(args, "log_file", None)
        self._undo = []
        self._plain = []  # the plain progress lines drawn (without tqdm)

    def __enter__(self):  # stdout: the report only
        redirect = shown = None
        if self.interactive and _tqdm() is not None:
            redirect = _around_the_bar
        elif self.interactive:  # only the lines shown clear the plain progress line
            shown = _ClearProgress(self._plain)
        self._undo = _set_up_logging(self.child_logging(), self.stream, redirect, shown)
        return self

    def __exit__(self, *exc_info):
        for undo in reversed(self._undo):
            undo()
        return False

    def child_logging(self):
        """What a worker process needs to log as this run does (``configure_child_logging``)."""
        return (self.settings.log_level, self.settings.log_format, self.quiet, self.log_file)

    def progress(self, desc, unit="key", total=None):
        """A tqdm bar on a terminal (a plain progress line without tqdm); nothing in SCF or in a pipe."""
        if not self.interactive:
            return NoProgress()
        tqdm = _tqdm()
        if tqdm is not None:
            return tqdm[0](desc=desc, unit=unit, total=total, file=self.stream, dynamic_ncols=True)
        bar = PlainProgress(self.stream, desc, unit, total)
        self._plain.append(bar)
        return bar

    def summary(self, text):
        """A short human summary, on a terminal only (the JSON line follows on standard output)."""
        if self.interactive:
            print(text, file=self.stream)


def configure_child_logging(config):
    """In a worker process: log as the parent run does (level, format, quiet on a terminal, the log file)."""
    _set_up_logging(config, sys.stderr)


def _set_up_logging(config, stream, redirect=None, shown=None):
    """Log as a run does (``config``: ``Output.child_logging``): lines at the level, in the format, to
    ``stream``; every line also to the log file, if any; ``redirect(consoles)`` (on a terminal: around tqdm's
    bar); then, when quiet, only warnings and errors on the console; ``shown``: a filter that sees only the
    lines the console shows. Returns the steps that undo it."""
    level, fmt, quiet, log_file = config
    logs.configure(level, fmt, stream)
    consoles = [logging.getLogger()] + ([logging.getLogger(name) for name in _LOGGERS] if fmt == "json" else [])
    undo = []
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(level)
        file_handler.setFormatter(_file_formatter(fmt))
        for name in _LOGGERS:
            logging.getLogger(name).addHandler(file_handler)
            undo.append(lambda n=name: logging.getLogger(n).removeHandler(file_handler))
        undo.append(file_handler.close)
    if redirect is not None:
        undo.append(redirect(consoles))
    if quiet:  # after the redirect: its console handler, which older tqdm gives no filters, is one
        _filter_consoles(consoles, _AtLeast(logging.WARNING), undo)
    if shown is not None:  # after the threshold
        _filter_consoles(consoles, shown, undo)
    return undo


def _filter_consoles(loggers, console_filter, undo):
    for logger in loggers:
        for handler in logger.handlers:
            if _is_console(handler):
                handler.addFilter(console_filter)
                undo.append(lambda h=handler: h.removeFilter(console_filter))


def _around_the_bar(consoles):
    """Route the console loggers' lines around tqdm's bar; returns how to undo it."""
    redirect = _tqdm()[1](consoles)
    redirect.__enter__()
    return lambda: redirect.__exit__(None, None, None)


def _file_formatter(fmt):
    if fmt == "json":
        return logs.JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s %(process)d %(message)s")


@contextmanager
def stop_on_interrupt(stopping, logger):
    """The first Ctrl-C (SIGINT) sets ``stopping``: the run sends nothing more, finishes what is in flight and
    counts it, so its summary matches the bucket. A second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum, frame):
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        logs.log(logger, logging.WARNING, "interrupted: finishing the requests in flight (Ctrl-C again to stop "
                                          "at once)")

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def isatty(stream):
    """True when ``stream`` is a terminal (False for anything without a usable ``isatty``)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _is_console(handler):
    return isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in (
        sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
