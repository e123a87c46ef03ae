"""The host-wide reservation ledger, and dom0's target derived from it.

Every spawn reserves its memory here before dom0 is touched. A reservation
records how much it takes from free memory and how much from dom0's
balloon. dom0's target is never remembered separately: it is always

    baseline - sum(from_dom0 of every live entry), but not below the floor

so that undoing one spawn never takes back memory promised to another. A
built domain keeps its entry (state "domain") until it is destroyed.

What the host is owed is kept here too, in the same document, so that it
survives a kill -9 and stays with its host:

- ``dom0_debt``: a change raised the derived target (a destroy, a revert,
  a released reservation) and dom0 has not been given it yet. Opened in the
  same write as the change, so a crash before ``xl mem-set`` cannot lose
  it; closed when a target is applied. While it is open the baseline is
  never re-read from dom0's (shrunken) target, and the memory owed is not
  counted as free.
- ``to_destroy``: domains a revert failed to destroy, by name, with why.
  Recovery retries them; reconcile knows them.
"""

import copy
import dataclasses
import logging
import uuid

from xenballoon_driver import exception

LOG = logging.getLogger(__name__)

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
    # What dom0 is owed: its derived target minus the target it has.
    dom0_owed_mb: int = 0


@dataclasses.dataclass(frozen=True)
class Debt:
    """One thing the host was owed, and whether settle() paid it."""

    kind: str       # DOM0_DEBT or DESTROY_DEBT
    name: str
    owed_mb: int    # dom0's shortfall, or what the domain still holds
    reason: str
    paid: bool
    error: str = ''


DOM0_DEBT = 'dom0-debt'
DESTROY_DEBT = 'undestroyed-domain'
DOM0_NAME = 'Domain-0'


def empty():
    return {'baseline_mb': None, 'entries': {}, 'next_seq': 0,
            'dom0_debt': None, 'to_destroy': {}}


def upgrade(state):
    """A stored document, with the keys it may lack (debts came later)."""
    state.setdefault('dom0_debt', None)
    state.setdefault('to_destroy', {})
    return state


def one_line(err):
    """An error as one line: its message's first, or its type's name."""
    lines = str(err).strip().splitlines()
    line = lines[0] if lines else type(err).__name__
    # A tool's garbage must not garble the operator's terminal.
    return ''.join(c if c.isprintable() else '?' for c in line)


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
        if state['baseline_mb'] is None or not (
                state['entries'] or state['dom0_debt']):
            # Nothing of ours is live and nothing is owed: dom0's size is
            # whatever it is now. With a debt open, dom0's target is short
            # of ours: taking it as the baseline would lose the debt.
            state['baseline_mb'] = dom0.target_mb

    def _target(self, state):
        taken = sum(e['from_dom0_mb'] for e in state['entries'].values())
        return max(self.dom0_min_mb, state['baseline_mb'] - taken)

    def _derived(self, state):
        """The target to apply: None when the ledger never saw the host."""
        if state['baseline_mb'] is None:
            return None
        if state['entries'] or state['dom0_debt']:
            return self._target(state)
        return state['baseline_mb']

    def _owe_if_raised(self, state, before, why):
        """A change raised the derived target from ``before``: owe it.

        Written with the change, before anyone calls the toolstack, so no
        crash or failure between the two loses it. apply closes it.
        """
        after = self._derived(state)
        if before is not None and after is not None and after > before:
            if not state['dom0_debt']:
                state['dom0_debt'] = {'reason': why, 'error': ''}

    def _apply(self, state, backend):
        """Give dom0 the derived target; returns (target, found before).

        A give-back that fails (error, timeout, a target that does not
        read back) leaves the debt open with its error, logged in one
        line, and is not raised: the memory is owed, not lost, and the
        caller's own work is done. A failed cut is raised as before.
        """
        target = self._derived(state)
        if target is None:
            return None, None
        found = backend.dom0_memory().target_mb
        if found == target:
            self._paid(state, target)
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
                        reason='dom0 target reads %r MiB afterwards' % (
                            now,))
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
            self._paid(state, target)
        return target, found

    @staticmethod
    def _paid(state, target):
        if state['dom0_debt']:
            LOG.info('dom0 got back what it was owed (%s): target %d MiB',
                     state['dom0_debt']['reason'], target)
            state['dom0_debt'] = None

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
        owed = 0
        if state['entries'] or state['dom0_debt']:
            target = self._target(state)
            if state['dom0_debt']:
                owed = max(0, target - dom0.target_mb)
        else:
            target = max(self.dom0_min_mb, dom0.target_mb)
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
            available_mb=max(0, unpromised + balloonable),
            dom0_owed_mb=owed)

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
            # A domain we owed a destroy is gone: nothing left to retry,
            # and a retry must never hit the new domain of that name.
            state['to_destroy'].pop(name, None)
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
        ledger has never seen the host. A give-back that fails stays owed
        (see _apply); this pays any debt open.
        """
        return self.reassert_target(backend)[0]

    def reassert_target(self, backend):
        """apply_target; returns (target, dom0's target found before)."""
        with self.storage.locked() as state:
            return self._apply(state, backend)

    def baseline(self):
        with self.storage.snapshot() as state:
            return state['baseline_mb']

    def return_dom0(self, res_id):
        """Take back what a reservation asked of dom0 (idempotent)."""
        with self.storage.locked() as state:
            entry = state['entries'].get(res_id)
            if entry is not None and entry['state'] != DOMAIN:
                before = self._derived(state)
                entry['from_free_mb'] = entry['need_mb']
                entry['from_dom0_mb'] = 0
                self._owe_if_raised(state, before, 'the revert of %s' %
                                    entry['name'])

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
            self._release(state, res_id)
            return self._target(state) if state['baseline_mb'] else None

    def _release(self, state, res_id):
        before = self._derived(state)
        entry = state['entries'].pop(res_id, None)
        if entry is not None:
            self._owe_if_raised(state, before, 'the release of %s' %
                                entry['name'])

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
                _add_entry(state, res_id, name, DESTROYING, 0, 0)
            return (any(e['state'] == DOMAIN for e in mine) or
                    name in state['to_destroy'])

    def forget_domain(self, name, reinflate):
        """A destroyed domain: drop its entry (and the destroy's hold).

        Without ``reinflate`` dom0 keeps its present size: the baseline
        comes down by what the domain had taken from dom0. With it, what
        dom0 is to get back is owed until a target is applied.
        """
        with self.storage.locked() as state:
            self._forget(state, name, reinflate)
            if state['baseline_mb'] is None:
                return None
            return self._target(state)

    def _forget(self, state, name, reinflate):
        before = self._derived(state)
        for key, entry in list(state['entries'].items()):
            if entry['name'] == name and entry['state'] in (DOMAIN,
                                                            DESTROYING):
                del state['entries'][key]
                if not reinflate:
                    state['baseline_mb'] -= entry['from_dom0_mb']
        state['to_destroy'].pop(name, None)
        self._owe_if_raised(state, before, 'the destroy of %s' % name)

    def entries(self):
        with self.storage.snapshot() as state:
            return copy.deepcopy(state['entries'])

    # -- debts and reconciling -------------------------------------------

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
        results = []
        with self.storage.locked() as state:
            if not (state['dom0_debt'] or state['to_destroy']):
                return results
            snap = backend.snapshot()
            self._sync_baseline(state, snap.dom0)
            for name, why in sorted(state['to_destroy'].items()):
                results.append(self._retry_destroy(state, backend, name, why,
                                                   snap.domains.get(name, 0)))
            debt = state['dom0_debt']
            if debt:
                owed = max(0, self._derived(state) - snap.dom0.target_mb)
                try:
                    self._apply(state, backend)
                except exception.XenBalloonException as err:
                    # A cut for a spawn under way failed: its own
                    # flow reports that; the debt stays.
                    state['dom0_debt'] = dict(debt, error=one_line(err))
                now = state['dom0_debt']
                results.append(Debt(
                    kind=DOM0_DEBT, name=DOM0_NAME, owed_mb=owed,
                    reason=debt['reason'], paid=now is None,
                    error=now['error'] if now else ''))
        return results

    @staticmethod
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

    def entry(self, res_id):
        """One entry as stored now (a copy), or None."""
        with self.storage.snapshot() as state:
            return copy.deepcopy(state['entries'].get(res_id))

    def release_stale(self, res_id, seen):
        """Release ``res_id`` if it is still exactly ``seen``; True if so."""
        with self.storage.locked() as state:
            if state['entries'].get(res_id) != seen:
                return False  # its flow moved on since: not stale
            self._release(state, res_id)
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
            self._forget(state, name, reinflate=True)
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
