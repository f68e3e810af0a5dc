"""The COS client as the function and the commands build it (``transport.LeanSession`` under the SDK) against the
loopback COS server, whose signature check is its own (not the SDK's): marker writes, listings and deletes
with the role's token and the virtual-host ``Host`` header sent to ``COS_ADDRESS``; refusals read as the SDK
reads them when it sends through a ``requests`` session."""

import pytest

from cos2oms import markers, settings, storage
from local.cos_server import CosServer
from local.fake_credentials import COS_SECRET_ID, COS_SECRET_KEY, COS_TOKEN
from tests import support

TASK = "t1"
KEYS = ["/1250000000/src/a b+c%41 中文?#&=.jpg", "/1250000000/src/" + "long/" * 200 + "x.jpg",
        "/1250000000/src/tilde~quote'dquote\"<amp&>.txt"]


def store(server, lean=True, token=COS_TOKEN):
    loaded = settings.load(support.env(COS_ADDRESS=server.address, COS_SCHEME="http", LOG_BUCKET=support.LOG_BUCKET,
                                       TENCENTCLOUD_SECRETID=COS_SECRET_ID, TENCENTCLOUD_SECRETKEY=COS_SECRET_KEY,
                                       TENCENTCLOUD_SESSIONTOKEN=token))
    return markers.MarkerStore(storage.build_cos_client(loaded, lean=lean), support.LOG_BUCKET, TASK)


@pytest.fixture
def cos_with_token():
    with CosServer(COS_SECRET_ID, COS_SECRET_KEY, token=COS_TOKEN) as server:
        yield server


def test_markers_written_listed_and_deleted_through_the_lean_session(cos_with_token):
    lean = store(cos_with_token)
    assert [lean.write(markers.FAILED, key) for key in KEYS] == [None] * len(KEYS)
    names, following, cause = lean.list_page(markers.FAILED)
    assert cause is None and following is None
    assert [lean.event_key(markers.FAILED, name) for name in names] == sorted([KEYS[0], KEYS[2]])
    [long_name], _, cause = lean.list_page(markers.FAILED, long_names=True)
    assert lean.read_event_key(markers.FAILED, long_name) == (KEYS[1], None)
    assert lean.delete(names + [long_name]) == {}
    assert cos_with_token.keys(support.LOG_BUCKET) == []


@pytest.mark.parametrize("token", [None, "not-the-role-token"])
def test_refusals_read_as_the_sdk_reads_them(cos_with_token, token):
    causes = [store(cos_with_token, lean, token).write(markers.SUCCESS, KEYS[0]) for lean in (False, True)]
    assert causes[0] == causes[1]
    assert causes[1].startswith("COS answered 403")
