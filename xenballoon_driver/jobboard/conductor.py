"""taskflow's blocking conductor, running our flows for one host.

taskflow's own conductor loads a flow from ``meta['factory']`` in its
layout; ours rebuilds it with our registry (flows/registry.py) from the
record the job names, re-read while holding the flow's lock (the same
lock as every other runner of the host's flows: flows/engine.py). So:

- a job whose flow finished already (its previous conductor died after
  the flow ended, or start-up recovery finished or undid it) is consumed
  without running anything;
- a job whose flow never started runs as a new flow; one whose flow a
  stopping conductor suspended between two tasks goes on from there;
- one that had started (its conductor died, or was stopped) is run in
  recovery mode, as start-up recovery would: finished or reverted;
- a flow another process holds is left and the job abandoned, to be
  claimed again later.

While a job runs, a thread refreshes its claim (claims lapse after
``[jobboard] claim_expiry_s``), through long balloon waits too, and
claims it again if the board forgot the claim (Redis restarted without
its data; an etcd lease that lapsed while etcd was away).
"""

import contextlib
import logging as std_logging
import threading
import time

from oslo_log import log as logging
from taskflow.conductors.backends import impl_blocking
from taskflow import engines
from taskflow import exceptions as tf_exceptions
from taskflow import states

from xenballoon_driver import exception
from xenballoon_driver.flows import engine as engine_mod
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import registry
from xenballoon_driver.flows import resume
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.jobboard import posting

LOG = logging.getLogger(__name__)
# Refreshes per claim period: two may fail and the claim still holds.
REFRESHES = 3
# taskflow's loop logs a traceback at every look while the board's server
# is away (every poll_interval_s: ~5 a second with etcd refusing at once);
# one per this many seconds is enough, with a count of those left out.
REPEAT_LOG_S = 30.0


class Repeats(std_logging.Filter):
    """Lets one traceback of each message through per ``period_s``.

    Records without a traceback (a job's own lines) all pass.
    """

    def __init__(self, period_s, clock=time.monotonic):
        super().__init__()
        self.period_s, self.clock = period_s, clock
        self._last = {}  # message: (when let through, left out since)

    def filter(self, record):
        if not record.exc_info:
            return True
        now, key = self.clock(), record.msg
        when, left_out = self._last.get(key, (None, 0))
        if when is not None and now - when < self.period_s:
            self._last[key] = (when, left_out + 1)
            return False
        self._last[key] = (now, 0)
        if left_out:
            record.msg = '%s (%d more like it in the last %.0f s)' % (
                record.getMessage(), left_out, now - when)
            record.args = None
        return True


class Conductor(impl_blocking.BlockingConductor):
    def __init__(self, name, driver, board, wait_timeout):
        loop_log = std_logging.getLogger(__name__ + '.loop')
        if not loop_log.filters:
            loop_log.addFilter(Repeats(REPEAT_LOG_S))
        super().__init__(name, board, persistence=driver.persistence,
                         engine='serial', wait_timeout=wait_timeout,
                         log=loop_log)
        self.driver = driver
        # Set on a second stop request: the balloon wait gives up.
        self.cancel = threading.Event()
        self._detail = None
        self.ran = 0

    def _dispatch_job(self, job):
        flow_id = (job.details or {}).get('flow_uuid')
        if flow_id is None:
            LOG.error('Job %s names no flow: trashed', job.uuid)
            raise exception.XenBalloonException('job names no flow')
        try:
            with engine_mod.owning(self.driver.lock_dir, flow_id), \
                    self._claim_kept(job):
                detail = posting.stored(self.driver.persistence, flow_id)
                if detail is None or detail.state in listing.FINISHED:
                    LOG.info('Job %s: its flow %s has %s: consumed',
                             job.uuid, flow_id, 'gone' if detail is None
                             else 'ended ' + detail.state)
                    return True
                self._detail = detail
                self.ran += 1
                try:
                    return super()._dispatch_job(job)
                finally:
                    # As driver.spawn does: the headroom again.
                    self.driver.keep_headroom()
        except exception.FlowBusy:
            LOG.info('Job %s: its flow %s is run by another process: '
                     'left for later', job.uuid, flow_id)
            self._wait_timeout.wait()
            return False
        finally:
            self._detail = None

    def _engine_from_job(self, job):
        detail = self._detail
        record = detail.meta or {}
        try:
            if resume.left_to_conductors(detail):
                args = dict(record.get('args') or {})
                if record.get('factory') == spawn_flow.FLOW_NAME:
                    args['cancel'] = self.cancel
                flow = registry.build(self.driver, record.get('factory'),
                                      **args)
                LOG.info('Job %s: running flow %s as %s', job.uuid,
                         detail.uuid, 'new' if detail.state ==
                         states.PENDING else 'suspended, resumed')
            else:
                LOG.info('Job %s: its flow %s was interrupted (%s): '
                         'finishing or undoing it', job.uuid, detail.uuid,
                         detail.state)
                flow = registry.rebuild(self.driver, detail)
        except (KeyError, TypeError, exception.Unrebuildable) as err:
            resume._quarantine(self.driver.persistence, detail, str(err))
            raise
        return engines.load(flow, flow_detail=detail, book=job.book,
                            backend=self.driver.persistence,
                            engine='serial')

    @contextlib.contextmanager
    def _claim_kept(self, job):
        done = threading.Event()
        every = self._jobboard.claim_expiry_s / REFRESHES
        refresher = threading.Thread(
            target=self._refresh, args=(job, done, every),
            name='claim-%s' % job.uuid, daemon=True)
        refresher.start()
        try:
            yield
        finally:
            done.set()
            refresher.join()

    def _refresh(self, job, done, every):
        while not done.wait(every):
            try:
                if job.extend_expiry(self._jobboard.claim_expiry_s):
                    continue
                # The claim is gone (see the module's doc): take it again.
                LOG.warning('Job %s: its claim was lost; claiming it '
                            'again', job.uuid)
                self._jobboard.claim(job, self._name)
            except tf_exceptions.UnclaimableJob as err:
                LOG.error('Job %s: claimed by another conductor (%s); its '
                          'flow stays locked here until it ends', job.uuid,
                          err)
            except Exception as err:  # server away: try again next period
                LOG.warning('Job %s: cannot refresh its claim: %s',
                            job.uuid, err)
