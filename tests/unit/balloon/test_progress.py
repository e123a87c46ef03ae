"""ProgressWatcher: progress, rate, ETA, stall and poll arithmetic."""

import math

import pytest

from xenballoon_driver.balloon import progress


def watcher(need=1000, stall=10.0, min_rate=1.0, poll=1.0, min_poll=0.05,
            max_wait=0.0):
    return progress.ProgressWatcher(need, stall, min_rate, poll, min_poll,
                                    max_wait)


def test_first_look_knows_no_rate_and_polls_at_the_longest_gap():
    w = watcher()
    p = w.observe(0.0, dom0_mb=5000, free_mb=200)
    assert p.missing_mb == 800 and not p.done
    assert p.rate_mb_s == 0 and math.isinf(p.eta_s)
    assert p.next_poll_s == 1.0


def test_rate_eta_and_polling_near_the_end():
    w = watcher()
    w.observe(0.0, 5000, 0)
    p = w.observe(1.0, 4900, 100)
    assert p.rate_mb_s == pytest.approx(100)
    assert p.eta_s == pytest.approx(9.0)
    assert p.next_poll_s == 1.0  # far from the end: seldom
    p = w.observe(9.5, 4050, 950)
    assert p.eta_s == pytest.approx(0.5)
    assert p.next_poll_s == pytest.approx(0.125)
    p = w.observe(9.99, 4002, 998)
    assert p.next_poll_s == 0.05  # never below min_poll_interval
    p = w.observe(10.0, 4000, 1000)
    assert p.done and p.missing_mb == 0 and p.fraction == 1.0


def test_either_dom0_shrinking_or_free_growing_counts():
    w = watcher(need=1000)
    w.observe(0.0, 5000, 0)
    # dom0 moved, free did not (someone else took it): progress.
    assert w.observe(1.0, 4800, 0).released_mb == 200
    # free moved more than dom0 did (another domain was destroyed).
    assert w.observe(2.0, 4800, 500).released_mb == 500


def test_a_dip_in_free_memory_does_not_undo_progress():
    w = watcher(need=2000, stall=5.0)
    w.observe(0.0, 5000, 0)
    w.observe(1.0, 4500, 500)
    p = w.observe(2.0, 4000, 100)  # free dipped, dom0 kept going
    assert p.released_mb == 1000
    assert not p.stalled


def test_stall_after_timeout_without_progress():
    w = watcher(stall=10.0)
    w.observe(0.0, 5000, 0)
    w.observe(1.0, 4700, 300)
    for t in range(2, 11):
        assert not w.observe(float(t), 4700, 300).stalled
    # Last progress at t=1: stalled once 10 s have passed since then.
    p = w.observe(11.0, 4700, 300)
    assert p.stalled and p.missing_mb == 700


def test_crawl_below_min_rate_is_a_stall():
    w = watcher(need=10000, stall=10.0, min_rate=5.0)
    w.observe(0.0, 50000, 0)
    p = None
    for t in range(1, 12):
        p = w.observe(float(t), 50000 - 4 * t, 4 * t)
    assert p.stalled  # 40 MiB in 10 s is under 5 MiB/s


def test_steady_progress_is_never_a_stall_whatever_the_time():
    w = watcher(need=10 ** 6, stall=10.0, min_rate=1.0)
    w.observe(0.0, 10 ** 6, 0)
    for t in range(1, 5000):
        p = w.observe(float(t), 10 ** 6 - 100 * t, 100 * t)
        assert not p.stalled and not p.timed_out


def test_max_wait_when_set():
    w = watcher(max_wait=30.0)
    w.observe(0.0, 5000, 0)
    assert not w.observe(29.0, 4971, 29).timed_out
    assert w.observe(30.0, 4970, 30).timed_out


def test_growing_back_is_noticed():
    w = watcher()
    w.observe(0.0, 5000, 0)
    w.observe(1.0, 4800, 200)
    assert not w.observe(2.0, 4801, 199).grew_back
    assert w.observe(3.0, 4900, 100).grew_back


def test_a_jump_in_free_memory_does_not_hide_dom0_moving_on():
    # Memory promised to an earlier spawn comes free all at once (its
    # build finished); then only dom0 moves, slower than that jump.
    w = watcher(need=100000, stall=10.0)
    w.observe(0.0, 50000, -60000)
    w.observe(1.0, 49000, -10000)  # free jumped by 50000
    for t in range(2, 30):
        p = w.observe(float(t), 50000 - 1000 * t, -10000)
        assert not p.stalled, t
    # When dom0 stops too, it is a stall again.
    for t in range(30, 41):
        p = w.observe(float(t), 21000, -10000)
    assert p.stalled


def test_idle_counts_from_the_last_look_that_saw_progress():
    w = watcher(stall=5.0)      # progress: 5 MiB moved since the last mark
    assert w.observe(0.0, 2000, 0).idle_s == 0.0
    assert w.observe(1.0, 1900, 100).idle_s == 0.0
    assert w.observe(2.0, 1897, 103).idle_s == 1.0     # 3 MiB: not enough
    assert w.observe(3.5, 1895, 105).idle_s == 0.0     # 5 MiB since 1.0
    prog = w.observe(8.5, 1895, 105)
    assert prog.idle_s == 5.0 and prog.stalled


# -- cheap looks: dom0 alone (placement.py) ----------------------------------

def test_cheap_look_estimates_what_is_missing_and_is_never_done():
    w = watcher()
    w.observe(0.0, 5000, 0)
    p = w.observe(0.5, 4600)             # dom0 gave 400: ~400 free
    assert p.estimated and p.missing_mb == 600
    p = w.observe(1.5, 3900)             # as much as needed, not seen
    assert p.estimated and p.missing_mb == 0 and not p.done
    p = w.observe(2.9, 3800, 1000)
    assert not p.estimated and p.done


def test_full_look_after_cheap_ones_is_not_free_memorys_own_progress():
    # dom0 stops at 3.4 s; the full look at 8.5 s sees at once the free
    # memory dom0 gave between the last full look and 3.4 s: that is
    # dom0's progress, already counted, not free memory's since.
    w = watcher(stall=5.0)
    w.observe(0.0, 5000, 0)
    for i in range(1, 8):
        w.observe(0.45 * i, 5000 - 100 * i)   # up to 3.15 s, dom0 4300
    w.observe(3.6, 4280)                      # dom0 stopped at 3.4 s
    for t in (4.05, 4.5, 6.0, 8.0):
        assert not w.observe(t, 4280).stalled
    p = w.observe(8.601, 4280, 720)
    assert p.stalled


def test_free_memory_growing_on_its_own_is_progress():
    # dom0 is still, free memory grows (a guest destroyed, a scrub).
    w = watcher(stall=5.0)
    w.observe(0.0, 4000, 0)
    w.observe(1.0, 4000)
    w.observe(4.0, 4000, 300)
    p = w.observe(6.0, 4000, 300)
    assert not p.stalled


def test_free_rate_is_measured_between_full_looks_only():
    # 10 s of cheap looks, then a full one: free memory jumped by what
    # dom0 gave in those 10 s, which is not a rate of 1000 MiB/s.
    w = watcher(need=5000)
    w.observe(0.0, 9000, 0)
    for t in range(1, 10):
        w.observe(float(t), 9000 - 100 * t)
    p = w.observe(10.0, 8000, 1000)
    assert p.rate_mb_s == pytest.approx(100)
    assert p.eta_s == pytest.approx(40.0)
