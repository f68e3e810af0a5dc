"""The loopback stand-ins in ``local/`` must accept what the real services accept and refuse what they
refuse, or end-to-end tests of the function prove nothing. OMS requests are signed here by a minimal
SDK-HMAC-SHA256 signer written for these tests (checked against Huawei's worked example), so the server's
huaweicloudsdkcore-based check is tested against an independent implementation. COS is driven through
the real COS SDK: 1.9.x in-process, 1.6.6 (SCF's Python 3.6 runtime) in a subprocess.
"""

import hashlib
import hmac
import http.client
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
import requests
from moto.s3.models import s3_backends
from qcloud_cos import CosConfig, CosS3Client, CosServiceError
from qcloud_cos.cos_auth import CosS3Auth

from local import fake_credentials
from local.cos_server import CosServer
from local.oms_server import OmsServer, verify_signature

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
BUCKET = "logs-1250000000"
EVENT_KEY = "/1253970026/testpic/a b+c%41 中文?#&=~'\""  # cos.cosObject.key, as COS delivers it


def _load_probe():
    spec = importlib.util.spec_from_file_location("cos_sdk_probe", HERE / "cos_sdk_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe = _load_probe()


# ============================================================================ OMS

def hw_sign(method, url, body, ak, sk, headers=None, date=None):
    """Minimal SDK-HMAC-SHA256 signer (Huawei API signing guide), independent of the server's check.
    Signs every header given plus Host and X-Sdk-Date; returns the headers to send."""
    parts = urlsplit(url)
    headers = {**(headers or {}), "Host": parts.netloc,
               "X-Sdk-Date": date or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")}
    values = {name.lower(): value.strip() for name, value in headers.items()}
    names = sorted(values)
    path = quote(unquote(parts.path), safe="/~")
    query = "&".join(sorted(f"{quote(k, safe='~')}={quote(v, safe='~')}"
                            for k, v in parse_qsl(parts.query, keep_blank_values=True)))
    canonical = "\n".join([method, path if path.endswith("/") else path + "/", query,
                           "".join(f"{n}:{values[n]}\n" for n in names), ";".join(names),
                           hashlib.sha256(body).hexdigest()])
    to_sign = f"SDK-HMAC-SHA256\n{headers['X-Sdk-Date']}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(names)}, Signature={signature}"
    return headers


def oms_body(keys):
    return json.dumps({"object_keys": keys}).encode()


def post_keys(oms, keys, session=requests, timeout=5, **sign):
    body = oms_body(keys)
    headers = hw_sign("POST", oms.sync_url(), body, sign.pop("ak", oms.ak), sign.pop("sk", oms.sk),
                      {"Content-Type": "application/json"}, **sign)
    return session.post(oms.sync_url(), data=body, headers=headers, timeout=timeout)


def test_test_signer_and_server_check_agree_with_huaweis_worked_example():
    # Huawei's API signing guide's worked-example AK/SK: a public documentation sample, not a credential.
    ak, sk = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
    url = ("https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
           "?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0")
    headers = hw_sign("GET", url, b"", ak, sk, {"Content-Type": "application/json"}, date="20191115T033655Z")
    assert headers["Authorization"].endswith(
        "SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe")

    lower = {k.lower(): v for k, v in headers.items()}
    then = datetime(2019, 11, 15, 3, 37, tzinfo=timezone.utc)
    path, query = urlsplit(url).path, urlsplit(url).query
    assert verify_signature("GET", path, query, lower, b"", ak, sk, now=then).ok
    assert not verify_signature("GET", path, query.replace("limit=2", "limit=3"), lower, b"", ak, sk, now=then).ok
    assert not verify_signature("GET", path, query, lower, b"", ak, sk).ok  # 2019 is too long ago


def test_signed_request_is_accepted_and_recorded(oms_server):
    sent = [quote(EVENT_KEY, safe="/"), "plain/key.jpg"]
    response = post_keys(oms_server, sent)

    assert response.status_code == 200 and response.json() == {}
    [record] = oms_server.requests
    assert record.verified and record.status == 200 and record.action == "normal"
    assert (record.project_id, record.task_id) == ("proj", "task-1")
    assert record.raw_keys == sent
    assert record.keys_unquote == record.keys_unquote_plus == [EVENT_KEY, "plain/key.jpg"]
    assert record.body == oms_body(sent)
    assert record.headers["content-type"] == "application/json"
    assert record.signed_headers == ["content-type", "host", "x-sdk-date"]
    assert oms_server.received_keys() == [EVENT_KEY, "plain/key.jpg"]
    assert oms_server.received_keys("raw") == sent


def test_raw_keys_decode_differently_with_unquote_and_unquote_plus(oms_server):
    assert post_keys(oms_server, [EVENT_KEY]).status_code == 200
    [record] = oms_server.requests
    assert record.raw_keys == [EVENT_KEY]
    assert record.keys_unquote == ["/1253970026/testpic/a b+cA 中文?#&=~'\""]
    assert record.keys_unquote_plus == ["/1253970026/testpic/a b cA 中文?#&=~'\""]


def _tampered(oms, how):
    """(url, headers, body) of a request that OMS's gateway must refuse."""
    url, body, json_type = oms.sync_url(), oms_body(["k"]), {"Content-Type": "application/json"}
    if how == "body":
        return url, hw_sign("POST", url, body, oms.ak, oms.sk, json_type), oms_body(["k2"])
    if how == "path":
        return oms.sync_url(task="task-2"), hw_sign("POST", url, body, oms.ak, oms.sk, json_type), body
    if how == "signed_content_type":
        headers = hw_sign("POST", url, body, oms.ak, oms.sk, json_type)
        return url, {**headers, "Content-Type": "application/json;charset=utf-8"}, body
    if how == "wrong_sk":
        return url, hw_sign("POST", url, body, oms.ak, oms.sk + "x", json_type), body
    if how == "wrong_ak":
        return url, hw_sign("POST", url, body, "HWTESTAK0000000000BB", oms.sk, json_type), body
    if how == "stale_date":
        stale = (datetime.now(timezone.utc) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
        return url, hw_sign("POST", url, body, oms.ak, oms.sk, json_type, date=stale), body
    if how == "underscore_header":
        return url, hw_sign("POST", url, body, oms.ak, oms.sk, {**json_type, "X_Custom": "1"}), body
    if how == "no_authorization":
        return url, json_type, body
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["body", "path", "signed_content_type", "wrong_sk", "wrong_ak", "stale_date",
                                 "underscore_header", "no_authorization"])
def test_requests_that_do_not_verify_get_401_apig_0301(oms_server, how):
    url, headers, body = _tampered(oms_server, how)
    response = requests.post(url, data=body, headers=headers, timeout=5)

    assert response.status_code == 401
    error = response.json()
    assert error["error_code"] == "APIG.0301"
    assert error["error_msg"].startswith("Incorrect IAM authentication information: verify aksk signature fail")
    [record] = oms_server.requests
    assert not record.verified and record.status == 401 and record.reason
    assert oms_server.received_keys() == []


def test_mismatch_message_echoes_the_canonical_request(oms_server):
    url, headers, body = _tampered(oms_server, "body")
    message = requests.post(url, data=body, headers=headers, timeout=5).json()["error_msg"]
    assert f"canonical request: POST|{urlsplit(url).path}/||content-type:application/json|" in message


@pytest.mark.parametrize("body, content_type", [
    (b"not json", "application/json"),
    (b'{"keys": ["k"]}', "application/json"),
    (b'{"object_keys": "k"}', "application/json"),
    (oms_body([]), "application/json"),
    (oms_body([f"k{i}" for i in range(11)]), "application/json"),
    (oms_body(["k"]), "text/plain"),
])
def test_malformed_bodies_get_400(oms_server, body, content_type):
    url = oms_server.sync_url()
    headers = hw_sign("POST", url, body, oms_server.ak, oms_server.sk, {"Content-Type": content_type})
    response = requests.post(url, data=body, headers=headers, timeout=5)

    assert response.status_code == 400
    assert response.json()["error_code"].startswith("OMS.")
    assert oms_server.requests[0].verified


def test_ten_keys_are_accepted(oms_server):
    keys = [f"k{i}" for i in range(10)]
    assert post_keys(oms_server, keys).status_code == 200
    assert oms_server.received_keys() == keys


def test_unknown_api_gets_404(oms_server):
    url = oms_server.url + "/v2/proj/sync-tasks/task-1/event"
    body = oms_body(["k"])
    headers = hw_sign("POST", url, body, oms_server.ak, oms_server.sk, {"Content-Type": "application/json"})
    response = requests.post(url, data=body, headers=headers, timeout=5)
    assert response.status_code == 404 and response.json()["error_code"] == "APIG.0101"


def test_script_is_played_one_action_per_request_then_normal(oms_server):
    oms_server.script(429, (503, {"error_code": "OMS.9999", "error_msg": "busy"}), ("delay", 0.2), "hang", 200)

    assert post_keys(oms_server, ["a"]).json()["error_code"] == "APIG.0308"
    assert post_keys(oms_server, ["b"]).json() == {"error_code": "OMS.9999", "error_msg": "busy"}
    started = time.monotonic()
    assert post_keys(oms_server, ["c"]).status_code == 200
    assert time.monotonic() - started >= 0.2
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_keys(oms_server, ["d"], timeout=0.2)
    assert post_keys(oms_server, ["e"]).json() == {}
    assert post_keys(oms_server, ["f"]).status_code == 200

    records = oms_server.requests
    assert [r.action for r in records] == ["status", "status", "delay", "hang", "status", "normal"]
    assert [r.status for r in records] == [429, 503, 200, None, 200, 200]
    assert all(r.verified for r in records)
    assert oms_server.received_keys() == ["c", "e", "f"]


def test_reset_aborts_the_connection_with_rst(oms_server):
    oms_server.script("reset")
    body = oms_body(["k"])
    headers = hw_sign("POST", oms_server.sync_url(), body, oms_server.ak, oms_server.sk,
                      {"Content-Type": "application/json"})
    connection = http.client.HTTPConnection("127.0.0.1", oms_server.port, timeout=5)
    connection.request("POST", urlsplit(oms_server.sync_url()).path, body=body, headers=headers)
    with pytest.raises(ConnectionResetError):
        connection.getresponse()
    assert [(r.action, r.status) for r in oms_server.requests] == [("reset", None)]


def test_stopping_releases_a_hanging_request_at_once():
    oms = OmsServer(ak="HWTESTAK0000000000AA", sk="hwtestsk-stop").start()
    oms.script("hang")
    outcome = []
    client = threading.Thread(target=lambda: outcome.append(_call(lambda: post_keys(oms, ["k"], timeout=30))))
    client.start()
    oms.wait_for_requests(1)

    started = time.monotonic()
    oms.stop()
    assert time.monotonic() - started < 5.0  # at once, not after the 30 s the client would wait
    client.join(timeout=5)
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)  # closed, never answered


def _call(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 (the test inspects it)
        return e


def test_keep_alive_connections_are_reused_and_counted(oms_server):
    with requests.Session() as session:
        for _ in range(3):
            assert post_keys(oms_server, ["k"], session=session).status_code == 200
    with requests.Session() as session:
        assert post_keys(oms_server, ["k"], session=session).status_code == 200

    assert oms_server.new_connections == 2
    assert [r.connection_id for r in oms_server.requests] == [1, 1, 1, 2]


def test_new_connection_delay_and_latency():
    with OmsServer(ak="HWTESTAK0000000000AA", sk="hwtestsk-delay", new_connection_delay=0.2, latency=0.05) as oms:
        with requests.Session() as session:
            started = time.monotonic()
            post_keys(oms, ["k"], session=session)
            first = time.monotonic() - started
            post_keys(oms, ["k"], session=session)
            second = time.monotonic() - started - first
    assert first >= 0.25
    assert 0.05 <= second < 0.2


def _start_cli(module, *args):
    """Run ``python -m module args``; returns the process and the first line it prints."""
    process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return process, process.stdout.readline().strip()


def test_oms_cli_prints_a_working_sync_url():
    process, url = _start_cli("local.oms_server", "--port", "0", "--ak", "HWTESTAK0000000000CC", "--sk", "cli-sk")
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2/proj/sync-tasks/task-1/events")
        body = oms_body(["k"])
        headers = hw_sign("POST", url, body, "HWTESTAK0000000000CC", "cli-sk", {"Content-Type": "application/json"})
        assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=5)


# ============================================================================ COS

def cos_client(cos, secret_id=None, secret_key=None, token=None):
    conf = CosConfig(Region="ap-beijing", SecretId=secret_id or cos.secret_id,
                     SecretKey=secret_key or cos.secret_key, Token=token, Scheme="http", IP=cos.ip, Port=cos.port)
    return CosS3Client(conf, retry=0)  # 1.9.x: retry + 1 attempts


def expected_scenario(sdk_version):
    special, nested = probe.SPECIAL_KEY, probe.NESTED_KEYS
    return {
        "sdk_version": sdk_version,
        "listed": sorted([special, *nested]), "pages": 3,
        "listed_a": sorted(k for k in nested if "/src/a/" in k),
        "head_special": '"d41d8cd98f00b204e9800998ecf8427e"',
        "head_missing": [404, "NoSuchResource"],
        "batch_deleted": sorted(nested[:3]),
        "left": sorted(nested[3:]),
        "wrong_secret_key": [403, "SignatureDoesNotMatch"],
    }


SCENARIO_COUNTS = {"put": 8, "list": 5, "head": 2, "batch_delete": 1, "delete": 1}


def test_sdk_1_9_put_list_head_delete_round_trip(cos_server):
    out = probe.scenario(cos_server.address, cos_server.secret_id, cos_server.secret_key)
    assert out == expected_scenario("1.9.44")
    assert cos_server.keys(BUCKET) == sorted(probe.NESTED_KEYS[3:])
    assert cos_server.counts == SCENARIO_COUNTS


def _python36():
    candidates = [os.environ.get("COS_SDK_PY36"), REPO_ROOT / ".venv36/bin/python"]
    return next((str(p) for p in candidates if p and Path(p).exists()), None)


@pytest.mark.skipif(_python36() is None, reason="no Python 3.6 interpreter with cos-python-sdk-v5 1.6.6: "
                                                        "run `make py36` (or set COS_SDK_PY36)")
def test_sdk_1_6_6_on_python_3_6_round_trip(cos_server):
    done = subprocess.run([_python36(), str(HERE / "cos_sdk_probe.py"), cos_server.address,
                           cos_server.secret_id, cos_server.secret_key],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == expected_scenario("1.6.6")
    assert cos_server.keys(BUCKET) == sorted(probe.NESTED_KEYS[3:])
    assert cos_server.counts == SCENARIO_COUNTS


def test_special_key_round_trips_exactly(cos_server):
    client = cos_client(cos_server)
    client.put_object(Bucket=BUCKET, Key=probe.SPECIAL_KEY, Body=b"")

    assert cos_server.keys(BUCKET) == [probe.SPECIAL_KEY]
    assert cos_server.requests[0].key == probe.SPECIAL_KEY
    listed = client.list_objects(Bucket=BUCKET, Prefix="oms_source_record/task-1/success_object//")
    assert [o["Key"] for o in listed["Contents"]] == [probe.SPECIAL_KEY]


@pytest.mark.parametrize("server_token, client_id, client_key, client_token, code", [
    (None, "AKIDother", None, None, "InvalidAccessKeyId"),
    (None, None, "wrong-secret-key", None, "SignatureDoesNotMatch"),
    ("tok-1", None, None, None, "AccessDenied"),
    ("tok-1", None, None, "tok-2", "AccessDenied"),
    (None, None, None, "tok-1", "AccessDenied"),  # a permanent key must not carry a session token
    ("tok-1", None, None, "tok-1", None),
])
def test_credentials_are_checked(server_token, client_id, client_key, client_token, code):
    with CosServer(secret_id=fake_credentials.COS_SECRET_ID, secret_key=fake_credentials.COS_SECRET_KEY,
                   token=server_token) as cos:
        client = cos_client(cos, client_id, client_key, client_token)
        if code is None:
            client.put_object(Bucket=BUCKET, Key="k", Body=b"")
            assert cos.keys(BUCKET) == ["k"]
            return
        with pytest.raises(CosServiceError) as refused:
            client.put_object(Bucket=BUCKET, Key="k", Body=b"")
        assert (refused.value.get_status_code(), refused.value.get_error_code()) == (403, code)
        assert cos.keys(BUCKET) == []


def _signed_put(cos, signed_key, sent_key, expire=10000):
    """PUT ``sent_key`` carrying a signature made (by the SDK's own auth class) for ``signed_key``."""
    conf = CosConfig(Region="ap-beijing", SecretId=cos.secret_id, SecretKey=cos.secret_key)
    return requests.put(f"http://{cos.address}/{quote(sent_key, safe='/-_.~')}", data=b"",
                        headers={"Host": f"{BUCKET}.cos.ap-beijing.myqcloud.com"},
                        auth=CosS3Auth(conf, signed_key, expire=expire), timeout=5)


def test_signature_covers_the_object_key(cos_server):
    assert _signed_put(cos_server, "a/b", "a/b").status_code == 200
    refused = _signed_put(cos_server, "a/b", "a/c")
    assert refused.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.content
    assert refused.headers["x-cos-request-id"]
    assert cos_server.keys(BUCKET) == ["a/b"]


def test_expired_signature_is_refused(cos_server):
    refused = _signed_put(cos_server, "k", "k", expire=-120)
    assert refused.status_code == 403 and b"Request has expired" in refused.content


def _batch_delete_request(cos, body, content_md5):
    conf = CosConfig(Region="ap-beijing", SecretId=cos.secret_id, SecretKey=cos.secret_key)
    headers = {"Host": f"{BUCKET}.cos.ap-beijing.myqcloud.com", "Content-Type": "application/xml"}
    if content_md5:
        headers["Content-MD5"] = content_md5
    return requests.post(f"http://{cos.address}/?delete", data=body, headers=headers,
                         auth=CosS3Auth(conf, params={"delete": ""}), timeout=5)


@pytest.mark.parametrize("content_md5, code", [(None, "InvalidRequest"), ("1B2M2Y8AsgTpgAmY7PhCfg==", "InvalidDigest")])
def test_batch_delete_needs_a_matching_content_md5(cos_server, content_md5, code):
    cos_server.put_keys(BUCKET, ["k"])
    body = b"<Delete><Quiet>true</Quiet><Object><Key>k</Key></Object></Delete>"
    refused = _batch_delete_request(cos_server, body, content_md5)
    assert refused.status_code == 400 and f"<Code>{code}</Code>".encode() in refused.content
    assert cos_server.keys(BUCKET) == ["k"]


def test_batch_delete_takes_at_most_1000_keys(cos_server):
    keys = [f"m/{i:04d}" for i in range(1001)]
    cos_server.put_keys(BUCKET, keys)
    client = cos_client(cos_server)
    with pytest.raises(CosServiceError) as refused:
        client.delete_objects(Bucket=BUCKET, Delete={"Object": [{"Key": k} for k in keys], "Quiet": "true"})
    assert refused.value.get_error_code() == "MalformedXML"

    client.delete_objects(Bucket=BUCKET, Delete={"Object": [{"Key": k} for k in keys[:1000]], "Quiet": "true"})
    assert cos_server.keys(BUCKET) == keys[1000:]


def test_listing_returns_at_most_1000_keys_and_next_marker_is_the_last_key(cos_server):
    keys = [f"oms_source_record/t/failed_object/{i:04d} +%" for i in range(1001)]
    cos_server.put_keys(BUCKET, keys)
    client = cos_client(cos_server)

    first = client.list_objects(Bucket=BUCKET, Prefix="oms_source_record/t/", MaxKeys=2000)
    assert len(first["Contents"]) == 1000 and first["IsTruncated"] == "true"
    assert first["NextMarker"] == keys[999]
    second = client.list_objects(Bucket=BUCKET, Prefix="oms_source_record/t/", Marker=first["NextMarker"])
    assert [o["Key"] for o in second["Contents"]] == keys[1000:] and second["IsTruncated"] == "false"


@pytest.mark.timing
def test_put_keys_seeds_10000_markers_fast_without_http(cos_server):
    keys = [f"oms_source_record/task-1/failed_object//1253970026/b/{i:05d}" for i in range(10_000)]
    started = time.monotonic()
    cos_server.put_keys(BUCKET, keys)
    assert time.monotonic() - started < 10.0  # about 1 s on an idle machine
    assert cos_server.keys(BUCKET, "oms_source_record/task-1/") == keys
    assert cos_server.keys(BUCKET, "oms_source_record/task-2/") == []
    assert cos_server.counts == {}


def test_fault_injection(cos_server):
    client = cos_client(cos_server)
    success_prefix = "oms_source_record/task-1/success_object/"

    cos_server.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(CosServiceError) as failed:
            client.put_object(Bucket=BUCKET, Key="a", Body=b"")
        assert (failed.value.get_status_code(), failed.value.get_error_code()) == (503, "ServiceUnavailable")
    client.put_object(Bucket=BUCKET, Key="a", Body=b"")

    cos_server.fail_next(1, status=500, kind="put", key_prefix=success_prefix)
    client.put_object(Bucket=BUCKET, Key="oms_source_record/task-1/failed_object/x", Body=b"")
    with pytest.raises(CosServiceError):
        client.put_object(Bucket=BUCKET, Key=success_prefix + "x", Body=b"")
    client.put_object(Bucket=BUCKET, Key=success_prefix + "x", Body=b"")

    cos_server.fail_all(500, kind="batch_delete")
    delete = {"Object": [{"Key": "a"}], "Quiet": "true"}
    for _ in range(2):
        with pytest.raises(CosServiceError) as failed:
            client.delete_objects(Bucket=BUCKET, Delete=delete)
        assert failed.value.get_error_code() == "InternalError"
    client.head_object(Bucket=BUCKET, Key="a")
    cos_server.heal()
    client.delete_objects(Bucket=BUCKET, Delete=delete)

    assert cos_server.keys(BUCKET) == ["oms_source_record/task-1/failed_object/x", success_prefix + "x"]
    assert cos_server.counts == {"put": 6, "batch_delete": 3, "head": 1}
    assert [r.status for r in cos_server.requests if r.kind == "batch_delete"] == [500, 500, 200]


def test_latency_is_added_to_every_request():
    with CosServer(latency=0.1) as cos:
        started = time.monotonic()
        cos_client(cos).put_object(Bucket=BUCKET, Key="k", Body=b"")
        assert time.monotonic() - started >= 0.1


def test_servers_do_not_share_objects():
    with CosServer() as first:
        first.put_keys(BUCKET, ["from-first"])
        with CosServer() as second:
            assert second.keys(BUCKET) == []
            with pytest.raises(CosServiceError) as taken:  # moto's bucket names are process-global
                cos_client(second).put_object(Bucket=BUCKET, Key="k", Body=b"")
            assert taken.value.get_status_code() == 409
            cos_client(second).put_object(Bucket="other-1250000000", Key="k", Body=b"")
            assert first.keys("other-1250000000") == []
    assert BUCKET not in s3_backends.bucket_accounts
    with CosServer() as third:
        assert third.keys(BUCKET) == []
        cos_client(third).put_object(Bucket=BUCKET, Key="k", Body=b"")
        assert third.keys(BUCKET) == ["k"]


def test_without_auto_create_unknown_buckets_do_not_exist():
    with CosServer(auto_create=False) as cos:
        with pytest.raises(CosServiceError) as missing:
            cos_client(cos).put_object(Bucket=BUCKET, Key="k", Body=b"")
        assert missing.value.get_error_code() == "NoSuchBucket"
        cos.create_bucket(BUCKET)
        cos_client(cos).put_object(Bucket=BUCKET, Key="k", Body=b"")
        assert cos.keys(BUCKET) == ["k"]


def test_path_style_requests_are_refused(cos_server):
    response = requests.put(f"http://{cos_server.address}/{BUCKET}/k", data=b"", timeout=5)
    assert response.status_code == 400 and b"<Code>InvalidURI</Code>" in response.content


def test_cos_cli_prints_a_working_address():
    process, address = _start_cli("local.cos_server", "--port", "0", "--secret-id", "AKIDcli", "--secret-key", "cli")
    try:
        host, port = address.split(":")
        conf = CosConfig(Region="ap-beijing", SecretId="AKIDcli", SecretKey="cli", Scheme="http", IP=host, Port=port)
        CosS3Client(conf, retry=0).put_object(Bucket=BUCKET, Key="k", Body=b"")
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_crc64_is_crc64_ecma_as_the_obs_sdk_computes_it():
    from local.cos_server import crc64_ecma

    assert crc64_ecma(b"123456789") == 0x995DC9BBDF1939FA  # CRC-64/XZ's check value
    assert crc64_ecma(b"") == 0
    for body in (b"abcd", bytes(range(256)) * 3, "中文".encode()):
        assert crc64_ecma(body) == obs_sdk_crc64(body)


def obs_sdk_crc64(body):
    from obs import util as obs_util

    return obs_util.calculate_content_crc64(body)


def test_with_crc64_a_head_or_get_answers_the_objects_crc64(cos_server, obs_server):
    """COS's x-cos-hash-crc64ecma through the COS SDK, OBS's x-obs-checksum-crc64ecma through the OBS SDK."""
    from cos2oms import obs
    from cos2oms.bucket_settings import ObsSettings
    from local.obs_server import put_object

    put_object(cos_server, BUCKET, "a b", b"abcd")
    client = cos_client(cos_server)
    assert "x-cos-hash-crc64ecma" not in {k.lower() for k in client.head_object(Bucket=BUCKET, Key="a b")}
    cos_server.crc64 = True
    head = {k.lower(): v for k, v in client.head_object(Bucket=BUCKET, Key="a b").items()}
    assert head["x-cos-hash-crc64ecma"] == str(obs_sdk_crc64(b"abcd"))
    got = {k.lower(): v for k, v in client.get_object(Bucket=BUCKET, Key="a b").items() if k != "Body"}
    assert got["x-cos-hash-crc64ecma"] == str(obs_sdk_crc64(b"abcd"))

    put_object(obs_server, "dst", "k", b"abcX")
    settings = ObsSettings("dst", obs_server.endpoint, False, obs_server.ip, obs_server.port,
                           fake_credentials.OBS_AK, fake_credentials.OBS_SK, "")
    obs_client = obs.build_obs_client(settings)
    try:
        assert obs.crc64_header(obs_client, "dst", "k") is None
        obs_server.crc64 = True
        assert obs.crc64_header(obs_client, "dst", "k") == str(obs_sdk_crc64(b"abcX"))
    finally:
        obs_client.close()
