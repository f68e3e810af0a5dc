"""Run the function once on your machine: ``python -m local.demo [EVENT.json]`` (``make demo``).

Starts loopback stand-ins for OMS (it checks every request's signature, as API Gateway does) and for the
COS log bucket, points the function at them with fake credentials, calls ``index.main_handler`` on a COS
event (default: the SCF console's COS PUT test event) and shows what happened. No cloud account needed.
Exit status 0 when the handler returned True, 1 otherwise.
"""

import json
import logging
import os
import sys
from pathlib import Path

import index  # the SCF entry point, at the repository root (the current directory of `python -m`)
from cos2oms import settings
from local.cos_server import CosServer
from local.oms_server import OmsServer

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVENT = REPO_ROOT / "tests" / "events" / "cos_put_console.json"
PROJECT, TASK = "demo-project", "demo-task"
LOG_BUCKET = "demo-oms-log-1250000000"
HW_AK, HW_SK = "DEMOAK00000000000000", "demo-huawei-secret-key-not-a-real-one-000"
COS_ID, COS_KEY = "AKIDdemo000000000000000000000000", "demo-cos-secret-key-not-a-real-one"


def configure_function(oms, cos):
    """The function's environment variables, as they would be set in the SCF console."""
    for name in settings.VARIABLES + settings.ROLE_VARIABLES:
        if name != "LOG_LEVEL":
            os.environ.pop(name, None)
    os.environ.update(SYNC_URL=oms.sync_url(PROJECT, TASK), HW_AK=HW_AK, HW_SK=HW_SK, LOG_BUCKET=LOG_BUCKET,
                      COS_ADDRESS=cos.address, COS_SCHEME="http", COS_SECRET_ID=COS_ID, COS_SECRET_KEY=COS_KEY)


def show_oms_requests(oms):
    print("\nOMS received %d request(s):" % oms.request_count)
    for i, request in enumerate(oms.requests, 1):
        verdict = "signature verified" if request.verified else "signature NOT verified: %s" % request.reason
        print("  #%d %s %s  %s  -> HTTP %s" % (i, request.method, request.path, verdict, request.status or "none"))
        print("     object_keys, as OMS decodes them:")
        for sent, decoded in zip(request.raw_keys, request.keys_unquote):
            print("       %s" % decoded + ("   (sent URL-encoded: %s)" % sent if sent != decoded else ""))


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    event_path = Path(args[0]) if args else Path(os.path.relpath(DEFAULT_EVENT))
    event = json.loads(event_path.read_text(encoding="utf-8"))
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="  | %(levelname)-5s %(message)s")

    with OmsServer(ak=HW_AK, sk=HW_SK) as oms, CosServer(secret_id=COS_ID, secret_key=COS_KEY) as cos:
        configure_function(oms, cos)
        print("Loopback OMS:        %s" % oms.sync_url(PROJECT, TASK))
        print("Loopback COS bucket: %s at %s" % (LOG_BUCKET, cos.address))
        records = event.get("Records") if isinstance(event, dict) else None
        print("Event:               %s (%s)" % (event_path, "%d record(s)" % len(records)
                                                   if isinstance(records, list) else "no 'Records' list"))
        print("\nindex.main_handler(event, context) - the function's log:")
        try:
            result = index.main_handler(event, {"request_id": "demo", "time_limit_in_ms": 3000})
            outcome = "returned %r (the SCF console shows %s)" % (result, json.dumps(result))
        except Exception as exc:  # show it, with what the servers saw
            result, outcome = None, "raised %s: %s" % (type(exc).__name__, exc)

        show_oms_requests(oms)
        markers = cos.keys(LOG_BUCKET)
        print("\nMarkers in the log bucket %s (%d):" % (LOG_BUCKET, len(markers)))
        for key in markers:
            print("  " + key)
        print("\nmain_handler " + outcome)
    return 0 if result is True else 1


if __name__ == "__main__":
    sys.exit(main())
