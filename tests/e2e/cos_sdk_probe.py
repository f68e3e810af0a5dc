# -*- coding: utf-8 -*-
"""Drives a COS endpoint with the real COS SDK and reports what it saw, as JSON.

Runs under every interpreter the function targets, Python 3.6 included (so: no annotations, no walrus),
with either SDK line: cos-python-sdk-v5 1.6.6 (``qcloud_cos_v5`` on SCF, ``qcloud_cos`` elsewhere) or
1.9.x. The e2e tests run it in-process under 3.11 and as ``python3.6 cos_sdk_probe.py ADDRESS ...``.
"""
import importlib
import json
import sys

try:
    from qcloud_cos_v5 import CosConfig, CosS3Client, CosServiceError
    import qcloud_cos_v5 as cos_sdk
except ImportError:
    from qcloud_cos import CosConfig, CosS3Client, CosServiceError
    import qcloud_cos as cos_sdk

SPECIAL_KEY = u"oms_source_record/task-1/success_object//1253970026/testpic/a b+c%41 \u4e2d\u6587?#&=~'\""
NESTED_KEYS = [u"oms_source_record/task-1/failed_object//1253970026/src/%s/k%d" % (folder, i)
               for folder in (u"a", u"a/b", u"c") for i in range(2)]
BUCKET = u"logs-1250000000"


def _sdk_version():
    """(1, 6, 6) for version string '5.1.6.6' (the package's version is prefixed with the API's, 5)."""
    version = importlib.import_module(cos_sdk.__name__ + ".version").__version__
    return tuple(int(n) for n in version.split(".")[1:4])


def client(address, secret_id, secret_key, token=None):
    """A CosS3Client making exactly one attempt per call, on either SDK line."""
    host, port = address.rsplit(":", 1)
    conf = CosConfig(Region="ap-beijing", SecretId=secret_id, SecretKey=secret_key, Token=token,
                     Scheme="http", IP=host, Port=int(port), Timeout=5)
    one_attempt = 1 if SDK_VERSION < (1, 8, 3) else 0  # 1.6.6: retry=N attempts; 1.8.3+: N+1
    return CosS3Client(conf, retry=one_attempt)


def _error(call):
    """(status, COS error code) of a call expected to fail, or None when it succeeded."""
    try:
        call()
    except CosServiceError as e:
        return [e.get_status_code(), e.get_error_code()]
    return None


def list_all(c, prefix, page_size):
    """Every key under ``prefix``, following NextMarker page by page; also the number of pages."""
    keys, marker, pages = [], u"", 0
    while True:
        page = c.list_objects(Bucket=BUCKET, Prefix=prefix, Marker=marker, MaxKeys=page_size)
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        if page["IsTruncated"] != "true":
            return keys, pages
        marker = page.get("NextMarker") or keys[-1]


def scenario(address, secret_id, secret_key, token=None):
    """Put, list (paged, by prefix), head, batch delete, delete; and a wrong key. Returns a JSON-able dict."""
    c = client(address, secret_id, secret_key, token)
    out = {"sdk_version": ".".join(str(n) for n in SDK_VERSION)}
    for key in [SPECIAL_KEY] + NESTED_KEYS:
        c.put_object(Bucket=BUCKET, Key=key, Body=b"")
    out["listed"], out["pages"] = list_all(c, u"oms_source_record/task-1/", 3)
    out["listed_a"], _ = list_all(c, NESTED_KEYS[0].rsplit(u"/", 1)[0] + u"/", 1000)
    out["head_special"] = c.head_object(Bucket=BUCKET, Key=SPECIAL_KEY).get("ETag")
    out["head_missing"] = _error(lambda: c.head_object(Bucket=BUCKET, Key=SPECIAL_KEY + u"-missing"))
    deleted = c.delete_objects(Bucket=BUCKET, Delete={"Object": [{"Key": k} for k in NESTED_KEYS[:3]],
                                                      "Quiet": "false"})
    out["batch_deleted"] = sorted(d["Key"] for d in deleted.get("Deleted", []))
    c.delete_object(Bucket=BUCKET, Key=SPECIAL_KEY)
    out["left"], _ = list_all(c, u"oms_source_record/", 1000)
    wrong = client(address, secret_id, secret_key + u"x", token)
    out["wrong_secret_key"] = _error(lambda: wrong.put_object(Bucket=BUCKET, Key=u"x", Body=b""))
    return out


SDK_VERSION = _sdk_version()

if __name__ == "__main__":
    args = sys.argv[1:] + [None] * (4 - len(sys.argv[1:]))
    print(json.dumps(scenario(*args[:4])))
