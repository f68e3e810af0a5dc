# -*- coding: utf-8 -*-
"""cos2oms: keep a Huawei Cloud OMS sync task fed from a Tencent Cloud COS bucket.

The SCF entry points are the top-level ``index.main_handler`` and ``replay.main_handler``; the tools are
``python -m cos2oms COMMAND``.
"""
__version__ = "0.3.0"
