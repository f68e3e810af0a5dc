# -*- coding: utf-8 -*-
"""``python -m cos2oms task TASK_ID``: show an OMS migration task this tool created (``backfill --via-task``,
``verify --resubmit --via-task``) and follow it until it ends; then remove its list files (those under
``oms-list-files/``, with ``OBS_AK``/``OBS_SK``, when OBS is configured). The JSON last line and the exit
statuses are those of ``commands.migrate``."""
import os
import sys

from cos2oms import bucket_settings, logs, migration, obs, settings as settings_module
from cos2oms.commands import base, migrate
from cos2oms.oms_tasks import TaskClient
from cos2oms.settings import ConfigError

DESCRIPTION = "Show and follow an OMS migration task created by backfill/verify --via-task until it ends."


def add_arguments(parser):
    parser.add_argument("task_id", metavar="TASK_ID", help="the migration task's id (CreateTask's answer)")
    migrate.add_following_arguments(parser)
    base.add_arguments(parser)


def describe_task(state):
    """One line about the task, as ShowTask tells it (network values escaped and capped)."""
    body = state.body
    src = body.get("src_node") if isinstance(body.get("src_node"), dict) else {}
    dst = body.get("dst_node") if isinstance(body.get("dst_node"), dict) else {}
    return "migration task %s (%s), %s: %s; from %s %s/%s to %s/%s%s" % tuple(
        logs.short(value) for value in (
            state.task_id, body.get("task_type"), state.status_name, body.get("description"),
            src.get("cloud_type"), src.get("region"), src.get("bucket"), dst.get("region"), dst.get("bucket"),
            "/" + str(dst["save_prefix"]) if dst.get("save_prefix") else ""))


def _remove_list_files(state, obs_settings):
    found = state.list_file
    if found is None or obs_settings is None:
        return
    bucket, key, count = found
    keys = [key] if not key.endswith("/") else [migration.list_file_name(key, n) for n in range(1, count + 1)]
    client = obs.build_obs_client(obs_settings)
    try:
        migrate.remove_list_files(client, bucket or obs_settings.bucket, keys)
    finally:
        client.close()


def _configured(environ):
    """The settings, and OBS's (None when OBS is not configured: the list files, if any, stay)."""
    settings = settings_module.load_settings(environ=environ)
    try:
        return settings, bucket_settings.load_obs(environ, settings)
    except ConfigError:
        return settings, None


def run(args, environ=None, out=None, prog="cos2oms task"):
    out = sys.stdout if out is None else out
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    environ = os.environ if environ is None else environ
    try:
        settings, obs_settings = _configured(environ)
    except ConfigError as exc:
        return base.config_error(prog, exc)
    client = TaskClient.from_settings(settings)
    report = migrate.Report()
    report.oms_task_id = args.task_id

    def shown(state):
        print(describe_task(state), file=out)

    def work(output, stopping):
        follow = migrate.follow_to_end(client, args.task_id, report, output, stopping, args.poll_interval,
                                       shown=shown)
        if follow.outcome == "finished":
            _remove_list_files(follow.state, obs_settings)

    return base.run_counted(args, settings, environ, out, migrate.logger, report, work, describe=report.describe,
                            exit_status=report.exit_status)
