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


class Output(object):
    """A command's output for one run: ``with Output(args, settings, environ) as out: out.progress(...)``."""

    def __init__(self, args, settings, environ, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = isatty(self.stream)
        self.settings = settings
        self.quiet = self.interactive and not getattr(args, "verbose", False) and not environ.get("LOG_LEVEL")
        self.log_file = getattr(args, "log_file", None)
        self._undo = []

    def __enter__(self):  # stdout: the report only
        self._undo = _set_up_logging(self.child_logging(), self.stream,
                                     _around_the_bar if self.interactive else None)
        return self

    def __exit__(self, *exc_info):
        for undo in reversed(self._undo):
            undo()
        return False

    def child_logging(self):
        """What a worker process needs to log as this run does (``configure_child_logging``)."""
        return (self.settings.log_level, self.settings.log_format, self.quiet, self.log_file)

    def progress(self, desc, unit="key", total=None):
        """A tqdm bar on a terminal; nothing in SCF, in a pipe, or without tqdm."""
        if self.interactive:
            try:
                from tqdm import tqdm
            except ImportError:
                return NoProgress()
            return tqdm(desc=desc, unit=unit, total=total, file=self.stream, dynamic_ncols=True)
        return NoProgress()

    def summary(self, text):
        """A short human summary, on a terminal only (the JSON line follows on standard output)."""
        if self.interactive:
            print(text, file=self.stream)


def configure_child_logging(config):
    """In a worker process: log as the parent run does (level, format, quiet on a terminal, the log file)."""
    _set_up_logging(config, sys.stderr)


def _set_up_logging(config, stream, redirect=None):
    """Log as a run does (``config``: ``Output.child_logging``): lines at the level, in the format, to
    ``stream``; every line also to the log file, if any; ``redirect(consoles)`` (on a terminal: around the
    progress bar); then, when quiet, only warnings and errors on the console. Returns the steps that undo it."""
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
        threshold = _AtLeast(logging.WARNING)
        for logger in consoles:
            for handler in logger.handlers:
                if _is_console(handler):
                    handler.addFilter(threshold)
                    undo.append(lambda h=handler: h.removeFilter(threshold))
    return undo


def _around_the_bar(consoles):
    """Route the console loggers' lines around tqdm's bar (where tqdm is installed); returns how to undo it."""
    try:
        from tqdm.contrib.logging import logging_redirect_tqdm
    except ImportError:
        return lambda: None
    redirect = logging_redirect_tqdm(consoles)
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
