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
                 "COS_TOKEN": fake_credentials.COS_TOKEN}
ENVIRON = dict({
    "SYNC_URL": "https://oms.example.test/v2/project/sync-tasks/task/events",
    "HW_AK": fake_credentials.HW_AK,
    "LOG_BUCKET": "logs-1250000000",
    "COS_SECRET_ID": fake_credentials.COS_SECRET_ID,
    "LOG_LEVEL": "DEBUG",
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
        for action in ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration"):
            yield action, fn[action]
    for trigger in plan["triggers"]:
        yield "CreateTrigger", trigger
        yield "DeleteTrigger", scf_deploy.delete_body(trigger, {})


# ---- the bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", scf_deploy.RUNTIMES)
def test_every_body_fits_the_sdk_s_request_model(package, runtime):
    plan = plan_for(package, runtime=runtime)
    requests = list(every_request(plan))
    assert [action for action, _ in requests] == ["CreateFunction", "UpdateFunctionCode",
                                                  "UpdateFunctionConfiguration"] * 2 + ["CreateTrigger",
                                                                                        "DeleteTrigger"] * 2
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
    plan = plan_for(package, "--timeout", "45", "--replay-timeout", "600", "--memory", "256")
    sync, replay = plan["functions"]
    zipped = base64.b64encode(package.read_bytes()).decode("ascii")
    for fn, name, handler, timeout in ((sync, "cos2oms", "index.main_handler", 45),
                                       (replay, "cos2oms-replay", "replay.main_handler", 600)):
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


def test_environment_is_the_function_s_variables_set_in_the_shell(package):
    plan = plan_for(package)
    expected = [{"Key": name, "Value": ENVIRON[name]} for name in settings.VARIABLES if ENVIRON.get(name)]
    assert [v["Key"] for v in expected] == ["SYNC_URL", "HW_AK", "HW_SK", "LOG_BUCKET", "COS_SECRET_ID",
                                             "COS_SECRET_KEY", "COS_TOKEN", "LOG_LEVEL"]
    for fn in plan["functions"]:
        for action in ("CreateFunction", "UpdateFunctionConfiguration"):
            assert fn[action]["Environment"] == {"Variables": expected}


def test_a_missing_required_variable_stops_the_deploy(package):
    environ = {k: v for k, v in ENVIRON.items() if k not in ("SYNC_URL", "HW_SK")}
    with pytest.raises(scf_deploy.DeployError, match="required variables first: SYNC_URL, HW_SK"):
        plan_for(package, environ=environ)


def test_cos_trigger_on_the_source_bucket_and_timer_for_replay(package):
    cos, timer = plan_for(package, "--replay-cron", "0 0 * * * * *")["triggers"]
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
                       ("UpdateFunctionConfiguration", "cos2oms"), ("CreateFunction", "cos2oms-replay"),
                       ("UpdateFunctionCode", "cos2oms-replay"), ("UpdateFunctionConfiguration", "cos2oms-replay"),
                       ("DeleteTrigger", "cos2oms"), ("CreateTrigger", "cos2oms"),
                       ("DeleteTrigger", "cos2oms-replay"), ("CreateTrigger", "cos2oms-replay")]
    delete_cos, delete_timer = (r["body"] for r in document["requests"] if r["action"] == "DeleteTrigger")
    assert delete_cos == {"FunctionName": "cos2oms", "TriggerName": COS_TRIGGER, "Type": "cos",
                          "Namespace": "default", "Qualifier": "$DEFAULT",
                          "TriggerDesc": "<the existing trigger's TriggerDesc>"}
    assert delete_timer == {"FunctionName": "cos2oms-replay", "TriggerName": "replay-timer", "Type": "timer",
                            "Namespace": "default", "Qualifier": "$DEFAULT"}
    create = document["requests"][0]["body"]
    shown = {v["Key"]: v["Value"] for v in create["Environment"]["Variables"]}
    assert shown == {"SYNC_URL": ENVIRON["SYNC_URL"], "HW_AK": fake_credentials.HW_AK, "HW_SK": "<redacted>",
                     "LOG_BUCKET": "logs-1250000000", "COS_SECRET_ID": fake_credentials.COS_SECRET_ID,
                     "COS_SECRET_KEY": "<redacted>", "COS_TOKEN": "<redacted>", "LOG_LEVEL": "DEBUG"}
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
    """

    def __init__(self, existing=(), triggers=(), statuses=()):
        self.functions = {name: {"Status": "Active", "Triggers": []} for name in existing}
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
        self.functions[body["FunctionName"]] = {"Status": "Active", "Triggers": []}
        return models.CreateFunctionResponse()

    def UpdateFunctionCode(self, request):
        self._record("UpdateFunctionCode", request)
        return models.UpdateFunctionCodeResponse()

    def UpdateFunctionConfiguration(self, request):
        self._record("UpdateFunctionConfiguration", request)
        return models.UpdateFunctionConfigurationResponse()

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


def test_a_first_deploy_creates_both_functions_and_triggers(package):
    plan = plan_for(package)
    client = FakeScf()
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert client.sent() == [("CreateFunction", "cos2oms"), ("CreateFunction", "cos2oms-replay"),
                             ("CreateTrigger", "cos2oms"), ("CreateTrigger", "cos2oms-replay")]
    sent = [body for action, body in client.calls if action != "GetFunction"]
    assert sent == [plan["functions"][0]["CreateFunction"], plan["functions"][1]["CreateFunction"]] + plan["triggers"]
    for secret in NEVER_SHOWN:
        assert not any(secret in line for line in logged)


def test_a_redeploy_updates_code_then_configuration_and_keeps_unchanged_triggers(package):
    plan = plan_for(package)
    cos, timer = plan["triggers"]
    client = FakeScf(existing=["cos2oms", "cos2oms-replay"],
                     triggers=[("cos2oms", "cos", COS_TRIGGER, read_back("cos", COS_TRIGGER, cos["TriggerDesc"]))],
                     statuses=["Active", "Updating", "Active"])     # found, then updating when waited on
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert client.sent() == [("UpdateFunctionCode", "cos2oms"), ("UpdateFunctionConfiguration", "cos2oms"),
                             ("UpdateFunctionCode", "cos2oms-replay"),
                             ("UpdateFunctionConfiguration", "cos2oms-replay"), ("CreateTrigger", "cos2oms-replay")]
    assert "cos2oms: Updating, waiting" in logged
    assert "cos2oms: cos trigger %s exists with the same settings, left as it is" % COS_TRIGGER in logged


def test_a_second_deploy_of_the_same_plan_sends_no_trigger_request(package):
    plan = plan_for(package)
    client = FakeScf()
    scf_deploy.deploy(plan, client, log=lambda m: None, sleep=lambda s: None)
    before = client.triggers("cos2oms") + client.triggers("cos2oms-replay")
    client.calls = []
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert [action for action, _ in client.sent() if "Trigger" in action] == []
    assert client.triggers("cos2oms") + client.triggers("cos2oms-replay") == before
    assert sum("exists with the same settings, left as it is" in line for line in logged) == 2


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
        ("DeleteTrigger", "cos2oms"), ("CreateTrigger", "cos2oms"), ("CreateTrigger", "cos2oms-replay")]
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
        ("CreateTrigger", COS_TRIGGER), ("DeleteTrigger", "replay-every-30-minutes"), ("CreateTrigger", "replay-timer")]
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
