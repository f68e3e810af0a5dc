# -*- coding: utf-8 -*-
"""serverless.yml agrees with the code, build_zip.sh and the contract's configuration table."""
import copy
import re
from pathlib import Path


import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVERLESS_YML = REPO_ROOT / "serverless.yml"

# The function's settings: CONTRACT.md, "Configuration". Hard-coded for now; to be read
# from the code's own list of settings once there is one.
CONTRACT_VARIABLES = {
    "SYNC_URL",
    "HW_AK",
    "HW_SK",
    "LOG_BUCKET",
    "COS_REGION",
    "COS_SECRET_ID",
    "COS_SECRET_KEY",
    "COS_TOKEN",
    "COS_SCHEME",
    "COS_ENDPOINT",
    "COS_ADDRESS",
    "OMS_TIMEOUT",
    "OMS_MAX_ATTEMPTS",
    "OMS_KEY_ENCODING",
    "RAISE_ON_FAILURE",
    "LOG_LEVEL",
}
REQUIRED_VARIABLES = {"SYNC_URL", "HW_AK", "HW_SK", "LOG_BUCKET"}
# Read by the Serverless CLI at deploy time only, never by the function.
DEPLOY_VARIABLES = {"SCF_REGION", "SCF_ROLE", "SOURCE_BUCKET"}
# serverless.yml runtime -> the build_zip.sh argument that builds its package.
BUILD_RUNTIMES = {
    "Python3.6": "python3.6",
    "Python3.7": "python3.7",
    "Python3.9": "python3.9",
    "Python3.10": "python3.10",
}
ENTRY_POINTS = {"index.main_handler", "replay.main_handler"}
ENV_REFERENCE = re.compile(r"\$\{env:([^}]*)\}")


def load():
    with SERVERLESS_YML.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def function_key(config, handler):
    keys = [key for key, fn in config["inputs"]["functions"].items() if fn.get("handler") == handler]
    assert len(keys) == 1, "expected one function with handler %s, found %s" % (handler, keys)
    return keys[0]


def triggers_of(config, key):
    return [t for t in config["inputs"].get("triggers", []) if t.get("function") == key]


def environment_problems(config):
    """What is wrong with the functions' environment variables (empty when nothing)."""
    problems = []
    for key, fn in sorted(config["inputs"]["functions"].items()):
        variables = (fn.get("environment") or {}).get("variables") or {}
        unknown = sorted(set(variables) - CONTRACT_VARIABLES)
        if unknown:
            problems.append("%s: not a contract variable: %s" % (key, ", ".join(unknown)))
        missing = sorted(REQUIRED_VARIABLES - set(variables))
        if missing:
            problems.append("%s: required variable missing: %s" % (key, ", ".join(missing)))
        for name, value in sorted(variables.items()):
            # Each value must come from the deploying shell under the same name: no secret or
            # setting written into the file, and no crossed wires such as HW_AK: ${env:HW_SK}.
            if value != "${env:%s}" % name:
                problems.append("%s: %s should be ${env:%s}, is %r" % (key, name, name, value))
    return problems


def strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def reference_problems(config):
    """${env:...} references, anywhere in the file, to variables neither the function nor the CLI knows."""
    names = {name for text in strings(config) for name in ENV_REFERENCE.findall(text)}
    known = CONTRACT_VARIABLES | DEPLOY_VARIABLES
    return ["unknown variable ${env:%s}" % name for name in sorted(names - known)]


def test_two_entry_points_in_one_package():
    config = load()
    assert config["component"] == "multi-scf"
    handlers = [fn["handler"] for fn in config["inputs"]["functions"].values()]
    assert sorted(handlers) == sorted(ENTRY_POINTS)


def test_runtime_is_one_build_zip_builds_and_src_is_its_package():
    config = load()
    inputs = config["inputs"]
    runtime = inputs["runtime"]
    assert runtime in BUILD_RUNTIMES, "runtime %r: build_zip.sh builds %s" % (runtime, sorted(BUILD_RUNTIMES))
    for key, fn in inputs["functions"].items():
        assert fn.get("runtime", runtime) == runtime, "%s: one package, so one runtime for both functions" % key
    build_arg = BUILD_RUNTIMES[runtime]
    assert build_arg in (REPO_ROOT / "build_zip.sh").read_text(encoding="utf-8")
    src = inputs["src"]["src"] if isinstance(inputs["src"], dict) else inputs["src"]
    assert Path(src) == Path("dist", "cos2oms-" + build_arg), "src must be the folder `./build_zip.sh %s` writes" % (
        build_arg
    )


def test_index_runs_on_object_created_events():
    config = load()
    key = function_key(config, "index.main_handler")
    triggers = triggers_of(config, key)
    assert [t["type"] for t in triggers] == ["cos"]
    parameters = triggers[0]["parameters"]
    assert parameters["events"] == "cos:ObjectCreated:*"
    assert parameters["enable"] is True
    assert re.fullmatch(r"\S+\.cos\.\S+\.myqcloud\.com", parameters["bucket"]), parameters["bucket"]
    assert "LOG_BUCKET" not in parameters["bucket"]


def test_replay_runs_on_a_timer():
    config = load()
    key = function_key(config, "replay.main_handler")
    triggers = triggers_of(config, key)
    assert [t["type"] for t in triggers] == ["timer"]
    parameters = triggers[0]["parameters"]
    assert parameters["enable"] is True
    assert len(parameters["cronExpression"].split()) == 7  # SCF: second minute hour day month weekday year


def test_timeouts_are_well_above_scf_default():
    config = load()
    functions = config["inputs"]["functions"]
    sync = functions[function_key(config, "index.main_handler")]
    replay = functions[function_key(config, "replay.main_handler")]
    assert 10 <= sync["timeout"] <= 900
    assert sync["timeout"] < replay["timeout"] <= 900


def test_environment_variables_are_the_contract_s():
    assert environment_problems(load()) == []


def test_every_env_reference_is_known():
    assert reference_problems(load()) == []


def test_the_checks_catch_a_typo():
    config = load()
    broken = copy.deepcopy(config)
    key = function_key(broken, "index.main_handler")
    variables = broken["inputs"]["functions"][key]["environment"]["variables"]
    variables["HW_AK_ID"] = variables.pop("HW_AK")
    problems = environment_problems(broken)
    assert any("HW_AK_ID" in p for p in problems) and any("HW_AK" in p and "missing" in p for p in problems)

    variables["HW_AK"] = "${env:HW_SK}"
    assert any("HW_AK should be" in p for p in environment_problems(broken))

    broken = copy.deepcopy(config)
    broken["inputs"]["region"] = "${env:SCF_REGON}"
    assert reference_problems(broken) == ["unknown variable ${env:SCF_REGON}"]
