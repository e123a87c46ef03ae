"""Warm headroom: memory kept free for the next guest ([xenballoon]
free_headroom_mb).

When no spawn, start, stop or destroy is under way, dom0 gives up
``headroom_from_dom0_mb`` (kept in the ledger's document) beyond what the
entries took, so that free memory promised to nobody, counting what dom0
is still releasing, is the headroom wanted: a guest up to that size finds
its memory free. That figure is part of dom0's derived target like an
entry's from_dom0_mb (arithmetic.target), so it is stored before dom0 is
asked and a crash at any point leaves a target the ledger can derive. A
spawn takes the headroom's free memory first (reserve's from_free) and
dom0's only for the rest; the next keep_headroom (after the spawn, a
destroy, a power change, at start-up and on each resource report) sets
the figure again: higher after a spawn, lower (owed to dom0, as any
raise of its target) after a destroy or when the wanted headroom drops.
"""

from xenballoon_driver.ledger import arithmetic as arith

KEY = 'headroom_from_dom0_mb'
# A look while dom0 balloons reads its allocation and free memory apart,
# each rounded down to the MiB (Xen counts pages): their sum may be 1 MiB
# short. A change that small is the reading, not the host; made, it would
# move dom0's target back and forth by 1 MiB on every look.
READING_MB = 1


def in_flight(state):
    """Whether a spawn, start, stop or destroy is under way.

    While one is, the headroom figure stays as it is: a spawn waiting is
    served from it, and a domain going or stopping frees memory that its
    own flow accounts for.
    """
    return any(e['state'] in (arith.RESERVED, arith.BUILDING,
                              arith.DESTROYING) or 'stopping' in e
               for e in state['entries'].values())


def wanted_from_dom0(state, snap, headroom_mb, dom0_min_mb):
    """What dom0 must give up so that ``headroom_mb`` is free and unpromised.

    Free memory promised to nobody, counting what dom0 is still releasing
    and less what it is growing back into, is (arithmetic.figures)

        usable + dom0 current - dom0 target - promised

    so the target for ``headroom_mb`` is usable + current - promised -
    headroom_mb; the figure is the entries' target less that, never below
    0 (a headroom of 0 gives it all back) nor taking dom0 under its floor.
    """
    if headroom_mb <= 0:
        return 0
    taken = sum(e['from_dom0_mb'] for e in state['entries'].values())
    without = state['baseline_mb'] - taken
    goal = (snap.host.usable_mb + snap.dom0.current_mb -
            arith.promised(state, snap.domains) - headroom_mb)
    return max(0, min(without - dom0_min_mb, without - goal))


class HeadroomOps:
    """The Ledger's headroom operations (see operations.Ledger)."""

    def set_headroom(self, backend, headroom_mb):
        """Store the figure for ``headroom_mb``; whether dom0 must move.

        Under the ledger's lock, written when the lock is left: before
        anyone asks dom0 for it. A lower figure raises dom0's target: it
        is owed (arithmetic.owe_if_raised) until applied. Returns None
        while something is under way (nothing changed), else (the figure,
        whether dom0's target differs from the derived one).
        """
        with self.storage.locked() as state:
            if in_flight(state):
                return None
            snap = backend.snapshot()
            arith.sync_baseline(state, snap.dom0)
            new = wanted_from_dom0(state, snap, headroom_mb,
                                   self.dom0_min_mb)
            if new and abs(new - state[KEY]) <= READING_MB:
                new = state[KEY]
            if new != state[KEY]:
                before = arith.derived(state, self.dom0_min_mb)
                state[KEY] = new
                arith.owe_if_raised(
                    state, before, self.dom0_min_mb,
                    'the headroom set to %d MiB' % headroom_mb)
            return new, (arith.derived(state, self.dom0_min_mb) !=
                         snap.dom0.target_mb)

    def keep_headroom(self, backend, headroom_mb):
        """Keep ``headroom_mb`` free when nothing is under way.

        Stores the figure (set_headroom), then applies dom0's derived
        target if it moved (apply_target: a give-back that fails stays
        owed; a cut that fails is raised). Returns the figure stored, or
        None when nothing was done. With no headroom wanted and none
        held, nothing is locked and the host is not looked at.
        """
        with self.storage.snapshot() as state:
            if headroom_mb <= 0 and not state[KEY]:
                return None
        found = self.set_headroom(backend, headroom_mb)
        if found is None:
            return None
        figure, move = found
        if move:
            self.apply_target(backend)
        return figure
