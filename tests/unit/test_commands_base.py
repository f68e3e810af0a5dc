# -*- coding: utf-8 -*-
"""The command skeleton (commands.base): what every counting command does around its work, and the import
graph of the package (no module imports one that imports it back, also inside functions)."""
import argparse
import ast
import io
import json
import logging
import os
import threading

import pytest

from cos2oms import settings
from cos2oms.commands import base
from tests import support

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "cos2oms")


class Counted(base.Counts):
    FIELDS = ("listed", "sent", "errors")


def run(work, on_interrupt=None, exit_status=lambda: 0):
    out, said = io.StringIO(), []
    summary = Counted()
    args = argparse.Namespace(verbose=False, log_file=None)

    def describe(interrupted):
        said.append(interrupted)
        return "summary"

    code = base.run_counted(args, settings.load(support.env()), {}, out, logging.getLogger("cos2oms.test"),
                            summary, lambda output, stopping: work(summary, stopping), describe, exit_status,
                            on_interrupt)
    lines = out.getvalue().splitlines()
    return code, json.loads(lines[-1]), said, lines


def test_a_run_that_finishes_ends_with_its_counts_in_order_and_its_own_exit_status():
    def work(summary, stopping):
        summary.listed, summary.sent = 3, 2

    code, last, said, lines = run(work, on_interrupt=lambda: pytest.fail("not interrupted"), exit_status=lambda: 7)
    assert code == 7 and said == [False] and len(lines) == 1
    assert list(last.items()) == [("listed", 3), ("sent", 2), ("errors", 0)]


@pytest.mark.parametrize("how", ["ctrl-c", "stopping", "stopped itself"])
def test_an_interrupted_run_settles_its_counts_then_reports_them_and_exits_1(how):
    def work(summary, stopping):
        summary.listed = 5
        if how == "ctrl-c":
            raise KeyboardInterrupt
        if how == "stopping":
            stopping.set()
            return None
        return True

    settled = []
    code, last, said, _ = run(work, on_interrupt=lambda: settled.append(True), exit_status=lambda: 0)
    assert code == base.EXIT_FAILED == 1
    assert settled == [True] and said == [True] and last["listed"] == 5


def test_a_failure_that_is_not_an_interruption_is_not_swallowed():
    def work(summary, stopping):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        run(work)


def test_the_first_ctrl_c_only_asks_the_run_to_stop(monkeypatch):
    """Ctrl-C (SIGINT) during the work sets ``stopping``; the work finishes and the run counts as interrupted."""
    import signal

    def work(summary, stopping):
        signal.raise_signal(signal.SIGINT) if hasattr(signal, "raise_signal") else os.kill(os.getpid(), signal.SIGINT)
        assert stopping.is_set()
        summary.sent = 1

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    code, last, said, _ = run(work)
    assert code == 1 and last["sent"] == 1 and said == [True]


def test_a_configuration_error_is_said_once_on_standard_error_with_exit_2(capsys):
    with pytest.raises(settings.ConfigError) as raised:
        settings.load({})
    assert base.config_error("cos2oms replay", raised.value) == base.EXIT_CONFIG == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "cos2oms replay: configuration error: %s\n" % raised.value


@pytest.mark.parametrize("text, ok", [("1", True), ("168", True), ("0", False), ("169", False), ("2.5", False)])
def test_bounded_numbers(text, ok):
    parse = base.bounded_int(1, 168)
    if ok:
        assert parse(text) == int(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def _imports():
    """module -> the cos2oms modules it imports, anywhere in it (functions included)."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path[:-3], os.path.dirname(PACKAGE)).replace(os.sep, ".")
                modules[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    graph = {}
    for module, path in modules.items():
        found = set()
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update("%s.%s" % (node.module, alias.name) for alias in node.names)
        graph[module] = set(name for name in found if name in modules and name not in ("cos2oms", module))
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = _imports()
    assert graph["cos2oms.bulk"] and graph["cos2oms.handler"]  # the walk sees imports at all

    def reaches(start, goal, seen):
        for name in graph[start]:
            if name == goal or (name not in seen and reaches(name, goal, seen | {name})):
                return True
        return False

    assert [module for module in sorted(graph) if reaches(module, module, {module})] == []
