# -*- coding: utf-8 -*-
"""cli: output files refused before any work is done; quiet on a terminal whatever tqdm version routes the lines."""
import argparse
import io
import logging
import sys
from contextlib import contextmanager

import pytest

from cos2oms import __main__ as command_line
from cos2oms import cli, logs, settings
from cos2oms.commands import base
from tests import support


@pytest.mark.parametrize("command", ["replay", "verify", "backfill"])
def test_an_unwritable_log_file_is_a_usage_error_before_anything_runs(command, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        command_line.main([command, "--log-file", str(tmp_path / "no-such-folder" / "run.log")])
    assert exit_.value.code == 2
    assert "--log-file" in capsys.readouterr().err


@pytest.mark.parametrize("value,ok", [("1", True), ("64", True), ("65", False), ("0", False), ("x", False)])
def test_workers_have_a_range_the_connection_pools_hold(value, ok):
    if ok:
        assert base.workers_count(value) == int(value)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            base.workers_count(value)


class Terminal(io.StringIO):
    def isatty(self):
        return True


@contextmanager
def redirect_like_old_tqdm(loggers):
    """What tqdm before 4.69 does: each console handler is swapped for one of its own on the same stream,
    filters not copied."""
    swapped = []
    for logger in loggers:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.stdout):
                replacement = logging.StreamHandler(handler.stream)
                logger.removeHandler(handler)
                logger.addHandler(replacement)
                swapped.append((logger, handler, replacement))
    try:
        yield
    finally:
        for logger, handler, replacement in swapped:
            logger.removeHandler(replacement)
            logger.addHandler(handler)


def test_a_terminal_shows_only_warnings_even_where_tqdm_copies_no_filters(monkeypatch, capsys):
    pytest.importorskip("tqdm", reason="tqdm is not installed (the SCF 3.6 emulation draws no progress bar)")
    import tqdm.contrib.logging
    monkeypatch.setattr(tqdm.contrib.logging, "logging_redirect_tqdm", redirect_like_old_tqdm)
    console = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(console)
    try:
        args = argparse.Namespace(verbose=False, log_file=None)
        with cli.Output(args, settings.load(support.env()), environ={}, stream=Terminal()):
            logger = logging.getLogger("cos2oms.test")
            logs.log(logger, logging.INFO, "object accepted", key="/1/b/k")
            logs.log(logger, logging.WARNING, "replay stopping: out of time")
    finally:
        logging.getLogger().removeHandler(console)
        logs.configure(logging.INFO, "text")
    shown = capsys.readouterr().err
    assert "object accepted" not in shown
    assert "replay stopping" in shown


def test_a_run_on_a_terminal_takes_its_log_file_away_when_it_ends(tmp_path):
    """The log file gets the run's lines, at LOG_LEVEL whatever the terminal shows, and no later run's."""
    log_file = tmp_path / "run.log"
    args = argparse.Namespace(verbose=False, log_file=str(log_file))
    logger = logging.getLogger("cos2oms.test")
    try:
        with cli.Output(args, settings.load(support.env()), environ={}, stream=Terminal()):
            logs.log(logger, logging.INFO, "object accepted", key="/1/b/during")
        logs.log(logger, logging.WARNING, "after the run", key="/1/b/after")
    finally:
        logs.configure(logging.INFO, "text")
    written = log_file.read_text()
    assert "/1/b/during" in written and "/1/b/after" not in written
    assert not [h for h in logging.getLogger(logs.LOGGER_NAME).handlers if isinstance(h, logging.FileHandler)]


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_plain_progress_line_is_rewritten_in_place_at_most_every_interval():
    clock, shown = Clock(), io.StringIO()
    bar = cli.PlainProgress(shown, "replay", clock=clock, interval=0.25)
    for _ in range(1000):  # a fast run: one line drawn, not a thousand
        bar.update()
    assert shown.getvalue() == "\rreplay: 1 keys\r"  # the cursor back at the line's start
    clock.now += 0.125
    bar.update(9)
    assert shown.getvalue() == "\rreplay: 1 keys\r"
    clock.now += 0.125
    bar.update(11)
    assert shown.getvalue() == "\rreplay: 1 keys\r\rreplay: 1020 keys (4080 keys/s)\r"
    clock.now += 0.25
    bar.close()
    bar.update()  # after close: nothing more
    assert shown.getvalue().split("\r")[1::2] == ["replay: 1 keys", "replay: 1020 keys (4080 keys/s)",
                                                  "replay: 1020 keys (2040 keys/s)\n"]


def test_the_plain_progress_line_shows_the_share_done_and_blanks_a_longer_line_it_replaces():
    clock, shown = Clock(), io.StringIO()
    bar = cli.PlainProgress(shown, "verify", unit="obj", total=200, clock=clock, interval=1.0)
    bar.update(50)
    assert shown.getvalue() == "\rverify: 50/200 objs, 25%\r"
    bar.clear()
    assert shown.getvalue().endswith("\r" + " " * len("verify: 50/200 objs, 25%") + "\r")
    bar.update(150)  # cleared: drawn again at once
    assert shown.getvalue().endswith("\rverify: 200/200 objs, 100%\r")


def test_without_tqdm_a_terminal_shows_a_plain_line_that_log_lines_do_not_run_into(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails, as on Python 3.7
    monkeypatch.setitem(sys.modules, "tqdm.contrib.logging", None)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logging.getLogger().addHandler(console)
    try:
        args = argparse.Namespace(verbose=False, log_file=None)
        with cli.Output(args, settings.load(support.env()), environ={}, stream=terminal) as output:
            bar = output.progress("replay")
            bar.update(5)
            logger = logging.getLogger("cos2oms.test")
            logs.log(logger, logging.INFO, "object accepted", key="/1/b/k")  # quiet: neither shown nor clearing
            logs.log(logger, logging.WARNING, "replay stopping: out of time")
            bar.update(5)
            bar.close()
        assert not console.filters  # the run's filters are gone with it
    finally:
        logging.getLogger().removeHandler(console)
        logs.configure(logging.INFO, "text")
    shown = terminal.getvalue()
    blank = " " * len("replay: 5 keys")
    assert shown == ("\rreplay: 5 keys\r\r%s\rWARNING replay stopping: out of time\n"
                     "\rreplay: 10 keys\r\rreplay: 10 keys\n" % blank)  # drawn again after the line, ended on close


def test_in_a_pipe_there_is_no_progress_line_with_or_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    pipe = io.StringIO()
    with cli.Output(argparse.Namespace(verbose=False, log_file=None), settings.load(support.env()), environ={},
                    stream=pipe) as output:
        bar = output.progress("replay")
        bar.update(5)
        bar.close()
    assert pipe.getvalue() == ""
