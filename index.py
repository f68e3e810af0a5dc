# -*- coding: utf-8 -*-
"""SCF entry point: ``index.main_handler(event, context)``, triggered by COS ``cos:ObjectCreated:*``.

For each object created in the source bucket, asks the OMS sync task to migrate it, and records the outcome
as an empty marker object in the log bucket. Configuration comes from the function's environment variables
(see README); the constants below are a fallback for those who edit the code as the guide does.
Everything else lives in the ``cos2oms`` package.
"""
from cos2oms import handler

# Fallbacks for the environment variables of the same names. Placeholders ("***...***") count as unset.
LOG_BUCKET = "***cos log bucket***"  # BucketName-APPID; must not be the source bucket
HW_AK = "***Access Key***"
HW_SK = "***Secret Access Key***"
SYNC_URL = "***Synchronization Request Receiving Address***"
COS_SECRET_ID = "***secret_id***"  # unset: the execution role's temporary keys are used
COS_SECRET_KEY = "***secret_key***"

CONSTANTS = {"LOG_BUCKET": LOG_BUCKET, "HW_AK": HW_AK, "HW_SK": HW_SK, "SYNC_URL": SYNC_URL,
             "COS_SECRET_ID": COS_SECRET_ID, "COS_SECRET_KEY": COS_SECRET_KEY}

SyncFailed = handler.SyncFailed


def main_handler(event, context):
    """Returns True when every created object was accepted by OMS, else False (or raises SyncFailed)."""
    return handler.main_handler(event, context, CONSTANTS)
