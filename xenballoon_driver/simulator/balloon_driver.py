"""dom0's page cache and Linux's balloon thread, for the host model.

Off unless a scenario opts in, so the shipped figures do not move:
``balloon.page_cache_mb`` models dom0's page cache and kswapd's reclaim;
``balloon.max_schedule_delay_s`` models the balloon thread's back-off and
cancellation (and makes the sysfs knobs visible, ``sysfs``).

dom0's memory, in the model: ``dom0_low_mb`` that nothing frees, the page
cache (``model.dom0_cache_mb``), and free pages inside dom0 (the rest).
The balloon gives back free pages only; kswapd turns page cache into free
pages at ``reclaim_rate_mb_s`` from ``reclaim_delay_s`` after dom0 first
ran out of free pages until dom0 reaches its target (the balloon's
allocations keep it awake; dirty cache is written back first: both
assumptions, see specs.py).

What Linux does, from drivers/xen/balloon.c (5.15 and later; Debian 12
runs 6.1; the kthread form and its wait rule come from Juergen Gross's
"xen/balloon: fix balloon kthread waiting", stable in 5.15):
- balloon_thread() calls decrease_reservation() for at most one
  frame_list (PAGE_SIZE / sizeof(xen_pfn_t) = 512 pages: 2 MiB) per
  pass, then update_schedule(). Its page allocations use GFP_BALLOON
  (__GFP_NORETRY): one fails as soon as dom0 has no free page and reclaim
  does not give one at once, and the pass returns BP_EAGAIN.
- update_schedule(): on BP_DONE schedule_delay = retry_count = 1; on a
  failure ++retry_count; past max_retry_count (0: never) both reset to 1
  and the state is BP_ECANCELED; else schedule_delay doubles, capped at
  max_schedule_delay (BP_EAGAIN).
- BP_EAGAIN sleeps schedule_delay s; BP_ECANCELED (and BP_DONE) sleep up
  to 3600 s until the credit (target - current) changes
  (balloon_thread_cond): the same target written again does not wake it;
  after 3600 s it runs a pass anyway.
A full 2 MiB pass resets the delay, so the delay only grows while each
sleep yields less than 2 MiB of free pages in dom0.

A stall_after_mb stall is, here, dom0's reclaimable memory running out
(release.py): the balloon gets no page past it, passes fail there as at
the low mark, and MemAvailable shows nothing beyond it until it resumes.
"""

import math

from xenballoon_driver.simulator import release

EPS = 1e-6
# One decrease_reservation(): a frame_list of 512 4 KiB pages.
CHUNK_MB = 2.0
# BP_ECANCELED's wait_event timeout: 3600 * HZ.
CANCELED_SLEEP_S = 3600.0
DONE, EAGAIN, CANCELED = 'done', 'eagain', 'canceled'


def init(model):
    b = model.balloon
    model.dom0_cache_mb = (None if b.page_cache_mb is None
                           else float(b.page_cache_mb))
    # Since when dom0 has been short of free pages (kswapd's clock).
    model.dom0_starved_at = None
    # This step's (free pages, kswapd's rate) at its start (seconds_for).
    model.step_supply = None
    model.bp = None
    if b.max_schedule_delay_s is not None:
        model.bp = {'state': DONE, 'delay': 1, 'retry': 1, 'wake_at': None}


def modelled(model):
    return model.dom0_cache_mb is not None or model.bp is not None


def cache_mb(model):
    return model.dom0_cache_mb or 0.0


def dom0_free_mb(model):
    """Free pages inside dom0: what the balloon can take at once."""
    return max(0.0, model.dom0_mb - model.dom0_low_mb - cache_mb(model))


def pages_mb(model):
    """Free pages the balloon can take at once: dom0's, up to a stall."""
    return min(dom0_free_mb(model), release.stall_room(model))


def available_mb(model):
    """dom0's MemAvailable in the model: what the balloon could get.

    Free pages and the page cache kswapd can reclaim (none at
    reclaim_rate_mb_s 0), up to a stall_after_mb stall: what it cannot
    give until it resumes is not shown, as Linux's MemAvailable does
    not count memory it cannot reclaim (the low mark counts nothing).
    """
    cache = cache_mb(model) if model.balloon.reclaim_rate_mb_s else 0.0
    return min(dom0_free_mb(model) + cache, release.stall_room(model))


def _credit_left(model):
    return model.dom0_mb > model.dom0_target_mb + EPS


def reclaim_rate(model):
    """kswapd's rate now: while there is cache and dom0 must shrink."""
    if (not model.dom0_cache_mb or not _credit_left(model) or
            model.now < _reclaim_from(model) - 1e-9):
        return 0.0
    return model.balloon.reclaim_rate_mb_s


def _reclaim_from(model):
    if model.dom0_starved_at is None:
        return math.inf
    return model.dom0_starved_at + model.balloon.reclaim_delay_s


def canceled(model):
    return model.bp is not None and model.bp['state'] == CANCELED


def _running(model):
    return model.bp is None or model.bp['state'] == DONE


def next_event(model, rate):
    """When the thread wakes, or dom0's free pages or cache run out."""
    if not modelled(model) or not _credit_left(model):
        return math.inf
    bp, marks = model.bp, [math.inf]
    if model.dom0_cache_mb and model.now < _reclaim_from(model):
        marks.append(_reclaim_from(model))
    if bp is not None and bp['state'] != DONE:
        return min(marks + [bp['wake_at']])
    if not _running(model) or model.now < model.release_start - 1e-9:
        return min(marks)
    reclaim, free = reclaim_rate(model), dom0_free_mb(model)
    if rate > reclaim and (free > EPS or bp is not None):
        # Without the thread modelled, an empty dom0 goes on at kswapd's
        # pace; with it, the pass fails there (after_step).
        marks.append(model.now + free / (rate - reclaim))
    stall = release.stall_room(model)
    if bp is not None and stall < math.inf:
        # A stall_after_mb stall: the pass fails there too.
        marks.append(model.now + stall / rate)
    if reclaim:
        marks.append(model.now + model.dom0_cache_mb / reclaim)
    return min(marks)


def wake_due(model):
    """A pass of a sleeping thread whose schedule_delay is over."""
    bp = model.bp
    if (bp is None or bp['state'] == DONE or
            model.now < bp['wake_at'] - 1e-9):
        return
    if not _credit_left(model):
        _succeed(bp)
    elif pages_mb(model) >= min(CHUNK_MB, model.dom0_mb -
                                model.dom0_target_mb) - EPS:
        _succeed(bp)
    else:
        fail(model, model.now)


def reclaim(model, dt):
    """kswapd's work over a step of dt while dom0 must shrink."""
    model.step_supply = None
    if model.dom0_cache_mb is None:
        return
    if model.dom0_starved_at is None and dom0_free_mb(model) <= EPS:
        model.dom0_starved_at = model.now
    rate = reclaim_rate(model)
    model.step_supply = (dom0_free_mb(model), rate)
    model.dom0_cache_mb -= min(model.dom0_cache_mb, rate * dt)


def limit(model, move):
    """The MiB of ``move`` the balloon gets in this step (after reclaim).

    The steps end where dom0's free pages run out (next_event), so
    within one step free pages + reclaim cover the whole move or none
    of the step's time was left to starve.
    """
    if not _running(model):
        return 0.0
    return min(move, pages_mb(model))


def seconds_for(model, mb, rate):
    """Seconds into this step at which the balloon had given ``mb``.

    At ``rate`` while dom0 has free pages, then at kswapd's pace.
    """
    supply = model.step_supply
    if supply is None or supply[1] >= rate:
        return mb / rate
    free, reclaim = supply
    fast_s = free / (rate - reclaim)
    if mb <= rate * fast_s or not reclaim:
        return mb / rate
    return fast_s + (mb - rate * fast_s) / reclaim


def after_step(model, end, rate):
    """Success once dom0 reaches its target; a failure when it starves."""
    if not modelled(model):
        return
    if not _credit_left(model):
        model.dom0_starved_at = None
    elif model.dom0_starved_at is None and dom0_free_mb(model) <= EPS:
        model.dom0_starved_at = end
    bp = model.bp
    if bp is None:
        return
    if not _credit_left(model):
        _succeed(bp)
    elif (bp['state'] == DONE and end >= model.release_start - 1e-9 and
          pages_mb(model) <= EPS and (reclaim_rate(model) < rate or
                                      release.stall_room(model) <= EPS)):
        fail(model, end)


def _succeed(bp):
    bp.update(state=DONE, delay=1, retry=1, wake_at=None)


def fail(model, at):
    """update_schedule() after a pass that could not allocate its pages."""
    bp, b = model.bp, model.balloon
    bp['retry'] += 1
    if b.max_retry_count and bp['retry'] > b.max_retry_count:
        bp.update(state=CANCELED, delay=1, retry=1,
                  wake_at=at + CANCELED_SLEEP_S)
        return
    bp['delay'] = min(bp['delay'] * 2, int(b.max_schedule_delay_s))
    bp.update(state=EAGAIN, wake_at=at + bp['delay'])


def target_changed(model, old_target_mb):
    """balloon_thread_cond(): a sleeping thread wakes if the credit moved."""
    if not _credit_left(model):
        model.dom0_starved_at = None
    bp = model.bp
    if bp is None or bp['state'] == DONE:
        return
    if abs(model.dom0_target_mb - old_target_mb) > EPS:
        # Its next pass is now; the schedule is kept until that pass.
        bp.update(state=EAGAIN, wake_at=model.now)


def credit_changed(model):
    """dom0 itself moved (drift): a sleeping thread wakes for it."""
    bp = model.bp
    if bp is not None and bp['state'] != DONE:
        bp.update(state=EAGAIN, wake_at=model.now)


def sysfs(model):
    """The thread's sysfs knobs and MemAvailable, or None if not modelled.

    (schedule_delay, max_schedule_delay, retry_count, max_retry_count,
    MemAvailable MiB), as dom0 shows them.
    """
    bp, b = model.bp, model.balloon
    if bp is None:
        return None
    return (bp['delay'], int(b.max_schedule_delay_s), bp['retry'],
            b.max_retry_count, available_mb(model))
