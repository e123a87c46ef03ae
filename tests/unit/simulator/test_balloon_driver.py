"""dom0's page cache and Linux's balloon thread in the host model.

All on the model's own time (advance): nothing sleeps.
"""

import importlib.resources

import pytest

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.simulator import balloon_driver as bd
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod

GiB = conftest.GiB
DOM0 = 56 * GiB          # conftest.make_scenario: dom0 56 GiB, low 1 GiB
LOW = 1024


def make(**balloon):
    return model_mod.HostModel(conftest.make_scenario(balloon=balloon))


def released(m):
    return DOM0 - m.dom0_mb


def schedule(m, until, step=0.25):
    """(schedule_delay, retry_count, state) each time one of them moves."""
    seen, t = [], m.now
    while t < until - 1e-9:
        t += step
        m.advance(t)
        now = (m.bp['delay'], m.bp['retry'], m.bp['state'])
        if not seen or seen[-1] != now:
            seen.append(now)
    return seen


# -- page cache and reclaim --------------------------------------------


def test_not_modelled_unless_the_scenario_says_so():
    m = make()
    assert not bd.modelled(m)
    assert m.dom0_cache_mb is None and m.bp is None
    assert bd.sysfs(m) is None


def test_free_pages_go_first_then_at_kswapds_pace():
    # 1 GiB free in dom0, the rest page cache; no back-off modelled.
    m = make(page_cache_mb=DOM0 - LOW - GiB, reclaim_rate_mb_s=100)
    m.set_dom0_target(DOM0 - 4 * GiB)
    # Free pages last 1 s at 1024 MiB/s; kswapd wakes when they are out.
    m.advance(1)
    assert released(m) == pytest.approx(1024)
    assert m.dom0_cache_mb == DOM0 - LOW - GiB
    assert bd.dom0_free_mb(m) == pytest.approx(0, abs=1e-6)
    m.advance(11)
    assert released(m) == pytest.approx(1024 + 100 * 10)
    assert m.dom0_cache_mb == pytest.approx(DOM0 - LOW - GiB - 1000)
    assert bd.available_mb(m) == pytest.approx(DOM0 - LOW - 2024)


def test_the_physical_limit_counts_reclaim():
    m = make(page_cache_mb=DOM0 - LOW - GiB, reclaim_rate_mb_s=100)
    assert m.release_time(4 * GiB) == pytest.approx(1 + (4096 - 1024) / 100)
    # Without page cache, the balloon's own rate.
    assert make().release_time(4 * GiB) == pytest.approx(4.0)


def test_kswapd_rests_once_dom0_is_at_its_target():
    m = make(page_cache_mb=DOM0 - LOW - GiB, reclaim_rate_mb_s=100)
    m.set_dom0_target(DOM0 - 512)
    m.advance(30)
    assert m.dom0_mb == pytest.approx(DOM0 - 512)
    # Nothing was reclaimed: 1 GiB was free, kswapd never woke.
    assert m.dom0_cache_mb == pytest.approx(DOM0 - LOW - GiB)


def test_reclaim_can_start_late():
    m = make(page_cache_mb=DOM0 - LOW, reclaim_rate_mb_s=100,
             reclaim_delay_s=30)
    m.set_dom0_target(DOM0 - GiB)
    m.advance(30)
    assert released(m) == pytest.approx(0)
    m.advance(35)
    assert released(m) == pytest.approx(500)


def test_page_cache_must_fit_above_the_low_mark():
    with pytest.raises(exception.InvalidScenario, match='page_cache_mb'):
        make(page_cache_mb=DOM0 - LOW + 1)


# -- back-off and cancellation -----------------------------------------


def test_delay_doubles_to_max_schedule_delay_at_the_low_mark():
    m = make(page_cache_mb=0, max_schedule_delay_s=20, max_retry_count=0)
    m.set_dom0_target(512)
    # dom0 reaches its low mark (55 GiB at 1 GiB/s) and every pass fails.
    seen = schedule(m, 160)
    assert [d for d, _, _ in seen[:6]] == [1, 2, 4, 8, 16, 20]
    # It stays at 20 s, retry_count still counting.
    assert seen[5:] == [(20, n, bd.EAGAIN) for n in (6, 7, 8, 9)]
    assert m.dom0_mb == pytest.approx(LOW)
    # Failures at 55 s, then after each delay: 57, 61, 69, 85, 105, ...
    m2 = make(page_cache_mb=0, max_schedule_delay_s=20, max_retry_count=0)
    m2.set_dom0_target(512)
    m2.advance(84.9)
    assert m2.bp['delay'] == 16
    m2.advance(85.1)
    assert m2.bp['delay'] == 20
    m2.advance(145.1)
    assert (m2.bp['delay'], m2.bp['retry']) == (20, 9)


def test_delay_resets_on_a_successful_pass():
    # No free page at all in dom0; kswapd gives 0.5 MiB/s, so a 2 s sleep
    # yields 1 MiB (a pass fails) and the 4 s after it 2 MiB more.
    m = make(page_cache_mb=DOM0 - LOW, reclaim_rate_mb_s=0.5,
             max_schedule_delay_s=20)
    m.set_dom0_target(DOM0 - GiB)
    m.advance(0.1)
    assert (m.bp['delay'], m.bp['retry']) == (2, 2)
    m.advance(5.9)
    assert (m.bp['delay'], m.bp['retry']) == (4, 3)
    assert released(m) == pytest.approx(0, abs=1e-5)
    m.advance(6.1)
    # The pass at 6 s took its 3 MiB (reset), then starved again.
    assert released(m) == pytest.approx(3.0, abs=0.1)
    assert (m.bp['delay'], m.bp['retry'], m.bp['state']) == (
        2, 2, bd.EAGAIN)


def test_cancels_after_max_retry_count_and_looks_idle():
    m = make(page_cache_mb=0, max_schedule_delay_s=20, max_retry_count=4)
    m.set_dom0_target(512)
    seen = schedule(m, 80)
    assert seen == [(1, 1, bd.DONE), (2, 2, bd.EAGAIN), (4, 3, bd.EAGAIN),
                    (8, 4, bd.EAGAIN), (1, 1, bd.CANCELED)]
    # Failures at 55, 57 and 61 s; the fourth, at 69 s, cancels.
    m2 = make(page_cache_mb=0, max_schedule_delay_s=20, max_retry_count=4)
    m2.set_dom0_target(512)
    m2.advance(68.9)
    assert m2.bp['state'] == bd.EAGAIN
    m2.advance(69.1)
    assert m2.bp['state'] == bd.CANCELED
    assert bd.sysfs(m2) == (1, 20, 1, 4, 0.0)
    assert not m2.balloon_can_release()


def test_a_sleeping_balloon_wakes_early_only_for_a_different_target():
    m = make(page_cache_mb=0, max_schedule_delay_s=20, max_retry_count=0)
    m.set_dom0_target(512)
    m.advance(62)                 # failed at 55, 57 and 61 s: sleeps 8 s
    assert (m.bp['delay'], m.bp['wake_at']) == (8, pytest.approx(69))
    m.set_dom0_target(512)
    m.advance(63)
    assert (m.bp['retry'], m.bp['wake_at']) == (4, pytest.approx(69))
    m.set_dom0_target(513)
    m.advance(63.5)
    # Its pass ran at 63 s (and failed): the next sleep is 16 s from it.
    assert (m.bp['delay'], m.bp['retry']) == (16, 5)
    assert m.bp['wake_at'] == pytest.approx(79)


def _canceled_with_cache_left():
    """Cancelled at 14 s; kswapd's reclaim starts at 30 s."""
    m = make(page_cache_mb=DOM0 - LOW, reclaim_rate_mb_s=100,
             reclaim_delay_s=30, max_schedule_delay_s=20, max_retry_count=4)
    m.set_dom0_target(DOM0 - GiB)
    m.advance(14.1)
    assert m.bp['state'] == bd.CANCELED
    m.advance(60)
    assert released(m) == pytest.approx(0)
    assert bd.dom0_free_mb(m) == pytest.approx(3000)
    return m


def test_the_same_target_does_not_wake_a_cancelled_balloon():
    m = _canceled_with_cache_left()
    m.set_dom0_target(DOM0 - GiB)
    m.advance(600)
    assert m.bp['state'] == bd.CANCELED
    assert released(m) == pytest.approx(0)


def test_a_different_target_wakes_it():
    m = _canceled_with_cache_left()
    m.set_dom0_target(DOM0 - GiB - 1)
    m.advance(62)
    assert m.bp['state'] == bd.DONE
    assert m.dom0_mb == pytest.approx(DOM0 - GiB - 1)


def test_a_cancelled_balloon_tries_again_after_an_hour():
    m = _canceled_with_cache_left()
    m.advance(14 + 3599)
    assert released(m) == pytest.approx(0)
    m.advance(14 + 3602)
    assert m.dom0_mb == pytest.approx(DOM0 - GiB)


def test_the_physical_limit_nudges_a_cancelled_balloon():
    m = make(page_cache_mb=DOM0 - LOW, reclaim_rate_mb_s=100,
             reclaim_delay_s=30, max_schedule_delay_s=20, max_retry_count=4)
    # Starved at 0 s, cancelled at 14 and 28 s (nudged at once each
    # time); reclaim from 30 s at 100 MiB/s, in bursts between 2 s
    # pauses from 34 s: 443, 222, 222 and the last 138 MiB at 41 s.
    assert m.release_time(GiB) == pytest.approx(41.0, abs=1e-3)


def test_back_off_state_survives_the_state_file():
    m = make(page_cache_mb=0, max_schedule_delay_s=20, max_retry_count=4)
    m.set_dom0_target(512)
    m.advance(58)
    state = store_mod.model_state(m)
    copy = make(page_cache_mb=0, max_schedule_delay_s=20, max_retry_count=4)
    store_mod.set_model_state(copy, state)
    assert copy.bp == m.bp and copy.dom0_cache_mb == 0.0
    m.advance(80)
    copy.advance(80)
    assert copy.bp == m.bp


# -- the scenario files -------------------------------------------------


def _scenario_model(name):
    path = str(importlib.resources.files('xenballoon_driver.simulator') /
               'scenarios' / ('%s.yaml' % name))
    scenario = scenario_mod.load(path)
    m = model_mod.HostModel(scenario)
    # What the guest needs from dom0 beyond what is free.
    m.set_dom0_target(m.dom0_mb - (scenario.requests[0].footprint_mb -
                                   m.free_mb()))
    return m


def _timeline(m, until):
    """Times at which the thread's (state, delay, retry) changes."""
    seen, t = [], 0.0
    while t < until - 1e-9:
        t = round(t + 0.05, 2)
        m.advance(t)
        now = (m.bp['state'], m.bp['delay'], m.bp['retry'])
        if not seen or seen[-1][1] != now:
            seen.append((t, now))
    return seen


def test_scenario_backoff_page_cache_pauses_but_finishes():
    m = _scenario_model('backoff-page-cache')
    seen = _timeline(m, 30)
    assert seen[:5] == [
        (0.05, (bd.DONE, 1, 1)), (12.05, (bd.EAGAIN, 2, 2)),
        (14.05, (bd.EAGAIN, 4, 3)), (18.05, (bd.EAGAIN, 8, 4)),
        (26.05, (bd.DONE, 1, 1))]
    # From 12 to 26 s nothing moved: longer than a 5 s stall_timeout.
    m.advance(200)
    assert m.dom0_mb == pytest.approx(m.dom0_target_mb)
    assert m.target_reached_at == pytest.approx(115.156, abs=1e-3)


def test_scenario_backoff_cancel_cancels_with_cache_left():
    m = _scenario_model('backoff-cancel')
    seen = _timeline(m, 60)
    assert seen[-1] == (26.05, (bd.CANCELED, 1, 1))
    assert m.dom0_mb - m.dom0_target_mb == pytest.approx(18434)
    assert bd.available_mb(m) == pytest.approx(110 * GiB)
    m.set_dom0_target(m.dom0_target_mb)      # the same: nothing
    m.advance(120)
    assert m.bp['state'] == bd.CANCELED
    m.set_dom0_target(m.dom0_target_mb - 1)  # a different one
    m.advance(300)
    assert m.dom0_mb == pytest.approx(m.dom0_target_mb)


def test_scenario_stall_low_mark_is_a_true_stall():
    m = _scenario_model('stall-low-mark')
    seen = _timeline(m, 60)
    assert [s for _, s in seen] == [
        (bd.DONE, 1, 1), (bd.EAGAIN, 2, 2), (bd.EAGAIN, 4, 3),
        (bd.EAGAIN, 8, 4), (bd.CANCELED, 1, 1)]
    assert m.dom0_mb == pytest.approx(100 * GiB)
    assert bd.available_mb(m) == 0
    assert m.release_time(1) is None
    m.set_dom0_target(m.dom0_target_mb - 1)  # a nudge cannot help
    m.advance(600)
    assert m.dom0_mb == pytest.approx(100 * GiB)
