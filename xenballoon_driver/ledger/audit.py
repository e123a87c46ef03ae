"""What reconcile (reconcile.py) reads of the ledger and cleans in it.

A part of Ledger (operations.py): every method works under the ledger's
lock, and checks again what it read before acting.
"""

import copy

from xenballoon_driver import exception
from xenballoon_driver.ledger import arithmetic as arith

DOMAIN, STOPPED = arith.DOMAIN, arith.STOPPED


class AuditOps:
    """Census and clean-ups; needs ``storage`` and ``dom0_min_mb``."""

    def census(self, backend):
        """The entries, owed destroys and the host's domains, read together.

        Under the ledger's lock: every spawn and destroy changes its entry
        under it (reserve before create, commit after it, forget after the
        destroy), so a name is never seen half-way between the two.
        Returns (entries by id, set of names owed a destroy, set of names
        on the host).
        """
        with self.storage.locked() as state:
            on_host = {d.name for d in backend.list_domains()}
            return (copy.deepcopy(state['entries']),
                    set(state['to_destroy']), on_host)

    def release_stale(self, res_id, seen):
        """Release ``res_id`` if it is still exactly ``seen``; True if so.

        A stopped guest's start whose flow is gone goes back to STOPPED,
        and a power-off's mark is dropped: that memory is the guest's,
        never released here.
        """
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry != seen:
                return False  # its flow moved on since: not stale
            if 'starting' in entry:
                entry['state'] = STOPPED
                del entry['starting']
            elif 'stopping' in entry:
                del entry['stopping']  # stays STOPPED: no flow holds it
            else:
                arith.release(state, res_id, self.dom0_min_mb)
            return True

    def forget_vanished(self, backend, name):
        """Forget a DOMAIN entry whose domain is gone; True if forgotten.

        Checked again under the lock: a destroy or spawn of that name that
        started since the census leaves it alone.
        """
        with self.storage.locked() as state:
            mine = [e['state'] for e in state['entries'].values()
                    if e['name'] == name]
            if mine != [DOMAIN] or name in {
                    d.name for d in backend.list_domains()}:
                return False
            arith.forget(state, name, True, self.dom0_min_mb)
            return True

    def destroy_unknown(self, backend, name):
        """Destroy a domain the ledger does not know; True if destroyed.

        Under the lock, checked again: a name the ledger has come to know
        since the census (a spawn's) is never touched.
        """
        with self.storage.locked() as state:
            if name in state['to_destroy'] or any(
                    e['name'] == name for e in state['entries'].values()):
                return False
            try:
                backend.destroy_domain(name)
            except exception.DomainNotFound:
                return False
            return True
