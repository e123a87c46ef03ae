"""What the host is owed, kept in the ledger's document to survive a kill.

- ``dom0_debt``: a change raised the derived target (a destroy, a revert,
  a released reservation) and dom0 has not been given it yet. Opened in
  the same write as the change (arithmetic.owe_if_raised), so a crash
  before ``xl mem-set`` cannot lose it; closed when a target is applied.
  While it is open the baseline is never re-read from dom0's (shrunken)
  target, and the memory owed is not counted as free.
- ``to_destroy``: domains a revert failed to destroy, by name, with why.
  Recovery retries them; reconcile knows them.

Functions of a document the caller holds under the ledger's lock.
"""

import dataclasses

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.ledger import arithmetic

LOG = logging.getLogger(__name__)

DOM0_DEBT = 'dom0-debt'
DESTROY_DEBT = 'undestroyed-domain'
DOM0_NAME = 'Domain-0'


@dataclasses.dataclass(frozen=True)
class Debt:
    """One thing the host was owed, and whether settle() paid it."""

    kind: str       # DOM0_DEBT or DESTROY_DEBT
    name: str
    owed_mb: int    # dom0's shortfall, or what the domain still holds
    reason: str
    paid: bool
    error: str = ''


def one_line(err):
    """An error as one line: its message's first, or its type's name."""
    lines = str(err).strip().splitlines()
    line = lines[0] if lines else type(err).__name__
    # A tool's garbage must not garble the operator's terminal.
    return ''.join(c if c.isprintable() else '?' for c in line)


def apply(state, backend, dom0_min_mb):
    """Give dom0 the derived target; returns (target, found before).

    A give-back that fails (error, timeout, a target that does not
    read back) leaves the debt open with its error, logged in one
    line, and is not raised: the memory is owed, not lost, and the
    caller's own work is done. A failed cut is raised as before.
    """
    target = arithmetic.derived(state, dom0_min_mb)
    if target is None:
        return None, None
    found = backend.dom0_memory().target_mb
    if found == target:
        _paid(state, target)
        return target, found
    try:
        backend.set_dom0_target(target)
        if target > found:
            # Cheap next to losing the memory: a mem-set that exited 0
            # without setting anything is caught here.
            now = backend.dom0_memory().target_mb
            if now != target:
                raise exception.ToolstackError(
                    call='mem-set 0 %dm' % target,
                    reason='dom0 target reads %r MiB afterwards' % (now,))
    except Exception as err:
        if target < found:
            raise
        debt = state['dom0_debt'] or {'reason': 'dom0 target raised'}
        state['dom0_debt'] = dict(debt, error=one_line(err))
        # One line per debt: a revert's next step, or the start-up
        # recovery of every command, finding it still failing is
        # reported by that command's own line (or by -v).
        LOG.log(logging.INFO if debt.get('error') else logging.WARNING,
                'Giving dom0 back %d MiB (target %d MiB, now %d MiB) '
                'failed: %s; the ledger keeps it owed, and the next '
                'command or "xenballoon recover" pays it',
                target - found, target, found, one_line(err))
        LOG.debug('The give-back failed', exc_info=True)
    else:
        _paid(state, target)
    return target, found


def _paid(state, target):
    if state['dom0_debt']:
        LOG.info('dom0 got back what it was owed (%s): target %d MiB',
                 state['dom0_debt']['reason'], target)
        state['dom0_debt'] = None


def settle(state, backend, dom0_min_mb):
    """Retry owed destroys, then pay dom0's debt; a Debt for each."""
    results = []
    if not (state['dom0_debt'] or state['to_destroy']):
        return results
    snap = backend.snapshot()
    arithmetic.sync_baseline(state, snap.dom0)
    for name, why in sorted(state['to_destroy'].items()):
        results.append(_retry_destroy(state, backend, name, why,
                                      snap.domains.get(name, 0)))
    debt = state['dom0_debt']
    if debt:
        owed = max(0, arithmetic.derived(state, dom0_min_mb) -
                   snap.dom0.target_mb)
        try:
            apply(state, backend, dom0_min_mb)
        except exception.XenBalloonException as err:
            # A cut for a spawn under way failed: its own flow reports
            # that; the debt stays.
            state['dom0_debt'] = dict(debt, error=one_line(err))
        now = state['dom0_debt']
        results.append(Debt(
            kind=DOM0_DEBT, name=DOM0_NAME, owed_mb=owed,
            reason=debt['reason'], paid=now is None,
            error=now['error'] if now else ''))
    return results


def _retry_destroy(state, backend, name, why, held_mb):
    try:
        backend.destroy_domain(name)
    except exception.DomainNotFound:
        pass  # gone already: nothing is owed
    except Exception as err:
        state['to_destroy'][name] = why
        return Debt(kind=DESTROY_DEBT, name=name, owed_mb=held_mb,
                    reason=why, paid=False, error=one_line(err))
    del state['to_destroy'][name]
    return Debt(kind=DESTROY_DEBT, name=name, owed_mb=held_mb,
                reason=why, paid=True)
