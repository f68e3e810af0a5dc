# -*- coding: utf-8 -*-
"""Huawei Cloud API Gateway request signing (SDK-HMAC-SHA256): the guide's ``signer.py``, drop-in.

``HttpRequest``, ``Signer`` (``Key``/``Secret``, ``Sign``, ``Verify``) and the guide's module-level helpers
behave as in Huawei's OMS guide and give an identical ``Authorization`` for identical input. The code lives
in ``cos2oms.signer`` (which adds ``SignerAuth``, a ``requests`` auth hook); this module re-exports it so that
code written against the guide works unchanged.
"""
from cos2oms.signer import *  # noqa: F401,F403
from cos2oms.signer import __all__  # noqa: F401
