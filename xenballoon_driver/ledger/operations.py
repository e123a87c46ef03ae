"""The host-wide reservation ledger: every change to it, under its lock.

Every spawn reserves its memory here before dom0 is touched. A reservation
records how much it takes from free memory and how much from dom0's
balloon; dom0's target is derived from the entries (see arithmetic.py).
A built domain keeps its entry (state "domain") until it is destroyed.
What the host is owed is kept here too (see debts.py).
"""

import copy
import uuid

from xenballoon_driver import exception
from xenballoon_driver.ledger import arithmetic as arith
from xenballoon_driver.ledger import audit
from xenballoon_driver.ledger import debts
from xenballoon_driver.ledger import dispatch
from xenballoon_driver.ledger import headroom
from xenballoon_driver.ledger import power
from xenballoon_driver.ledger import shortfall

RESERVED, BUILDING = arith.RESERVED, arith.BUILDING
DOMAIN, DESTROYING = arith.DOMAIN, arith.DESTROYING
STOPPED = arith.STOPPED


class Ledger(power.PowerOps, audit.AuditOps, shortfall.ShortfallOps,
             headroom.HeadroomOps):
    def __init__(self, storage, dom0_min_mb, policy=None):
        """``policy``: a dispatch.Policy (None: [xenballoon]'s defaults)."""
        self.storage = storage
        self.dom0_min_mb = dom0_min_mb
        self.policy = policy or dispatch.Policy()

    def _target(self, state):
        return arith.target(state, self.dom0_min_mb)

    def figures(self, backend):
        with self.storage.locked() as state:
            snap = backend.snapshot()
            arith.sync_baseline(state, snap.dom0)
            return arith.figures(state, snap, self.dom0_min_mb)

    def placement_view(self, backend, max_vcpus):
        """(figures, guests' own memory in MiB), read under one lock.

        See arithmetic.guest_memory_mb and resources.memory_inventory.
        """
        with self.storage.locked() as state:
            snap = backend.snapshot()
            arith.sync_baseline(state, snap.dom0)
            return (arith.figures(state, snap, self.dom0_min_mb),
                    arith.guest_memory_mb(state, max_vcpus))

    def reserve(self, backend, name, need_mb, res_id=None, memory_mb=None,
                spec=None):
        """Reserve ``need_mb`` for ``name`` or raise NotEnoughMemory.

        ``memory_mb``, the guest's own memory, is kept with the entry for
        placement's figures (``placement_view``); ``spec`` for power_on.

        With ``res_id`` (the request's flow id) a second call returns the
        reservation already made: a resumed flow may run this twice.
        """
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None:
                return arith.Reservation(
                    id=res_id, name=entry['name'], need_mb=entry['need_mb'],
                    from_free_mb=entry['from_free_mb'],
                    from_dom0_mb=entry['from_dom0_mb'],
                    dom0_target_mb=self._target(state))
            if any(e['name'] == name for e in state['entries'].values()):
                raise exception.DomainExists(name=name)
            snap = backend.snapshot()
            if name in snap.domains:
                # Not ours: refused before anything, so no revert touches it.
                raise exception.DomainExists(name=name)
            # A domain we owed a destroy is gone: nothing left to retry,
            # and a retry must never hit the new domain of that name.
            state['to_destroy'].pop(name, None)
            arith.sync_baseline(state, snap.dom0)
            fig = arith.figures(state, snap, self.dom0_min_mb)
            if need_mb > fig.available_mb:
                raise exception.NotEnoughMemory(
                    name=name, need_mb=need_mb,
                    available_mb=fig.available_mb, free_mb=fig.free_mb,
                    balloonable_mb=fig.balloonable_mb,
                    dom0_min_mb=self.dom0_min_mb,
                    reserved_mb=fig.reserved_mb)
            unpromised = fig.available_mb - fig.balloonable_mb
            from_free = max(0, min(need_mb, unpromised))
            res_id = res_id or uuid.uuid4().hex
            arith.add_entry(state, res_id, name, RESERVED, need_mb, from_free,
                            memory_mb, spec)
            clock = getattr(backend, 'clock', None)
            dispatch.place(state, res_id, snap, self.policy,
                           clock.now() if clock else None)
            mine = state['entries'][res_id]
            return arith.Reservation(
                id=res_id, name=name, need_mb=need_mb,
                from_free_mb=from_free, from_dom0_mb=need_mb - from_free,
                dom0_target_mb=self._target(state),
                free_mb=snap.host.usable_mb - arith.promised(
                    state, snap.domains,
                    lambda other: dispatch.is_ahead(other, mine)),
                dom0_mb=snap.dom0.current_mb)

    def target(self):
        """dom0's derived target (None: nothing live; a headroom is live)."""
        with self.storage.snapshot() as state:
            if not (state['entries'] or state['headroom_from_dom0_mb']):
                return None
            return self._target(state)

    def apply_target(self, backend):
        """Set dom0's target to what the ledger derives, if it differs.

        Called after every ledger change, so dom0's target is never a
        number remembered by one flow (which would take back memory
        promised to another). Under the ledger's lock, so that two spawns
        cannot apply their readings in the wrong order. Returns (the
        target, dom0's target found before); (None, None) when the ledger
        has never seen the host. A give-back that fails is not raised: it
        stays owed (see debts.apply). This pays any debt open.
        """
        with self.storage.locked() as state:
            return debts.apply(state, backend, self.dom0_min_mb)

    def nudge_target(self, backend):
        """Set dom0's target 1 MiB off the ledger's; the target set.

        Wakes a balloon driver that gave up (Linux sleeps until the
        target changes; the same one again does not wake it). 1 MiB
        lower, or higher at the floor, never below it. The caller puts
        the ledger's back with apply_target; after a crash the revert
        run by recovery does. None when the ledger never saw the host.
        """
        with self.storage.locked() as state:
            target = arith.derived(state, self.dom0_min_mb)
            if target is None:
                return None
            nudged = target - 1 if target > self.dom0_min_mb else target + 1
            backend.set_dom0_target(nudged)
            return nudged

    def baseline(self):
        with self.storage.snapshot() as state:
            return state['baseline_mb']

    def return_dom0(self, res_id):
        """Take back what a reservation asked of dom0 (idempotent).

        The entry shrinks to the part that was free when it was made:
        the part dom0 gave goes back to dom0 alone, never promised to
        both while the reservation's own revert is still to come.
        """
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            # Never a stopped guest's: its memory stays promised to it.
            if entry is not None and entry['state'] in (
                    RESERVED, BUILDING) and 'starting' not in entry:
                before = arith.derived(state, self.dom0_min_mb)
                entry['need_mb'] = entry['from_free_mb']
                entry['from_dom0_mb'] = 0
                arith.owe_if_raised(state, before, self.dom0_min_mb,
                                    'the revert of %s' % entry['name'])

    def free_for(self, res_id, snap):
        """Free memory not promised to those served before this one.

        Those are every build and stopped guest (handed their memory)
        and the waiting reservations ranked before it (dispatch.py).
        ``snap`` is one backend.snapshot(): free memory and what domains
        being built hold must be read together. Returns (MiB, whether a
        build served before it is under way): while one is, what we miss
        may be the memory it is still populating.
        """
        with self.storage.snapshot() as state:
            mine = state['entries'].get(res_id)

            def ahead(other):
                return dispatch.is_ahead(other, mine)

            building = any(e['state'] == BUILDING and ahead(e)
                           for e in state['entries'].values())
            return snap.host.usable_mb - arith.promised(
                state, snap.domains, ahead), building

    def queue(self):
        """Waiting reservations' ids, the first served first."""
        with self.storage.snapshot() as state:
            return dispatch.queue(state)

    def mark_building(self, res_id):
        """The build starts: from now on its domain holds part of it.

        Returns the state before (RESERVED on a first run; BUILDING or
        DOMAIN when a resumed flow runs the build again), or None.
        """
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is None:
                return None
            was = entry['state']
            if was == RESERVED:
                entry['state'] = BUILDING
            return was

    def release(self, res_id):
        """Drop a reservation; return dom0's new target (idempotent)."""
        with self.storage.locked() as state:
            arith.release(state, res_id, self.dom0_min_mb)
            return self._target(state) if state['baseline_mb'] else None

    def commit(self, res_id):
        """A finished build (or start): the entry becomes the domain's."""
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None:
                entry['state'] = DOMAIN
                entry.pop('starting', None)
                entry.pop('saved', None)

    def hold_for_destroy(self, backend, res_id, name):
        """Claim ``name`` for a destroy flow; DomainBusy while it spawns.

        Checked and claimed under the lock: until forget_domain(name) or
        release(res_id), a spawn of that name is refused (DomainExists)
        instead of building a domain the destroy then takes away from
        under its ledger entry. Returns whether the ledger holds the
        domain (or owes its destroy). Idempotent: a resumed destroy may
        run it twice.
        """
        with self.storage.locked() as state:
            mine = [e for key, e in state['entries'].items()
                    if e['name'] == name and key != res_id]
            if any(e['state'] in (RESERVED, BUILDING) for e in mine):
                raise exception.DomainBusy(name=name)
            if state['baseline_mb'] is None:
                state['baseline_mb'] = backend.dom0_memory().target_mb
            if res_id not in state['entries']:
                arith.add_entry(state, res_id, name, DESTROYING, 0, 0)
            return (any(e['state'] in (DOMAIN, STOPPED) for e in mine) or
                    name in state['to_destroy'])

    def forget_domain(self, name, reinflate):
        """A destroyed domain: drop its entry (and the destroy's hold).

        Without ``reinflate`` dom0 keeps its present size: the baseline
        comes down by what the domain had taken from dom0. With it, what
        dom0 is to get back is owed until a target is applied.
        """
        with self.storage.locked() as state:
            arith.forget(state, name, reinflate, self.dom0_min_mb)
            if state['baseline_mb'] is None:
                return None
            return self._target(state)

    def entries(self):
        with self.storage.snapshot() as state:
            return copy.deepcopy(state['entries'])

    def entry(self, res_id):
        """One entry as stored now (a copy), or None."""
        with self.storage.snapshot() as state:
            return copy.deepcopy(state['entries'].get(res_id))

    # -- debts (see debts.py) ---------------------------------------------

    def owe_destroy(self, name, reason):
        """A revert could not destroy ``name``: recover retries it."""
        with self.storage.locked() as state:
            state['to_destroy'][name] = reason

    def debts(self):
        """(dom0's open debt or None, {name: why} of owed destroys)."""
        with self.storage.snapshot() as state:
            return (copy.deepcopy(state['dom0_debt']),
                    dict(state['to_destroy']))

    def settle(self, backend):
        """Pay what is owed: retry owed destroys, then dom0's target.

        Under the ledger's lock, so no spawn can take the name of a
        domain being destroyed here, nor a give-back in flight. Returns a
        Debt for each thing that was owed (paid or not); idempotent.
        """
        with self.storage.locked() as state:
            return debts.settle(state, backend, self.dom0_min_mb)
