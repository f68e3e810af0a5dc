# -*- coding: utf-8 -*-
"""``python -m cos2oms COMMAND [options]`` (also the ``cos2oms`` console script).

Every command reads the function's environment variables. Exit status: 0 when all is well, 1 when something
needs attention, 2 on bad configuration or usage.
"""
import argparse
import sys

from cos2oms import __version__
from cos2oms.commands import audit, backfill, base, replay, status, task, verify

DESCRIPTION = "Tools for the COS -> OMS sync function (same environment variables as the function)."
#: name -> (module with add_arguments(parser) and run(args), one-line help)
COMMANDS = {
    "replay": (replay, replay.DESCRIPTION),
    "status": (status, status.DESCRIPTION),
    "verify": (verify, verify.DESCRIPTION),
    "backfill": (backfill, backfill.DESCRIPTION),
    "audit": (audit, audit.DESCRIPTION),
    "task": (task, task.DESCRIPTION),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="cos2oms", description=DESCRIPTION,
                                     epilog="Run 'cos2oms COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version="cos2oms %s" % __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in sorted(COMMANDS):
        module, summary = COMMANDS[name]
        sub = commands.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return base.EXIT_CONFIG
    module = COMMANDS[args.command][0]
    return module.run(args, prog="cos2oms %s" % args.command)


if __name__ == "__main__":
    sys.exit(main())
