"""The host-wide reservation ledger, and dom0's target derived from it.

Every spawn reserves its memory here before dom0 is touched. A reservation
records how much it takes from free memory and how much from dom0's
balloon. dom0's target is never remembered separately: it is always

    baseline - sum(from_dom0 of every live entry), but not below the floor

so that undoing one spawn never takes back memory promised to another. A
built domain keeps its entry (state "domain") until it is destroyed.
"""

import copy
import dataclasses
import uuid

from xenballoon_driver import exception

RESERVED = 'reserved'
BUILDING = 'building'
DOMAIN = 'domain'
# A destroy holds the name (0 MiB) so no spawn of it starts meanwhile.
DESTROYING = 'destroying'


@dataclasses.dataclass(frozen=True)
class Reservation:
    id: str
    name: str
    need_mb: int
    from_free_mb: int
    from_dom0_mb: int
    dom0_target_mb: int


@dataclasses.dataclass(frozen=True)
class Figures:
    """What the host can still give, as the ledger sees it (all MiB)."""

    total_mb: int
    free_mb: int
    dom0_current_mb: int
    dom0_target_mb: int
    dom0_min_mb: int
    balloonable_mb: int
    reserved_mb: int
    available_mb: int


def empty():
    return {'baseline_mb': None, 'entries': {}, 'next_seq': 0}


def _add_entry(state, res_id, name, entry_state, need_mb, from_free_mb):
    """A new entry, numbered in arrival order (first come, first served)."""
    seq = state.setdefault('next_seq', 0)
    state['next_seq'] = seq + 1
    state['entries'][res_id] = {
        'name': name, 'need_mb': need_mb, 'from_free_mb': from_free_mb,
        'from_dom0_mb': need_mb - from_free_mb, 'state': entry_state,
        'seq': seq}


class Ledger:
    def __init__(self, storage, dom0_min_mb):
        self.storage = storage
        self.dom0_min_mb = dom0_min_mb

    # -- arithmetic ------------------------------------------------------

    @staticmethod
    def _sync_baseline(state, dom0):
        if not state['entries'] or state['baseline_mb'] is None:
            # Nothing of ours is live: dom0's size is whatever it is now.
            state['baseline_mb'] = dom0.target_mb

    def _target(self, state):
        taken = sum(e['from_dom0_mb'] for e in state['entries'].values())
        return max(self.dom0_min_mb, state['baseline_mb'] - taken)

    @staticmethod
    def _promised(state, allocated, before=None):
        """MiB promised to reservations and not yet taken from free memory.

        A domain being built has already taken what it holds. With
        ``before`` (a sequence number) only earlier reservations count:
        first come, first served.
        """
        total = 0
        for entry in state['entries'].values():
            if before is not None and entry.get('seq', 0) >= before:
                continue
            if entry['state'] == RESERVED:
                total += entry['need_mb']
            elif entry['state'] == BUILDING:
                total += max(0, entry['need_mb'] -
                             allocated.get(entry['name'], 0))
        return total

    def _figures(self, state, snap):
        host, dom0 = snap.host, snap.dom0
        target = self._target(state) if state['entries'] else max(
            self.dom0_min_mb, dom0.target_mb)
        pending = self._promised(state, snap.domains)
        # Memory on its way out of dom0 counts as free; memory dom0 is
        # growing back into does not.
        unpromised = host.usable_mb + (dom0.current_mb - target) - pending
        balloonable = max(0, target - self.dom0_min_mb)
        return Figures(
            total_mb=host.total_mb, free_mb=host.usable_mb,
            dom0_current_mb=dom0.current_mb, dom0_target_mb=dom0.target_mb,
            dom0_min_mb=self.dom0_min_mb, balloonable_mb=balloonable,
            reserved_mb=pending,
            available_mb=max(0, unpromised + balloonable))

    # -- operations ------------------------------------------------------

    def figures(self, backend):
        with self.storage.locked() as state:
            snap = backend.snapshot()
            self._sync_baseline(state, snap.dom0)
            return self._figures(state, snap)

    def reserve(self, backend, name, need_mb, res_id=None):
        """Reserve ``need_mb`` for ``name`` or raise NotEnoughMemory.

        With ``res_id`` (the request's flow id) a second call returns the
        reservation already made: a resumed flow may run this twice.
        """
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None:
                return Reservation(
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
            self._sync_baseline(state, snap.dom0)
            fig = self._figures(state, snap)
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
            _add_entry(state, res_id, name, RESERVED, need_mb, from_free)
            return Reservation(id=res_id, name=name, need_mb=need_mb,
                               from_free_mb=from_free,
                               from_dom0_mb=need_mb - from_free,
                               dom0_target_mb=self._target(state))

    def target(self):
        """dom0's target as the ledger derives it (None: nothing live)."""
        with self.storage.snapshot() as state:
            if not state['entries']:
                return None
            return self._target(state)

    def apply_target(self, backend):
        """Set dom0's target to what the ledger derives, if it differs.

        Under the ledger's lock, so that two spawns cannot apply their
        readings in the wrong order. Returns the target, or None when the
        ledger has never seen the host.
        """
        return self.reassert_target(backend)[0]

    def reassert_target(self, backend):
        """apply_target; returns (target, dom0's target found before)."""
        with self.storage.locked() as state:
            if state['entries']:
                target = self._target(state)
            else:
                target = state['baseline_mb']
            found = None
            if target is not None:
                found = backend.dom0_memory().target_mb
                if found != target:
                    backend.set_dom0_target(target)
            return target, found

    def baseline(self):
        with self.storage.snapshot() as state:
            return state['baseline_mb']

    def return_dom0(self, res_id):
        """Take back what a reservation asked of dom0 (idempotent)."""
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None and entry['state'] != DOMAIN:
                entry['from_free_mb'] = entry['need_mb']
                entry['from_dom0_mb'] = 0

    def free_for(self, res_id, snap):
        """Free memory not promised to reservations made before this one.

        ``snap`` is one backend.snapshot(): free memory and what domains
        being built hold must be read together. Returns (MiB, whether a
        build made for an earlier reservation is under way): while one is,
        what we miss may be the memory it is still populating.
        """
        with self.storage.snapshot() as state:
            mine = state['entries'].get(res_id)
            before = mine.get('seq', 0) if mine else None
            ahead = any(e['state'] == BUILDING and
                        (before is None or e.get('seq', 0) < before)
                        for e in state['entries'].values())
            return snap.host.usable_mb - self._promised(
                state, snap.domains, before=before), ahead

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
            state['entries'].pop(res_id, None)
            return self._target(state) if state['baseline_mb'] else None

    def commit(self, res_id):
        """A finished build: the reservation becomes the domain's."""
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None:
                entry['state'] = DOMAIN

    def hold_for_destroy(self, backend, res_id, name):
        """Claim ``name`` for a destroy flow; DomainBusy while it spawns.

        Checked and claimed under the lock: until forget_domain(name) or
        release(res_id), a spawn of that name is refused (DomainExists)
        instead of building a domain the destroy then takes away from
        under its ledger entry. Returns whether the ledger holds the
        domain. Idempotent: a resumed destroy may run it twice.
        """
        with self.storage.locked() as state:
            mine = [e for key, e in state['entries'].items()
                    if e['name'] == name and key != res_id]
            if any(e['state'] in (RESERVED, BUILDING) for e in mine):
                raise exception.DomainBusy(name=name)
            if state['baseline_mb'] is None:
                state['baseline_mb'] = backend.dom0_memory().target_mb
            if res_id not in state['entries']:
                _add_entry(state, res_id, name, DESTROYING, 0, 0)
            return any(e['state'] == DOMAIN for e in mine)

    def forget_domain(self, name, reinflate):
        """A destroyed domain: drop its entry (and the destroy's hold).

        Without ``reinflate`` dom0 keeps its present size: the baseline
        comes down by what the domain had taken from dom0.
        """
        with self.storage.locked() as state:
            for key, entry in list(state['entries'].items()):
                if entry['name'] == name and entry['state'] in (DOMAIN,
                                                                DESTROYING):
                    del state['entries'][key]
                    if not reinflate:
                        state['baseline_mb'] -= entry['from_dom0_mb']
            if state['baseline_mb'] is None:
                return None
            return self._target(state)

    def entries(self):
        with self.storage.snapshot() as state:
            return copy.deepcopy(state['entries'])
