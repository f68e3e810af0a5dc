# -*- coding: utf-8 -*-
"""serverless.yml against what the multi-scf component really does with it, and against the function's settings.

The component's rules are facts copied from its source into ``data/multi_scf_component.json`` (version and
files named there). The function's variables are ``cos2oms.settings.VARIABLES`` / ``REQUIRED``; the audit's also
verify's and its own (``SOURCE_VARIABLES``, ``OBS_VARIABLES``, ``AUDIT_VARIABLES``), of which it needs
SOURCE_BUCKET, OBS_BUCKET and OBS_ENDPOINT. ``check``
returns every problem it finds as text; the file must have none, and the shape the file had before
(``data/serverless_old_environment_shape.yml``: settings under ``environment: {variables: ...}``, which the
component throws away) must be rejected.
"""
import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from cos2oms import bucket_settings, settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SERVERLESS_YML = REPO_ROOT / "serverless.yml"
OLD_SHAPE = DATA / "serverless_old_environment_shape.yml"
COMPONENT = json.loads((DATA / "multi_scf_component.json").read_text(encoding="utf-8"))

ENTRY_POINTS = ("index.main_handler", "replay.main_handler", "audit.main_handler")
AUDIT = "audit.main_handler"
# What each function reads, and needs: the audit (verify's comparison, on a timer) reads more than the others,
# and only it gets the OBS key.
AUDIT_VARIABLES = (settings.VARIABLES + bucket_settings.SOURCE_VARIABLES + bucket_settings.OBS_VARIABLES
                   + bucket_settings.AUDIT_VARIABLES)
AUDIT_REQUIRED = settings.REQUIRED + ("SOURCE_BUCKET", "OBS_BUCKET", "OBS_ENDPOINT")


def reads(fn_inputs):
    """(the variables the function reads, those it needs), by its handler."""
    if fn_inputs.get("handler") == AUDIT:
        return AUDIT_VARIABLES, AUDIT_REQUIRED
    return settings.VARIABLES, settings.REQUIRED
# Read by the Serverless CLI at deploy time only, never by the function.
DEPLOY_VARIABLES = ("SCF_REGION", "SCF_ROLE", "SOURCE_BUCKET")
ENV_REFERENCE = re.compile(r"\$\{env:([^}]*)\}")


def read(path=SERVERLESS_YML):
    return path.read_text(encoding="utf-8")


def parse(text):
    return yaml.safe_load(text)


# ---- the component's view of the file ------------------------------------------------------------------


def function_inputs(config, key):
    """One function's inputs as the component builds them: the top-level inputs, overridden by the function's."""
    inputs = config["inputs"]
    merged = {name: value for name, value in inputs.items() if name not in ("src", "functions", "triggers")}
    merged.update(inputs["functions"][key])
    return merged


def deployed_variables(fn_inputs):
    """The variables the component would give the function (formatFaasInputs), as {name: value}.

    ``environments`` defaults to ``[]``, and a list always replaces ``environment``: the old form survives
    only if ``environments`` is set to something that is not a list, which the component's docs never allow.
    """
    environments = fn_inputs.get("environments", [])
    if isinstance(environments, list):
        return {item.get("key"): item.get("value") for item in environments if isinstance(item, dict)}
    return dict((fn_inputs.get("environment") or {}).get("variables") or {})


# ---- checks: each returns a list of problems, empty when there are none ----------------------------------


def component_problems(config):
    problems = []
    if config.get("component") != COMPONENT["component"]:
        problems.append("component: %r, expected %r" % (config.get("component"), COMPONENT["component"]))
    inputs = config["inputs"]
    for name in sorted(set(inputs) - set(COMPONENT["inputs_keys"]["allow"])):
        problems.append("inputs.%s: not an input multi-scf knows" % name)
    overwritten = COMPONENT["environment"]["overwritten_key"]
    list_key = COMPONENT["environment"]["list_key"]
    scopes = [("inputs", inputs, set(COMPONENT["inputs_keys"]["allow"]))]
    scopes += [("functions.%s" % key, fn, set(COMPONENT["function_keys"]["allow"]))
               for key, fn in sorted(inputs["functions"].items())]
    for where, node, allowed in scopes:
        if overwritten in node:
            problems.append("%s.%s: ignored, multi-scf replaces it with %s (a list of {key, value})"
                            % (where, overwritten, list_key))
        elif where != "inputs":
            for name in sorted(set(node) - allowed):
                problems.append("%s.%s: not a function setting multi-scf knows" % (where, name))
        if list_key in node:
            items = node[list_key]
            if not isinstance(items, list):
                problems.append("%s.%s: must be a list of {key, value}" % (where, list_key))
                continue
            for item in items:
                if not isinstance(item, dict) or sorted(item) != sorted(COMPONENT["environment"]["item_keys"]):
                    problems.append("%s.%s: item %r is not {key, value}" % (where, list_key, item))
    for key in sorted(inputs["functions"]):
        fn = function_inputs(config, key)
        runtime = fn.get("runtime", COMPONENT["runtime"]["default"])
        if runtime not in COMPONENT["runtime"]["allow"]:
            python = ", ".join(r for r in COMPONENT["runtime"]["allow"] if r.startswith("Python"))
            problems.append("functions.%s: runtime %r is not one multi-scf %s accepts (%s)" % (
                key, runtime, COMPONENT["version"], python))
        elif not runtime.startswith("Python"):
            problems.append("functions.%s: runtime %r is not a Python runtime" % (key, runtime))
        memory = fn.get("memorySize", COMPONENT["memorySize"]["default"])
        if memory not in COMPONENT["memorySize"]["allow"]:
            problems.append("functions.%s: memorySize %r is not one of the component's sizes" % (key, memory))
        timeout = fn.get("timeout", COMPONENT["timeout"]["default"])
        if not (isinstance(timeout, int) and COMPONENT["timeout"]["min"] <= timeout <= COMPONENT["timeout"]["max"]):
            problems.append("functions.%s: timeout %r is outside [%d, %d]" % (
                key, timeout, COMPONENT["timeout"]["min"], COMPONENT["timeout"]["max"]))
    return problems


def environment_problems(config):
    problems = []
    for key in sorted(config["inputs"]["functions"]):
        fn = function_inputs(config, key)
        names = [item.get("key") for item in fn.get("environments") or [] if isinstance(item, dict)]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append("functions.%s: %s listed twice" % (key, name))
        variables = deployed_variables(fn)
        known, required = reads(fn)
        for name in sorted(set(variables) - set(known), key=str):
            problems.append("functions.%s: %s is not a variable the function reads" % (key, name))
        for name in required:
            if name not in variables:
                problems.append("functions.%s: required variable %s would not be deployed" % (key, name))
        for name, value in sorted(variables.items(), key=lambda kv: str(kv[0])):
            # From the deploying shell under the same name: no setting or secret written into the file, and
            # no crossed wires such as HW_AK: ${env:HW_SK}.
            if value != "${env:%s}" % name:
                problems.append("functions.%s: %s should be ${env:%s}, is %r" % (key, name, name, value))
    return problems


def trigger_problems(config):
    problems = []
    rules = COMPONENT["triggers"]
    functions = config["inputs"]["functions"]
    for index, trigger in enumerate(config["inputs"].get("triggers") or []):
        where = "triggers[%d]" % index
        for name in sorted(set(trigger) - set(rules["keys"])):
            problems.append("%s.%s: not a trigger key" % (where, name))
        kind = trigger.get("type")
        if kind not in rules["types"]:
            problems.append("%s: type %r is not one multi-scf knows" % (where, kind))
            continue
        if trigger.get("function") not in functions:
            problems.append("%s: function %r is not a key of inputs.functions" % (where, trigger.get("function")))
        parameters = trigger.get("parameters") or {}
        shape = rules["parameters"].get(kind)
        if shape is None:
            continue
        for name in shape["required"]:
            if name not in parameters:
                problems.append("%s (%s): parameters.%s is required" % (where, kind, name))
        for name in sorted(set(parameters) - set(shape["required"]) - set(shape["optional"])):
            problems.append("%s (%s): parameters.%s is not a %s trigger parameter" % (where, kind, name, kind))
        if parameters.get("enable", rules["enable_default"]) is not True:
            problems.append("%s (%s): enable must be true (it defaults to false: a disabled trigger)" % (where, kind))
        if kind == "cos":
            cos_filter = parameters.get("filter")
            if not isinstance(cos_filter, dict) or set(cos_filter) - set(rules["cos_filter_keys"]):
                problems.append("%s (cos): filter must be {prefix, suffix}, is %r" % (where, cos_filter))
        if kind == "timer":
            fields = str(parameters.get("cronExpression", "")).split()
            if len(fields) != rules["cron_fields"]:
                problems.append("%s (timer): cronExpression needs %d fields, has %d" % (
                    where, rules["cron_fields"], len(fields)))
    return problems


def function_key(config, handler):
    keys = [key for key, fn in config["inputs"]["functions"].items() if fn.get("handler") == handler]
    return keys[0] if len(keys) == 1 else None


def triggers_of(config, key):
    return [t for t in config["inputs"].get("triggers") or [] if t.get("function") == key]


def wiring_problems(config):
    """index runs on the source bucket's object-created events, replay and the audit each on a timer."""
    problems = []
    for handler in ENTRY_POINTS:
        if function_key(config, handler) is None:
            problems.append("expected exactly one function with handler %s" % handler)
    sync = function_key(config, "index.main_handler")
    if sync is not None:
        triggers = triggers_of(config, sync)
        if [t.get("type") for t in triggers] != ["cos"]:
            problems.append("%s: expected one cos trigger, has %s" % (sync, [t.get("type") for t in triggers]))
        else:
            parameters = triggers[0].get("parameters") or {}
            if parameters.get("events") != "cos:ObjectCreated:*":
                problems.append("%s: cos events should be cos:ObjectCreated:*" % sync)
            bucket = str(parameters.get("bucket", ""))
            if not re.fullmatch(r"\S+\.cos\.\S+\.myqcloud\.com", bucket) or "LOG_BUCKET" in bucket:
                problems.append("%s: cos bucket %r is not the source bucket's XML API domain" % (sync, bucket))
    for handler in ("replay.main_handler", AUDIT):
        key = function_key(config, handler)
        if key is not None and [t.get("type") for t in triggers_of(config, key)] != ["timer"]:
            problems.append("%s: expected one timer trigger" % key)
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


def referenced_variables(config):
    return {name for text in strings(config) for name in ENV_REFERENCE.findall(text)}


def reference_problems(config):
    known = set(AUDIT_VARIABLES) | set(DEPLOY_VARIABLES)
    return ["unknown variable ${env:%s}" % name for name in sorted(referenced_variables(config) - known)]


def documentation_problems(config, text):
    """The file's comments tell which variables to export (an unset one deploys as "undefined")."""
    comments = "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    problems = ["%s is referenced but the comments never say to export it" % name
                for name in sorted(referenced_variables(config)) if not re.search(r"\b%s\b" % name, comments)]
    for runtime in sorted(set(re.findall(r"\bPython\d+\.\d+\b", comments)) - set(COMPONENT["runtime"]["allow"])):
        problems.append("the comments suggest runtime %s, which multi-scf %s refuses" % (runtime, COMPONENT["version"]))
    if "CONTRACT.md" in text:
        problems.append("cites CONTRACT.md, which users do not have")
    return problems


def comment_text(text):
    return "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)


SDK_PATH = "deploy.scf_deploy --safety-net-only"


def safety_net_problems(config, text):
    """retryNum / msgTTL set on every function as the component takes them, and the file saying that the component
    drops them (without asyncRunEnable) and where to set them instead; deadLetter in the toolkit's shape."""
    problems = []
    retry = COMPONENT["async_retry"]
    switch = retry["sent_only_with"]
    dropped_somewhere = False
    for key in sorted(config["inputs"]["functions"]):
        fn = function_inputs(config, key)
        if fn.get(switch) is True:
            needs = COMPONENT["async_run_enable"]["needs"]
            problems.append("functions.%s: %s: true creates the function in SCF's async-execution mode (needs %s, "
                            "creation only); set retries with %s" % (key, switch, needs, SDK_PATH))
        for name in sorted(retry["keys"]):
            if name not in fn:
                problems.append("functions.%s: %s is not set: say what we want (the component's default is %r)"
                                % (key, name, retry["defaults"][name]))
                continue
            value = fn[name]
            lowest = 0 if name == "retryNum" else 1        # msgTTL: 0 is `|| 21600` in the toolkit, not 0
            if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
                problems.append("functions.%s: %s %r: a whole number, %d or more" % (key, name, value, lowest))
            elif fn.get(switch) is not True and name in COMPONENT["dropped"]["without_async_run_enable"]:
                dropped_somewhere = True
        dead_letter = fn.get(COMPONENT["dead_letter"]["key"])
        if dead_letter is not None:
            keys = COMPONENT["dead_letter"]["item_keys"]
            if (not isinstance(dead_letter, dict) or set(dead_letter) - set(keys)
                    or not all(dead_letter.get(k) for k in ("type", "name"))):
                problems.append("functions.%s: deadLetter must be {type, name[, filterType]}, is %r"
                                % (key, dead_letter))
    comments = comment_text(text)
    if dropped_somewhere:
        for name in COMPONENT["dropped"]["without_async_run_enable"]:
            if not re.search(r"\bDROPS?\b[^.]*`?%s`?" % name, comments, re.IGNORECASE | re.DOTALL):
                problems.append("the comments never say that the component drops %s" % name)
        if SDK_PATH not in comments:
            problems.append("the comments never point to %s for what the component drops" % SDK_PATH)
    return problems


def check(text):
    config = parse(text)
    return (component_problems(config) + environment_problems(config) + trigger_problems(config)
            + wiring_problems(config) + reference_problems(config) + documentation_problems(config, text)
            + safety_net_problems(config, text))


def mutated(change):
    """serverless.yml's text after ``change(config)``, its comments kept (so only the change is judged)."""
    text = read()
    config = parse(text)
    change(config)
    body = yaml.safe_dump(config, sort_keys=False)
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    return comments + "\n" + body


# ---- tests ---------------------------------------------------------------------------------------------


def test_serverless_yml_meets_the_component_s_rules():
    assert check(read()) == []


def test_the_old_environment_shape_is_rejected():
    problems = check(read(OLD_SHAPE))
    for key in ("sync", "replay"):
        assert "functions.%s.environment: ignored, multi-scf replaces it with environments (a list of {key, value})" \
            % key in problems
        for name in settings.REQUIRED:
            assert "functions.%s: required variable %s would not be deployed" % (key, name) in problems
    # Its optional settings were references an unset shell turns into "undefined"; nothing said to export them.
    assert "LOG_LEVEL is referenced but the comments never say to export it" in problems


def test_every_function_gets_every_required_variable_from_the_shell():
    config = parse(read())
    for handler in ENTRY_POINTS:
        fn = function_inputs(config, function_key(config, handler))
        variables = deployed_variables(fn)
        assert set(settings.REQUIRED) <= set(variables), handler
        assert all(value == "${env:%s}" % name for name, value in variables.items())
    audit = deployed_variables(function_inputs(config, function_key(config, AUDIT)))
    assert {"SOURCE_BUCKET", "OBS_BUCKET", "OBS_ENDPOINT"} <= set(audit)
    for handler in ("index.main_handler", "replay.main_handler"):     # no OBS setting, nor key, where not read
        variables = deployed_variables(function_inputs(config, function_key(config, handler)))
        assert not [name for name in variables if name.startswith(("OBS_", "SOURCE_", "AUDIT_"))], handler


def test_runtime_is_one_the_component_accepts_and_src_is_its_package():
    config = parse(read())
    inputs = config["inputs"]
    runtime = inputs["runtime"]
    assert runtime in COMPONENT["runtime"]["allow"] and runtime.startswith("Python")
    build_arg = runtime.lower()                                   # Python3.6 -> python3.6
    assert re.search(r"\b%s\b" % re.escape(build_arg), read(REPO_ROOT / "build_zip.sh")), build_arg
    src = inputs["src"]["src"] if isinstance(inputs["src"], dict) else inputs["src"]
    assert Path(src) == Path("dist", "cos2oms-" + build_arg), "src must be the folder `./build_zip.sh %s` writes" % (
        build_arg)


def test_timeouts_are_well_above_scf_default():
    config = parse(read())
    sync = function_inputs(config, function_key(config, "index.main_handler"))
    replay = function_inputs(config, function_key(config, "replay.main_handler"))
    assert COMPONENT["timeout"]["default"] < 10 <= sync["timeout"] < replay["timeout"] <= COMPONENT["timeout"]["max"]


def test_the_audit_s_timer_fires_after_its_previous_firing_ended():
    """audit.main_handler on a timer whose period is longer than its timeout: two firings never meet (the later
    would find the lease taken and exit), and its timeout leaves room for whole pages before the reserve."""
    config = parse(read())
    key = function_key(config, AUDIT)
    audit = function_inputs(config, key)
    [timer] = triggers_of(config, key)
    cron = timer["parameters"]["cronExpression"].split()
    assert timer["parameters"]["name"] == "audit-timer"
    period = int(cron[1].split("/")[1]) * 60 if cron[1].startswith("*/") and cron[2] == "*" else None
    assert period is not None, cron
    assert 60 <= audit["timeout"] < period, (audit["timeout"], period)


def _set(path, value):
    def change(config):
        node = config
        for name in path[:-1]:
            node = node[name]
        node[path[-1]] = value
    return change


def _delete(path):
    def change(config):
        node = config
        for name in path[:-1]:
            node = node[name]
        del node[path[-1]]
    return change


def _rename_variable(config):
    for item in config["inputs"]["functions"]["sync"]["environments"]:
        if item["key"] == "HW_AK":
            item["key"] = "HW_AK_ID"
            item["value"] = "${env:HW_AK_ID}"


def _cross_wires(config):
    for item in config["inputs"]["functions"]["replay"]["environments"]:
        if item["key"] == "HW_AK":
            item["value"] = "${env:HW_SK}"


def _obs_key_for_sync(config):
    config["inputs"]["functions"]["sync"]["environments"].append({"key": "OBS_SK", "value": "${env:OBS_SK}"})


def _audit_without(name):
    def change(config):
        items = config["inputs"]["functions"]["audit"]["environments"]
        items[:] = [item for item in items if item["key"] != name]
    return change


def _old_form_in_sync(config):
    sync = config["inputs"]["functions"]["sync"]
    sync["environment"] = {"variables": {item["key"]: item["value"] for item in sync.pop("environments")}}


@pytest.mark.parametrize("change, expected", [
    (_set(["inputs", "runtime"], "Python3.9"), "functions.sync: runtime 'Python3.9' is not one multi-scf"),
    (_delete(["inputs", "runtime"]), "runtime %r is not a Python runtime" % COMPONENT["runtime"]["default"]),
    (_set(["inputs", "functions", "replay", "runtime"], "Python3.10"), "functions.replay: runtime 'Python3.10'"),
    (_old_form_in_sync, "functions.sync.environment: ignored"),
    (_old_form_in_sync, "functions.sync: required variable SYNC_URL would not be deployed"),
    (_rename_variable, "functions.sync: HW_AK_ID is not a variable the function reads"),
    (_rename_variable, "functions.sync: required variable HW_AK would not be deployed"),
    (_cross_wires, "functions.replay: HW_AK should be ${env:HW_AK}"),
    (_obs_key_for_sync, "functions.sync: OBS_SK is not a variable the function reads"),
    (_audit_without("OBS_ENDPOINT"), "functions.audit: required variable OBS_ENDPOINT would not be deployed"),
    (_audit_without("SOURCE_BUCKET"), "functions.audit: required variable SOURCE_BUCKET would not be deployed"),
    (_set(["inputs", "triggers", 2, "type"], "cos"), "audit: expected one timer trigger"),
    (_set(["inputs", "functions", "audit", "handler"], "audit.handler"),
     "expected exactly one function with handler audit.main_handler"),
    (_set(["inputs", "functions", "sync", "environments"], {"SYNC_URL": "${env:SYNC_URL}"}),
     "functions.sync.environments: must be a list"),
    (_set(["inputs", "functions", "sync", "memorySize"], 100), "memorySize 100"),
    (_set(["inputs", "functions", "replay", "timeout"], 901), "timeout 901 is outside"),
    (_delete(["inputs", "triggers", 0, "parameters", "enable"]), "triggers[0] (cos): enable must be true"),
    (_set(["inputs", "triggers", 0, "parameters", "events"], ["cos:ObjectCreated:*"]), "cos events should be"),
    (_set(["inputs", "triggers", 0, "parameters", "name"], "cos1"), "parameters.name is not a cos trigger parameter"),
    (_delete(["inputs", "triggers", 0, "parameters", "filter"]), "triggers[0] (cos): parameters.filter is required"),
    (_set(["inputs", "triggers", 1, "parameters", "cronExpression"], "0 */30 * * *"), "needs 7 fields, has 5"),
    (_set(["inputs", "triggers", 1, "function"], "replays"), "function 'replays' is not a key of inputs.functions"),
    (_set(["inputs", "triggers", 1, "type"], "cron"), "type 'cron' is not one multi-scf knows"),
    (_set(["inputs", "region"], "${env:SCF_REGON}"), "unknown variable ${env:SCF_REGON}"),
    (_set(["inputs", "functions", "sync", "description"], "${env:OMS_KEY_ENCODING}"),
     "OMS_KEY_ENCODING is referenced but the comments never say"),
    (_delete(["inputs", "functions", "replay", "retryNum"]), "functions.replay: retryNum is not set"),
    (_delete(["inputs", "functions", "sync", "msgTTL"]), "functions.sync: msgTTL is not set"),
    (_set(["inputs", "functions", "sync", "retryNum"], -1), "functions.sync: retryNum -1: a whole number, 0 or more"),
    (_set(["inputs", "functions", "sync", "msgTTL"], 0), "functions.sync: msgTTL 0: a whole number, 1 or more"),
    (_set(["inputs", "functions", "replay", "msgTTL"], "6h"), "functions.replay: msgTTL '6h'"),
    (_set(["inputs", "functions", "sync", "retryNum"], True), "functions.sync: retryNum True"),
    (_set(["inputs", "functions", "sync", "asyncRunEnable"], True),
     "functions.sync: asyncRunEnable: true creates the function in SCF's async-execution mode"),
    (_set(["inputs", "functions", "sync", "deadLetter"], {"type": "T"}), "functions.sync: deadLetter must be"),
    (_set(["inputs", "functions", "sync", "deadLetter"], {"type": "T", "name": "q", "filter": "x"}),
     "functions.sync: deadLetter must be"),
    (_set(["inputs", "functions", "sync", "deadLetters"], {"type": "T", "name": "q"}),
     "functions.sync.deadLetters: not a function setting multi-scf knows"),
])
def test_the_checker_catches(change, expected):
    problems = check(mutated(change))
    assert any(expected in problem for problem in problems), problems


def test_the_checker_catches_a_contract_md_citation():
    assert "cites CONTRACT.md, which users do not have" in check(read() + "\n# see CONTRACT.md\n")


def test_the_checker_catches_advice_to_use_a_runtime_the_component_refuses():
    text = read() + "\n# To change the runtime: runtime: Python3.9, src: ./dist/cos2oms-python3.9\n"
    assert "the comments suggest runtime Python3.9, which multi-scf 0.3.14 refuses" in check(text)


def test_an_unchanged_round_trip_passes():
    # The mutation helper alone must not create problems, or the cases above would prove nothing.
    assert check(mutated(lambda config: None)) == []


def test_the_component_facts_name_their_source():
    assert COMPONENT["version"] == "0.3.14"
    assert COMPONENT["source"]["repository"] == "serverless-components/tencent-multi-scf"
    assert re.fullmatch(r"[0-9a-f]{40}", COMPONENT["source"]["commit"])
    python = [runtime for runtime in COMPONENT["runtime"]["allow"] if runtime.startswith("Python")]
    assert python == ["Python2.7", "Python3.6", "Python3.7"]
    assert copy.deepcopy(COMPONENT["environment"]["item_keys"]) == ["key", "value"]
    # Every fact says where it comes from; a default, where its own note says so.
    for name, fact in COMPONENT.items():
        if isinstance(fact, dict) and name != "source":
            assert fact.get("_from"), name
            if "default" in fact:
                assert fact.get("_default_from"), name
    assert COMPONENT["runtime"]["default"] in COMPONENT["runtime"]["allow"]
    assert COMPONENT["memorySize"]["default"] in COMPONENT["memorySize"]["allow"]
    assert COMPONENT["timeout"]["min"] <= COMPONENT["timeout"]["default"] <= COMPONENT["timeout"]["max"]


def test_the_component_s_defaults_apply_where_the_file_sets_nothing():
    # Left unset, a function gets the component's defaults, read from the data file: its runtime is not Python.
    config = parse(read())
    for key in config["inputs"]["functions"]:
        for name in ("runtime", "memorySize", "timeout"):
            config["inputs"].pop(name, None)
            config["inputs"]["functions"][key].pop(name, None)
    problems = component_problems(config)
    for key in sorted(config["inputs"]["functions"]):
        assert "functions.%s: runtime %r is not a Python runtime" % (key, COMPONENT["runtime"]["default"]) in problems


# ---- SCF's safety net: what the component does with retryNum / msgTTL ------------------------------------


def test_both_functions_state_retries_and_ttl_as_the_component_takes_them():
    config = parse(read())
    for handler in ENTRY_POINTS:
        fn = function_inputs(config, function_key(config, handler))
        assert {name: fn[name] for name in COMPONENT["async_retry"]["keys"]} == {"retryNum": 2, "msgTTL": 21600}
        assert fn.get(COMPONENT["async_retry"]["sent_only_with"]) is not True   # so the component drops them


def test_a_dead_letter_queue_in_the_toolkit_s_shape_passes():
    def add(config):
        config["inputs"]["functions"]["sync"]["deadLetter"] = {"type": "T", "name": "q", "filterType": "f"}
    assert check(mutated(add)) == []


def _without_comment_lines(*words):
    text = read()
    kept = [line for line in text.splitlines()
            if not (line.lstrip().startswith("#") and any(word in line for word in words))]
    return "\n".join(kept) + "\n"


def test_the_file_must_say_what_the_component_drops_and_where_to_set_it():
    problems = check(_without_comment_lines("DROPS", "Dropped"))
    assert "the comments never say that the component drops retryNum" in problems
    assert "the comments never say that the component drops msgTTL" in problems
    problems = check(_without_comment_lines("--safety-net-only"))
    assert "the comments never point to deploy.scf_deploy --safety-net-only for what the component drops" in problems


def test_the_component_facts_about_the_safety_net():
    retry = COMPONENT["async_retry"]
    assert retry["keys"] == {"retryNum": "AsyncTriggerConfig.RetryConfig[0].RetryNum",
                             "msgTTL": "AsyncTriggerConfig.MsgTTL"}
    assert retry["sent_only_with"] == "asyncRunEnable" and retry["defaults"] == {"retryNum": 2, "msgTTL": 21600}
    assert retry["_defaults_from"]
    assert COMPONENT["dropped"]["without_async_run_enable"] == ["retryNum", "msgTTL"]
    assert "runtime" in COMPONENT["dropped"]["on_update"]
    assert COMPONENT["async_run_enable"]["creation_only"] is True
    toolkit = COMPONENT["toolkit"]
    assert toolkit["repository"] == "serverless-tencent/tencent-component-toolkit"
    assert all(re.fullmatch(r"[0-9a-f]{40}", commit) for commit in toolkit["versions_checked"].values())
    assert "2.24.1" in toolkit["versions_checked"]                  # the lowest version ^2.24.1 allows


def test_the_readme_says_what_the_component_drops_and_points_to_the_sdk_path():
    readme = " ".join((REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    section = readme.split("### Serverless Framework", 1)[1].split("### SCF API", 1)[0]
    for name in COMPONENT["dropped"]["without_async_run_enable"]:
        assert "`%s`" % name in section, name
    assert "drops" in section and "asyncRunEnable" in section
    assert "python -m deploy.scf_deploy --safety-net-only" in section
