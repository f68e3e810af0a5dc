"""``local.world``: the environment it builds points the function at the stand-ins it started, and nothing of
the caller's own cos2oms settings leaks into it; it stops what it started and only that."""

import logging
import os
import socket

import pytest

import index
from cos2oms import handler, logs
from local import fake_credentials, world
from tests import support


def refuses_connections(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_function_runs_against_the_world_it_installed(monkeypatch):
    monkeypatch.setenv("SYNC_URL", "http://127.0.0.1:9/v2/p/sync-tasks/t/events")  # the caller's own, replaced
    monkeypatch.setenv("OBS_PREFIX", "stale/")  # a variable the world does not set: removed
    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
    for logger in [logging.getLogger(name) for name in ("cos2oms",) + logs.QUIET_LOGGERS]:
        monkeypatch.setattr(logger, "level", logger.level)  # main_handler sets them: undone after the test
    with world.World(project="p1", task="t1", log_bucket="worldlog-1250000000") as loopback:
        loopback.install(monkeypatch)
        assert "OBS_PREFIX" not in os.environ

        assert index.main_handler(support.load_event("cos_put_console.json"), {"time_limit_in_ms": 3000}) is True

        [request] = loopback.oms.requests
        assert (request.verified, request.path) == (True, "/v2/p1/sync-tasks/t1/events")
        assert loopback.cos.keys("worldlog-1250000000") == [
            "oms_source_record/t1/success_object//1253970026/testpic/testfile"]


def test_environment_names_every_stand_in_with_the_fake_credentials():
    with world.World(obs=True, source_bucket="photos-1253970026", obs_bucket="dest") as loopback:
        environ = loopback.environ()
        assert environ == {
            "SYNC_URL": "http://127.0.0.1:%d/v2/%s/sync-tasks/%s/events" % (loopback.oms.port, support.PROJECT,
                                                                           support.TASK),
            "HW_AK": fake_credentials.HW_AK, "HW_SK": fake_credentials.HW_SK, "LOG_BUCKET": support.LOG_BUCKET,
            "COS_ADDRESS": "127.0.0.1:%d" % loopback.cos.port, "COS_SCHEME": "http",
            "COS_SECRET_ID": fake_credentials.COS_SECRET_ID, "COS_SECRET_KEY": fake_credentials.COS_SECRET_KEY,
            "SOURCE_BUCKET": "photos-1253970026", "OBS_BUCKET": "dest",
            "OBS_ENDPOINT": "http://127.0.0.1:%d" % loopback.obs.port,
            "OBS_AK": fake_credentials.OBS_AK, "OBS_SK": fake_credentials.OBS_SK,
        }


def test_base_keeps_only_what_is_not_cos2oms_and_none_removes():
    base = {"PATH": "/bin", "COS_REGION": "ap-nowhere", "TENCENTCLOUD_SECRETID": "AKIDcaller", "OBS_SK": "mine"}
    environ = world.environment("http://127.0.0.1:9", base=base, HW_SK=None, LOG_LEVEL="DEBUG")
    assert environ == {"PATH": "/bin", "SYNC_URL": "http://127.0.0.1:9" + support.SYNC_PATH,
                       "HW_AK": fake_credentials.HW_AK, "LOG_LEVEL": "DEBUG"}


@pytest.mark.parametrize("token", [None, "a-session-token"])
def test_cos_token_is_set_exactly_when_the_cos_stand_in_wants_one(token):
    with world.World(oms=False, cos={"token": token}) as loopback:
        assert loopback.environ().get("COS_TOKEN") == token


def test_it_stops_what_it_started_and_leaves_a_given_server_running(oms_server):
    with world.World(oms=oms_server, cos=False, obs=True) as loopback:
        obs_port = loopback.obs.port
        assert loopback.oms is oms_server and loopback.cos is None
    assert refuses_connections(obs_port)
    assert not refuses_connections(oms_server.port)
