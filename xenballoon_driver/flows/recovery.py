"""Start-up recovery: finish what had finished, undo the rest.

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
- died while reverting: the revert goes on (reverts are idempotent);
- destroy flows are run again to the end (a domain already gone is fine).

Then the ledger is checked against the flows and the host: reservations
no live flow owns, ledger entries whose domain is gone, and domains the
ledger does not know are reported, and cleaned when
[persistence] orphan_action = clean. Before that, what the ledger says
the host is owed (a give-back to dom0 that failed, a partial domain a
revert could not destroy) is paid, and reported paid or still owed.
"""

import contextlib
import dataclasses
import datetime
import logging

from taskflow import engines
from taskflow import exceptions as tf_exceptions
from taskflow import states

from xenballoon_driver.balloon import ledger as ledger_mod
from xenballoon_driver import exception
from xenballoon_driver.flows import engine as engine_mod
from xenballoon_driver.flows import registry
from xenballoon_driver.tasks import common as tasks_common

LOG = logging.getLogger(__name__)

FINISHED = (states.SUCCESS, states.REVERTED)
# A flow that cannot be rebuilt from its record: reported, never run.
QUARANTINED = 'QUARANTINED'


@dataclasses.dataclass
class FlowRow:
    request: str
    flow_id: str
    kind: str
    state: str
    age_s: float
    progress: float
    host: str = ''


@dataclasses.dataclass
class Recovered:
    request: str
    flow_id: str
    was: str
    outcome: str
    error: str = ''


def _age(book, now):
    created = book.created_at
    if created is None:
        return 0.0
    if created.tzinfo is None:
        created = created.replace(tzinfo=datetime.timezone.utc)
    return (now - created).total_seconds()


def _details(persistence, host=None):
    """(book, detail) of every stored flow; only ``host``'s if given."""
    with contextlib.closing(persistence.get_connection()) as conn:
        for book in conn.get_logbooks():
            for detail in book:
                if host is None or registry.owner(detail) in (host, None):
                    yield book, detail


def _state(detail):
    if (detail.meta or {}).get(QUARANTINED):
        return QUARANTINED
    return detail.state or states.PENDING


def list_flows(persistence, host=None):
    """The stored flows of ``host`` (None: every host's), newest first."""
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for book, detail in _details(persistence, host):
        atoms = [atom for atom in detail if atom.name != registry.INJECTOR]
        done = sum(1 for atom in atoms if atom.state in (
            states.SUCCESS, states.REVERTED))
        rows.append(FlowRow(
            request=book.name, flow_id=detail.uuid, kind=detail.name,
            state=_state(detail), age_s=_age(book, now),
            progress=(done / len(atoms)) if atoms else 0.0,
            host=registry.owner(detail) or ''))
    return sorted(rows, key=lambda r: r.age_s)


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


def _quarantine(persistence, detail, reason):
    detail.meta = dict(detail.meta or {}, **{QUARANTINED: reason})
    with contextlib.closing(persistence.get_connection()) as conn:
        conn.update_flow_details(detail)


def _discard(persistence, detail):
    """A flow that never ran a task: nothing to undo, so it is REVERTED."""
    detail.state = states.REVERTED
    detail.meta = dict(detail.meta or {},
                       discarded='no task had run; nothing to undo')
    with contextlib.closing(persistence.get_connection()) as conn:
        conn.update_flow_details(detail)


def _resume(driver, book, detail):
    """Resume one flow whose lock we hold and whose record we re-read."""
    was = _state(detail)
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


def resume_unfinished(driver):
    """Run this host's unfinished flows to completion or revert.

    Each flow is acted on only while recovery holds its lock, and only on
    its record as re-read under that lock: a flow that finished after the
    listing, or that a live process holds, is left alone. Flows of other
    hosts sharing the store are never touched; neither are quarantined
    ones (they are reported again each time).
    """
    results = []
    for book, listed in list(_details(driver.persistence, driver.host)):
        if listed.state in FINISHED:
            continue
        if registry.owner(listed) is None or _state(listed) == QUARANTINED:
            reason = (listed.meta or {}).get(
                QUARANTINED, 'it records no owning host (an older '
                'release made it); left alone')
            results.append(Recovered(book.name, listed.uuid, _state(listed),
                                     QUARANTINED.lower(), reason))
            continue
        try:
            with engine_mod.owning(driver.lock_dir, listed.uuid):
                detail = _reread(driver.persistence, listed.uuid)
                if detail is None or detail.state in FINISHED:
                    continue  # finished (or pruned) since the listing
                result = _resume(driver, book, detail)
        except exception.FlowBusy:
            continue  # alive in another process: not ours to touch
        LOG.info('Recovered %s (%s, was %s): %s %s', result.request,
                 result.flow_id, result.was, result.outcome, result.error)
        results.append(result)
    return results


@dataclasses.dataclass
class Orphan:
    kind: str
    name: str
    detail: str
    action: str


def reconcile(driver, clean=False):
    """Compare the ledger with the stored flows and the host.

    Race-free against spawns and destroys running meanwhile: the ledger's
    entries and the host's domains are read together under the ledger's
    lock (Ledger.census); names with a spawn or destroy in flight are left
    to it; a flow's state is read only after its entry (a flow's lock is
    held from before its logbook exists), and an entry is called stale
    only if it is still the same once its flow is seen finished and free.
    Every clean-up checks again under the ledger's lock.
    """
    persistence, ledger, backend = (driver.persistence, driver.ledger,
                                    driver.backend)
    entries, owed, on_host = ledger.census(backend)
    in_flight = {e['name'] for e in entries.values()
                 if e['state'] != ledger_mod.DOMAIN}
    # Read after the entries: a flow that wrote one is in the store.
    states_by_id = {detail.uuid: _state(detail)
                    for _, detail in _details(persistence)}
    orphans = []
    for res_id, entry in entries.items():
        name = entry['name']
        if entry['state'] == ledger_mod.DOMAIN:
            if name in on_host or name in in_flight:
                continue
            action = 'none'
            if clean:
                action = ('forgotten' if ledger.forget_vanished(backend, name)
                          else 'none')
            orphans.append(Orphan(
                'vanished-domain', name,
                'ledger holds %d MiB for a domain that is gone'
                % entry['need_mb'], action))
            continue
        state = states_by_id.get(res_id)
        if state not in FINISHED + (QUARANTINED,) and state is not None:
            continue  # unfinished: resume_unfinished's, or running
        if _busy(driver, res_id) or ledger.entry(res_id) != entry:
            continue  # its flow is alive, or moved on since the census
        action = 'none'
        if clean:
            action = ('released' if ledger.release_stale(res_id, entry)
                      else 'none')
        orphans.append(Orphan(
            'stale-reservation', name,
            '%d MiB reserved by flow %s (%s)' % (
                entry['need_mb'], res_id, state or 'not in the store'),
            action))
    known = {e['name'] for e in entries.values()} | owed
    for name in sorted(on_host - known):
        action = 'none'
        if clean:
            action = ('destroyed' if ledger.destroy_unknown(backend, name)
                      else 'none')
        orphans.append(Orphan(
            'unknown-domain', name, 'on the host, not in the ledger',
            action))
    if clean and orphans:
        tasks_common.apply_ledger_target(backend, ledger)
    for orphan in orphans:
        LOG.warning('Out of step: %s %s: %s (action: %s)', orphan.kind,
                    orphan.name, orphan.detail, orphan.action)
    return orphans


def pay_debts(driver):
    """Pay what the ledger says the host is owed; one row for each debt.

    dom0's give-backs that failed, and partial domains a revert could not
    destroy (see balloon/ledger.py). Rows are Orphans: kind is the debt's,
    action 'paid' (or 'destroyed') or 'owed', detail says how much and why.
    """
    rows = []
    dom0_debt, to_destroy = driver.ledger.debts()
    if not (dom0_debt or to_destroy):
        return rows  # the common case: no lock, no look at the host
    for debt in driver.ledger.settle(driver.backend):
        if debt.kind == ledger_mod.DOM0_DEBT:
            detail = 'dom0 owed %d MiB after %s' % (debt.owed_mb,
                                                    debt.reason)
            action = 'paid' if debt.paid else 'owed'
        else:
            detail = '%s (it holds %d MiB)' % (debt.reason, debt.owed_mb)
            action = 'destroyed' if debt.paid else 'owed'
        if not debt.paid:
            detail += '; still failing: %s' % debt.error
        row = Orphan(debt.kind, debt.name, detail, action)
        level = logging.INFO if debt.paid else logging.WARNING
        LOG.log(level, 'Debt %s %s: %s (action: %s)', row.kind, row.name,
                row.detail, row.action)
        rows.append(row)
    return rows


def _busy(driver, flow_id):
    try:
        with engine_mod.owning(driver.lock_dir, flow_id):
            return False
    except exception.FlowBusy:
        return True


def prune(persistence, retention_hours, host=None):
    """Drop finished flows older than the retention; return how many.

    With ``host``, only that host's (and ownerless old) flows.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    dropped = 0
    with contextlib.closing(persistence.get_connection()) as conn:
        for book in list(conn.get_logbooks()):
            details = list(book)
            if not details or not all(d.state in FINISHED for d in details):
                continue
            if host is not None and any(
                    registry.owner(d) not in (host, None) for d in details):
                continue
            if _age(book, now) > retention_hours * 3600:
                conn.destroy_logbook(book.uuid)
                dropped += 1
    return dropped


def recover(driver):
    """What init_host and ``xenballoon recover`` run."""
    opts = driver.conf.persistence
    recovered = resume_unfinished(driver)
    # After the flows (their reverts may owe more), before reconcile (a
    # domain destroyed here is no orphan).
    debts = pay_debts(driver)
    orphans = reconcile(driver, clean=opts.orphan_action == 'clean')
    prune(driver.persistence, opts.retention_hours, driver.host)
    return recovered, debts + orphans
