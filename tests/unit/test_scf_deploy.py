# -*- coding: utf-8 -*-
"""deploy/scf_deploy.py, offline: its request bodies fit the SDK's own request models, and it sends them in order.

A body passes ``model_problems`` when the SDK's ``_deserialize`` accepts every field without its "fileds are
useless" warning, every value has the type the model's documentation gives it (``:type Timeout: int``,
``:type Variables: list of Variable``, ...), and the model serializes back to the same body. The deploy itself
runs against a fake client that takes the SDK's request objects; nothing touches the network.
"""
import base64
import importlib.util
import io
import json
import re
import warnings
import zipfile
from pathlib import Path

import pytest

# The deploy tool runs on the deploying machine's Python, with requirements-dev.txt; not on SCF's Python 3.6.
pytest.importorskip("tencentcloud.scf.v20180416.models", reason="tencentcloud-sdk-python-scf is not installed")

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException  # noqa: E402
from tencentcloud.common.abstract_model import AbstractModel  # noqa: E402
from tencentcloud.scf.v20180416 import models  # noqa: E402

from cos2oms import settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("scf_deploy", REPO_ROOT / "deploy" / "scf_deploy.py")
scf_deploy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scf_deploy)

SECRET_VALUES = {"HW_SK": "hw-secret-key-value", "COS_SECRET_KEY": "cos-secret-key-value", "COS_TOKEN": "cos-token"}
ENVIRON = dict({
    "SYNC_URL": "https://oms.example.test/v2/project/sync-tasks/task/events",
    "HW_AK": "HWAKEXAMPLE",
    "LOG_BUCKET": "logs-1250000000",
    "COS_SECRET_ID": "cos-secret-id-value",
    "LOG_LEVEL": "DEBUG",
    "OMS_TIMEOUT": "",                     # set but empty: not deployed
    "EDITOR": "vi",                        # not one of the function's variables: not deployed
    "TENCENTCLOUD_SECRET_ID": "deployer-id",
    "TENCENTCLOUD_SECRET_KEY": "deployer-key",
}, **SECRET_VALUES)
ARGS = ["--region", "ap-beijing", "--role", "SCF_QcsRole", "--source-bucket", "source-1250000000"]


# ---- checking a body against the SDK's model -------------------------------------------------------------


def documented_types(model_class):
    """{field: type text} from the model's docstring, e.g. {"Timeout": "int", "Environment": ":class:`...`"}."""
    return dict(re.findall(r":type (\w+): (.+)", model_class.__init__.__doc__ or ""))


def _model_named(text):
    return getattr(models, text.rsplit(".", 1)[-1].strip("`"))


def type_problems(model_class, body, where):
    problems = []
    types = documented_types(model_class)
    for key, value in body.items():
        spec = types.get(key)
        here = "%s.%s" % (where, key)
        if spec is None:
            problems.append("%s: %s has no such field" % (here, model_class.__name__))
        elif spec.startswith(":class:"):
            if not isinstance(value, dict):
                problems.append("%s: %s expects an object, got %r" % (here, spec, value))
            else:
                problems += type_problems(_model_named(spec), value, here)
        elif spec.startswith("list of "):
            item = spec[len("list of "):]
            if not isinstance(value, list):
                problems.append("%s: %s expects a list, got %r" % (here, spec, value))
                continue
            for index, element in enumerate(value):
                if item in ("str", "int", "float", "bool"):
                    problems += _primitive_problems(item, element, "%s[%d]" % (here, index))
                elif not isinstance(element, dict):
                    problems.append("%s[%d]: %s expects objects" % (here, index, spec))
                else:
                    problems += type_problems(getattr(models, item), element, "%s[%d]" % (here, index))
        else:
            problems += _primitive_problems(spec, value, here)
    return problems


def _primitive_problems(spec, value, where):
    expected = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}.get(spec)
    if expected is None:
        return ["%s: documented type %r is not one this check knows" % (where, spec)]
    if not isinstance(value, expected) or (spec in ("int", "float") and isinstance(value, bool)):
        return ["%s: expected %s, got %r" % (where, spec, value)]
    return []


def _without_none(node):
    if isinstance(node, dict):
        return {k: _without_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_none(v) for v in node]
    return node


def model_problems(action, body):
    model_class = getattr(models, action + "Request")
    problems = []
    request = model_class()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            request._deserialize(body)
        except Exception as e:                # e.g. a dict where the model expects a list of objects
            problems.append("SDK: %s: %r" % (type(e).__name__, e))
    problems += ["SDK: %s" % w.message for w in caught]
    problems += type_problems(model_class, body, action)
    if not problems and _without_none(json.loads(request.to_json_string())) != body:
        problems.append("%s: the model does not serialize back to the body" % action)
    return problems


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


# ---- the bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", scf_deploy.RUNTIMES)
def test_every_body_fits_the_sdk_s_request_model(package, runtime):
    plan = plan_for(package, runtime=runtime)
    requests = list(every_request(plan))
    assert [action for action, _ in requests] == ["CreateFunction", "UpdateFunctionCode",
                                                  "UpdateFunctionConfiguration"] * 2 + ["CreateTrigger"] * 2
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
])
def test_the_model_check_catches(action, body, expected):
    problems = model_problems(action, body)
    assert any(expected in problem for problem in problems), problems


def test_the_script_itself_refuses_a_field_the_model_lacks():
    with pytest.raises(scf_deploy.DeployError, match="Enviroment fileds are useless"):
        scf_deploy.request_model("CreateFunction", {"FunctionName": "f", "Enviroment": {}})


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
    assert timer == {"FunctionName": "cos2oms-replay", "TriggerName": "replay-every-30-minutes", "Type": "timer",
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
    for secret in SECRET_VALUES.values():
        assert secret not in out and secret not in err
    assert base64.b64encode(package.read_bytes()).decode("ascii") not in out
    document = json.loads(out)
    assert document["region"] == "ap-beijing"
    assert document["package"]["size"] == package.stat().st_size and len(document["package"]["sha256"]) == 64
    actions = [(r["action"], r["body"].get("FunctionName")) for r in document["requests"]]
    assert actions == [("CreateFunction", "cos2oms"), ("UpdateFunctionCode", "cos2oms"),
                       ("UpdateFunctionConfiguration", "cos2oms"), ("CreateFunction", "cos2oms-replay"),
                       ("UpdateFunctionCode", "cos2oms-replay"), ("UpdateFunctionConfiguration", "cos2oms-replay"),
                       ("CreateTrigger", "cos2oms"), ("CreateTrigger", "cos2oms-replay")]
    create = document["requests"][0]["body"]
    shown = {v["Key"]: v["Value"] for v in create["Environment"]["Variables"]}
    assert shown == {"SYNC_URL": ENVIRON["SYNC_URL"], "HW_AK": "HWAKEXAMPLE", "HW_SK": "<redacted>",
                     "LOG_BUCKET": "logs-1250000000", "COS_SECRET_ID": "cos-secret-id-value",
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
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "id")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "key")
    client = scf_deploy.make_client("ap-beijing")             # builds, sends nothing
    assert client.credential.secret_id == "id" and client.region == "ap-beijing"


# ---- the deploy, against a fake client -------------------------------------------------------------------


class FakeScf(object):
    """Takes the SDK's request objects like ScfClient; functions and triggers live in dicts."""

    def __init__(self, existing=(), triggers=(), statuses=()):
        self.functions = {name: {"Status": "Active", "Triggers": []} for name in existing}
        for function, kind, name in triggers:
            self.functions[function]["Triggers"].append({"Type": kind, "TriggerName": name})
        self.statuses = list(statuses)     # statuses GetFunction reports before "Active"
        self.calls = []

    def _record(self, action, request):
        assert isinstance(request, AbstractModel)
        body = _without_none(json.loads(request.to_json_string()))
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
        self.functions[body["FunctionName"]]["Triggers"].append({"Type": body["Type"],
                                                                 "TriggerName": body["TriggerName"]})
        return models.CreateTriggerResponse()

    def sent(self):
        return [(action, body.get("FunctionName")) for action, body in self.calls if action != "GetFunction"]


def test_a_first_deploy_creates_both_functions_and_triggers(package):
    plan = plan_for(package)
    client = FakeScf()
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert client.sent() == [("CreateFunction", "cos2oms"), ("CreateFunction", "cos2oms-replay"),
                             ("CreateTrigger", "cos2oms"), ("CreateTrigger", "cos2oms-replay")]
    sent = [body for action, body in client.calls if action != "GetFunction"]
    assert sent == [plan["functions"][0]["CreateFunction"], plan["functions"][1]["CreateFunction"]] + plan["triggers"]
    for secret in SECRET_VALUES.values():
        assert not any(secret in line for line in logged)


def test_a_redeploy_updates_code_then_configuration_and_keeps_existing_triggers(package):
    plan = plan_for(package)
    client = FakeScf(existing=["cos2oms", "cos2oms-replay"],
                     triggers=[("cos2oms", "cos", "source-1250000000.cos.ap-beijing.myqcloud.com")],
                     statuses=["Active", "Updating", "Active"])     # found, then updating when waited on
    logged = []
    scf_deploy.deploy(plan, client, log=logged.append, sleep=lambda s: None)
    assert client.sent() == [("UpdateFunctionCode", "cos2oms"), ("UpdateFunctionConfiguration", "cos2oms"),
                             ("UpdateFunctionCode", "cos2oms-replay"),
                             ("UpdateFunctionConfiguration", "cos2oms-replay"), ("CreateTrigger", "cos2oms-replay")]
    assert "cos2oms: Updating, waiting" in logged
    assert any("cos trigger source-1250000000.cos.ap-beijing.myqcloud.com exists, left as it is" in line
               for line in logged)


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
