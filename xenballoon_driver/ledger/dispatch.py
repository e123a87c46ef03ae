"""Dispatch: which waiting spawn free memory goes to first.

Every entry keeps ``seq`` (arrival) and ``rank`` (its place in the
queue), decided under the ledger's lock by ``place`` and written with
the new entry in the same document write (an entry an older release
wrote ranks by its seq). Entries that were handed their memory
(BUILDING, STOPPED) are served before any waiting (RESERVED) one; the
waiting ones are served in rank order (``ahead``). dom0's target and the
from_free/from_dom0 split do not depend on the order: only which waiting
spawn sees the free memory as its own first.

``fifo``: rank follows seq. ``shortest``: a new reservation goes ahead
of the waiting ones that need more than it does, walking back from the
end of the queue, while each one passed keeps within its overtaking
budget (``overtaken_mb``, stored on it: the MiB of later spawns served
ahead). Smallest need, not smallest still missing: free memory is not
spent until a build starts, so the pool already released can go whole
to a newcomer, and the one that needs least is the one it completes
soonest (a 187 GiB guest arriving while a 398 GiB one has 240 GiB
released is ready at once).
"""

import dataclasses

from oslo_log import log as logging

from xenballoon_driver.ledger import arithmetic as arith

LOG = logging.getLogger(__name__)

FIFO, SHORTEST = 'fifo', 'shortest'
# The last release rate measured (MiB/s), see known_rate.
RATE_KEY = 'rate_mb_s'
HANDED = (arith.BUILDING, arith.STOPPED)


@dataclasses.dataclass(frozen=True)
class Policy:
    # The defaults are [xenballoon]'s (conf/xenballoon.py).
    name: str = SHORTEST
    budget_s: float = 600.0
    budget_pct: float = 100.0

    @classmethod
    def from_conf(cls, conf):
        opts = conf.xenballoon
        return cls(opts.dispatch_policy, opts.overtake_budget_s,
                   opts.overtake_budget_pct)


def rank(entry):
    return entry.get('rank', entry.get('seq', 0))


def is_ahead(other, mine):
    """Whether ``other`` is served before ``mine`` (an entry or None).

    Handed entries come first: their memory is theirs. A handed entry
    (a power-on waiting for what it kept) is behind no waiting one.
    """
    if other is mine:
        return False
    if other['state'] in HANDED + (arith.DOMAIN,):
        # A domain's own memory, or dom0's while it is destroyed.
        return True
    if other['state'] != arith.RESERVED:
        return False
    return (mine is None or (mine['state'] == arith.RESERVED and
                             rank(other) < rank(mine)))


def release_rate(state, dom0_mb, now):
    """dom0's release rate (MiB/s) since the oldest waiting look, or None.

    Each reservation stores dom0's size and the time at its reserve; the
    oldest one still waiting spans the longest time. None (unknown) with
    no such look, no time passed (or a clock that went back: a reboot)
    or dom0 no smaller than then (not releasing, or growing back).
    """
    looks = [(e['at_s'], e['dom0_at_mb']) for e in
             state['entries'].values()
             if e['state'] == arith.RESERVED and 'at_s' in e]
    if now is None or not looks:
        return None
    at_s, dom0_at = min(looks)
    if now <= at_s or dom0_mb >= dom0_at:
        return None
    return (dom0_at - dom0_mb) / (now - at_s)


def known_rate(state, dom0_mb, now):
    """The release rate measured now, else the last one measured.

    Kept in the document (``rate_mb_s``, written with the entry being
    placed): a spawn arriving while nobody waits, or in the same instant
    as a big one, still has a rate to weigh its MiB by (dom0's balloon
    is the same driver from one spawn to the next).
    """
    rate = release_rate(state, dom0_mb, now)
    if rate is None:
        return state.get(RATE_KEY)
    state[RATE_KEY] = round(rate, 3)
    return rate


def budget_mb(entry, policy, rate):
    """MiB later spawns may still be served ahead of ``entry``.

    Both bounds hold: budget_pct of its need, and budget_s at dom0's
    release rate. An unknown rate allows nothing: without it, no one can
    say how many seconds a later spawn's MiB cost this one.
    """
    pct = policy.budget_pct * entry['need_mb'] / 100.0
    secs = 0.0 if rate is None else policy.budget_s * rate
    return int(min(pct, secs)) - entry.get('overtaken_mb', 0)


def place(state, key, snap, policy, now):
    """Rank the new entry ``key``; returns [(id, entry, budget left)].

    Under the ledger's lock, before the document is written: the rank,
    the look (``at_s``, ``dom0_at_mb``) and each passed entry's raised
    ``overtaken_mb`` go in the same write as the new entry.
    """
    new = state['entries'][key]
    new['rank'] = rank(new)
    if now is not None:
        new['at_s'] = now
        new['dom0_at_mb'] = snap.dom0.current_mb
    if policy.name != SHORTEST:
        return []
    rate = known_rate(state, snap.dom0.current_mb, now)
    waiting = sorted((rank(e), k) for k, e in state['entries'].items()
                     if e['state'] == arith.RESERVED and k != key)
    passed = []
    for _rank, other in reversed(waiting):
        entry = state['entries'][other]
        left = budget_mb(entry, policy, rate) - new['need_mb']
        if new['need_mb'] >= entry['need_mb'] or left < 0:
            break
        passed.append((other, entry, left))
    if passed:
        spot = rank(passed[-1][1])
        for entry in state['entries'].values():
            if entry is not new and rank(entry) >= spot:
                entry['rank'] = rank(entry) + 1
        new['rank'] = spot
        for _key, entry, left in passed:
            entry['overtaken_mb'] = (entry.get('overtaken_mb', 0) +
                                     new['need_mb'])
            LOG.info('Dispatch: %s (%d MiB) is served before %s, which '
                     'later spawns have now overtaken by %d MiB (%d MiB of '
                     'its overtaking budget left)', new['name'],
                     new['need_mb'], entry['name'], entry['overtaken_mb'],
                     left)
    return passed


def queue(state):
    """Waiting entries' ids in dispatch order (the first served first)."""
    return [k for _r, k in sorted(
        (rank(e), k) for k, e in state['entries'].items()
        if e['state'] == arith.RESERVED)]
