"""Our signer against an independent implementation: huaweicloudsdkcore's signer (Python 3.11 dev venv only).

Generated OMS sync requests go through ``SignerAuth`` exactly as the function sends them (a prepared
``requests`` request); huaweicloudsdkcore signs the same method, path, headers and body, with the same
X-Sdk-Date, and the two Authorization values must be identical.
"""
import json
import string
from datetime import datetime
from urllib.parse import urlsplit

import requests
from hypothesis import given, settings, strategies as st
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer as HuaweiSigner

from cos2oms import oms
import signer

ids = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=36)
keys = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30), min_size=1,
                max_size=10)
hosts = st.sampled_from(["oms.cn-north-4.myhuaweicloud.com", "127.0.0.1:8443", "oms.ap-southeast-1.example"])
dates = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.strftime(signer.BasicDateFormat))


def huawei_authorization(prepared, ak, sk):
    parts = urlsplit(prepared.url)
    signed = prepared.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = dict((name, prepared.headers[name]) for name in signed)
    request = SdkRequest(method=prepared.method, schema=parts.scheme, host=parts.netloc, resource_path=parts.path,
                         uri=parts.path, query_params=[], header_params=headers, body=prepared.body)
    return HuaweiSigner(BasicCredentials(ak, sk)).sign(request).header_params["Authorization"]


@settings(max_examples=300, deadline=None)
@given(project=ids, task=ids, host=hosts, object_keys=keys, date=dates, encoding=st.sampled_from(["url", "raw"]),
       ak=st.text(string.ascii_uppercase + string.digits, min_size=20, max_size=20),
       sk=st.text(string.ascii_letters + string.digits, min_size=40, max_size=40))
def test_agrees_with_huaweicloudsdkcore(project, task, host, object_keys, date, encoding, ak, sk):
    url = "https://%s/v2/%s/sync-tasks/%s/events" % (host, project, task)
    body = json.dumps({"object_keys": [oms.encode_key(k, encoding) for k in object_keys]}).encode("utf-8")
    prepared = requests.Request("POST", url, data=body, headers={"Content-Type": "application/json"},
                                auth=signer.SignerAuth(ak, sk, clock=lambda: date)).prepare()
    assert prepared.headers["Authorization"] == huawei_authorization(prepared, ak, sk)


def test_a_wrong_secret_disagrees():
    prepared = requests.Request("POST", "https://h.example/v2/p/sync-tasks/t/events", data=b"{}",
                                headers={"Content-Type": "application/json"},
                                auth=signer.SignerAuth("AK", "right")).prepare()
    assert prepared.headers["Authorization"] != huawei_authorization(prepared, "AK", "wrong")
