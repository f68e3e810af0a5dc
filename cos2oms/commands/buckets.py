# -*- coding: utf-8 -*-
"""What ``verify`` and ``backfill`` share: their settings and clients (``Setup``: the source bucket, the log
bucket, the destination), and the window of ``--since``/``--until``."""
import argparse
import logging
import os
import re
import time

from cos2oms import bucket_settings, handler, listings, logs, oms_tasks, settings as settings_module, storage
from cos2oms.deadline import Deadline
from cos2oms.settings import ConfigError
from cos2oms.verify_merge import Window

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")
_MINUTES = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d)(Z|[+-]\d\d:?\d\d)?$")


def parse_when(text, now=None):
    """Epoch seconds of ``--since``/``--until``: ISO 8601 (``2024-05-01``, ``2024-05-01T08:00``,
    ``2024-05-01T08:00:00+08:00``; no offset means UTC) or a time ago (``90s``, ``30m``, ``24h``, ``7d``,
    ``2w``). ``argparse.ArgumentTypeError`` otherwise, and for a time that does not exist (``2024-02-30``,
    ``25:00``): it is never shifted into another day."""
    text = (text or "").strip()
    relative = _RELATIVE.match(text)
    if relative:
        now = time.time() if now is None else now
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    date = _DATE.match(text)
    minutes = _MINUTES.match(text)
    try:
        if date:
            return float(listings.utc_seconds(*(int(date.group(i)) for i in (1, 2, 3)), text=text))
        return listings.parse_time(minutes.group(1) + ":00" + (minutes.group(2) or "") if minutes else text)
    except listings.NoSuchTime as exc:
        raise argparse.ArgumentTypeError("%r is not a time: %s" % (text, exc.problem)) from None
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("%r is not a time: use ISO 8601 (2024-05-01, 2024-05-01T08:00:00+08:00; UTC "
                                     "without an offset) or a time ago (30m, 24h, 7d)" % text)


def window_of(args):
    """The window of ``--since``/``--until``; ConfigError when it is empty."""
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None and since >= until:
        raise ConfigError("--until", "must be later than --since")
    return Window(since, until)


logger = logging.getLogger("cos2oms.commands")


def add_force_argument(parser):
    """``--force``: go on with configured values the sync task contradicts."""
    parser.add_argument("--force", action="store_true",
                        help="go on when SOURCE_BUCKET, SOURCE_REGION, OBS_BUCKET or OBS_ENDPOINT contradicts the "
                             "sync task's settings (ShowSyncTask)")


def task_settings_of(answer):
    """The sync task's settings from a ShowSyncTask ``answer`` (``oms_tasks.OmsAnswer``), or None, with a warning
    saying the configured values are used, when OMS did not say (403: the key lacks ``oms:synctask:get``)."""
    if answer.ok:
        return oms_tasks.sync_task_settings(answer.body)
    why = ("the key may not call oms:synctask:get" if answer.status == 403 else answer.describe())
    logs.log(logger, logging.WARNING, "sync task settings not read: the configured values are used "
                                      "(SOURCE_BUCKET, SOURCE_REGION, OBS_BUCKET, OBS_ENDPOINT)", why=why)
    return None


def ask_sync_task(client, deadline=None):
    """ShowSyncTask, asked once through ``client`` (an ``oms_tasks.TaskClient``) within ``deadline``, a
    ``Deadline``, when given: its ``oms_tasks.OmsAnswer``."""
    return client.show_sync_task(time.time() * 1000, deadline)


class Setup(object):
    """Settings and clients of ``verify``, ``backfill`` and the audit: ``ConfigError`` on bad configuration
    (``context``: the SCF context of the audit's timer function, for the region). What is not configured is
    taken from the sync task (``task``: ``oms_tasks.SyncTaskSettings``, asked once; None when OMS did not say);
    a configured value it contradicts is a ConfigError unless ``--force``.

    ``deferred``: read the function's settings, the window and the prefix only; ``source``, ``obs``, ``task``
    and ``task_answer`` stay None until ``resolve()`` (the audit asks OMS only when an invocation works)."""

    def __init__(self, args, environ=None, need_obs=True, task=False, context=None, deferred=False):
        environ = os.environ if environ is None else environ
        self.environ = environ
        self.settings = settings_module.load_settings(environ=environ, context=context)
        self.need_obs = need_obs
        self.force = bool(getattr(args, "force", False))
        self.source_bucket = getattr(args, "source_bucket", None)
        self.task_answer = self.task = self.source = self.obs = self._oms = None
        if not deferred:
            self.resolve(task)
        self.window = window_of(args)
        self.prefix = getattr(args, "prefix", None) or ""
        self._cos = None

    def resolve(self, task=False, deadline=None, override=bucket_settings.FORCE):
        """Ask ShowSyncTask once (``task`` False; else ``task`` is the sync task's settings, None: not known)
        within ``deadline``, then read the source bucket and (``need_obs``) the destination from the
        configuration and the task: ``ConfigError`` as ``bucket_settings.load_source``/``load_obs``.
        ``override``: how to go on with contradicted values (``--force``, as ``args.force``), None: no way (the
        audit). Returns self."""
        self.task_answer = ask_sync_task(self.oms_client(), deadline) if task is False else None  # migration tasks too
        self.task = task_settings_of(self.task_answer) if task is False else task
        force = self.force and bool(override)
        self.source = bucket_settings.load_source(self.environ, self.settings, self.source_bucket, self.task, force,
                                                  override)
        self.obs = bucket_settings.load_obs(self.environ, self.settings, self.task, force, override) \
            if self.need_obs else None
        return self

    def oms_client(self):
        """The run's one OMS client (``oms_tasks.TaskClient``, built when first wanted): ShowSyncTask and the
        migration task calls share its session."""
        if self._oms is None:
            self._oms = oms_tasks.TaskClient.from_settings(self.settings)
        return self._oms

    def source_lister(self):
        """The source bucket's lister: its region, and its endpoint (``SOURCE_ENDPOINT``), not the log bucket's."""
        settings = self.settings._replace(cos_endpoint=self.source.endpoint)
        client = storage.build_cos_client(settings, region=self.source.region, timeout=listings.READ_SECONDS)
        return listings.CosLister(client, self.source.bucket)

    def log_client(self):
        if self._cos is None:
            self._cos = storage.build_cos_client(self.settings, timeout=listings.READ_SECONDS)  # listings, look-ups
        return self._cos

    def submitter(self):
        return handler.build_submitter(self.settings, Deadline(None))

    def source_pages(self):
        return listings.pages(self.source_lister(), "source", self.prefix)

