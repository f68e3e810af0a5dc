# -*- coding: utf-8 -*-
"""Clients kept for the life of a warm container: the HTTP session for OMS and the COS client.

The COS client is rebuilt when what it was built from changes (the execution role's temporary keys rotate;
the region or address changes). The HTTP session keeps its connections to OMS open between invocations.
"""
import os

import requests
from requests.adapters import HTTPAdapter

import log_bucket

#: Connections kept per host; replay's workers share the session.
POOL_SIZE = 16
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def uses_proxies(environ=None):
    """True when a proxy variable is set, which requests must go on honouring per request."""
    names = set(name.lower() for name in (os.environ if environ is None else environ))
    return any(name in names for name in PROXY_VARIABLES)


def new_session(environ=None):
    environ = os.environ if environ is None else environ
    session = requests.Session()
    if not uses_proxies(environ):
        # Otherwise every request scans the whole environment for proxy settings (about 15% of a marker
        # PUT's CPU in replay). What else requests takes from the environment is read once, here: the CA
        # bundle; our requests always carry their own auth, so .netrc never applies.
        session.trust_env = False
        session.verify = next((environ[name] for name in CA_BUNDLE_VARIABLES if environ.get(name)), True)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def new_cos_client(settings):
    """The log bucket's client, on a session whose pool fits replay's workers."""
    return log_bucket.build_client(settings, session=new_session())


class ClientCache(object):
    def __init__(self, session_factory=new_session, cos_factory=new_cos_client):
        self._session_factory = session_factory
        self._cos_factory = cos_factory
        self._session = None
        self._cos = None
        self._cos_built_from = None

    def session(self):
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def cos(self, settings):
        built_from = settings.cos_client_key()
        if self._cos is None or built_from != self._cos_built_from:
            self._cos = self._cos_factory(settings)
            self._cos_built_from = built_from
        return self._cos
