"""The audit of the ledger against the stored flows and the host.

Reservations no live flow owns, ledger entries whose domain is gone, and
domains the ledger does not know are reported, and cleaned on request. A
stopped guest's entry with no domain is normal: it is never released.
What it knows of the flows is passed in by recovery (flows/ is a layer
above).
"""

import dataclasses

from oslo_log import log as logging

from xenballoon_driver.ledger import arithmetic
from xenballoon_driver.ledger import debts

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Orphan:
    kind: str
    name: str
    detail: str
    action: str


def _cleaned(clean, done, clean_up, *args):
    """The action taken: ``done`` if asked to clean and clean_up did."""
    return done if clean and clean_up(*args) else 'none'


def _flow_of(res_id, entry):
    # A stopped guest's start or stop is its own flow's.
    return entry.get('starting') or entry.get('stopping') or res_id


def reconcile(ledger, backend, flow_states, flow_busy, clean=False):
    """Compare the ledger with the stored flows and the host.

    ``flow_states(flow_ids)`` reads those stored flows as they are when
    called: {flow id: its state once finished or quarantined, None while
    it is unfinished; absent if not stored}. ``flow_busy(flow_id)``: a
    live process holds the flow.

    Race-free against spawns and destroys running meanwhile: the ledger's
    entries and the host's domains are read together under the ledger's
    lock (Ledger.census); names with a spawn or destroy in flight are left
    to it; a flow's state is read only after its entry (a flow's lock is
    held from before its logbook exists), and an entry is called stale
    only if it is still the same once its flow is seen finished and free.
    Every clean-up checks again under the ledger's lock.
    """
    entries, owed, on_host = ledger.census(backend)
    in_flight = {e['name'] for e in entries.values()
                 if e['state'] != arithmetic.DOMAIN}
    # Read after the entries: a flow that wrote one is in the store.
    states_by_id = flow_states(sorted({_flow_of(res_id, entry)
                                       for res_id, entry in entries.items()}))
    orphans = []
    for res_id, entry in entries.items():
        name = entry['name']
        if entry['state'] == arithmetic.STOPPED and 'stopping' not in entry:
            continue  # a stopped guest has no domain: nothing is amiss
        if entry['state'] == arithmetic.DOMAIN:
            if name in on_host or name in in_flight:
                continue
            orphans.append(Orphan(
                'vanished-domain', name,
                'ledger holds %d MiB for a domain that is gone'
                % entry['need_mb'], _cleaned(
                    clean, 'forgotten', ledger.forget_vanished, backend,
                    name)))
            continue
        flow_id = _flow_of(res_id, entry)
        if flow_id in states_by_id and states_by_id[flow_id] is None:
            continue  # unfinished: resume_unfinished's, or running
        state = states_by_id.get(flow_id)
        if flow_busy(flow_id) or ledger.entry(res_id) != entry:
            continue  # its flow is alive, or moved on since the census
        orphans.append(Orphan(
            'stale-reservation', name,
            '%d MiB reserved by flow %s (%s)' % (
                entry['need_mb'], flow_id, state or 'not in the store'),
            _cleaned(clean, 'released', ledger.release_stale, res_id,
                     entry)))
    known = {e['name'] for e in entries.values()} | owed
    for name in sorted(on_host - known):
        orphans.append(Orphan(
            'unknown-domain', name, 'on the host, not in the ledger',
            _cleaned(clean, 'destroyed', ledger.destroy_unknown, backend,
                     name)))
    if clean and orphans:
        ledger.apply_target(backend)
    for orphan in orphans:
        LOG.warning('Out of step: %s %s: %s (action: %s)', orphan.kind,
                    orphan.name, orphan.detail, orphan.action)
    return orphans


def pay_debts(ledger, backend):
    """Pay what the ledger says the host is owed; one row for each debt.

    dom0's give-backs that failed, and partial domains a revert could not
    destroy (see debts.py). Rows are Orphans: kind is the debt's, action
    'paid' (or 'destroyed') or 'owed', detail says how much and why.
    """
    rows = []
    dom0_debt, to_destroy = ledger.debts()
    if not (dom0_debt or to_destroy):
        return rows  # the common case: no lock, no look at the host
    for debt in ledger.settle(backend):
        if debt.kind == debts.DOM0_DEBT:
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
