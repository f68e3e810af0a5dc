"""One loopback world: the stand-ins a scenario needs, and the environment that points the function
(``index.main_handler``), ``replay.py`` and ``python -m cos2oms COMMAND`` at them.

    with World(obs=True, source_bucket="photos-1253970026") as world:
        world.install()                  # into os.environ (world.install(monkeypatch) in a test)
        ...                              # or pass world.environ(LOG_LEVEL="DEBUG") to a command or a process

``World(oms=..., cos=..., obs=...)``: each stand-in is ``True`` (the world starts one with the fake credentials
of ``local.fake_credentials``, on 127.0.0.1, port 0, and stops it), a dict (the same, with these options for
its constructor: ``{"latency": 0.005}``), ``False``/``None`` (none), or a server someone else runs (used as it
is, never stopped: a pytest fixture's, a ``local.hostile.HostileServer``, a ``bench.replay_servers`` process).

``environment(oms, cos, obs, ...)`` builds the same variables from servers alone, for who starts their own.
What it reads of each: OMS ``sync_url(project, task)`` or ``url`` (or a URL string) and ``ak``/``sk``; COS
``address``, ``secret_id``/``secret_key`` and ``token``; OBS ``endpoint`` and ``ak``/``sk`` (credentials default
to the fake ones).
"""

from __future__ import annotations

import os

from local import fake_credentials
from local.samples import LOG_BUCKET, PROJECT, TASK, sync_path

OBS_BUCKET = "migrated-photos"


def oms_stand_in(**options):
    """A loopback OMS (not started) that accepts the fake Huawei credentials."""
    from local.oms_server import OmsServer

    return OmsServer(ak=fake_credentials.HW_AK, sk=fake_credentials.HW_SK, **options)


def cos_stand_in(**options):
    """A loopback COS endpoint (not started; moto behind it) for the fake Tencent credentials. It holds the log
    bucket and the source bucket alike (buckets spring into being on first use)."""
    from local.cos_server import CosServer

    return CosServer(secret_id=fake_credentials.COS_SECRET_ID, secret_key=fake_credentials.COS_SECRET_KEY,
                     **options)


def obs_stand_in(**options):
    """A loopback OBS endpoint (not started), the sync task's destination, for the fake OBS credentials."""
    from local.obs_server import ObsServer

    return ObsServer(ak=fake_credentials.OBS_AK, sk=fake_credentials.OBS_SK, **options)


def cos2oms_variables() -> tuple[str, ...]:
    """Every variable the function and the commands read: what a world's environment sets or removes."""
    from cos2oms import settings

    return (settings.VARIABLES + settings.ROLE_VARIABLES + ("TENCENTCLOUD_REGION",) + settings.SOURCE_VARIABLES
            + settings.OBS_VARIABLES)


def _sync_url(oms, project: str, task: str) -> str:
    """The server's own ``sync_url(project, task)`` if it has one (``OmsServer``), else its URL + the task's path."""
    if callable(getattr(oms, "sync_url", None)):
        return oms.sync_url(project, task)
    return (oms if isinstance(oms, str) else oms.url) + sync_path(project, task)


def environment(oms=None, cos=None, obs=None, *, project: str = PROJECT, task: str = TASK,
                log_bucket: str = LOG_BUCKET, source_bucket: str | None = None, obs_bucket: str = OBS_BUCKET,
                base=None, **overrides: str | None) -> dict[str, str]:
    """The variables that point cos2oms at these stand-ins (a stand-in left ``None`` sets none of its own).

    ``oms``: SYNC_URL (the sync task ``project``/``task`` there), HW_AK/HW_SK. ``cos``: LOG_BUCKET,
    COS_ADDRESS, COS_SCHEME=http, COS_SECRET_ID/COS_SECRET_KEY, and COS_TOKEN when the server wants one;
    SOURCE_BUCKET when ``source_bucket`` is given (it lives there too). ``obs``: OBS_BUCKET, OBS_ENDPOINT,
    OBS_AK/OBS_SK. ``base``: a mapping to start from (``os.environ`` for a child process), every cos2oms
    variable removed from it first. ``overrides`` last; ``None`` removes a variable."""
    values = {k: v for k, v in (base or {}).items() if k not in cos2oms_variables()}
    if oms is not None:
        values.update(SYNC_URL=_sync_url(oms, project, task), HW_AK=getattr(oms, "ak", fake_credentials.HW_AK),
                      HW_SK=getattr(oms, "sk", fake_credentials.HW_SK))
    if cos is not None:
        values.update(LOG_BUCKET=log_bucket, COS_ADDRESS=cos.address, COS_SCHEME="http",
                      COS_SECRET_ID=getattr(cos, "secret_id", fake_credentials.COS_SECRET_ID),
                      COS_SECRET_KEY=getattr(cos, "secret_key", fake_credentials.COS_SECRET_KEY))
        if getattr(cos, "token", None):
            values.update(COS_TOKEN=cos.token)
        if source_bucket is not None:
            values.update(SOURCE_BUCKET=source_bucket)
    if obs is not None:
        values.update(OBS_BUCKET=obs_bucket, OBS_ENDPOINT=obs.endpoint,
                      OBS_AK=getattr(obs, "ak", fake_credentials.OBS_AK),
                      OBS_SK=getattr(obs, "sk", fake_credentials.OBS_SK))
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def install(environ: dict[str, str], monkeypatch=None) -> dict[str, str]:
    """Make ``environ`` the cos2oms variables of ``os.environ`` (every other one removed), as SCF would set
    them; through ``monkeypatch`` (undone after the test) when given. Returns ``environ``."""
    for name in cos2oms_variables():
        if name not in environ:
            if monkeypatch is None:
                os.environ.pop(name, None)
            else:
                monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        if monkeypatch is None:
            os.environ[name] = value
        else:
            monkeypatch.setenv(name, value)
    return environ


class World:
    """The stand-ins a scenario asked for (``oms``, ``cos``, ``obs``: the servers, or None) and the
    environment pointing at them. A context manager: ``stop()`` stops what ``start()`` started."""

    def __init__(self, oms=True, cos=True, obs=False, *, project: str = PROJECT, task: str = TASK,
                 log_bucket: str = LOG_BUCKET, source_bucket: str | None = None, obs_bucket: str = OBS_BUCKET):
        self._asked = {"oms": (oms, oms_stand_in), "cos": (cos, cos_stand_in), "obs": (obs, obs_stand_in)}
        self.oms = self.cos = self.obs = None
        self.names = dict(project=project, task=task, log_bucket=log_bucket, source_bucket=source_bucket,
                          obs_bucket=obs_bucket)
        self._started: list = []

    def start(self) -> World:
        try:
            for role, (asked, stand_in) in self._asked.items():
                if asked is True or isinstance(asked, dict):
                    server = stand_in(**(asked if isinstance(asked, dict) else {})).start()
                    self._started.append(server)
                else:
                    server = asked or None
                setattr(self, role, server)
            self._agree()
        except BaseException:
            self.stop()
            raise
        return self

    def _agree(self) -> None:
        """A loopback OMS this world started answers ShowSyncTask with this world's buckets (so that commands
        taking settings from the sync task agree with the environment), and its migration tasks copy from this
        world's COS to its OBS."""
        if not any(server is self.oms for server in self._started) or not hasattr(self.oms, "task_details"):
            return
        details = dict(self.oms.task_details, dst_bucket=self.names["obs_bucket"])
        if self.names["source_bucket"]:
            details.update(src_bucket=self.names["source_bucket"],
                           app_id=self.names["source_bucket"].rpartition("-")[2])
        self.oms.task_details = details
        if self.cos is not None and self.obs is not None:
            self.oms.tasks.source, self.oms.tasks.destination = self.cos, self.obs

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def sync_url(self) -> str:
        return environment(self.oms, **self.names)["SYNC_URL"]

    def environ(self, base=None, **overrides: str | None) -> dict[str, str]:
        """``environment`` of this world's stand-ins and names (``base`` and ``overrides`` as there)."""
        return environment(self.oms, self.cos, self.obs, base=base, **self.names, **overrides)

    def install(self, monkeypatch=None, **overrides: str | None) -> dict[str, str]:
        """``install(self.environ(**overrides), monkeypatch)``: into ``os.environ``."""
        return install(self.environ(**overrides), monkeypatch)
