# -*- coding: utf-8 -*-
"""deploy/scf_deploy.py, offline: its request bodies fit the SDK's own request models, and it sends them in order.

The script's own ``model_problems`` (which every body goes through before it is printed or sent) passes a body
when the SDK's ``_deserialize`` accepts every field without its "fileds are useless" warning, every value has the
type the model's documentation gives it (``:type Timeout: int``, ``:type Variables: list of Variable``, ...),
and the model serializes back to the same body; the cases below show it catching each kind of mistake. The
deploy itself runs against a fake client that takes the SDK's request objects; nothing touches the network.
"""
import base64
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

# The deploy tool runs on the deploying machine's Python, with requirements-dev.txt; not on SCF's Python 3.6.
pytest.importorskip("tencentcloud.scf.v20180416.models", reason="tencentcloud-sdk-python-scf is not installed")

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException  # noqa: E402
from tencentcloud.common.abstract_model import AbstractModel  # noqa: E402
from tencentcloud.scf.v20180416 import models  # noqa: E402

from cos2oms import settings  # noqa: E402
from deploy import scf_deploy  # noqa: E402
from local import fake_credentials  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]

# The script's own check, the one every body it prints or sends goes through.
model_problems = scf_deploy.model_problems
without_none = scf_deploy.without_none

SECRET_VALUES = {"HW_SK": fake_credentials.HW_SK, "COS_SECRET_KEY": fake_credentials.COS_SECRET_KEY,
                 "COS_TOKEN": fake_credentials.COS_TOKEN, "OBS_SK": fake_credentials.OBS_SK}
ENVIRON = dict({
    "SYNC_URL": "https://oms.example.test/v2/project/sync-tasks/task/events",
    "HW_AK": fake_credentials.HW_AK,
    "LOG_BUCKET": "logs-1250000000",
    "COS_SECRET_ID": fake_credentials.COS_SECRET_ID,
    "LOG_LEVEL": "DEBUG",
    "OBS_BUCKET": "migrated-photos",       # the audit's (it lists the destination)
    "OBS_ENDPOINT": "https://obs.cn-north-4.myhuaweicloud.com",
    "OBS_AK": fake_credentials.OBS_AK,
    "AUDIT_GRACE": "2h",
    "OMS_TIMEOUT": "",                     # set but empty: not deployed
    "EDITOR": "vi",                        # not one of the function's variables: not deployed
    "TENCENTCLOUD_SECRET_ID": fake_credentials.DEPLOY_SECRET_ID,
    "TENCENTCLOUD_SECRET_KEY": fake_credentials.DEPLOY_SECRET_KEY,
}, **SECRET_VALUES)
# Never printed nor logged: the function's secrets and the deploying key.
NEVER_SHOWN = list(SECRET_VALUES.values()) + [fake_credentials.DEPLOY_SECRET_KEY]
ARGS = ["--region", "ap-beijing", "--role", "SCF_QcsRole", "--source-bucket", "source-1250000000"]
COS_TRIGGER = "source-1250000000.cos.ap-beijing.myqcloud.com"


# ---- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def package(tmp_path):
    path = tmp_path / "cos2oms-python3.10.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("index.py", "def main_handler(event, context):\n    return True\n")
        z.writestr("replay.py", "def main_handler(event, context):\n    return None\n")
    return path


def plan_for(package, *extra, runtime="Python3.10", environ=ENVIRON):
    options = scf_deploy.parse_args(ARGS + ["--runtime", runtime, "--zip", str(package)] + list(extra))
    return scf_deploy.build_plan(options, dict(environ))


def every_request(plan):
    for fn in plan["functions"]:
        for action in ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration",
                       "UpdateFunctionEventInvokeConfig", "PutReservedConcurrencyConfig"):
            if action in fn:
                yield action, fn[action]
    for trigger in plan["triggers"]:
        yield "CreateTrigger", trigger
        yield "DeleteTrigger", scf_deploy.delete_body(trigger, {})


# ---- the bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", scf_deploy.RUNTIMES)
def test_every_body_fits_the_sdk_s_request_model(package, runtime):
    plan = plan_for(package, "--dead-letter", "CMQ-T:cos2oms-dlq:TAG", "--max-concurrency", "4", runtime=runtime)
    requests = list(every_request(plan))
    function = ["CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration",
                "UpdateFunctionEventInvokeConfig"]
    assert [action for action, _ in requests] == (function + ["PutReservedConcurrencyConfig"] + function * 2
                                                  + ["CreateTrigger", "DeleteTrigger"] * 3)
    for action, body in requests:
        assert model_problems(action, body) == [], action


@pytest.mark.parametrize("action, body, expected", [
    ("CreateFunction", {"FunctionName": "f", "Enviroment": {"Variables": []}}, "Enviroment fileds are useless"),
    ("CreateFunction", {"FunctionName": "f", "Timeout": "30"}, "CreateFunction.Timeout: expected int"),
    ("CreateFunction", {"FunctionName": "f", "MemorySize": True}, "CreateFunction.MemorySize: expected int"),
    ("CreateFunction", {"FunctionName": "f", "Environment": {"Variables": {"HW_AK": "x"}}},
     "CreateFunction.Environment.Variables: list of Variable expects a list"),
    ("CreateFunction", {"FunctionName": "f", "Environment": {"Variables": [{"Name": "HW_AK", "Value": "x"}]}},
     "Name fileds are useless"),
    ("CreateFunction", {"FunctionName": "f", "Code": {"ZipFile": b"PK"}}, "CreateFunction.Code.ZipFile: expected str"),
    ("CreateTrigger", {"FunctionName": "f", "TriggerDesc": {"event": "cos:ObjectCreated:*"}},
     "CreateTrigger.TriggerDesc: expected str"),
    ("UpdateFunctionCode", {"FunctionName": "f", "Runtime": "Python3.10"}, "Runtime fileds are useless"),
    ("DeleteTrigger", {"FunctionName": "f", "TriggerName": "t", "Type": "timer", "Qualifier": None},
     "DeleteTrigger.Qualifier: expected str"),
    ("CreateFunction", {"FunctionName": "f", "Environment": {"Variables": [{"Key": "K", "Value": 1}]}},
     "CreateFunction.Environment.Variables[0].Value: expected str"),
])
def test_the_model_check_catches(action, body, expected):
    problems = model_problems(action, body)
    assert any(expected in problem for problem in problems), problems


def test_the_model_check_never_echoes_a_value():
    # A wrong-typed body may hold a secret (or a zip's base64): the problems name types, never values.
    for body in ({"FunctionName": "f", "Environment": {"Variables": {"HW_SK": fake_credentials.HW_SK}}},
                 {"FunctionName": "f", "Environment": {"Variables": [fake_credentials.HW_SK]}},
                 {"FunctionName": "f", "Environment": fake_credentials.HW_SK},
                 {"FunctionName": "f", "Timeout": fake_credentials.HW_SK}):
        problems = model_problems("CreateFunction", body)
        assert problems and not any(fake_credentials.HW_SK in problem for problem in problems), problems


@pytest.mark.parametrize("body, expected", [
    ({"FunctionName": "f", "Enviroment": {}}, "Enviroment fileds are useless"),
    ({"FunctionName": "f", "Timeout": "30"}, "CreateFunction.Timeout: expected int"),
])
def test_the_script_itself_refuses_a_body_that_does_not_fit(body, expected):
    with pytest.raises(scf_deploy.DeployError, match=re.escape(expected)):
        scf_deploy.request_model("CreateFunction", body)


def test_a_wrong_typed_body_stops_a_dry_run_and_a_real_run(package, monkeypatch):
    real_plan = scf_deploy.build_plan

    def bad_plan(options, environ):
        plan = real_plan(options, environ)
        plan["functions"][0]["CreateFunction"]["Timeout"] = str(options.timeout)   # "30", not 30
        return plan

    monkeypatch.setattr(scf_deploy, "build_plan", bad_plan)
    clients = []

    def make(region):
        clients.append(FakeScf())
        return clients[-1]

    for extra in (["--dry-run"], []):
        out, err = io.StringIO(), io.StringIO()
        code = scf_deploy.main(ARGS + ["--runtime", "Python3.10", "--zip", str(package)] + extra,
                               environ=dict(ENVIRON), make=make, out=out, err=err)
        assert code == 2 and out.getvalue() == "", extra
        assert "CreateFunction.Timeout: expected int, got str" in err.getvalue(), extra
    assert clients == []                                   # refused before any request, even a GetFunction


def test_functions_have_their_handler_runtime_timeout_role_and_code(package):
    plan = plan_for(package, "--timeout", "45", "--replay-timeout", "600", "--audit-timeout", "300",
                    "--audit-name", "audit-prod", "--memory", "256")
    sync, replay, audit = plan["functions"]
    zipped = base64.b64encode(package.read_bytes()).decode("ascii")
    for fn, name, handler, timeout in ((sync, "cos2oms", "index.main_handler", 45),
                                       (replay, "cos2oms-replay", "replay.main_handler", 600),
                                       (audit, "audit-prod", "audit.main_handler", 300)):
        create = fn["CreateFunction"]
        assert (create["FunctionName"], create["Handler"], create["Runtime"]) == (name, handler, "Python3.10")
        assert (create["Timeout"], create["MemorySize"], create["Role"]) == (timeout, 256, "SCF_QcsRole")
        assert create["Type"] == "Event" and create["Namespace"] == "default"
        assert create["Code"] == {"ZipFile": zipped}
        assert fn["UpdateFunctionCode"] == {"FunctionName": name, "Handler": handler, "ZipFile": zipped,
                                            "Namespace": "default"}
        configuration = fn["UpdateFunctionConfiguration"]
        assert {k: create[k] for k in configuration} == configuration
        assert "Handler" not in configuration and "Code" not in configuration
        assert "Runtime" not in configuration          # fixed at creation ("目前不支持修改")


FUNCTION_KEYS = ["SYNC_URL", "HW_AK", "HW_SK", "LOG_BUCKET", "COS_SECRET_ID", "COS_SECRET_KEY", "COS_TOKEN",
                 "LOG_LEVEL"]


def test_environment_is_the_function_s_variables_set_in_the_shell(package):
    sync, replay, audit = plan_for(package)["functions"]
    expected = [{"Key": name, "Value": ENVIRON[name]} for name in FUNCTION_KEYS]
    for fn in (sync, replay):                       # no OBS key, nor the audit's settings: they do not list OBS
        for action in ("CreateFunction", "UpdateFunctionConfiguration"):
            assert fn[action]["Environment"] == {"Variables": expected}
    # The audit: the same, then verify's (the source bucket and region from --source-bucket and --region) and its own
    audit_expected = expected + [{"Key": "SOURCE_BUCKET", "Value": "source-1250000000"},
                                 {"Key": "SOURCE_REGION", "Value": "ap-beijing"},
                                 {"Key": "OBS_BUCKET", "Value": "migrated-photos"},
                                 {"Key": "OBS_ENDPOINT", "Value": "https://obs.cn-north-4.myhuaweicloud.com"},
                                 {"Key": "OBS_AK", "Value": fake_credentials.OBS_AK},
                                 {"Key": "OBS_SK", "Value": fake_credentials.OBS_SK},
                                 {"Key": "AUDIT_GRACE", "Value": "2h"}]
    for action in ("CreateFunction", "UpdateFunctionConfiguration"):
        assert audit[action]["Environment"] == {"Variables": audit_expected}


def test_the_audit_s_source_region_may_be_exported_and_its_source_bucket_must_be_the_trigger_s(package):
    audit = plan_for(package, environ=dict(ENVIRON, SOURCE_REGION="ap-shanghai"))["functions"][2]
    variables = {v["Key"]: v["Value"] for v in audit["CreateFunction"]["Environment"]["Variables"]}
    assert (variables["SOURCE_BUCKET"], variables["SOURCE_REGION"]) == ("source-1250000000", "ap-shanghai")
    with pytest.raises(scf_deploy.DeployError, match="SOURCE_BUCKET is other-1250000000 but --source-bucket is "
                                                     "source-1250000000"):
        plan_for(package, environ=dict(ENVIRON, SOURCE_BUCKET="other-1250000000"))


def test_the_audit_deploys_without_its_obs_bucket_taking_the_sync_task_s_or_is_left_out(package):
    environ = {k: v for k, v in ENVIRON.items() if not k.startswith("OBS_")}
    audit = plan_for(package, environ=environ)["functions"][2]
    variables = {v["Key"] for v in audit["CreateFunction"]["Environment"]["Variables"]}
    assert "SOURCE_BUCKET" in variables and not any(name.startswith("OBS_") for name in variables)
    plan = plan_for(package, "--no-audit", "--audit-timeout", "0", environ=environ)  # its options unchecked too
    assert [fn["name"] for fn in plan["functions"]] == ["cos2oms", "cos2oms-replay"]
    assert [t["TriggerName"] for t in plan["triggers"]] == [COS_TRIGGER, "replay-timer"]


def test_a_missing_required_variable_stops_the_deploy(package):
    environ = {k: v for k, v in ENVIRON.items() if k not in ("SYNC_URL", "HW_SK")}
    with pytest.raises(scf_deploy.DeployError, match="required variables first: SYNC_URL, HW_SK"):
        plan_for(package, environ=environ)


def test_cos_trigger_on_the_source_bucket_and_timers_for_replay_and_the_audit(package):
    cos, timer, audit_timer = plan_for(package, "--replay-cron", "0 0 * * * * *")["triggers"]
    assert cos == {
        "FunctionName": "cos2oms",
        "TriggerName": "source-1250000000.cos.ap-beijing.myqcloud.com",
        "Type": "cos",
        "TriggerDesc": '{"event":"cos:ObjectCreated:*","filter":{"Prefix":"","Suffix":""}}',
        "Namespace": "default",
        "Qualifier": "$DEFAULT",
        "Enable": "OPEN",
    }
    assert json.loads(cos["TriggerDesc"]) == {"event": "cos:ObjectCreated:*", "filter": {"Prefix": "", "Suffix": ""}}
    # Named for what it is: --replay-cron sets the cadence, so a name saying "every 30 minutes" could be false.
    assert timer == {"FunctionName": "cos2oms-replay", "TriggerName": "replay-timer", "Type": "timer",
                     "TriggerDesc": "0 0 * * * * *", "Namespace": "default", "Qualifier": "$DEFAULT",
                     "Enable": "OPEN"}
    # The audit's: every 15 minutes by default (a pass moves on during each firing; AUDIT_INTERVAL starts passes)
    assert audit_timer == {"FunctionName": "cos2oms-audit", "TriggerName": "audit-timer", "Type": "timer",
                           "TriggerDesc": "0 */15 * * * * *", "Namespace": "default", "Qualifier": "$DEFAULT",
                           "Enable": "OPEN"}
    audit_timer = plan_for(package, "--audit-cron", "0 0 */6 * * * *")["triggers"][2]
    assert (audit_timer["TriggerName"], audit_timer["TriggerDesc"]) == ("audit-timer", "0 0 */6 * * * *")


def test_the_audit_s_default_timeout_leaves_a_gap_before_its_next_firing(package):
    """Two firings never meet: the timeout (600 s) is shorter than the default cron's period (15 minutes)."""
    create = plan_for(package)["functions"][2]["CreateFunction"]
    assert (create["Handler"], create["Timeout"]) == ("audit.main_handler", 600)
    assert scf_deploy.AUDIT_CRON.split()[1] == "*/15" and create["Timeout"] < 15 * 60


def test_runtime_strings():
    # The documented ones are in the SDK's own list for CreateFunctionRequest.Runtime.
    runtime_doc = models.CreateFunctionRequest.__init__.__doc__.split(":param _Runtime:", 1)[1].split(":type", 1)[0]
    listed = set(re.findall(r"- (Python\d+\.\d+)", runtime_doc))
    assert set(scf_deploy.DOCUMENTED_RUNTIMES) <= listed
    assert not set(scf_deploy.UNLISTED_RUNTIMES) & listed          # if the SDK lists them one day, move them
    assert scf_deploy.RUNTIMES == ("Python3.9", "Python3.10", "Python3.11", "Python3.12")
    options = scf_deploy.parse_args(ARGS + ["--runtime", "Python3.12"])
    assert options.zip == REPO_ROOT / "dist" / "cos2oms-python3.12.zip"   # what ./build_zip.sh python3.12 writes


@pytest.mark.parametrize("runtime", ["Python3.6", "Python3.8", "python3.10"])
def test_other_runtimes_are_refused(runtime, capsys):
    with pytest.raises(SystemExit):
        scf_deploy.parse_args(ARGS + ["--runtime", runtime])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("extra, expected", [
    (["--timeout", "0"], "--timeout 0: SCF takes 1 to 900 seconds"),
    (["--replay-timeout", "901"], "--replay-timeout 901"),
    (["--memory", "100"], "--memory 100"),
    (["--replay-cron", "*/30 * * * *"], "7 fields"),
    (["--name", "cos2oms-replay"], "must differ"),
    (["--audit-name", "cos2oms"], "--name and --audit-name must differ"),
    (["--audit-timeout", "901"], "--audit-timeout 901"),
    (["--audit-cron", "0 */15 * * *"], "--audit-cron '0 */15 * * *': SCF's cron has 7 fields"),
    (["--name", "2fast"], "--name '2fast'"),
])
def test_bad_options_are_refused(package, extra, expected):
    with pytest.raises(scf_deploy.DeployError) as raised:
        plan_for(package, *extra)
    assert expected in str(raised.value)


def test_the_log_bucket_cannot_be_the_source_bucket(package):
    with pytest.raises(scf_deploy.DeployError, match="LOG_BUCKET is the source bucket"):
        plan_for(package, environ=dict(ENVIRON, LOG_BUCKET="source-1250000000"))


def test_the_package_must_be_a_zip_within_the_inline_limit(package, tmp_path, monkeypatch):
    with pytest.raises(scf_deploy.DeployError, match="build it with ./build_zip.sh"):
        plan_for(tmp_path / "missing.zip")
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello")
    with pytest.raises(scf_deploy.DeployError, match="not a zip file"):
        plan_for(not_zip)
    monkeypatch.setattr(scf_deploy, "REQUEST_LIMIT", scf_deploy.REQUEST_OVERHEAD + 100)
    with pytest.raises(scf_deploy.DeployError, match="upload it in the SCF console"):
        plan_for(package)


def test_the_documented_limits():
    assert scf_deploy.ZIP_LIMIT == 50 * 1024 * 1024
    assert "zip包大小上限为 50MB" in models.Code.__init__.__doc__


# ---- --dry-run ------------------------------------------------------------------------------------------


def dry_run(package, *extra, environ=ENVIRON):
    out, err = io.StringIO(), io.StringIO()

    def no_client(region):
        raise AssertionError("--dry-run must not build a client")

    code = scf_deploy.main(ARGS + ["--runtime", "Python3.10", "--zip", str(package), "--dry-run"] + list(extra),
                           environ=dict(environ), make=no_client, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_dry_run_prints_every_request_and_no_secret(package):
    code, out, err = dry_run(package, environ={k: v for k, v in ENVIRON.items() if not k.startswith("TENCENTCLOUD")})
    assert code == 0, err
    for secret in NEVER_SHOWN:
        assert secret not in out and secret not in err
    assert base64.b64encode(package.read_bytes()).decode("ascii") not in out
    document = json.loads(out)
    assert document["region"] == "ap-beijing"
    assert document["package"]["size"] == package.stat().st_size and len(document["package"]["sha256"]) == 64
    actions = [(r["action"], r["body"].get("FunctionName")) for r in document["requests"]]
    assert actions == [("CreateFunction", "cos2oms"), ("UpdateFunctionCode", "cos2oms"),
                       ("UpdateFunctionConfiguration", "cos2oms"), ("UpdateFunctionEventInvokeConfig", "cos2oms"),
                       ("CreateFunction", "cos2oms-replay"), ("UpdateFunctionCode", "cos2oms-replay"),
                       ("UpdateFunctionConfiguration", "cos2oms-replay"),
                       ("UpdateFunctionEventInvokeConfig", "cos2oms-replay"),
                       ("CreateFunction", "cos2oms-audit"), ("UpdateFunctionCode", "cos2oms-audit"),
                       ("UpdateFunctionConfiguration", "cos2oms-audit"),
                       ("UpdateFunctionEventInvokeConfig", "cos2oms-audit"),
                       ("DeleteTrigger", "cos2oms"), ("CreateTrigger", "cos2oms"),
                       ("DeleteTrigger", "cos2oms-replay"), ("CreateTrigger", "cos2oms-replay"),
                       ("DeleteTrigger", "cos2oms-audit"), ("CreateTrigger", "cos2oms-audit")]
    assert document["first"].startswith("GetFunction for each of cos2oms, cos2oms-replay, cos2oms-audit: one that "
                                         "exists with another Runtime than Python3.10 stops the deploy before any "
                                         "request")
    delete_cos, delete_timer, delete_audit_timer = (r["body"] for r in document["requests"]
                                                    if r["action"] == "DeleteTrigger")
    assert delete_cos == {"FunctionName": "cos2oms", "TriggerName": COS_TRIGGER, "Type": "cos",
                          "Namespace": "default", "Qualifier": "$DEFAULT",
                          "TriggerDesc": "<the existing trigger's TriggerDesc>"}
    assert delete_timer == {"FunctionName": "cos2oms-replay", "TriggerName": "replay-timer", "Type": "timer",
                            "Namespace": "default", "Qualifier": "$DEFAULT"}
    assert delete_audit_timer["TriggerName"] == "audit-timer"
    create = document["requests"][0]["body"]
    shown = {v["Key"]: v["Value"] for v in create["Environment"]["Variables"]}
    assert shown == {"SYNC_URL": ENVIRON["SYNC_URL"], "HW_AK": fake_credentials.HW_AK, "HW_SK": "<redacted>",
                     "LOG_BUCKET": "logs-1250000000", "COS_SECRET_ID": fake_credentials.COS_SECRET_ID,
                     "COS_SECRET_KEY": "<redacted>", "COS_TOKEN": "<redacted>", "LOG_LEVEL": "DEBUG"}
    audit_create = document["requests"][8]["body"]
    shown = {v["Key"]: v["Value"] for v in audit_create["Environment"]["Variables"]}
    assert (shown["OBS_AK"], shown["OBS_SK"], shown["HW_SK"]) == (fake_credentials.OBS_AK, "<redacted>", "<redacted>")
    assert create["Code"]["ZipFile"].startswith("<zip, base64: ")
    for request in document["requests"]:                 # the printed bodies still fit the models
        assert model_problems(request["action"], request["body"]) == [], request["action"]


def test_dry_run_reports_a_problem_without_a_traceback(package):
    code, out, err = dry_run(package, environ={"HW_AK": "x"})
    assert code == 2 and out == ""
    assert "error: export the function's required variables first: SYNC_URL, HW_SK, LOG_BUCKET" in err


def test_an_unlisted_runtime_is_sent_with_a_warning(package):
    out, err = io.StringIO(), io.StringIO()
    code = scf_deploy.main(ARGS + ["--runtime", "Python3.11", "--zip", str(package), "--dry-run"],
                           environ=dict(ENVIRON), out=out, err=err)
    assert code == 0
    assert "warning: Python3.11 is not in the SCF API's documented Runtime list" in err.getvalue()
    assert json.loads(out.getvalue())["requests"][0]["body"]["Runtime"] == "Python3.11"


def test_credentials_come_from_the_deploying_shell(monkeypatch):
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID", raising=False)
    monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY", raising=False)
    with pytest.raises(scf_deploy.DeployError, match="export TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"):
        scf_deploy.make_client("ap-beijing")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", fake_credentials.DEPLOY_SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", fake_credentials.DEPLOY_SECRET_KEY)
    client = scf_deploy.make_client("ap-beijing")             # builds, sends nothing
    assert client.credential.secret_id == fake_credentials.DEPLOY_SECRET_ID and client.region == "ap-beijing"


# ---- the deploy, against a fake client -------------------------------------------------------------------


def read_back(kind, trigger_name, desc):
    """A TriggerDesc as GetFunction reports it, not as CreateTrigger took it: a timer's cron comes back wrapped,
    '{"cron":"0 */30 * * * * *"}'; a COS trigger's JSON comes back with more in it (here its bucket's address)."""
    if kind == "timer":
        return json.dumps({"cron": desc})
    if kind == "cos":
        return json.dumps(dict(json.loads(desc), bucketUrl=trigger_name))
    return desc


class FakeScf(object):
    """Takes the SDK's request objects like ScfClient; functions and triggers live in dicts.

    ``triggers``: (function, type, name) or (function, type, name, TriggerDesc as GetFunction reports it).
    ``runtime`` and ``memory``: what GetFunction reports for the ``existing`` functions.
    """

    def __init__(self, existing=(), triggers=(), statuses=(), runtime="Python3.10", memory=128):
        self.functions = {name: {"Status": "Active", "Triggers": [], "Runtime": runtime, "MemorySize": memory}
                          for name in existing}
        for function, kind, name, *desc in triggers:
            self.functions[function]["Triggers"].append({"Type": kind, "TriggerName": name, "Qualifier": "$DEFAULT",
                                                         "TriggerDesc": desc[0] if desc else None, "Enable": 1})
        self.statuses = list(statuses)     # statuses GetFunction reports before "Active"
        self.calls = []

    def _record(self, action, request):
        assert isinstance(request, AbstractModel)
        body = without_none(json.loads(request.to_json_string()))
        self.calls.append((action, body))
        return body

    def GetFunction(self, request):
        body = self._record("GetFunction", request)
        if body["FunctionName"] not in self.functions:
            raise TencentCloudSDKException("ResourceNotFound.Function", "not found", "r-1")
        state = dict(self.functions[body["FunctionName"]])
        if self.statuses:
            state["Status"] = self.statuses.pop(0)
        response = models.GetFunctionResponse()
        response._deserialize(dict(state, FunctionName=body["FunctionName"], RequestId="r-get"))
        return response

    def CreateFunction(self, request):
        body = self._record("CreateFunction", request)
        self.functions[body["FunctionName"]] = {"Status": "Active", "Triggers": [], "Runtime": body["Runtime"],
                                                "MemorySize": body["MemorySize"]}
        return models.CreateFunctionResponse()

    def UpdateFunctionCode(self, request):
        self._record("UpdateFunctionCode", request)
        return models.UpdateFunctionCodeResponse()

    def UpdateFunctionConfiguration(self, request):
        body = self._record("UpdateFunctionConfiguration", request)
        assert "Runtime" not in body                  # fixed at creation: never sent in an update
        return models.UpdateFunctionConfigurationResponse()

    def UpdateFunctionEventInvokeConfig(self, request):
        body = self._record("UpdateFunctionEventInvokeConfig", request)
        assert body["FunctionName"] in self.functions
        return models.UpdateFunctionEventInvokeConfigResponse()

    def PutReservedConcurrencyConfig(self, request):
        body = self._record("PutReservedConcurrencyConfig", request)
        assert body["FunctionName"] in self.functions
        return models.PutReservedConcurrencyConfigResponse()

    def CreateTrigger(self, request):
        body = self._record("CreateTrigger", request)
        triggers = self.functions[body["FunctionName"]]["Triggers"]
        if any((t["Type"], t["TriggerName"]) == (body["Type"], body["TriggerName"]) for t in triggers):
            raise TencentCloudSDKException("ResourceInUse.Trigger", "exists", "r-3")
        triggers.append({"Type": body["Type"], "TriggerName": body["TriggerName"], "Qualifier": body["Qualifier"],
                         "TriggerDesc": read_back(body["Type"], body["TriggerName"], body["TriggerDesc"]),
                         "Enable": 1})
        return models.CreateTriggerResponse()

    def DeleteTrigger(self, request):
        body = self._record("DeleteTrigger", request)
        # DeleteTrigger's documented needs: a COS trigger's TriggerDesc; the qualifier it is bound to (the
        # default, $LATEST, would name another binding).
        assert body["Type"] != "cos" or json.loads(body["TriggerDesc"])["event"]
        triggers = self.functions[body["FunctionName"]]["Triggers"]
        for index, t in enumerate(triggers):
            if (t["Type"], t["TriggerName"], t["Qualifier"]) == (body["Type"], body["TriggerName"],
                                                                 body.get("Qualifier", "$LATEST")):
                del triggers[index]
                return models.DeleteTriggerResponse()
        raise TencentCloudSDKException("ResourceNotFound.Trigger", "not found", "r-4")

    def sent(self):
        return [(action, body.get("FunctionName")) for action, body in self.calls if action != "GetFunction"]

    def triggers(self, function):
        return [(t["Type"], t["TriggerName"], t["TriggerDesc"]) for t in self.functions[function]["Triggers"]]


def test_a_first_deploy_creates_the_three_functions_and_their_triggers(package):
    plan = plan_for(package)
    client = FakeScf()
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert client.sent() == [("CreateFunction", "cos2oms"), ("UpdateFunctionEventInvokeConfig", "cos2oms"),
                             ("CreateFunction", "cos2oms-replay"),
                             ("UpdateFunctionEventInvokeConfig", "cos2oms-replay"),
                             ("CreateFunction", "cos2oms-audit"),
                             ("UpdateFunctionEventInvokeConfig", "cos2oms-audit"),
                             ("CreateTrigger", "cos2oms"), ("CreateTrigger", "cos2oms-replay"),
                             ("CreateTrigger", "cos2oms-audit")]
    sync, replay, audit = plan["functions"]
    sent = [body for action, body in client.calls if action != "GetFunction"]
    assert sent == [sync["CreateFunction"], sync["UpdateFunctionEventInvokeConfig"], replay["CreateFunction"],
                    replay["UpdateFunctionEventInvokeConfig"], audit["CreateFunction"],
                    audit["UpdateFunctionEventInvokeConfig"]] + plan["triggers"]
    assert client.triggers("cos2oms-audit") == [("timer", "audit-timer", '{"cron": "0 */15 * * * * *"}')]
    for secret in NEVER_SHOWN:
        assert not any(secret in line for line in logged)


def test_a_redeploy_updates_code_then_configuration_and_keeps_unchanged_triggers(package):
    plan = plan_for(package)
    cos, timer, audit_timer = plan["triggers"]
    client = FakeScf(existing=["cos2oms", "cos2oms-replay", "cos2oms-audit"],
                     triggers=[("cos2oms", "cos", COS_TRIGGER, read_back("cos", COS_TRIGGER, cos["TriggerDesc"]))],
                     statuses=["Active", "Active", "Active", "Updating", "Active"])  # all found, then updating
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert client.sent() == [("UpdateFunctionCode", "cos2oms"), ("UpdateFunctionConfiguration", "cos2oms"),
                             ("UpdateFunctionEventInvokeConfig", "cos2oms"), ("UpdateFunctionCode", "cos2oms-replay"),
                             ("UpdateFunctionConfiguration", "cos2oms-replay"),
                             ("UpdateFunctionEventInvokeConfig", "cos2oms-replay"),
                             ("UpdateFunctionCode", "cos2oms-audit"), ("UpdateFunctionConfiguration", "cos2oms-audit"),
                             ("UpdateFunctionEventInvokeConfig", "cos2oms-audit"), ("CreateTrigger", "cos2oms-replay"),
                             ("CreateTrigger", "cos2oms-audit")]
    assert "cos2oms: Updating, waiting" in logged
    assert "cos2oms: cos trigger %s exists with the same settings, left as it is" % COS_TRIGGER in logged


def test_a_second_deploy_of_the_same_plan_sends_no_trigger_request(package):
    plan = plan_for(package)
    client = FakeScf()
    scf_deploy.deploy(plan, client, log=lambda m: None, sleep=lambda s: None)
    names = ["cos2oms", "cos2oms-replay", "cos2oms-audit"]
    before = [client.triggers(name) for name in names]
    client.calls = []
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert [action for action, _ in client.sent() if "Trigger" in action] == []
    assert [client.triggers(name) for name in names] == before
    assert sum("exists with the same settings, left as it is" in line for line in logged) == 3


def test_a_new_replay_cron_replaces_the_timer(package):
    client = FakeScf()
    scf_deploy.deploy(plan_for(package), client, log=lambda m: None, sleep=lambda s: None)
    client.calls = []
    logged = []
    scf_deploy.deploy(plan_for(package, "--replay-cron", "0 0 */2 * * * *"), client, log=logged.append,
                      sleep=lambda s: None)
    assert [call for call in client.sent() if "Trigger" in call[0]] == [("DeleteTrigger", "cos2oms-replay"),
                                                                        ("CreateTrigger", "cos2oms-replay")]
    deleted = [body for action, body in client.calls if action == "DeleteTrigger"]
    assert deleted == [{"FunctionName": "cos2oms-replay", "TriggerName": "replay-timer", "Type": "timer",
                        "Namespace": "default", "Qualifier": "$DEFAULT"}]
    assert client.triggers("cos2oms-replay") == [("timer", "replay-timer", '{"cron": "0 0 */2 * * * *"}')]
    assert ("cos2oms-replay: timer trigger replay-timer exists with cron '0 */30 * * * * *', "
            "not cron '0 0 */2 * * * *': deleting it and creating it again (SCF cannot update it in place)") in logged
    assert "cos2oms: cos trigger %s exists with the same settings, left as it is" % COS_TRIGGER in logged


def test_a_changed_cos_trigger_is_deleted_with_its_own_trigger_desc_and_created_again(package):
    plan = plan_for(package)
    stale = json.dumps({"bucketUrl": COS_TRIGGER, "event": "cos:ObjectCreated:Put",
                        "filter": {"Prefix": "incoming/", "Suffix": ""}})
    client = FakeScf(existing=["cos2oms", "cos2oms-replay"], triggers=[("cos2oms", "cos", COS_TRIGGER, stale)])
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    deleted = [body for action, body in client.calls if action == "DeleteTrigger"]
    assert deleted == [{"FunctionName": "cos2oms", "TriggerName": COS_TRIGGER, "Type": "cos",
                        "Namespace": "default", "Qualifier": "$DEFAULT", "TriggerDesc": stale}]
    assert [call for call in client.sent() if "Trigger" in call[0]] == [
        ("DeleteTrigger", "cos2oms"), ("CreateTrigger", "cos2oms"), ("CreateTrigger", "cos2oms-replay"),
        ("CreateTrigger", "cos2oms-audit")]
    [(kind, name, desc)] = client.triggers("cos2oms")
    assert json.loads(desc)["event"] == "cos:ObjectCreated:*" and json.loads(desc)["filter"] == {"Prefix": "",
                                                                                                  "Suffix": ""}
    assert any(line.startswith("cos2oms: cos trigger %s exists with event 'cos:ObjectCreated:Put', filter Prefix "
                               "'incoming/' Suffix '', not event 'cos:ObjectCreated:*'" % COS_TRIGGER)
               for line in logged), logged


def test_the_timer_s_old_name_is_replaced_and_other_triggers_are_left_alone(package):
    mine = read_back("timer", "", "0 */30 * * * * *")
    client = FakeScf(existing=["cos2oms", "cos2oms-replay"],
                     triggers=[("cos2oms-replay", "timer", "replay-every-30-minutes", mine),
                               ("cos2oms-replay", "timer", "nightly-report", read_back("timer", "", "0 0 3 * * * *")),
                               ("cos2oms", "cos", "other-1250000000.cos.ap-beijing.myqcloud.com",
                                read_back("cos", "", '{"event":"cos:ObjectCreated:*"}'))])
    logged = []
    scf_deploy.deploy(plan_for(package), client, log=logged.append, sleep=lambda s: None)
    assert [(action, body["TriggerName"]) for action, body in client.calls if "Trigger" in action] == [
        ("CreateTrigger", COS_TRIGGER), ("DeleteTrigger", "replay-every-30-minutes"), ("CreateTrigger", "replay-timer"),
        ("CreateTrigger", "audit-timer")]
    assert [name for _, name, _ in client.triggers("cos2oms-replay")] == ["nightly-report", "replay-timer"]
    assert [name for _, name, _ in client.triggers("cos2oms")] == ["other-1250000000.cos.ap-beijing.myqcloud.com",
                                                                   COS_TRIGGER]
    assert ("cos2oms-replay: timer trigger replay-every-30-minutes is replay's timer under its old name: deleting it "
            "(replay-timer replaces it)") in logged


@pytest.mark.parametrize("kind, reported, sent, same", [
    ("timer", '{"cron":"0 */30 * * * * *"}', "0 */30 * * * * *", True),
    ("timer", '{"cron": "0  */30 * * * * *"}', "0 */30 * * * * *", True),
    ("timer", "0 */30 * * * * *", "0 */30 * * * * *", True),              # should SCF ever answer it unwrapped
    ("timer", '{"cron":"0 */30 * * * * *"}', "0 0 * * * * *", False),
    ("timer", None, "0 0 * * * * *", False),
    ("cos", '{"bucketUrl":"b","event":"cos:ObjectCreated:*","filter":{"Prefix":"","Suffix":""}}',
     '{"event":"cos:ObjectCreated:*","filter":{"Prefix":"","Suffix":""}}', True),
    ("cos", '{"event":"cos:ObjectCreated:*"}', '{"event":"cos:ObjectCreated:*","filter":{"Prefix":"","Suffix":""}}',
     True),                                                                 # no filter is the empty filter
    ("cos", '{"event":"cos:ObjectCreated:*","filter":{"Prefix":"a/","Suffix":""}}',
     '{"event":"cos:ObjectCreated:*","filter":{"Prefix":"","Suffix":""}}', False),
    ("cos", '{"event":"cos:ObjectRemove:*","filter":{"Prefix":"","Suffix":""}}',
     '{"event":"cos:ObjectCreated:*","filter":{"Prefix":"","Suffix":""}}', False),
])
def test_trigger_settings_compare_what_matters(kind, reported, sent, same):
    assert (scf_deploy.trigger_settings(kind, reported) == scf_deploy.trigger_settings(kind, sent)) is same


def test_a_failed_update_stops_the_deploy(package):
    client = FakeScf(existing=["cos2oms"], statuses=["Active", "Active", "UpdateFailed"])
    with pytest.raises(scf_deploy.DeployError, match="cos2oms is UpdateFailed"):
        scf_deploy.deploy(plan_for(package), client, log=lambda m: None, sleep=lambda s: None)
    assert client.sent() == [("UpdateFunctionCode", "cos2oms")]


def test_a_function_whose_last_update_failed_is_updated_again(package):
    client = FakeScf(existing=["cos2oms", "cos2oms-replay"], statuses=["UpdateFailed", "UpdateFailed"])
    scf_deploy.deploy(plan_for(package), client, log=lambda m: None, sleep=lambda s: None)
    assert client.sent()[:2] == [("UpdateFunctionCode", "cos2oms"), ("UpdateFunctionConfiguration", "cos2oms")]


def test_waiting_has_a_limit(package):
    class Clock(object):
        now = 0.0

        def __call__(self):
            self.now += 100
            return self.now

    client = FakeScf(existing=["cos2oms"], statuses=["Updating"] * 10)
    with pytest.raises(scf_deploy.DeployError, match="cos2oms still Updating after 300 s"):
        scf_deploy.wait_settled(client, "cos2oms", "default", 300, lambda m: None, sleep=lambda s: None,
                                clock=Clock())


def test_main_reports_an_api_error(package):
    class Refusing(FakeScf):
        def CreateFunction(self, request):
            raise TencentCloudSDKException("InvalidParameterValue.Runtime", "Runtime传入错误。", "r-2")

    out, err = io.StringIO(), io.StringIO()
    code = scf_deploy.main(ARGS + ["--runtime", "Python3.12", "--zip", str(package)], environ=dict(ENVIRON),
                           make=lambda region: Refusing(), out=out, err=err)
    assert code == 1
    assert "error: InvalidParameterValue.Runtime: Runtime传入错误。 (RequestId r-2)" in err.getvalue()



# ---- SCF's safety net: retries, message TTL, dead-letter queue, concurrency cap ----------------------------


def invoke_config(name, retries, ttl):
    return {"FunctionName": name, "Namespace": "default",
            "AsyncTriggerConfig": {"RetryConfig": [{"RetryNum": retries}], "MsgTTL": ttl}}


def test_retries_and_message_ttl_default_to_scf_s_documented_defaults(package):
    # SCF's "错误类型与重试策略": 2 retries, 6 hours in the async queue; the same as the Serverless toolkit's.
    sync, replay, audit = plan_for(package)["functions"]
    assert sync["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms", 2, 21600)
    assert replay["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms-replay", 2, 21600)
    assert audit["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms-audit", 2, 21600)
    assert not any("PutReservedConcurrencyConfig" in fn for fn in (sync, replay, audit))
    for fn in (sync, replay, audit):                      # no --dead-letter: the functions' DLQ is left alone
        assert "DeadLetterConfig" not in fn["CreateFunction"]
        assert "DeadLetterConfig" not in fn["UpdateFunctionConfiguration"]


def test_retries_and_message_ttl_are_set_for_every_function(package):
    sync, replay, audit = plan_for(package, "--retries", "0", "--message-ttl", "3600")["functions"]
    assert sync["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms", 0, 3600)
    assert replay["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms-replay", 0, 3600)
    assert audit["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms-audit", 0, 3600)


@pytest.mark.parametrize("given, expected", [
    ("CMQ-Q:cos2oms-dlq", {"Type": "CMQ-Q", "Name": "cos2oms-dlq"}),
    ("CMQ-T:cos2oms-dlq:TAG", {"Type": "CMQ-T", "Name": "cos2oms-dlq", "FilterType": "TAG"}),
    ("CMQ-T:dlq:a:b", {"Type": "CMQ-T", "Name": "dlq", "FilterType": "a:b"}),
])
def test_a_dead_letter_queue_goes_on_create_and_update_of_every_function(package, given, expected):
    for fn in plan_for(package, "--dead-letter", given)["functions"]:
        assert fn["CreateFunction"]["DeadLetterConfig"] == expected
        assert fn["UpdateFunctionConfiguration"]["DeadLetterConfig"] == expected


def test_max_concurrency_caps_the_sync_function_only(package):
    sync, replay, audit = plan_for(package, "--max-concurrency", "5", "--memory", "256")["functions"]
    assert sync["PutReservedConcurrencyConfig"] == {"FunctionName": "cos2oms", "ReservedConcurrencyMem": 1280,
                                                    "Namespace": "default"}
    assert "PutReservedConcurrencyConfig" not in replay and "PutReservedConcurrencyConfig" not in audit


@pytest.mark.parametrize("extra, expected", [
    (["--retries", "-1"], "--retries -1: a retry count is 0 or more"),
    (["--message-ttl", "0"], "--message-ttl 0: seconds, 1 or more (SCF's default is 21600, 6 hours)"),
    (["--message-ttl", "-60"], "--message-ttl -60"),
    (["--max-concurrency", "0"], "--max-concurrency 0: instances, 1 or more"),
    (["--dead-letter", "CMQ-Q"], "--dead-letter 'CMQ-Q': TYPE:NAME or TYPE:NAME:FILTER"),
    (["--dead-letter", ":dlq"], "--dead-letter ':dlq'"),
    (["--dead-letter", "CMQ-Q:"], "--dead-letter 'CMQ-Q:'"),
    (["--dead-letter", "CMQ-T:dlq:"], "--dead-letter 'CMQ-T:dlq:'"),
])
def test_safety_net_values_out_of_range_are_refused(package, extra, expected):
    with pytest.raises(scf_deploy.DeployError) as raised:
        plan_for(package, *extra)
    assert expected in str(raised.value)


@pytest.mark.parametrize("extra", [["--retries", "two"], ["--message-ttl", "6h"], ["--max-concurrency", "1.5"]])
def test_safety_net_values_must_be_integers(extra, capsys):
    with pytest.raises(SystemExit):
        scf_deploy.parse_args(ARGS + ["--runtime", "Python3.10"] + extra)
    assert "invalid int value" in capsys.readouterr().err


def test_help_states_the_defaults(capsys):
    with pytest.raises(SystemExit):
        scf_deploy.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(RetryNum; default: 2, SCF's default)" in text
    assert "(MsgTTL; default: 21600 = 6 hours, SCF's default)" in text
    assert "without it the functions' DLQ is left as it is" in text
    assert "default: no cap set" in text
    # the audit's timer and timeout, and why
    assert "--audit-cron AUDIT_CRON audit.main_handler's timer, 7 fields (default: 0 */15 * * * * *)" in text
    assert "firings never meet" in text and "a firing between passes costs one GET" in text
    assert "seconds, for audit.main_handler (default: 600)" in text


def test_a_deploy_sends_the_safety_net_after_each_function_is_active(package):
    plan = plan_for(package, "--retries", "1", "--message-ttl", "7200", "--dead-letter", "CMQ-Q:dlq",
                    "--max-concurrency", "3")
    client = FakeScf()
    scf_deploy.deploy(plan, client, log=lambda m: None, sleep=lambda s: None)
    sent = [(action, body) for action, body in client.calls if action != "GetFunction"]
    assert [(action, body["FunctionName"]) for action, body in sent] == [
        ("CreateFunction", "cos2oms"), ("UpdateFunctionEventInvokeConfig", "cos2oms"),
        ("PutReservedConcurrencyConfig", "cos2oms"), ("CreateFunction", "cos2oms-replay"),
        ("UpdateFunctionEventInvokeConfig", "cos2oms-replay"), ("CreateFunction", "cos2oms-audit"),
        ("UpdateFunctionEventInvokeConfig", "cos2oms-audit"), ("CreateTrigger", "cos2oms"),
        ("CreateTrigger", "cos2oms-replay"), ("CreateTrigger", "cos2oms-audit")]
    bodies = dict(((action, body["FunctionName"]), body) for action, body in sent)
    assert bodies["UpdateFunctionEventInvokeConfig", "cos2oms"] == invoke_config("cos2oms", 1, 7200)
    assert bodies["UpdateFunctionEventInvokeConfig", "cos2oms-replay"] == invoke_config("cos2oms-replay", 1, 7200)
    assert bodies["UpdateFunctionEventInvokeConfig", "cos2oms-audit"] == invoke_config("cos2oms-audit", 1, 7200)
    assert bodies["CreateFunction", "cos2oms-audit"]["DeadLetterConfig"] == {"Type": "CMQ-Q", "Name": "dlq"}
    assert bodies["PutReservedConcurrencyConfig", "cos2oms"] == {"FunctionName": "cos2oms",
                                                                "ReservedConcurrencyMem": 384, "Namespace": "default"}
    assert bodies["CreateFunction", "cos2oms"]["DeadLetterConfig"] == {"Type": "CMQ-Q", "Name": "dlq"}


def test_a_redeploy_sends_the_dead_letter_queue_in_the_configuration_update(package):
    client = FakeScf(existing=["cos2oms", "cos2oms-replay", "cos2oms-audit"])
    scf_deploy.deploy(plan_for(package, "--dead-letter", "CMQ-Q:dlq"), client, log=lambda m: None,
                      sleep=lambda s: None)
    updates = [body for action, body in client.calls if action == "UpdateFunctionConfiguration"]
    assert [(body["FunctionName"], body["DeadLetterConfig"]) for body in updates] == [
        ("cos2oms", {"Type": "CMQ-Q", "Name": "dlq"}), ("cos2oms-replay", {"Type": "CMQ-Q", "Name": "dlq"}),
        ("cos2oms-audit", {"Type": "CMQ-Q", "Name": "dlq"})]
    assert not any("Runtime" in body for body in updates)


# ---- a runtime change is refused before anything is uploaded ------------------------------------------------


@pytest.mark.parametrize("deployed", [("Python3.9", "Python3.9", "Python3.9"), ("Python3.10", "Python3.9", None),
                                      ("Python3.6", None, None), ("Python3.10", "Python3.10", "Python3.6")])
def test_a_runtime_change_is_refused_before_anything_is_sent(package, deployed):
    names = ("cos2oms", "cos2oms-replay", "cos2oms-audit")
    client = FakeScf(existing=[name for name, runtime in zip(names, deployed) if runtime])
    for name, runtime in zip(names, deployed):
        if runtime:
            client.functions[name]["Runtime"] = runtime
    with pytest.raises(scf_deploy.DeployError) as raised:
        scf_deploy.deploy(plan_for(package), client, log=lambda m: None, sleep=lambda s: None)
    assert client.sent() == []                                          # no UpdateFunctionCode, nothing at all
    assert [action for action, _ in client.calls] == ["GetFunction"] * 3
    message = str(raised.value)
    assert message.startswith("nothing was changed: ")
    changed = [name for name, runtime in zip(names, deployed) if runtime and runtime != "Python3.10"]
    for name in changed:
        runtime = client.functions[name]["Runtime"]
        assert "%s exists with runtime %s, not Python3.10: SCF fixes a function's runtime when it is created" % (
            name, runtime) in message
        assert "deploy it under a new name (--name/--replay-name/--audit-name), or delete %s" % name in message
    assert message.count("exists with runtime") == len(changed)


def test_the_same_runtime_in_another_case_is_not_a_change(package):
    client = FakeScf(existing=["cos2oms", "cos2oms-replay", "cos2oms-audit"], runtime="python3.10")
    scf_deploy.deploy(plan_for(package), client, log=lambda m: None, sleep=lambda s: None)
    assert ("UpdateFunctionCode", "cos2oms") in client.sent()


def test_main_reports_a_refused_runtime_change(package):
    out, err = io.StringIO(), io.StringIO()
    clients = []

    def make(region):
        clients.append(FakeScf(existing=["cos2oms", "cos2oms-replay"], runtime="Python3.9"))
        return clients[-1]

    code = scf_deploy.main(ARGS + ["--runtime", "Python3.10", "--zip", str(package)], environ=dict(ENVIRON),
                           make=make, out=out, err=err)
    assert code == 2
    assert "error: nothing was changed: cos2oms exists with runtime Python3.9, not Python3.10" in err.getvalue()
    assert clients[0].sent() == []


# ---- --dry-run of the safety net -------------------------------------------------------------------------


def test_dry_run_prints_the_safety_net_requests_and_no_secret(package):
    code, out, err = dry_run(package, "--dead-letter", "CMQ-T:dlq:TAG", "--max-concurrency", "10",
                             "--retries", "1", "--message-ttl", "600")
    assert code == 0, err
    for secret in NEVER_SHOWN:
        assert secret not in out and secret not in err
    requests = json.loads(out)["requests"]
    by_action = {}
    for request in requests:
        by_action.setdefault(request["action"], []).append(request["body"])
    assert by_action["UpdateFunctionEventInvokeConfig"] == [invoke_config("cos2oms", 1, 600),
                                                            invoke_config("cos2oms-replay", 1, 600),
                                                            invoke_config("cos2oms-audit", 1, 600)]
    assert by_action["PutReservedConcurrencyConfig"] == [{"FunctionName": "cos2oms", "ReservedConcurrencyMem": 1280,
                                                          "Namespace": "default"}]
    for body in by_action["CreateFunction"] + by_action["UpdateFunctionConfiguration"]:
        assert body["DeadLetterConfig"] == {"Type": "CMQ-T", "Name": "dlq", "FilterType": "TAG"}
        shown = {v["Key"]: v["Value"] for v in body["Environment"]["Variables"]}
        assert shown["HW_SK"] == shown["COS_SECRET_KEY"] == shown["COS_TOKEN"] == "<redacted>"
    for body in by_action["UpdateFunctionConfiguration"]:
        assert "Runtime" not in body


# ---- --safety-net-only: for functions someone else deployed (serverless.yml) --------------------------------

SAFETY_ARGS = ["--region", "ap-beijing", "--safety-net-only", "--name", "cos2oms-dev",
               "--replay-name", "cos2oms-replay-dev", "--audit-name", "cos2oms-audit-dev"]
DEV_FUNCTIONS = ["cos2oms-dev", "cos2oms-replay-dev", "cos2oms-audit-dev"]


def safety_plan(*extra):
    return scf_deploy.build_plan(scf_deploy.parse_args(SAFETY_ARGS + list(extra)), {})


def test_safety_net_only_needs_no_runtime_role_bucket_zip_nor_variables():
    plan = safety_plan("--dead-letter", "CMQ-Q:dlq", "--max-concurrency", "2")
    assert plan["package"] is None and plan["triggers"] == []
    sync, replay, audit = plan["functions"]
    for fn in (sync, replay, audit):
        assert not {"CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration"} & set(fn)
        assert fn["DeadLetter"] == {"FunctionName": fn["name"], "Namespace": "default",
                                    "DeadLetterConfig": {"Type": "CMQ-Q", "Name": "dlq"}}
        assert model_problems("UpdateFunctionConfiguration", fn["DeadLetter"]) == []
    assert sync["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms-dev", 2, 21600)
    assert audit["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms-audit-dev", 2, 21600)
    assert "PutReservedConcurrencyConfig" in sync and "PutReservedConcurrencyConfig" not in replay
    assert [fn["name"] for fn in safety_plan("--no-audit")["functions"]] == DEV_FUNCTIONS[:2]


def test_without_safety_net_only_runtime_role_and_bucket_are_required(capsys):
    with pytest.raises(SystemExit):
        scf_deploy.parse_args(["--region", "ap-beijing"])
    assert "the following arguments are required: --runtime, --role, --source-bucket" in capsys.readouterr().err


def test_safety_net_only_sends_only_the_safety_net_to_existing_functions():
    # Deployed by serverless.yml: Python3.6 and 256 MB, neither of which --safety-net-only touches; the cap is in
    # instances, so ReservedConcurrencyMem follows the memory the function has.
    client = FakeScf(existing=DEV_FUNCTIONS, runtime="Python3.6", memory=256)
    scf_deploy.deploy(safety_plan("--dead-letter", "CMQ-Q:dlq", "--max-concurrency", "2", "--retries", "0"), client,
                      log=lambda m: None, sleep=lambda s: None)
    sent = [(action, body) for action, body in client.calls if action != "GetFunction"]
    assert sent == [
        ("UpdateFunctionConfiguration", {"FunctionName": "cos2oms-dev", "Namespace": "default",
                                         "DeadLetterConfig": {"Type": "CMQ-Q", "Name": "dlq"}}),
        ("UpdateFunctionEventInvokeConfig", invoke_config("cos2oms-dev", 0, 21600)),
        ("PutReservedConcurrencyConfig", {"FunctionName": "cos2oms-dev", "ReservedConcurrencyMem": 512,
                                          "Namespace": "default"}),
        ("UpdateFunctionConfiguration", {"FunctionName": "cos2oms-replay-dev", "Namespace": "default",
                                         "DeadLetterConfig": {"Type": "CMQ-Q", "Name": "dlq"}}),
        ("UpdateFunctionEventInvokeConfig", invoke_config("cos2oms-replay-dev", 0, 21600)),
        ("UpdateFunctionConfiguration", {"FunctionName": "cos2oms-audit-dev", "Namespace": "default",
                                         "DeadLetterConfig": {"Type": "CMQ-Q", "Name": "dlq"}}),
        ("UpdateFunctionEventInvokeConfig", invoke_config("cos2oms-audit-dev", 0, 21600)),
    ]


def test_safety_net_only_refuses_a_missing_function_before_sending_anything():
    client = FakeScf(existing=["cos2oms-dev"])
    with pytest.raises(scf_deploy.DeployError, match="cos2oms-replay-dev does not exist in namespace default: "
                                                     "--safety-net-only changes existing functions only"):
        scf_deploy.deploy(safety_plan(), client, log=lambda m: None, sleep=lambda s: None)
    assert client.sent() == []


def test_safety_net_only_dry_run():
    out, err = io.StringIO(), io.StringIO()
    code = scf_deploy.main(SAFETY_ARGS + ["--max-concurrency", "2", "--dry-run"], environ={}, out=out, err=err,
                           make=lambda region: pytest.fail("--dry-run must not build a client"))
    assert code == 0, err.getvalue()
    document = json.loads(out.getvalue())
    assert [(r["action"], r["body"]["FunctionName"]) for r in document["requests"]] == [
        ("UpdateFunctionEventInvokeConfig", "cos2oms-dev"), ("PutReservedConcurrencyConfig", "cos2oms-dev"),
        ("UpdateFunctionEventInvokeConfig", "cos2oms-replay-dev"),
        ("UpdateFunctionEventInvokeConfig", "cos2oms-audit-dev")]
    assert "x the MemorySize GetFunction reports, not --memory" in document["requests"][1]["when"]
    assert document["package"] is None


# ---- the functions table: a fourth function is one more entry ---------------------------------------------


def test_a_function_added_to_the_table_gets_its_options_body_safety_net_and_trigger(package, monkeypatch):
    report = scf_deploy.Function("report", "report.main_handler", "Reports", "--report-name", "cos2oms-report",
                                 "--report-timeout", 120,
                                 scf_deploy.Timer("report-timer", "--report-cron", "0 0 * * * * *", ()), False,
                                 settings.VARIABLES, settings.REQUIRED, None)
    monkeypatch.setattr(scf_deploy, "FUNCTIONS", scf_deploy.FUNCTIONS + (report,))
    plan = plan_for(package, "--report-cron", "0 15 * * * * *", "--retries", "1")
    assert [fn["name"] for fn in plan["functions"]] == ["cos2oms", "cos2oms-replay", "cos2oms-audit",
                                                        "cos2oms-report"]
    fourth = plan["functions"][3]
    assert (fourth["CreateFunction"]["Handler"], fourth["CreateFunction"]["Timeout"]) == ("report.main_handler", 120)
    assert fourth["UpdateFunctionEventInvokeConfig"] == invoke_config("cos2oms-report", 1, 21600)
    assert plan["triggers"][3] == {"FunctionName": "cos2oms-report", "TriggerName": "report-timer", "Type": "timer",
                                   "TriggerDesc": "0 15 * * * * *", "Namespace": "default", "Qualifier": "$DEFAULT",
                                   "Enable": "OPEN"}
    with pytest.raises(scf_deploy.DeployError, match="--audit-name and --report-name must differ"):
        plan_for(package, "--report-name", "cos2oms-audit")
    client = FakeScf()
    scf_deploy.deploy(plan, client, log=lambda m: None, sleep=lambda s: None)
    assert ("UpdateFunctionEventInvokeConfig", "cos2oms-report") in client.sent()
    assert client.triggers("cos2oms-report") == [("timer", "report-timer", '{"cron": "0 15 * * * * *"}')]


def test_safety_net_only_needs_the_function_s_memory_for_a_cap():
    client = FakeScf(existing=DEV_FUNCTIONS, memory=None)
    with pytest.raises(scf_deploy.DeployError, match="cos2oms-dev: GetFunction reports no MemorySize"):
        scf_deploy.deploy(safety_plan("--max-concurrency", "2"), client, log=lambda m: None, sleep=lambda s: None)
    assert ("PutReservedConcurrencyConfig", "cos2oms-dev") not in client.sent()
