# -*- coding: utf-8 -*-
"""Deploy cos2oms to Tencent SCF through the SCF API, for the runtimes serverless.yml cannot take.

serverless.yml's multi-scf component accepts Python3.6 and Python3.7 only; this script deploys the same three
functions (sync, replay, audit) with Python3.9, 3.10, 3.11 or 3.12, using tencentcloud-sdk-python-scf and
-common (pinned in requirements-dev.txt). Run it from the repository root, as a module (it imports
cos2oms.settings from there):

    ./build_zip.sh python3.10                       # writes dist/cos2oms-python3.10.zip
    export TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=...     # who deploys (a CAM key)
    export SYNC_URL=... HW_AK=... HW_SK=... LOG_BUCKET=logs-1250000000  # what the function reads
    export OBS_BUCKET=... OBS_ENDPOINT=https://obs.cn-north-4.myhuaweicloud.com   # the audit's (else the task's)
    .venv/bin/python -m deploy.scf_deploy --region ap-beijing --runtime Python3.10 \\
        --role SCF_QcsRole --source-bucket source-1250000000 --dry-run     # print the requests, send nothing
    .venv/bin/python -m deploy.scf_deploy --region ap-beijing --runtime Python3.10 \\
        --role SCF_QcsRole --source-bucket source-1250000000               # deploy

What it sends, per function (``index.main_handler``, ``replay.main_handler``, ``audit.main_handler``: the table
FUNCTIONS, one zip; --no-audit leaves the audit out):
  - first, for every function, GetFunction: a function that exists with another runtime than --runtime stops
    the deploy before anything is uploaded (SCF fixes Runtime at creation: "创建时指定，目前不支持修改");
  - CreateFunction when the function does not exist; else UpdateFunctionCode, then UpdateFunctionConfiguration
    (each waits for the function to be Active again; Runtime is never sent in an update). The configuration is
    the handler, role, timeout, memory, the dead-letter queue (--dead-letter, DeadLetterConfig) when given and
    the environment variables: exactly the function's variables that are set and non-empty in the deploying
    shell. SYNC_URL, HW_AK, HW_SK and LOG_BUCKET must be among them; an update replaces the function's
    variables with these. Sync and replay get cos2oms.settings.VARIABLES; the audit also verify's and its own
    (SOURCE_*, OBS_*, AUDIT_*: OBS_BUCKET and OBS_ENDPOINT may be left out, the audit then takes them from
    the sync task, which HW_AK must be allowed to read: oms:synctask:get), with SOURCE_BUCKET =
    --source-bucket and SOURCE_REGION = --region unless exported. The OBS key (OBS_AK/OBS_SK) goes to the audit alone;
  - UpdateFunctionEventInvokeConfig: the async retry count and message TTL (--retries, --message-ttl; always
    sent, SCF's documented defaults unless given, so that no account default decides what happens to an event
    that keeps failing);
  - PutReservedConcurrencyConfig for the sync function with --max-concurrency N: ReservedConcurrencyMem is
    N x its memory (MB), the one knob that bounds how many instances call OMS at once;
  - CreateTrigger: a COS trigger (cos:ObjectCreated:*) on the source bucket for the first function, a timer
    (named "replay-timer") for replay, a timer ("audit-timer") for the audit. A redeploy converges: a trigger
    of ours (same type and name) that exists with the same TriggerDesc (the cron; the COS event and filter) is
    left as it is; one whose TriggerDesc differs is deleted (DeleteTrigger) and created again, since SCF cannot
    update a timer or COS trigger in place. Replay's timer from before it was renamed
    ("replay-every-30-minutes") is deleted the same way.
    Other triggers of the functions are never touched.

--safety-net-only sends only the retry/TTL, dead-letter and concurrency requests, to functions that exist
(whoever deployed them: serverless.yml's Python3.6/3.7 functions too, whose component drops retryNum/msgTTL);
no code, runtime, configuration or trigger, and no --runtime, --role, --source-bucket or zip needed.

The code goes inline (Code.ZipFile, base64): the API takes a zip of up to 50 MB that way, but a request with
signature v3 is at most 10 MB, so base64's 4/3 limits the zip to about 7.5 MB. cos2oms's zips are 3 to 4 MB.

--dry-run needs no credentials and no network: it prints the request bodies as JSON, with HW_SK,
COS_SECRET_KEY and COS_TOKEN replaced by "<redacted>" and the zip by its size and SHA-256. Every body is
checked against the SDK's request model before anything is sent: a field the model lacks, or a value whose
type is not the one the model documents (``:type Timeout: int``, ``:type Variables: list of Variable``...), is
an error, for --dry-run and a real run alike.
"""
import argparse
import base64
import copy
import hashlib
import json
import os
import re
import sys
import time
import warnings
from collections import namedtuple
from pathlib import Path

try:
    from cos2oms import bucket_settings, settings
except ModuleNotFoundError as e:  # pragma: no cover - run as a file, or from another folder
    if e.name != "cos2oms":
        raise
    sys.exit("scf_deploy: run it from the repository root, as a module: python -m deploy.scf_deploy --help")

REPO_ROOT = Path(__file__).resolve().parents[1]

try:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.scf.v20180416 import models
except ImportError:  # pragma: no cover - only without the dev requirements
    sys.exit("scf_deploy: tencentcloud-sdk-python-scf is missing: pip install -r requirements-dev.txt")

# SCF's Runtime strings. The SDK's CreateFunctionRequest.Runtime documentation (tencentcloud-sdk-python-scf
# 3.1.100) and the CreateFunction API reference list Python3.9 and Python3.10 (and 3.6/3.7, which
# serverless.yml covers). Python3.11 and Python3.12 follow the same naming but are not in that list yet: SCF
# answers InvalidParameterValue.Runtime where it does not offer them.
DOCUMENTED_RUNTIMES = ("Python3.9", "Python3.10")
UNLISTED_RUNTIMES = ("Python3.11", "Python3.12")
RUNTIMES = DOCUMENTED_RUNTIMES + UNLISTED_RUNTIMES
SECRETS = ("HW_SK", "COS_SECRET_KEY", "COS_TOKEN", "OBS_SK")
REDACTED = "<redacted>"
ZIP_LIMIT = 50 * 1024 * 1024          # Code.ZipFile: "zip包大小上限为 50MB"
REQUEST_LIMIT = 10 * 1024 * 1024      # a POST request signed with TC3-HMAC-SHA256: at most 10 MB
REQUEST_OVERHEAD = 64 * 1024          # room for the rest of the body
COS_EVENT = "cos:ObjectCreated:*"
QUALIFIER = "$DEFAULT"                # the default alias, as the Serverless components bind triggers
DEFAULT_CRON = "0 */30 * * * * *"     # second minute hour day month weekday year
TIMER_NAME = "replay-timer"           # what it is, not its cadence (--replay-cron may change that)
# Replay's timer as earlier versions of this script named it: a redeploy deletes it (the new one replaces it).
OLD_TIMER_NAMES = ("replay-every-30-minutes",)
SYNC_DESCRIPTION = "Asks the OMS sync task to migrate each object created in the source bucket"
REPLAY_DESCRIPTION = "Resubmits the keys that have a failed marker in the log bucket"
AUDIT_DESCRIPTION = "Compares the source bucket with OBS and the markers, and resubmits what is missing"
# The audit's timer and timeout. How often passes start is AUDIT_INTERVAL's (default 24 h), not the timer's:
# a firing between passes returns at once (one GET of the state). The timer decides how fast a pass moves:
# every 15 minutes, each firing working up to 10 minutes (--audit-timeout 600, less its reserve), a pass
# advances two thirds of the time and two firings never meet (the later one would find the lease taken and
# exit at once); 96 firings a day cost 96 GETs between passes.
AUDIT_CRON = "0 */15 * * * * *"
AUDIT_TIMER_NAME = "audit-timer"
AUDIT_TIMEOUT = 600
# What the audit reads besides the function's variables (verify's, and its own). OBS_BUCKET and OBS_ENDPOINT
# default to the sync task's (ShowSyncTask, asked by each firing that works: HW_AK needs oms:synctask:get for
# that, else every such firing stops with an ERROR naming OBS_BUCKET); OBS_AK/OBS_SK default to HW_AK/HW_SK.
AUDIT_VARIABLES = (settings.VARIABLES + bucket_settings.SOURCE_VARIABLES + bucket_settings.OBS_VARIABLES
                   + bucket_settings.AUDIT_VARIABLES)
AUDIT_REQUIRED = settings.REQUIRED
# SCF's async retry defaults ("错误类型与重试策略": 重试次数 默认配置为2次; 最长保留时间 默认配置为6小时), also
# what the Serverless toolkit sends when retryNum / msgTTL are unset (RetryNum ?? 2, MsgTTL || 21600). Neither
# the API reference nor the SDK's models document a range beyond these defaults: the script refuses only what
# cannot be one (a negative count, a TTL under 1 s) and leaves upper limits to SCF.
DEFAULT_RETRIES = 2
DEFAULT_MESSAGE_TTL = 6 * 3600


class Timer(namedtuple("Timer", "name cron_flag default_cron old_names")):
    """A function's timer trigger: its name, the option that sets its cron, and names it had before."""


class Function(namedtuple("Function", "key handler description name_flag default_name timeout_flag "
                                      "default_timeout trigger caps_concurrency variables required skip_flag")):
    """One deployed function. ``trigger``: "cos" (the source bucket's creations) or a Timer.

    ``caps_concurrency``: --max-concurrency applies to it (the function that calls OMS per event).
    ``variables``: the variables of the deploying shell it gets; ``required``: those it cannot do without.
    ``skip_flag``: an option that leaves it out of the deploy (None: always deployed).
    """


# Every function the script deploys, in order; a new one is one more entry (its options follow from it).
FUNCTIONS = (
    Function("sync", "index.main_handler", SYNC_DESCRIPTION, "--name", "cos2oms", "--timeout", 30, "cos", True,
             settings.VARIABLES, settings.REQUIRED, None),
    Function("replay", "replay.main_handler", REPLAY_DESCRIPTION, "--replay-name", "cos2oms-replay",
             "--replay-timeout", 900, Timer(TIMER_NAME, "--replay-cron", DEFAULT_CRON, OLD_TIMER_NAMES), False,
             settings.VARIABLES, settings.REQUIRED, None),
    Function("audit", "audit.main_handler", AUDIT_DESCRIPTION, "--audit-name", "cos2oms-audit", "--audit-timeout",
             AUDIT_TIMEOUT, Timer(AUDIT_TIMER_NAME, "--audit-cron", AUDIT_CRON, ()), False,
             AUDIT_VARIABLES, AUDIT_REQUIRED, "--no-audit"),
)
MEMORY_SIZES = (64,) + tuple(range(128, 3072 + 1, 128))
BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]*-[0-9]+$")
FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$")


class DeployError(Exception):
    """A problem with the inputs or the deployment; the message says what to do."""


# ---- inputs ----------------------------------------------------------------------------------------------


AUDIT_TIMER_HELP = ("; with --audit-timeout %d, each firing works up to 10 minutes of every 15, so a pass moves "
                    "on two thirds of the time and firings never meet (the later would find the lease taken). "
                    "How often a pass starts is AUDIT_INTERVAL's (default 24 h): a firing between passes costs "
                    "one GET" % AUDIT_TIMEOUT)


def deployed_functions(options):
    """FUNCTIONS less those left out (--no-audit)."""
    return [fn for fn in FUNCTIONS if not (fn.skip_flag and getattr(options, dest(fn.skip_flag), False))]


def dest(flag):
    """The attribute argparse gives ``flag``: --replay-name -> replay_name."""
    return flag.lstrip("-").replace("-", "_")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m deploy.scf_deploy", description=__doc__.split("\n\n", 1)[0],
        epilog="Credentials: TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY of the deploying shell. "
               "The function's settings: its variables (SYNC_URL, HW_AK, HW_SK, LOG_BUCKET, ...) exported "
               "in the same shell.")
    parser.add_argument("--region", required=True, help="the source bucket's region, e.g. ap-beijing")
    parser.add_argument("--runtime", choices=RUNTIMES, help="SCF runtime (required unless --safety-net-only)")
    parser.add_argument("--role", help="execution role (its keys are the function's COS credentials; required "
                                       "unless --safety-net-only)")
    parser.add_argument("--source-bucket", help="the sync task's source bucket, BucketName-APPID (required unless "
                                                "--safety-net-only)")
    parser.add_argument("--zip", type=Path, help="code package (default: dist/cos2oms-python3.X.zip for --runtime)")
    for fn in FUNCTIONS:
        parser.add_argument(fn.name_flag, default=fn.default_name,
                            help="name of the %s function (default: %%(default)s)" % fn.handler)
    parser.add_argument("--namespace", default="default")
    for fn in FUNCTIONS:
        parser.add_argument(fn.timeout_flag, type=int, default=fn.default_timeout,
                            help="seconds, for %s (default: %%(default)s)" % fn.handler)
    parser.add_argument("--memory", type=int, default=128, help="MB, for every function (default: %(default)s)")
    for fn in FUNCTIONS:
        if isinstance(fn.trigger, Timer):
            parser.add_argument(fn.trigger.cron_flag, default=fn.trigger.default_cron,
                                help="%s's timer, 7 fields (default: %%(default)s)%s"
                                     % (fn.handler, AUDIT_TIMER_HELP if fn.key == "audit" else ""))
    for fn in FUNCTIONS:
        if fn.skip_flag:
            parser.add_argument(fn.skip_flag, action="store_true",
                                help="leave %s out: neither deployed nor changed" % fn.handler)
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                        help="async retries of a failed invocation, for every function (RetryNum; default: "
                             "%(default)s, SCF's default)")
    parser.add_argument("--message-ttl", type=int, default=DEFAULT_MESSAGE_TTL, metavar="SECONDS",
                        help="how long SCF keeps an event in its async queue, retries included (MsgTTL; default: "
                             "%(default)s = 6 hours, SCF's default)")
    parser.add_argument("--dead-letter", metavar="TYPE:NAME[:FILTER]",
                        help="dead-letter queue for events whose retries are spent (DeadLetterConfig Type, Name, "
                             "FilterType), for every function; without it the functions' DLQ is left as it is")
    parser.add_argument("--max-concurrency", type=int, metavar="N",
                        help="at most N concurrent instances of %s (PutReservedConcurrencyConfig, "
                             "ReservedConcurrencyMem = N x its memory); default: no cap set"
                             % ", ".join(fn.handler for fn in FUNCTIONS if fn.caps_concurrency))
    parser.add_argument("--safety-net-only", action="store_true",
                        help="send only the retry/TTL, dead-letter and concurrency requests, to functions that "
                             "exist (e.g. deployed by serverless.yml)")
    parser.add_argument("--dry-run", action="store_true", help="print the request bodies as JSON; send nothing")
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for a function to be Active")
    options = parser.parse_args(argv)
    if not options.safety_net_only:
        missing = [flag for flag in ("--runtime", "--role", "--source-bucket") if getattr(options, dest(flag)) is None]
        if missing:
            parser.error("the following arguments are required: %s" % ", ".join(missing))
    if options.zip is None and options.runtime:
        options.zip = REPO_ROOT / "dist" / ("cos2oms-%s.zip" % options.runtime.lower())
    return options


def dead_letter_config(text):
    """--dead-letter's TYPE:NAME[:FILTER] as SCF's DeadLetterConfig."""
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1] or (len(parts) == 3 and not parts[2]):
        raise DeployError("--dead-letter %r: TYPE:NAME or TYPE:NAME:FILTER, none of them empty" % text)
    config = {"Type": parts[0], "Name": parts[1]}
    if len(parts) == 3:
        config["FilterType"] = parts[2]
    return config


def safety_net_problems(options):
    problems = []
    if options.retries < 0:
        problems.append("--retries %d: a retry count is 0 or more" % options.retries)
    if options.message_ttl < 1:
        problems.append("--message-ttl %d: seconds, 1 or more (SCF's default is %d, 6 hours)"
                        % (options.message_ttl, DEFAULT_MESSAGE_TTL))
    if options.max_concurrency is not None and options.max_concurrency < 1:
        problems.append("--max-concurrency %d: instances, 1 or more (leave it out for no cap)"
                        % options.max_concurrency)
    if options.dead_letter is not None:
        try:
            dead_letter_config(options.dead_letter)
        except DeployError as e:
            problems.append(str(e))
    return problems


def check_options(options, environ):
    problems = []
    names = [(fn.name_flag, getattr(options, dest(fn.name_flag))) for fn in deployed_functions(options)]
    for flag, name in names:
        if not FUNCTION_NAME.match(name):
            problems.append("%s %r: 2-60 letters, digits, - and _, starting with a letter" % (flag, name))
    for index, (flag, name) in enumerate(names):
        for other_flag, other in names[index + 1:]:
            if name == other:
                problems.append("%s and %s must differ" % (flag, other_flag))
    problems += safety_net_problems(options)
    if not options.safety_net_only:
        if not BUCKET.match(options.source_bucket):
            problems.append("--source-bucket %r is not BucketName-APPID" % options.source_bucket)
        for fn in deployed_functions(options):
            seconds = getattr(options, dest(fn.timeout_flag))
            if not 1 <= seconds <= 900:
                problems.append("%s %d: SCF takes 1 to 900 seconds" % (fn.timeout_flag, seconds))
        if options.memory not in MEMORY_SIZES:
            problems.append("--memory %d: SCF takes 64, or 128 to 3072 in steps of 128" % options.memory)
        for fn in deployed_functions(options):
            if isinstance(fn.trigger, Timer):
                cron = getattr(options, dest(fn.trigger.cron_flag))
                if len(cron.split()) != 7:
                    problems.append("%s %r: SCF's cron has 7 fields (second minute hour day month weekday year)"
                                    % (fn.trigger.cron_flag, cron))
        if environ.get("LOG_BUCKET") == options.source_bucket:
            problems.append("LOG_BUCKET is the source bucket: every marker would trigger the function")
    if problems:
        raise DeployError("; ".join(problems))


def environment_from(environ, fn=FUNCTIONS[0], options=None):
    """``fn``'s variables that are set (and not empty) in ``environ``, as SCF's Variable list.

    A function that reads SOURCE_BUCKET/SOURCE_REGION (the audit) gets --source-bucket and --region for them
    unless they are exported; an exported SOURCE_BUCKET must be --source-bucket (the bucket the COS trigger
    watches is the one to audit)."""
    environ = dict(environ)
    if options is not None and "SOURCE_BUCKET" in fn.variables:
        exported = environ.get("SOURCE_BUCKET")
        if exported and exported != options.source_bucket:
            raise DeployError("SOURCE_BUCKET is %s but --source-bucket is %s: the audit checks the bucket the COS "
                              "trigger watches (unset SOURCE_BUCKET, or make them the same)"
                              % (exported, options.source_bucket))
        environ["SOURCE_BUCKET"] = options.source_bucket
        environ["SOURCE_REGION"] = environ.get("SOURCE_REGION") or options.region
    missing = [name for name in fn.required if not environ.get(name)]
    if missing:
        what = "the function's" if fn is FUNCTIONS[0] else "%s's" % fn.handler
        hint = " (or %s)" % fn.skip_flag if fn.skip_flag else ""
        raise DeployError("export %s required variables first%s: %s" % (what, hint, ", ".join(missing)))
    return [{"Key": name, "Value": environ[name]} for name in fn.variables if environ.get(name)]


def read_zip(path):
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DeployError("cannot read the code package %s (%s): build it with ./build_zip.sh" % (path, e)) from e
    if data[:4] != b"PK\x03\x04":
        raise DeployError("%s is not a zip file" % path)
    encoded = base64.b64encode(data).decode("ascii")
    if len(data) > ZIP_LIMIT or len(encoded) + REQUEST_OVERHEAD > REQUEST_LIMIT:
        raise DeployError("%s is %d bytes: inline upload takes about %d at most (a 10 MB request, base64); "
                          "upload it in the SCF console instead" % (path, len(data), REQUEST_LIMIT * 3 // 4))
    return {"path": str(path), "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "base64": encoded}


# ---- the requests ----------------------------------------------------------------------------------------


def build_plan(options, environ):
    """Every request the deployment may send, bodies as dicts:

    {"region", "package", "safety_net_only", "functions": [...], "triggers": [...], "retired_triggers": {...}}.
    Each function: its name, handler, runtime, "CreateFunction", "UpdateFunctionCode",
    "UpdateFunctionConfiguration", "UpdateFunctionEventInvokeConfig" and, with --max-concurrency for it,
    "PutReservedConcurrencyConfig". With --safety-net-only: the last two, and "DeadLetter" (an
    UpdateFunctionConfiguration body of the DLQ alone) with --dead-letter; no package, no trigger.
    """
    check_options(options, environ)
    safety_net_only = options.safety_net_only
    variables = {} if safety_net_only else {fn.key: environment_from(environ, fn, options)
                                            for fn in deployed_functions(options)}
    package = None if safety_net_only else read_zip(options.zip)
    dead_letter = dead_letter_config(options.dead_letter) if options.dead_letter is not None else None
    functions, triggers, retired = [], [], {}
    for fn in deployed_functions(options):
        name = getattr(options, dest(fn.name_flag))
        entry = {"name": name, "handler": fn.handler, "runtime": options.runtime,
                 "UpdateFunctionEventInvokeConfig": {
                     "FunctionName": name,
                     "Namespace": options.namespace,
                     "AsyncTriggerConfig": {"RetryConfig": [{"RetryNum": options.retries}],
                                            "MsgTTL": options.message_ttl},
                 }}
        if fn.caps_concurrency and options.max_concurrency is not None:
            entry["max_concurrency"] = options.max_concurrency
            entry["PutReservedConcurrencyConfig"] = {
                "FunctionName": name,
                # Filled in from GetFunction's MemorySize with --safety-net-only (the memory is not ours then).
                "ReservedConcurrencyMem": options.max_concurrency * options.memory,
                "Namespace": options.namespace,
            }
        if safety_net_only:
            if dead_letter is not None:
                entry["DeadLetter"] = {"FunctionName": name, "Namespace": options.namespace,
                                       "DeadLetterConfig": dict(dead_letter)}
            functions.append(entry)
            continue
        configuration = {
            "FunctionName": name,
            "Description": fn.description,
            "MemorySize": options.memory,
            "Timeout": getattr(options, dest(fn.timeout_flag)),
            "Environment": {"Variables": copy.deepcopy(variables[fn.key])},
            "Namespace": options.namespace,
            "Role": options.role,
        }
        if dead_letter is not None:
            configuration["DeadLetterConfig"] = dict(dead_letter)
        # Runtime is fixed at creation: CreateFunction carries it, an update never does.
        entry["CreateFunction"] = dict(configuration, Handler=fn.handler, Runtime=options.runtime,
                                       Code={"ZipFile": package["base64"]}, Type="Event")
        entry["UpdateFunctionCode"] = {"FunctionName": name, "Handler": fn.handler, "ZipFile": package["base64"],
                                       "Namespace": options.namespace}
        entry["UpdateFunctionConfiguration"] = configuration
        functions.append(entry)
        triggers.append(trigger_body(fn, name, options))
        if isinstance(fn.trigger, Timer) and fn.trigger.old_names:
            retired[name] = {"old_names": list(fn.trigger.old_names), "what": "%s's timer" % fn.key}
    return {"region": options.region, "safety_net_only": safety_net_only,
            "package": None if package is None else {k: v for k, v in package.items() if k != "base64"},
            "functions": functions, "triggers": triggers, "retired_triggers": retired}


def trigger_body(fn, name, options):
    """CreateTrigger's body for ``fn``'s trigger."""
    body = {"FunctionName": name}
    if fn.trigger == "cos":
        body.update({
            # The bucket's XML API domain; COS triggers are same-region only.
            "TriggerName": "%s.cos.%s.myqcloud.com" % (options.source_bucket, options.region),
            "Type": "cos",
            "TriggerDesc": json.dumps({"event": COS_EVENT, "filter": {"Prefix": "", "Suffix": ""}},
                                      separators=(",", ":")),
        })
    else:
        body.update({"TriggerName": fn.trigger.name, "Type": "timer",
                     "TriggerDesc": getattr(options, dest(fn.trigger.cron_flag))})
    body.update({"Namespace": options.namespace, "Qualifier": QUALIFIER, "Enable": "OPEN"})
    return body


def documented_types(model_class):
    """{field: type text} from the model's docstring, e.g. {"Timeout": "int", "Environment": ":class:`...`"}."""
    return dict(re.findall(r":type (\w+): (.+)", model_class.__init__.__doc__ or ""))


def _model_named(text):
    return getattr(models, text.rsplit(".", 1)[-1].strip("`"))


def type_problems(model_class, body, where):
    """Each field of ``body`` that ``model_class`` lacks, or whose value is not of the documented type."""
    problems = []
    types = documented_types(model_class)
    if not types:
        return ["%s: %s documents no field types (Python run with -OO strips them): cannot check"
                % (where, model_class.__name__)]
    for key, value in body.items():
        spec = types.get(key)
        here = "%s.%s" % (where, key)
        if spec is None:
            problems.append("%s: %s has no such field" % (here, model_class.__name__))
        elif spec.startswith(":class:"):
            if not isinstance(value, dict):
                problems.append("%s: %s expects an object, got %s" % (here, spec, _kind(value)))
            else:
                problems += type_problems(_model_named(spec), value, here)
        elif spec.startswith("list of "):
            item = spec[len("list of "):]
            if not isinstance(value, list):
                problems.append("%s: %s expects a list, got %s" % (here, spec, _kind(value)))
                continue
            for index, element in enumerate(value):
                if item in ("str", "int", "float", "bool"):
                    problems += _primitive_problems(item, element, "%s[%d]" % (here, index))
                elif not isinstance(element, dict):
                    problems.append("%s[%d]: %s expects objects, got %s" % (here, index, spec, _kind(element)))
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
        return ["%s: expected %s, got %s" % (where, spec, _kind(value))]
    return []


def _kind(value):
    """A value's type for a message, never the value: it may be a secret, or a zip's base64."""
    return type(value).__name__


def without_none(node):
    if isinstance(node, dict):
        return {k: without_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [without_none(v) for v in node]
    return node


def model_problems(action, body):
    """Every way ``body`` does not fit the SDK's request model for ``action``, as text (empty: it fits).

    The SDK's ``_deserialize`` only warns ("... fileds are useless.") about an unknown field and drops it, and
    takes a value of any type: so its warnings count, each value is checked against the type the model's
    documentation gives it, and the model must serialize back to the same body.
    """
    model_class = getattr(models, action + "Request")
    problems = []
    request = model_class()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            request._deserialize(body)
        except Exception as e:                # e.g. a dict where the model expects a list of objects
            problems.append("SDK: %s while reading the body" % type(e).__name__)
    problems += ["SDK: %s" % w.message for w in caught if issubclass(w.category, UserWarning)]
    problems += type_problems(model_class, body, action)
    if not problems and without_none(json.loads(request.to_json_string())) != body:
        problems.append("%s: the model does not serialize back to the body" % action)
    return problems


def request_model(action, body):
    """``body`` as the SDK's request model for ``action``; any of ``model_problems`` is a DeployError."""
    problems = model_problems(action, body)
    if problems:
        raise DeployError("%s: the body does not fit the SDK's request model: %s" % (action, "; ".join(problems)))
    request = getattr(models, action + "Request")()
    request._deserialize(body)
    return request


def redacted(body):
    """A copy of ``body`` fit to print: secret variables and the zip's bytes replaced."""
    body = copy.deepcopy(body)
    for variable in (body.get("Environment") or {}).get("Variables") or []:
        if variable.get("Key") in SECRETS:
            variable["Value"] = REDACTED
    for holder in (body, body.get("Code") or {}):
        if "ZipFile" in holder:
            holder["ZipFile"] = "<zip, base64: %d characters>" % len(holder["ZipFile"])
    return body


def function_requests(fn, safety_net_only=False):
    """(action, body, when) for each request the plan holds for one function, in the order they may be sent."""
    name = fn["name"]
    requests = []
    if "CreateFunction" in fn:
        exists = "%s exists (with runtime %s; another runtime stops the deploy first)" % (name, fn["runtime"])
        requests += [("CreateFunction", fn["CreateFunction"], "%s does not exist" % name),
                     ("UpdateFunctionCode", fn["UpdateFunctionCode"], exists),
                     ("UpdateFunctionConfiguration", fn["UpdateFunctionConfiguration"], exists)]
    if "DeadLetter" in fn:
        requests.append(("UpdateFunctionConfiguration", fn["DeadLetter"], "always (%s must exist)" % name))
    requests.append(("UpdateFunctionEventInvokeConfig", fn["UpdateFunctionEventInvokeConfig"],
                     "always, once %s is Active" % name))
    if "PutReservedConcurrencyConfig" in fn:
        when = "always, once %s is Active" % name
        if safety_net_only:
            when += " (ReservedConcurrencyMem: --max-concurrency x the MemorySize GetFunction reports, not --memory)"
        requests.append(("PutReservedConcurrencyConfig", fn["PutReservedConcurrencyConfig"], when))
    return requests


def check_plan(plan):
    """Every body the deployment may send, checked against the SDK's models before anything is sent."""
    for fn in plan["functions"]:
        for action, body, _ in function_requests(fn):
            request_model(action, body)
    for trigger in plan["triggers"]:
        request_model("CreateTrigger", trigger)
        request_model("DeleteTrigger", delete_body(trigger, {}))


def dry_run_document(plan):
    requests = []
    for fn in plan["functions"]:
        requests += [{"action": action, "when": when, "body": redacted(body)}
                     for action, body, when in function_requests(fn, plan["safety_net_only"])]
    for trigger in plan["triggers"]:
        what = "%s trigger %s of %s" % (trigger["Type"], trigger["TriggerName"], trigger["FunctionName"])
        when = "the %s exists with another TriggerDesc" % what
        retired = plan["retired_triggers"].get(trigger["FunctionName"]) if trigger["Type"] == "timer" else None
        if retired:
            when += " (or under an old name: %s)" % ", ".join(retired["old_names"])
        requests.append({"action": "DeleteTrigger", "when": when,
                         "body": delete_body(trigger, {"TriggerDesc": "<the existing trigger's TriggerDesc>"})})
        requests.append({"action": "CreateTrigger", "when": "the %s is missing, or was deleted above" % what,
                         "body": redacted(trigger)})
    for request in requests:                      # the printed bodies are checked like the ones sent
        request_model(request["action"], request["body"])
    names = ", ".join(fn["name"] for fn in plan["functions"])
    if plan["safety_net_only"]:
        first = "GetFunction for each of %s: one that does not exist stops the run before any request below" % names
    else:
        first = ("GetFunction for each of %s: one that exists with another Runtime than %s stops the deploy "
                 "before any request below (SCF cannot change a function's runtime)"
                 % (names, plan["functions"][0]["runtime"]))
    return {"region": plan["region"], "package": plan["package"], "first": first, "requests": requests}


# ---- sending them ----------------------------------------------------------------------------------------


def make_client(region):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.scf.v20180416 import scf_client

    cred = credential.EnvironmentVariableCredential().get_credential()
    if cred is None:
        raise DeployError("export TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (a CAM key allowed to manage "
                          "SCF functions and triggers, and to pass the execution role)")
    # A zip of a few MB goes in the request body: allow more than the SDK's 60 s.
    return scf_client.ScfClient(cred, region, ClientProfile(httpProfile=HttpProfile(reqTimeout=180)))


def call(client, action, body, log):
    response = getattr(client, action)(request_model(action, body))
    log("%s %s: ok (RequestId %s)" % (action, body.get("FunctionName", ""), getattr(response, "RequestId", None)))
    return response


def get_function(client, name, namespace):
    try:
        return client.GetFunction(request_model("GetFunction", {"FunctionName": name, "Namespace": namespace}))
    except TencentCloudSDKException as e:
        if e.get_code() == "ResourceNotFound.Function":
            return None
        raise


def wait_settled(client, name, namespace, wait, log, sleep=time.sleep, clock=time.monotonic, failed_ok=False):
    """Wait while the function is Creating, Updating, ...; then it must be Active (or, with failed_ok, *Failed)."""
    deadline = clock() + wait
    while True:
        function = get_function(client, name, namespace)
        status = getattr(function, "Status", None)
        if status == "Active" or (failed_ok and status and status.endswith("Failed")):
            return function
        if status is None or status.endswith("Failed"):
            raise DeployError("%s is %s: %s" % (name, status, getattr(function, "StatusDesc", "")))
        if clock() >= deadline:
            raise DeployError("%s still %s after %.0f s" % (name, status, wait))
        log("%s: %s, waiting" % (name, status))
        sleep(2)


def runtime_refusal(fn, function):
    """Why ``function`` (GetFunction's answer) cannot take ``fn``'s runtime, or None when it can."""
    runtime = getattr(function, "Runtime", None)
    if runtime is not None and runtime.lower() == fn["runtime"].lower():
        return None
    return ("%s exists with runtime %s, not %s: SCF fixes a function's runtime when it is created "
            "(UpdateFunctionConfiguration cannot change it). To run %s, deploy it under a new name (%s), or delete "
            "%s (SCF console, or DeleteFunction) and deploy again; its triggers go with it"
            % (fn["name"], runtime, fn["runtime"], fn["runtime"],
               "/".join(f.name_flag for f in FUNCTIONS), fn["name"]))


def preflight(plan, client):
    """GetFunction for every function before anything is sent: {name: its answer, or None where it is missing}.

    A function that exists with another runtime (or, with --safety-net-only, does not exist) is a DeployError,
    raised before any request that changes something: nothing is uploaded.
    """
    found, problems = {}, []
    for fn in plan["functions"]:
        namespace = fn["UpdateFunctionEventInvokeConfig"]["Namespace"]
        function = found[fn["name"]] = get_function(client, fn["name"], namespace)
        if function is None:
            if plan["safety_net_only"]:
                problems.append("%s does not exist in namespace %s: --safety-net-only changes existing functions "
                                "only (deploy it first)" % (fn["name"], namespace))
        elif not plan["safety_net_only"]:
            refusal = runtime_refusal(fn, function)
            if refusal:
                problems.append(refusal)
    if problems:
        raise DeployError("nothing was changed: " + "; ".join(problems))
    return found


def deploy(plan, client, wait=300, log=print, sleep=time.sleep):
    found = preflight(plan, client)
    for fn in plan["functions"]:
        name = fn["name"]
        namespace = fn["UpdateFunctionEventInvokeConfig"]["Namespace"]
        if plan["safety_net_only"]:
            wait_settled(client, name, namespace, wait, log, sleep)
            if "DeadLetter" in fn:
                call(client, "UpdateFunctionConfiguration", fn["DeadLetter"], log)
                wait_settled(client, name, namespace, wait, log, sleep)
        elif found[name] is None:
            call(client, "CreateFunction", fn["CreateFunction"], log)
            wait_settled(client, name, namespace, wait, log, sleep)
        else:
            # A function whose last change failed can take a new one; one being changed cannot, yet.
            wait_settled(client, name, namespace, wait, log, sleep, failed_ok=True)
            call(client, "UpdateFunctionCode", fn["UpdateFunctionCode"], log)
            wait_settled(client, name, namespace, wait, log, sleep)
            call(client, "UpdateFunctionConfiguration", fn["UpdateFunctionConfiguration"], log)
            wait_settled(client, name, namespace, wait, log, sleep)
        call(client, "UpdateFunctionEventInvokeConfig", fn["UpdateFunctionEventInvokeConfig"], log)
        if "PutReservedConcurrencyConfig" in fn:
            body = fn["PutReservedConcurrencyConfig"]
            if plan["safety_net_only"]:       # the cap is in instances: N x the memory the function really has
                memory = getattr(found[name], "MemorySize", None)
                if not isinstance(memory, int) or memory <= 0:
                    raise DeployError("%s: GetFunction reports no MemorySize (%r): cannot turn --max-concurrency "
                                      "into ReservedConcurrencyMem" % (name, memory))
                body = dict(body, ReservedConcurrencyMem=fn["max_concurrency"] * memory)
            call(client, "PutReservedConcurrencyConfig", body, log)
    for trigger in plan["triggers"]:
        retired = plan["retired_triggers"].get(trigger["FunctionName"]) or {}
        converge_trigger(client, trigger, log, retired.get("old_names", ()), retired.get("what", "its timer"))


def trigger_settings(kind, desc):
    """What decides whether two TriggerDescs are the same trigger: the timer's cron, the COS event and filter.

    GetFunction does not give a TriggerDesc back as CreateTrigger took it: a timer's "0 */30 * * * * *" comes
    back as '{"cron":"0 */30 * * * * *"}', and a COS trigger's JSON may gain fields (the bucket's address).
    """
    if kind == "timer":
        cron = desc or ""
        if cron.lstrip().startswith("{"):
            try:
                cron = str(json.loads(cron).get("cron", ""))
            except (ValueError, AttributeError):
                pass
        return " ".join(cron.split())
    if kind == "cos":
        try:
            parsed = json.loads(desc or "{}")
        except ValueError:
            return desc
        if not isinstance(parsed, dict):
            return desc
        cos_filter = parsed.get("filter") or {}
        return (parsed.get("event"), cos_filter.get("Prefix") or "", cos_filter.get("Suffix") or "")
    return desc


def describe(kind, value):
    """``trigger_settings``'s answer as text for a log line."""
    if kind == "timer":
        return "cron %r" % value
    if kind == "cos" and isinstance(value, tuple):
        return "event %r, filter Prefix %r Suffix %r" % value
    return "TriggerDesc %r" % (value,)


def delete_body(trigger, existing):
    """DeleteTrigger's body for ``existing`` (a Trigger of GetFunction's answer, as a dict) of ``trigger``'s function.

    A COS trigger's TriggerDesc is required (the existing one, as SCF reports it); a timer's may be left out.
    The qualifier is the one the trigger is bound to (DeleteTrigger's default, $LATEST, is not ours).
    """
    body = {"FunctionName": trigger["FunctionName"], "TriggerName": existing.get("TriggerName", trigger["TriggerName"]),
            "Type": trigger["Type"], "Namespace": trigger["Namespace"],
            "Qualifier": existing.get("Qualifier") or trigger["Qualifier"]}
    if trigger["Type"] == "cos":
        body["TriggerDesc"] = existing.get("TriggerDesc") or trigger["TriggerDesc"]
    return body


def converge_trigger(client, trigger, log, old_names=(), old_label="its timer"):
    """Leave ``trigger`` as it is if it exists with the same settings; else (re)create it, deleting ours first.

    ``old_names``: names this trigger had before (timers only); one found under such a name is deleted, and the
    log calls it ``old_label``.
    """
    function = get_function(client, trigger["FunctionName"], trigger["Namespace"])
    what = "%s: %s trigger %s" % (trigger["FunctionName"], trigger["Type"], trigger["TriggerName"])
    wanted = trigger_settings(trigger["Type"], trigger["TriggerDesc"])
    old_names = old_names if trigger["Type"] == "timer" else ()
    found = False
    for existing in getattr(function, "Triggers", None) or []:
        if existing.Type != trigger["Type"]:
            continue
        existing = {"TriggerName": existing.TriggerName, "TriggerDesc": existing.TriggerDesc,
                    "Qualifier": getattr(existing, "Qualifier", None)}
        if existing["TriggerName"] in old_names:
            log("%s: %s trigger %s is %s under its old name: deleting it (%s replaces it)" % (
                trigger["FunctionName"], trigger["Type"], existing["TriggerName"], old_label, trigger["TriggerName"]))
            call(client, "DeleteTrigger", delete_body(trigger, existing), log)
            continue
        if existing["TriggerName"] != trigger["TriggerName"]:
            continue
        have = trigger_settings(trigger["Type"], existing["TriggerDesc"])
        if have == wanted and not found:
            log("%s exists with the same settings, left as it is" % what)
            found = True
            continue
        log("%s exists with %s, not %s: deleting it and creating it again (SCF cannot update it in place)" % (
            what, describe(trigger["Type"], have), describe(trigger["Type"], wanted)))
        call(client, "DeleteTrigger", delete_body(trigger, existing), log)
    if not found:
        call(client, "CreateTrigger", trigger, log)


def main(argv=None, environ=None, make=make_client, out=sys.stdout, err=sys.stderr):
    environ = os.environ if environ is None else environ
    options = parse_args(argv)

    def log(message):
        print("scf_deploy: %s" % message, file=err)

    try:
        if options.runtime in UNLISTED_RUNTIMES:
            log("warning: %s is not in the SCF API's documented Runtime list (%s); SCF refuses it where it is "
                "not offered" % (options.runtime, ", ".join(DOCUMENTED_RUNTIMES)))
        plan = build_plan(options, environ)
        check_plan(plan)
        if options.dry_run:
            json.dump(dry_run_document(plan), out, indent=2, ensure_ascii=False)
            out.write("\n")
            return 0
        deploy(plan, make(options.region), wait=options.wait, log=log)
    except DeployError as e:
        log("error: %s" % e)
        return 2
    except TencentCloudSDKException as e:
        log("error: %s: %s (RequestId %s)" % (e.get_code(), e.get_message(), e.get_request_id()))
        return 1
    names = [getattr(options, dest(fn.name_flag)) for fn in deployed_functions(options)]
    log("done: %s in %s" % (", ".join(names), options.region))
    return 0


if __name__ == "__main__":
    sys.exit(main())
