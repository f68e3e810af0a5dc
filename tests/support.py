# -*- coding: utf-8 -*-
"""Test data and fakes shared by the unit and end-to-end suites (Python 3.6+). The loopback world's names and
sample events live in ``local.samples`` (the demo and the benchmarks use them too); they are re-exported here."""
from local import fake_credentials
from local.samples import (EVENTS_DIR, LOG_BUCKET, PROJECT, SYNC_PATH, TASK, event, event_key,  # noqa: F401
                           load_event, marker, record)

SYNC_URL = "https://oms.test.invalid" + SYNC_PATH
# Fake credentials: never real ones (one definition for tests, servers, demo and benchmarks).
HW_AK, HW_SK = fake_credentials.HW_AK, fake_credentials.HW_SK
COS_ID, COS_KEY, COS_TOKEN = fake_credentials.COS_SECRET_ID, fake_credentials.COS_SECRET_KEY, fake_credentials.COS_TOKEN

# Object names that break naive handling: OMS decodes once, with unquote or unquote_plus.
TRICKY_NAMES = [
    "with space.txt", "plus+sign.txt", "percent%.txt", "looks-encoded%41.txt", "中文/目录/文件.txt",
    "query?hash#amp&eq=.txt", "tilde~quote'dquote\".txt", "a%2Fb.txt", "  leading-and-trailing  ",
]


def env(**overrides):
    """A complete, valid environment; ``None`` removes a variable."""
    values = {
        "SYNC_URL": SYNC_URL, "HW_AK": HW_AK, "HW_SK": HW_SK, "LOG_BUCKET": LOG_BUCKET,
        "TENCENTCLOUD_SECRETID": COS_ID, "TENCENTCLOUD_SECRETKEY": COS_KEY,
        "TENCENTCLOUD_SESSIONTOKEN": COS_TOKEN, "TENCENTCLOUD_REGION": "ap-guangzhou",
    }
    values.update(overrides)
    return dict((k, v) for k, v in values.items() if v is not None)
