"""Shortfalls: what dom0 is asked for beyond the estimate, and back.

When dom0 has reached its target and free memory is still short of what
a spawn needs (Xen keeps pages splitting IOMMU superpages as dom0 gives
them, a per-domain overhead the estimate missed), the balloon wait asks
dom0 for the rest, as xl's freemem does, but through the ledger: the MiB
go into the entry's from_dom0_mb, so dom0's target is derived as always,
persisted before it is applied, and a revert, a release or a destroy
gives them back with the rest.
"""

from xenballoon_driver.ledger import arithmetic as arith
from xenballoon_driver.ledger import debts


def top_up(state, res_id, want_mb, bound_mb, dom0_min_mb):
    """Ask dom0 for up to ``want_mb`` more for ``res_id``; MiB granted.

    A shortfall (free memory short with dom0 at its target): the MiB go
    into the entry's from_dom0_mb, so dom0's target is derived as always
    and a revert, a release or a destroy gives them back with the rest.
    Never more than ``bound_mb`` in all for one entry (``topup_mb`` keeps
    the sum), nor below dom0's floor.
    """
    entry = state['entries'].get(res_id)
    if entry is None or entry['state'] != arith.RESERVED:
        return 0
    # dom0's derived target with no floor (arithmetic.target: the
    # entries' and the headroom's shares), less the floor.
    above_floor = arith.target(state, 0) - dom0_min_mb
    grant = max(0, min(want_mb, bound_mb - entry.get('topup_mb', 0),
                       above_floor))
    if grant:
        entry['from_dom0_mb'] += grant
        entry['topup_mb'] = entry.get('topup_mb', 0) + grant
    return grant


def return_top_up(state, res_id, snap, dom0_min_mb):
    """Give dom0 back the part of a top-up free memory shows unneeded.

    A top-up asked for a dip that passed is free memory once the guest
    is built: what is free and promised to nobody, up to the top-up,
    leaves the entry (dom0's derived target rises by it, owed until
    applied). A persistent shortfall left nothing free: it stays with the
    guest and goes back to dom0 when the guest goes. Returns the MiB.
    """
    entry = state['entries'].get(res_id)
    if entry is None or not entry.get('topup_mb'):
        return 0
    spare = snap.host.usable_mb - arith.promised(state, snap.domains)
    give = max(0, min(entry['topup_mb'], spare))
    if give:
        before = arith.derived(state, dom0_min_mb)
        entry['from_dom0_mb'] -= give
        entry['topup_mb'] -= give
        arith.owe_if_raised(state, before, dom0_min_mb,
                            'the unneeded top-up of %s' % entry['name'])
    return give


class ShortfallOps:
    """The Ledger's shortfall operations (see operations.Ledger)."""

    def top_up(self, res_id, want_mb, bound_mb):
        """Ask dom0 for ``want_mb`` more for a reservation (top_up).

        Persisted with the entry before the caller applies the target.
        Returns the MiB granted (0: none left to give).
        """
        with self.storage.locked() as state:
            return top_up(state, res_id, want_mb, bound_mb,
                          self.dom0_min_mb)

    def return_top_up(self, backend, res_id):
        """After the build: give dom0 back a top-up that was not needed.

        One look under the lock (return_top_up), only for an entry that
        was topped up; then dom0's target is applied. Returns the MiB.
        """
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is None or not entry.get('topup_mb'):
                return 0
            given = return_top_up(state, res_id, backend.snapshot(),
                                  self.dom0_min_mb)
            if given:
                debts.apply(state, backend, self.dom0_min_mb)
            return given
