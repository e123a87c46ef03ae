"""The ledger's arithmetic: pure functions of its document.

dom0's target is never remembered separately: it is always

    baseline - sum(from_dom0 of every live entry) - headroom_from_dom0,
    but not below the floor

so that undoing one spawn never takes back memory promised to another.
``headroom_from_dom0_mb`` is what dom0 gave up to keep memory free for
the next guest ([xenballoon] free_headroom_mb, see headroom.py).
"""

import dataclasses
import json

from xenballoon_driver.hypervisor import footprint

RESERVED = 'reserved'
BUILDING = 'building'
DOMAIN = 'domain'
# A destroy holds the name (0 MiB) so no spawn of it starts meanwhile.
DESTROYING = 'destroying'
# A powered-off (or suspended) guest: its memory stays promised to it,
# free in Xen and never lent to dom0, so its power-on cannot be refused
# for memory another spawn took. Counted as promised like BUILDING.
STOPPED = 'stopped'


@dataclasses.dataclass(frozen=True)
class Reservation:
    id: str
    name: str
    need_mb: int
    from_free_mb: int
    from_dom0_mb: int
    dom0_target_mb: int
    # The reserve's own look: free memory not promised to those served
    # before it, dispatch.is_ahead (None: no look, a resumed flow's
    # second call). The balloon wait takes it as its first look.
    free_mb: int = None
    # dom0's allocation at that look.
    dom0_mb: int = None


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
    # What dom0 gave up to keep free for the next guest (headroom.py).
    headroom_from_dom0_mb: int = 0
    # Free memory promised to nobody now: a guest up to this size builds
    # with no balloon wait (dom0's release still under way not counted).
    ready_mb: int = 0


def empty():
    return {'baseline_mb': None, 'entries': {}, 'next_seq': 0,
            'dom0_debt': None, 'to_destroy': {}, 'headroom_from_dom0_mb': 0}


def upgrade(state):
    """A stored document, with the keys it may lack (debts came later)."""
    state.setdefault('dom0_debt', None)
    state.setdefault('to_destroy', {})
    state.setdefault('headroom_from_dom0_mb', 0)
    return state


def live(state):
    """Whether dom0's target is ours to derive (not dom0's own size)."""
    return bool(state['entries'] or state['dom0_debt'] or
                state['headroom_from_dom0_mb'])


def add_entry(state, res_id, name, entry_state, need_mb, from_free_mb,
              memory_mb=None, spec=None):
    """A new entry, numbered in arrival order (``seq``).

    Its place in the queue (``rank``) is dispatch.place's to decide.

    ``memory_mb`` is the guest's own memory (``need_mb`` less libxl's
    overhead), what placement counts; see guest_memory_mb. ``spec`` (a
    DomainSpec.to_dict()) is what power_on builds the guest from again;
    an entry written by an older release has none.
    """
    seq = state.setdefault('next_seq', 0)
    state['next_seq'] = seq + 1
    state['entries'][res_id] = {
        'name': name, 'need_mb': need_mb, 'from_free_mb': from_free_mb,
        'from_dom0_mb': need_mb - from_free_mb, 'state': entry_state,
        'seq': seq}
    if memory_mb is not None:
        state['entries'][res_id]['memory_mb'] = memory_mb
    if spec is not None:
        # JSON-shaped, as the stored document gives it back (no tuples).
        state['entries'][res_id]['spec'] = json.loads(json.dumps(spec))


def guest_memory_mb(state, max_vcpus):
    """The guests' own memory in every entry, without libxl's overhead.

    What placement counts as used for them (their flavors' RAM). An entry
    written before entries kept the guest's memory counts as its footprint
    less the largest overhead a guest of that footprint can have (HVM,
    ``max_vcpus``): never more than the truth.
    """
    total = 0
    for entry in state['entries'].values():
        need = entry['need_mb']
        memory = entry.get('memory_mb')
        if memory is None:
            memory = max(0, need - footprint.overhead_mb(need, max_vcpus,
                                                         'hvm'))
        total += memory
    return total


def sync_baseline(state, dom0):
    if state['baseline_mb'] is None or not live(state):
        # Nothing of ours is live and nothing is owed: dom0's size is
        # whatever it is now. With a debt open, dom0's target is short
        # of ours: taking it as the baseline would lose the debt (and
        # with a headroom, the headroom would become dom0's size).
        state['baseline_mb'] = dom0.target_mb


def target(state, dom0_min_mb):
    taken = sum(e['from_dom0_mb'] for e in state['entries'].values())
    return max(dom0_min_mb, state['baseline_mb'] - taken -
               state['headroom_from_dom0_mb'])


def derived(state, dom0_min_mb):
    """The target to apply: None when the ledger never saw the host."""
    if state['baseline_mb'] is None:
        return None
    if live(state):
        return target(state, dom0_min_mb)
    return state['baseline_mb']


def owe_if_raised(state, before, dom0_min_mb, why):
    """A change raised the derived target from ``before``: owe it.

    Written with the change, before anyone calls the toolstack, so no
    crash or failure between the two loses it. Applying it closes it.
    """
    after = derived(state, dom0_min_mb)
    if before is not None and after is not None and after > before:
        if not state['dom0_debt']:
            state['dom0_debt'] = {'reason': why, 'error': ''}


def release(state, res_id, dom0_min_mb):
    """Drop a reservation (if there), owing dom0 what that raises."""
    before = derived(state, dom0_min_mb)
    entry = state['entries'].pop(res_id, None)
    if entry is not None:
        owe_if_raised(state, before, dom0_min_mb,
                      'the release of %s' % entry['name'])


def forget(state, name, reinflate, dom0_min_mb):
    """Drop a destroyed (or stopped) guest's entry and its destroy's hold.

    Without ``reinflate`` the baseline comes down by what the domain had
    taken from dom0; with it, that is owed to dom0.
    """
    before = derived(state, dom0_min_mb)
    for key, entry in list(state['entries'].items()):
        if entry['name'] == name and entry['state'] in (DOMAIN, DESTROYING,
                                                        STOPPED):
            del state['entries'][key]
            if not reinflate:
                state['baseline_mb'] -= entry['from_dom0_mb']
    state['to_destroy'].pop(name, None)
    owe_if_raised(state, before, dom0_min_mb, 'the destroy of %s' % name)


def promised(state, allocated, counts=None):
    """MiB promised to reservations and not yet taken from free memory.

    A domain being built has already taken what it holds; so has a
    stopped guest's domain while it shuts down, and once it is gone its
    whole need stays promised; a domain being destroyed owes dom0 what
    it took from dom0, as it frees it. With ``counts`` (a predicate on
    entries) only the entries it accepts count: those served before one
    (dispatch.is_ahead).
    """
    going = {e['name'] for e in state['entries'].values()
             if e['state'] == DESTROYING}
    total = 0
    for entry in state['entries'].values():
        if counts is not None and not counts(entry):
            continue
        if entry['state'] == RESERVED:
            total += entry['need_mb']
        elif entry['state'] in (BUILDING, STOPPED):
            total += max(0, entry['need_mb'] -
                         allocated.get(entry['name'], 0))
        elif entry['state'] == DOMAIN and entry['name'] in going:
            # A domain being destroyed: what it frees before its entry
            # goes is dom0's share first (forget raises dom0's target by
            # it). Counted as free, a spawn reserved meanwhile took memory
            # dom0 then grew back into: a false stall on the simulator.
            total += min(entry['from_dom0_mb'], max(
                0, entry['need_mb'] - allocated.get(entry['name'], 0)))
    return total


def figures(state, snap, dom0_min_mb):
    host, dom0 = snap.host, snap.dom0
    owed = 0
    if live(state):
        mine = target(state, dom0_min_mb)
        if state['dom0_debt']:
            owed = max(0, mine - dom0.target_mb)
    else:
        mine = max(dom0_min_mb, dom0.target_mb)
    pending = promised(state, snap.domains)
    # Memory on its way out of dom0 counts as free; memory dom0 is
    # growing back into does not.
    unpromised = host.usable_mb + (dom0.current_mb - mine) - pending
    balloonable = max(0, mine - dom0_min_mb)
    return Figures(
        total_mb=host.total_mb, free_mb=host.usable_mb,
        dom0_current_mb=dom0.current_mb, dom0_target_mb=dom0.target_mb,
        dom0_min_mb=dom0_min_mb, balloonable_mb=balloonable,
        reserved_mb=pending,
        available_mb=max(0, unpromised + balloonable),
        dom0_owed_mb=owed,
        headroom_from_dom0_mb=state['headroom_from_dom0_mb'],
        ready_mb=max(0, host.usable_mb - pending))
