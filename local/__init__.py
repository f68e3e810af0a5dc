"""Loopback stand-ins for the cloud services the function talks to.

- ``local.oms_server.OmsServer``: Huawei Cloud OMS's sync-task event API behind API Gateway
  (checks every request's SDK-HMAC-SHA256 signature with huaweicloudsdkcore).
- ``local.cos_server.CosServer``: a Tencent COS bucket endpoint (moto's S3 behind an adapter that
  speaks COS's virtual-host addressing and checks COS v5 signatures).

Development and test tools only (Python 3.11+); never part of the function's zip.
"""
