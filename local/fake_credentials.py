# -*- coding: utf-8 -*-
"""The fake credentials of the loopback world, in one place: the servers' defaults, the demo, the tests and
the benchmarks all use these. Never real ones; shaped like real ones (a Huawei AK is 20 upper-case
characters, an SK 40; a Tencent SecretId starts with AKID). Plain constants, importable on Python 3.6 (the
emulated SCF runtime's unit tests use them too)."""

HW_AK = "HWTESTAK0000000000AA"
HW_SK = "hwtest-secret-key-do-not-log-0000000000"
COS_SECRET_ID = "AKIDtestcos000000000000000000000000"
COS_SECRET_KEY = "cos-test-secret-key-do-not-log-000"
COS_TOKEN = "cos-test-session-token-do-not-log-000"
OBS_AK = "OBSTESTAK00000000000"
OBS_SK = "obs-test-secret-key-do-not-log-00000000"
# The CAM key that deploys (deploy/scf_deploy.py reads TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY).
DEPLOY_SECRET_ID = "AKIDtestdeploy000000000000000000000"
DEPLOY_SECRET_KEY = "deploy-test-secret-key-do-not-log-0"
