"""Shortfalls in the balloon wait: when to ask dom0 for more, and how.

What the estimate missed (Xen's page tables as dom0's superpages split,
a per-domain cost) leaves free memory short with dom0 at its target.
The wait asks dom0 for it through the ledger (ledger/shortfall.py), as
xl's freemem asks again, bounded by [xenballoon] max_shortfall_mb and
MAX_TOPUPS.
"""

import math

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# Shortfall top-ups in one wait, at most: one for the shortfall, one or
# two more if it grew while dom0 gave the first (a dip passing over it).
MAX_TOPUPS = 3
# A shortfall this large is asked for at the first full look that sees
# it with dom0 at most NEAR_S of ballooning from its target (smaller
# ones once two looks at the target agree).
TOPUP_MIN_MB = 8
NEAR_S = 1.0


def wanted(prog, dom0, target, was_short, short):
    """(MiB short, MiB to ask) beyond the estimate, or None.

    What would still be missing with all dom0 has left to give become
    free, once dom0 is at most NEAR_S from its target: at once when
    it is TOPUP_MIN_MB or more (Xen keeps part of a top-up too, in
    the same proportion: asked with it), else once two looks at the
    target agree (a MiB of rounding is no shortfall).
    """
    remaining = max(0, dom0.current_mb - target)
    projected = prog.missing_mb - remaining
    if (projected >= TOPUP_MIN_MB and
            remaining <= prog.rate_mb_s * NEAR_S):
        kept = projected / max(prog.released_mb, 1.0)
        return projected, int(math.ceil(projected * (1 + kept)))
    if (was_short is not None and short is not None and
            short >= was_short > 0):
        return short, short
    return None


def top_up(ledger, backend, bound, reservation, want, prog, dom0, topups):
    """A shortfall: ask dom0 for it through the ledger (bounded).

    Returns whether dom0 was asked (the wait then looks again).
    """
    short, want = want
    room = bound - sum(topups)
    if len(topups) >= MAX_TOPUPS or short > room:
        # More than a top-up may cover: a stall.
        return False
    granted = ledger.top_up(reservation['id'], min(want, room), bound)
    if not granted:
        return False
    topups.append(granted)
    target, _found = ledger.apply_target(backend)
    LOG.warning('With dom0 (at %d MiB) at its target, free memory '
                'would be %d MiB short of the %d MiB %s needs: an '
                'overhead the estimate missed (Xen\'s page tables, a '
                'per-domain cost). Asking dom0 for %d MiB more, target '
                '%s MiB (top-up %d of at most %d, %d of at most %d '
                'MiB); given back after the build if free memory shows '
                'it was not needed, else when the guest goes',
                dom0.current_mb, short, reservation['need_mb'],
                reservation['name'], granted,
                target, len(topups), MAX_TOPUPS, sum(topups), bound)
    return True
