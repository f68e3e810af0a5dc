"""Fixtures for end-to-end tests: fresh loopback OMS and COS servers per test.

Start-up is cheap (OMS: about 1 ms; COS: about 2 ms once moto is imported, which costs about 0.7 s once
per session), so every test gets its own servers and nothing leaks between tests.
"""

import pytest

from local.fake_credentials import COS_SECRET_ID, COS_SECRET_KEY, OBS_AK, OBS_SK
from local.fake_credentials import HW_AK as OMS_AK
from local.fake_credentials import HW_SK as OMS_SK

LOG_BUCKET = "logs-1250000000"


@pytest.fixture
def oms_server():
    """A running ``local.oms_server.OmsServer`` (ak ``OMS_AK``, sk ``OMS_SK``)."""
    from local.oms_server import OmsServer

    with OmsServer(ak=OMS_AK, sk=OMS_SK) as server:
        yield server


@pytest.fixture
def cos_server():
    """A running ``local.cos_server.CosServer`` (``COS_SECRET_ID`` / ``COS_SECRET_KEY``, no token)."""
    from local.cos_server import CosServer

    with CosServer(secret_id=COS_SECRET_ID, secret_key=COS_SECRET_KEY) as server:
        yield server


@pytest.fixture
def obs_server():
    """A running ``local.obs_server.ObsServer`` (the sync task's destination; ak ``OBS_AK``, sk ``OBS_SK``)."""
    from local.obs_server import ObsServer

    with ObsServer(ak=OBS_AK, sk=OBS_SK) as server:
        yield server
