"""Resuming this host's unfinished flows, or quarantining or discarding them.

Every unfinished flow found in the store, and not held by a live process,
is run again from where it stopped, its tasks in recovery mode. The
process that asked for a spawn is gone, so nobody waits for it any more:

- died before its build started (in ReserveMemory, BalloonDom0 or
  WaitForBalloon, or just before BuildDomain): reverted. The reservation
  is found again by the flow's id, dom0 is re-inflated, and recovery
  never blocks on a balloon wait;
- died in BuildDomain: a domain whose build had finished (running) is
  adopted and the flow completes; one left half-built is destroyed and
  the flow reverted;
- a job's flow (posted on a jobboard) that no task has started, or that
  a stopping conductor suspended between two tasks, is left to its
  host's conductors, which claim it from the board;
- died while reverting: the revert goes on (reverts are idempotent);
- destroy flows are run again to the end (a domain already gone is fine);
- power-off flows (stop, suspend) are finished: the domain destroyed at
  once, a suspend saved again if its domain is still there;
- power-on flows (start, resume) are undone to STOPPED unless their
  domain runs, which is adopted (flows/power_on.py).
"""

import contextlib
import dataclasses

from oslo_log import log as logging
from taskflow import engines
from taskflow import exceptions as tf_exceptions
from taskflow import states

from xenballoon_driver import exception
from xenballoon_driver.flows import engine as engine_mod
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import registry

LOG = logging.getLogger(__name__)

QUARANTINED = listing.QUARANTINED
# The mark of a flow posted as a job (jobboard/posting.py).
JOB = 'job'


@dataclasses.dataclass
class Recovered:
    request: str
    flow_id: str
    was: str
    outcome: str
    error: str = ''


def _reread(persistence, flow_id):
    """The flow's record as stored now (None if it is gone)."""
    with contextlib.closing(persistence.get_connection()) as conn:
        try:
            return conn.get_flow_details(flow_id)
        except tf_exceptions.NotFound:
            return None


def _never_started(detail):
    """True when no task of the flow has done anything yet."""
    return all(atom.state in (None, states.PENDING) for atom in detail
               if atom.name != registry.INJECTOR)


def left_to_conductors(detail):
    """True for a job's flow a conductor runs on: not started, suspended.

    A suspended flow stopped cleanly between two tasks, its reservation
    held: its job, back on the board, goes on with it.
    """
    if not (detail.meta or {}).get(JOB):
        return False
    return detail.state == states.SUSPENDED or _never_started(detail)


def _quarantine(persistence, detail, reason):
    detail.meta = dict(detail.meta or {}, **{QUARANTINED: reason})
    with contextlib.closing(persistence.get_connection()) as conn:
        conn.update_flow_details(detail)


def _discard(persistence, detail, why='no task had run; nothing to undo'):
    """A flow with nothing left to undo is closed as REVERTED."""
    detail.state = states.REVERTED
    detail.meta = dict(detail.meta or {}, discarded=why)
    with contextlib.closing(persistence.get_connection()) as conn:
        conn.update_flow_details(detail)


def _resume(driver, book, detail):
    """Resume one flow whose lock we hold and whose record we re-read."""
    was = listing.state(detail)
    if _never_started(detail):
        _discard(driver.persistence, detail)
        return Recovered(book.name, detail.uuid, was, 'discarded',
                         'no task had started')
    try:
        flow = registry.rebuild(driver, detail)
    except exception.Unrebuildable as err:
        _quarantine(driver.persistence, detail, err.reason)
        return Recovered(book.name, detail.uuid, was, QUARANTINED.lower(),
                         str(err))
    try:
        engine = engines.load(flow, flow_detail=detail, book=book,
                              backend=driver.persistence, engine='serial')
        engine_mod.run_engine(engine, flow)
        return Recovered(book.name, detail.uuid, was, 'completed')
    except exception.XenBalloonException as err:
        return Recovered(book.name, detail.uuid, was, 'reverted', str(err))


def discard_quarantined(driver, flow_id):
    """Close a quarantined flow of this host, on the operator's word.

    For a record recovery cannot rebuild, once the operator has checked
    the host: the flow is closed as REVERTED, so what its reservation
    still holds becomes a stale reservation that reconcile reports (and
    releases with orphan_action = clean).
    """
    with engine_mod.owning(driver.lock_dir, flow_id):
        detail = _reread(driver.persistence, flow_id)
        if detail is None or registry.owner(detail) not in (driver.host,
                                                            None):
            raise exception.InvalidInput(
                what='flow id', reason='%s: no flow of host %s has it' % (
                    flow_id, driver.host))
        if (registry.owner(detail) is None or
                listing.state(detail) == QUARANTINED):
            _discard(driver.persistence, detail, 'by the operator')
            return
        raise exception.InvalidInput(
            what='flow id', reason='%s is %s, not quarantined: only a '
            'quarantined flow can be discarded' % (
                flow_id, listing.state(detail)))


def resume_unfinished(driver):
    """Run this host's unfinished flows to completion or revert.

    Each flow is acted on only while recovery holds its lock, and only on
    its record as re-read under that lock: a flow that finished after the
    listing, or that a live process holds, is left alone. Flows of other
    hosts sharing the store are never touched; neither are quarantined
    ones (they are reported again each time).
    """
    results = []
    for book, listed in list(listing.details(driver.persistence,
                                             driver.host, unfinished=True)):
        if listed.state in listing.FINISHED:
            continue
        if (registry.owner(listed) is None or
                listing.state(listed) == QUARANTINED):
            reason = (listed.meta or {}).get(
                QUARANTINED, 'it records no owning host (an older '
                'release made it); left alone')
            results.append(Recovered(book.name, listed.uuid,
                                     listing.state(listed),
                                     QUARANTINED.lower(), reason))
            continue
        try:
            with engine_mod.owning(driver.lock_dir, listed.uuid):
                detail = _reread(driver.persistence, listed.uuid)
                if detail is None or detail.state in listing.FINISHED:
                    continue  # finished (or pruned) since the listing
                if left_to_conductors(detail):
                    continue  # a job still on its board: a conductor's
                result = _resume(driver, book, detail)
        except exception.FlowBusy:
            continue  # alive in another process: not ours to touch
        LOG.info('Recovered %s (%s, was %s): %s %s', result.request,
                 result.flow_id, result.was, result.outcome, result.error)
        results.append(result)
    return results
