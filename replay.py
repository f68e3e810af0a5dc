# -*- coding: utf-8 -*-
"""Drain failure markers: resubmit the keys OMS never accepted (see README, "Replaying failures").

* SCF timer trigger, in the same zip as the function: handler ``replay.main_handler``.
* Command line: ``python replay.py [--dry-run] [--limit N] [--workers N]`` (same as ``python -m cos2oms replay``),
  with the function's environment variables.
"""
import sys

from cos2oms import replay as _replay

main_handler = _replay.main_handler

if __name__ == "__main__":
    from cos2oms.commands import replay as _command
    sys.exit(_command.main())
