# -*- coding: utf-8 -*-
"""SCF entry point: ``index.main_handler(event, context)``, triggered by COS ``cos:ObjectCreated:*``.

For each object created in the source bucket, asks the OMS sync task to migrate it, and records the outcome
as an empty marker object in the log bucket. Configuration comes from the function's environment variables
(see README); the constants below are a fallback for those who edit the code as the guide does.
"""
import logging
import os
import time

import clients
import log_bucket
import oms
import settings as settings_module
import sync
from deadline import Deadline

# Fallbacks for the environment variables of the same names. Placeholders ("***...***") count as unset.
LOG_BUCKET = "***cos log bucket***"  # BucketName-APPID; must not be the source bucket
HW_AK = "***Access Key***"
HW_SK = "***Secret Access Key***"
SYNC_URL = "***Synchronization Request Receiving Address***"
COS_SECRET_ID = "***secret_id***"  # unset: the execution role's temporary keys are used
COS_SECRET_KEY = "***secret_key***"

CONSTANTS = {"LOG_BUCKET": LOG_BUCKET, "HW_AK": HW_AK, "HW_SK": HW_SK, "SYNC_URL": SYNC_URL,
             "COS_SECRET_ID": COS_SECRET_ID, "COS_SECRET_KEY": COS_SECRET_KEY}

#: The COS SDK logs its signing key and Authorization at DEBUG: its loggers stay at WARNING.
QUIET_LOGGERS = ("qcloud_cos", "qcloud_cos_v5", "urllib3")

logger = logging.getLogger("cos2oms")
_clients = clients.ClientCache()


class SyncFailed(RuntimeError):
    """Raised with RAISE_ON_FAILURE after all markers are written, so SCF retries (and can dead-letter)."""


def configure_logging(level):
    if not logging.getLogger().handlers:  # outside SCF (a script): print somewhere
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logger.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def load_settings(environ=None):
    return settings_module.load(os.environ if environ is None else environ, CONSTANTS)


def request_id_of(context):
    if isinstance(context, dict):
        return context.get("request_id") or "-"
    return getattr(context, "request_id", None) or "-"


def build_submitter(settings, deadline, request_id, cache=None):
    cache = cache or _clients
    oms_client = oms.OmsClient(cache.session(), settings.sync_url, settings.hw_ak, settings.hw_sk,
                               settings.oms_timeout, settings.oms_max_attempts, settings.key_encoding)
    markers = log_bucket.MarkerStore(cache.cos(settings), settings.log_bucket, settings.task_id)
    return sync.Submitter(oms_client, markers, deadline, request_id)


def main_handler(event, context):
    """Returns True when every created object was accepted by OMS, else False (or raises SyncFailed)."""
    deadline = Deadline.from_context(context, started=time.monotonic())
    request_id = request_id_of(context)
    settings = load_settings()
    configure_logging(settings.log_level)
    submitter = build_submitter(settings, deadline, request_id)
    report = sync.sync_event(event, settings.log_bucket, submitter, request_id)
    logger.info("invocation done task=%s accepted=%d failed=%d malformed=%d skipped=%d marker_errors=%d "
                "oms_requests=%d elapsed_ms=%.0f request_id=%s", settings.task_id, report.accepted, report.failed,
                report.malformed, report.skipped, report.marker_errors, report.requests,
                deadline.elapsed() * 1000, request_id)
    if not report.ok and settings.raise_on_failure:
        raise SyncFailed("%d object(s) not accepted by OMS, %d malformed record(s); see failed markers and "
                         "error lines" % (report.failed, report.malformed))
    return report.ok
