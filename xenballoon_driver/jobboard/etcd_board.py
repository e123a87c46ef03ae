"""taskflow's etcd jobboard with our Redis board's semantics.

taskflow's etcd board (impl_etcd, on etcd's v3 HTTP gateway through
etcd3gw) keeps a claim as a key on an etcd lease. What ours changes:

- claims always lapse: the lease's TTL is ``claim_expiry_s``, in whole
  seconds as etcd wants it (rounded up; etcd grants 2 s at least);
- the jobs are listed from etcd on every look, oldest first: taskflow's
  list is a cache kept by a watch that stops, silently, when etcd
  restarts, after which new jobs would never be seen (so no watch is
  started at all: see connect);
- a claim refreshed once its lease is gone says so (False), so that the
  conductor claims the job again; after a claim, the job's lease is read
  again (taskflow's job keeps the first lease it saw);
- etcd that does not answer is a JobFailure, as Redis's errors are on
  taskflow's Redis board: the conductor backs off and tries again
  instead of dying.
"""

import functools
import math
import re

import etcd3gw
import requests
from taskflow import exceptions as tf_exceptions
from taskflow.jobs.backends import impl_etcd

from xenballoon_driver.jobboard import order

# Raised by etcd3gw, or by requests under it (its watch's first request).
ETCD_ERRORS = (etcd3gw.exceptions.Etcd3Exception,
               requests.exceptions.RequestException)


def describe(err):
    """One line on what went wrong with etcd."""
    # etcd3gw's errors keep their text in detail_text (str() is empty);
    # requests' name the errno deep inside a long repr.
    text = (getattr(err, 'detail_text', None) or str(err)
            or type(err).__name__)
    errno = re.search(r'\[Errno -?\d+\] [^\'"]+', text)
    return errno.group(0) if errno else text.splitlines()[0]


def _translated(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except ETCD_ERRORS as err:
            tf_exceptions.raise_with_cause(
                tf_exceptions.JobFailure, 'etcd: ' + describe(err),
                cause=err)
    return wrapper


class Board(impl_etcd.EtcdJobBoard):
    """taskflow's etcd board whose claims lapse unless refreshed."""

    def __init__(self, name, conf, claim_expiry_s, persistence=None):
        super().__init__(name, conf, persistence=persistence)
        self.claim_expiry_s = claim_expiry_s

    def connect(self):
        # taskflow's connect also starts a watch of the board (a thread of
        # its own and one in etcd3gw's pool) that feeds its job cache; ours
        # lists the jobs from etcd on every look, and that watch did not
        # always stop on close: a conductor told to stop then never
        # exited (its interpreter waits for the pool's thread). No watch:
        # the client only, and one request to fail now if etcd is away.
        with self._open_close_lock:
            if self._client is not None:
                return
            options = {key: kind(self._conf[key])
                       for key, kind in self.ETCD_CONFIG_OPTIONS
                       if key in self._conf}
            client = etcd3gw.Etcd3Client(**options)
            try:
                client.status()
            except ETCD_ERRORS as err:
                tf_exceptions.raise_with_cause(
                    tf_exceptions.JobFailure, 'etcd: ' + describe(err),
                    cause=err)
            self._client = client
            self._state = self.CONNECTED_STATE

    get_one = _translated(impl_etcd.EtcdJobBoard.get_one)
    get_owner_and_data = _translated(
        impl_etcd.EtcdJobBoard.get_owner_and_data)
    post = _translated(impl_etcd.EtcdJobBoard.post)
    consume = _translated(impl_etcd.EtcdJobBoard.consume)
    abandon = _translated(impl_etcd.EtcdJobBoard.abandon)
    trash = _translated(impl_etcd.EtcdJobBoard.trash)

    @_translated
    def claim(self, job, who, expiry=None):
        ttl = math.ceil(expiry or self.claim_expiry_s)
        super().claim(job, who, expiry=ttl)
        # The job's lease is read from its claim when next refreshed.
        job._lease = None

    def get_owner_data(self, job):
        # {} for no claim: the job's lease is then None, and refreshing
        # its claim says False (taskflow's fails on None).
        return super().get_owner_data(job) or {}

    @_translated
    def _fetch_jobs(self, only_unclaimed=False, ensure_fresh=False):
        self._ensure_fresh()
        return order.oldest_first(self._job_cache.values())

    @property
    def job_count(self):
        # Counted in etcd, not in the (watched) cache.
        return len(self._fetch_jobs())
