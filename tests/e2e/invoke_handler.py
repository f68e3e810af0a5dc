# -*- coding: utf-8 -*-
"""Run ``index.main_handler`` once in another interpreter and print a JSON report (Python 3.6+).

Run it as ``python [-S] -c "$(cat invoke_handler.py)" EVENT.json`` from the folder that holds the function
(an unzipped artifact or the repository), so that only that folder is importable. The function's
configuration comes from the environment.
"""
import importlib
import json
import logging
import sys

sys.path.insert(0, "")


def importable(name):
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def main(event_path):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    with open(event_path, "rb") as f:
        event = json.loads(f.read().decode("utf-8"))
    import index
    from cos2oms import storage
    raised = None
    try:
        result = index.main_handler(event, {"request_id": "invoke-handler", "time_limit_in_ms": 10000})
    except Exception as exc:  # reported, so that the caller can tell "raised" from "crashed"
        result, raised = None, "%s: %s" % (type(exc).__name__, exc)
    print(json.dumps({"result": result, "raised": raised, "python": list(sys.version_info[:2]), "index": index.__file__,
                      "cos_sdk": storage.CosS3Client.__module__, "sdk_version": list(storage.sdk_version()),
                      "qcloud_cos": importable("qcloud_cos"), "qcloud_cos_v5": importable("qcloud_cos_v5")}))


main(sys.argv[1])
