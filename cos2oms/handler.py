# -*- coding: utf-8 -*-
"""The function's wiring: clients per warm container, the submitter built from them, and ``main_handler``
(settings are read per invocation by ``settings.load_settings``).

``index.main_handler`` (the SCF entry point) starts here; the commands build their submitters here too.
"""
import logging
import time

from cos2oms import context as scf_context
from cos2oms import logs, markers, oms, settings as settings_module, storage, sync, transport
from cos2oms.deadline import Deadline

logger = logging.getLogger("cos2oms")


class SyncFailed(RuntimeError):
    """Raised after every marker that could be written is written, so that SCF retries the event (and can
    dead-letter it): with RAISE_ON_FAILURE on any failure, and always when a key was left unrecorded."""


class ClientCache(object):
    """Clients kept for the life of a warm container: the OMS session and the COS client. The COS client is
    rebuilt when what it was built from changes (the execution role's temporary keys rotate). OMS requests,
    as COS's, go through a ``transport.LeanSession`` over the session (the adapter's limits and checks, without
    ``requests.Session``'s per-call machinery)."""

    def __init__(self, session_factory=transport.new_session, cos_factory=storage.build_cos_client):
        self._session_factory = session_factory
        self._cos_factory = cos_factory
        self._session = None
        self._cos = None
        self._cos_built_from = None

    def session(self):
        if self._session is None:
            self._session = transport.LeanSession(self._session_factory())
        return self._session

    def cos(self, settings):
        built_from = settings.cos_client_key()
        if self._cos is None or built_from != self._cos_built_from:
            self._cos = self._cos_factory(settings)
            self._cos_built_from = built_from
        return self._cos


CLIENTS = ClientCache()


def build_submitter(settings, deadline, request_id="-", clients=None):
    clients = clients or CLIENTS
    oms_client = oms.OmsClient.from_settings(settings, clients.session())
    store = markers.MarkerStore(clients.cos(settings), settings.log_bucket, settings.task_id)
    return sync.Submitter(oms_client, store, deadline, request_id)


def main_handler(event, context, constants=None, clients=None, clock=time.monotonic):
    """Returns True when every created object was accepted by OMS, else False (or raises SyncFailed).
    ``clock``: what the invocation's time is measured with (tests pass a fake one)."""
    deadline = Deadline.from_context(context, clock=clock, started=clock())
    request_id = scf_context.request_id(context)
    logs.bind(request_id)
    settings = settings_module.load_settings(constants, context=context)
    logs.configure(settings.log_level, settings.log_format)
    submitter = build_submitter(settings, deadline, request_id, clients)
    report = sync.sync_event(event, settings.log_bucket, submitter, request_id)
    logs.log(logger, logging.INFO, "invocation done", task=settings.task_id, accepted=report.accepted,
             failed=report.failed, malformed=report.malformed, skipped=report.skipped,
             marker_errors=report.marker_errors, unrecorded=report.unrecorded, oms_requests=report.requests,
             elapsed_ms=deadline.elapsed() * 1000, request_id=request_id)
    if report.lost:
        raise SyncFailed("%d object(s) neither accepted by OMS nor recorded by a failed marker (see the error "
                         "lines): raising so that SCF retries the event or dead-letters it" % report.unrecorded)
    if not report.ok and settings.raise_on_failure:
        raise SyncFailed("%d object(s) not accepted by OMS, %d malformed record(s); see failed markers and "
                         "error lines" % (report.failed, report.malformed))
    return report.ok
