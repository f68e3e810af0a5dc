"""Fixtures for end-to-end tests: fresh loopback OMS, COS and OBS servers per test (``local.world``'s stand-ins,
with the fake credentials of ``local.fake_credentials``).

Start-up is cheap (OMS: about 1 ms; COS: about 2 ms once moto is imported, which costs about 0.7 s once
per session), so every test gets its own servers and nothing leaks between tests.
"""

import pytest

from local.world import World


def _stand_in(role):
    with World(**{name: name == role for name in ("oms", "cos", "obs")}) as world:
        yield getattr(world, role)


@pytest.fixture
def oms_server():
    """A running ``local.oms_server.OmsServer`` (ak ``HW_AK``, sk ``HW_SK`` of ``local.fake_credentials``)."""
    yield from _stand_in("oms")


@pytest.fixture
def cos_server():
    """A running ``local.cos_server.CosServer`` (``COS_SECRET_ID`` / ``COS_SECRET_KEY``, no token)."""
    yield from _stand_in("cos")


@pytest.fixture
def obs_server():
    """A running ``local.obs_server.ObsServer`` (the sync task's destination; ak ``OBS_AK``, sk ``OBS_SK``)."""
    yield from _stand_in("obs")
