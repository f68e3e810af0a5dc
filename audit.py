# -*- coding: utf-8 -*-
"""The scheduled audit: a resumable verify that repairs (see README, "Audit").

* SCF timer trigger, in the same zip as the function: handler ``audit.main_handler``.
* Command line: ``python audit.py [--once]`` (same as ``python -m cos2oms audit``), with the function's
  environment variables and verify's (``SOURCE_BUCKET``, ``OBS_*``; the sync task's where not set).
"""
import sys

from cos2oms import audit as _audit

main_handler = _audit.main_handler

if __name__ == "__main__":
    from cos2oms.commands import audit as _command
    sys.exit(_command.main())
