"""Loopback stand-ins for the cloud services the function talks to.

- ``local.oms_server.OmsServer``: Huawei Cloud OMS's sync-task event API behind API Gateway
  (checks every request's SDK-HMAC-SHA256 signature with huaweicloudsdkcore).
- ``local.cos_server.CosServer``: a Tencent COS bucket endpoint (moto's S3 behind an adapter that
  speaks COS's virtual-host addressing and checks COS v5 signatures).
- ``local.world.World``: the stand-ins a scenario needs, and the environment that points the function and
  the commands at them (the end-to-end tests, ``make demo`` and ``bench/`` build it there, nowhere else).

Development and test tools only (Python 3.11+; ``fake_credentials`` and ``samples`` also import on 3.6, for
the unit tests); never part of the function's zip.
"""
