"""How fast and how far dom0 releases memory, for the host model.

The balloon's rate (each second's jitter, a rate that decays with what
dom0 has released), where it stops (stall_after_mb) and when it goes on
again (stall_resume_after_s), what Xen keeps for good of what dom0
releases (a persistent shortfall), and dom0 growing above its target on
its own (drift). The fields and where their figures come from are in
specs.BalloonSpec.
"""

import math
import random

EPS = 1e-6
LN2 = math.log(2.0)


def jitter_factor(model, second):
    b = model.balloon
    if not b.jitter:
        return 1.0
    factor = model._jitter.get(second)
    if factor is None:
        rng = random.Random('%d:%d' % (b.seed, second))
        factor = 1.0 + b.jitter * (2.0 * rng.random() - 1.0)
        model._jitter[second] = factor
    return factor


def base_rate(model):
    """This second's rate before decay and contention (MiB/s)."""
    return model.balloon.release_rate_mb_s * jitter_factor(
        model, int(math.floor(model.now + 1e-9)))


# -- a decaying rate ------------------------------------------------------
# At x MiB released the rate is rate * 2**(-x / half); integrated over a
# step from x0, exactly (the step's rate factor is constant).

def decayed_rate(model, rate):
    """``rate`` at what dom0 has released so far."""
    half = model.balloon.decay_half_mb
    if half is None:
        return rate
    return rate * 2.0 ** (-model.released_mb / half)


def amount(model, rate, dt):
    """MiB dom0 releases in ``dt`` s from now at ``rate`` (undecayed)."""
    half = model.balloon.decay_half_mb
    if half is None:
        return rate * dt
    k = rate * LN2 * dt / half * 2.0 ** (-model.released_mb / half)
    return half / LN2 * math.log1p(k)


def seconds(model, x0, mb, rate):
    """Seconds to release ``mb`` MiB from ``x0`` released, at ``rate``.

    H / (r ln 2) * (2**((x0 + mb) / H) - 2**(x0 / H)) with a decaying
    rate; mb / rate without.
    """
    half = model.balloon.decay_half_mb
    if half is None:
        return mb / rate
    try:
        return (half / (rate * LN2) * math.exp(x0 / half * LN2) *
                math.expm1(mb / half * LN2))
    except OverflowError:
        return math.inf


# -- stall, then resume ---------------------------------------------------

def stall_room(model):
    """MiB dom0 can still release before (or without) a stall."""
    b = model.balloon
    if b.stall_after_mb is None or (model.resume_at is not None and
                                    model.now >= model.resume_at - 1e-9):
        return math.inf
    return max(0.0, b.stall_after_mb - model.released_mb)


def room_ever(model):
    """What dom0 could release in all, however long one waits."""
    if model.balloon.stall_resume_after_s is not None:
        return math.inf
    return stall_room(model)


def stalled_at(model, at):
    """dom0 released its stall_after_mb at ``at``: when it resumes.

    Set once; the model calls it at the exact time within a step, and at
    a step's start when dom0 is asked for more while already there
    (stall_after_mb 0).
    """
    after = model.balloon.stall_resume_after_s
    if model.resume_at is None and after is not None:
        model.resume_at = at + after


# -- Xen's persistent shortfall -------------------------------------------

def _per_mb(model):
    return model.balloon.shortfall_per_gib_mb / 1024.0


def kept_mb(model, released=None):
    """MiB Xen keeps of the ``released`` MiB (default: all so far)."""
    released = model.released_mb if released is None else released
    return min(model.balloon.shortfall_mb, released * _per_mb(model))


def needed_mb(model, mb):
    """MiB dom0 must release for free memory to grow by ``mb``."""
    b, p = model.balloon, _per_mb(model)
    left = b.shortfall_mb - kept_mb(model)
    if left <= EPS or p <= 0.0:
        return mb
    if p < 1.0:
        # All of it under the cap: Xen keeps p of each MiB.
        whole = mb / (1.0 - p)
        if (model.released_mb + whole) * p <= b.shortfall_mb + EPS:
            return whole
    return mb + left


# -- dom0 grows ----------------------------------------------------------

def grow_back(model):
    """Someone raises dom0's target grow_back_after_s after the first ask."""
    b = model.balloon
    if (b.grow_back_after_s is not None and not model.grown_back and
            model.first_request_at is not None and
            model.now >= model.first_request_at + b.grow_back_after_s -
            1e-9):
        model.grown_back = True
        model.dom0_target_mb += b.grow_back_mb
        model.target_reached_at = None


# -- drift ----------------------------------------------------------------

def events(model):
    """This module's events at a step's start; True if dom0 drifted."""
    if (model.balloon.stall_after_mb is not None and
            stall_room(model) <= EPS and
            model.dom0_mb > model.dom0_target_mb + EPS):
        # Stopped before it could start: from its first try.
        stalled_at(model, model.now)
    return drift(model)


def drift(model):
    """dom0 grows drift_mb (what is free at most) at drift_at_s, once.

    Its target stays: the balloon gives the growth back, woken as for a
    changed credit (balloon_thread_cond).
    """
    b = model.balloon
    if (b.drift_at_s is None or model.drifted or
            model.now < b.drift_at_s - 1e-9):
        return False
    model.drifted = True
    grow = min(b.drift_mb, model.free_mb())
    if grow <= EPS:
        return False
    if model.dom0_mb <= model.dom0_target_mb + EPS:
        # The balloon thread wakes from rest, as for a new target.
        model.release_start = model.now + b.start_delay_s
    model.dom0_mb += grow
    model.target_reached_at = None
    return True


def marks(model):
    """Times at which this module's events happen (future ones)."""
    b, out = model.balloon, []
    if b.drift_at_s is not None and not model.drifted:
        out.append(b.drift_at_s)
    if model.resume_at is not None and model.resume_at > model.now:
        out.append(model.resume_at)
    return out
