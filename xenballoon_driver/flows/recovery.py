"""Start-up recovery: finish what had finished, undo the rest.

In order: resume or revert this host's unfinished flows (resume.py); pay
what the ledger says the host is owed (a give-back to dom0 that failed, a
partial domain a revert could not destroy); check the ledger against the
flows and the host (ledger/reconcile.py), cleaning when [persistence]
orphan_action = clean; drop old finished flows (prune.py).
"""

import contextlib

from taskflow import exceptions as tf_exceptions

from xenballoon_driver import exception
from xenballoon_driver.flows import engine as engine_mod
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import prune as prune_mod
from xenballoon_driver.flows import resume
from xenballoon_driver.ledger import reconcile as reconcile_mod


def _busy(driver, flow_id):
    try:
        with engine_mod.owning(driver.lock_dir, flow_id):
            return False
    except exception.FlowBusy:
        return True


def _flow_states(persistence, flow_ids):
    """{flow id: state once finished or quarantined, None while not}.

    Only the flows asked for (those the ledger names), each read alone:
    not every logbook of every host sharing the store.
    """
    settled = listing.FINISHED + (listing.QUARANTINED,)
    found = {}
    with contextlib.closing(persistence.get_connection()) as conn:
        for flow_id in flow_ids:
            try:
                detail = conn.get_flow_details(flow_id, lazy=True)
            except tf_exceptions.NotFound:
                continue  # not in the store (pruned, or never saved)
            state = listing.state(detail)
            found[flow_id] = state if state in settled else None
    return found


def reconcile(driver, clean=False):
    """The ledger against this driver's stored flows and host."""
    return reconcile_mod.reconcile(
        driver.ledger, driver.backend,
        lambda flow_ids: _flow_states(driver.persistence, flow_ids),
        lambda flow_id: _busy(driver, flow_id), clean=clean)


def recover(driver):
    """What init_host and ``xenballoon recover`` run."""
    opts = driver.conf.persistence
    recovered = resume.resume_unfinished(driver)
    # After the flows (their reverts may owe more), before reconcile (a
    # domain destroyed here is no orphan).
    debts = reconcile_mod.pay_debts(driver.ledger, driver.backend)
    orphans = reconcile(driver, clean=opts.orphan_action == 'clean')
    prune_mod.prune(driver.persistence, opts.retention_hours, driver.host)
    return recovered, debts + orphans
