"""dom0's release in the host model: a decaying rate, a stall that
resumes, Xen's persistent shortfall and dom0 drifting above its target;
and the physical limit (oracle.py) that counts them.

All on the model's own time (advance): nothing sleeps.
"""

import math

import pytest

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.simulator import balloon_driver as bd
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import release
from xenballoon_driver.simulator import store as store_mod

GiB = conftest.GiB
DOM0 = 56 * GiB          # conftest.make_scenario: dom0 56 GiB, low 1 GiB
FREE = 8 * GiB           # 64 GiB host, no Xen heap
RATE = 1024.0            # MiB/s
THREAD = {'page_cache_mb': 0, 'max_schedule_delay_s': 20,
          'max_retry_count': 4}


def make(**balloon):
    return model_mod.HostModel(conftest.make_scenario(balloon=balloon))


def freed_by_model(balloon, mb, until=7200.0):
    """When free memory first grows by ``mb``, dom0 asked once, at once.

    dom0 is asked for what that takes (release.needed_mb); a cancelled
    balloon is nudged at once, as the oracle does.
    """
    m = make(**balloon)
    start = m.free_mb()
    m.set_dom0_target(m.dom0_mb - release.needed_mb(m, mb))
    t = 0.0
    while m.free_mb() < start + mb - 1e-3:
        assert t < until, 'never freed'
        if bd.canceled(m):
            m.set_dom0_target(m.dom0_target_mb - 1e-3)
        t = round(t + 0.01, 2)
        m.advance(t)
    return t


# -- a decaying rate ----------------------------------------------------


def test_a_decaying_rate_halves_every_decay_half_mb():
    m = make(decay_half_mb=4096)
    m.set_dom0_target(DOM0 - 16 * GiB)
    # x(t) = H log2(1 + r ln2 t / H): 4 GiB after H / (r ln2) seconds.
    m.advance(4096 / (RATE * math.log(2)))
    assert DOM0 - m.dom0_mb == pytest.approx(4096)
    assert release.decayed_rate(m, RATE) == pytest.approx(RATE / 2)


def test_the_limit_of_a_decaying_rate_is_its_closed_form():
    # H / (r ln2) * (2**(X/H) - 1): 8 GiB with H = 4 GiB is 3 H/(r ln2).
    closed = 4096 / (RATE * math.log(2)) * 3
    m = make(decay_half_mb=4096)
    assert m.release_time(8 * GiB) == pytest.approx(closed)
    m.set_dom0_target(DOM0 - 8 * GiB)
    m.advance(60)
    assert m.target_reached_at == pytest.approx(closed)
    # Far slower than the undecayed 8 s.
    assert make().release_time(8 * GiB) == pytest.approx(8.0)


def test_the_decay_counts_what_dom0_released_before():
    m = make(decay_half_mb=4096)
    m.set_dom0_target(DOM0 - 4 * GiB)
    m.advance(30)
    # 4 GiB more from 4 GiB released: (2**2 - 2**1) H/(r ln2).
    assert m.release_time(4 * GiB) == pytest.approx(
        2 * 4096 / (RATE * math.log(2)))


# -- stall, then resume -------------------------------------------------


def test_a_stall_resumes_after_stall_resume_after_s():
    m = make(stall_after_mb=4096, stall_resume_after_s=10)
    m.set_dom0_target(DOM0 - 8 * GiB)
    m.advance(13.9)
    assert DOM0 - m.dom0_mb == pytest.approx(4096)
    assert m.stuck and m.stall_began_at == pytest.approx(4.0)
    m.advance(30)
    assert m.dom0_mb == pytest.approx(DOM0 - 8 * GiB)
    # 4 s, 10 s stalled, 4 s.
    assert m.target_reached_at == pytest.approx(18.0)


def test_a_stall_from_the_start_resumes_too():
    # Stopped from its first try, at 10 s; on again at 15 s.
    m = make(stall_after_mb=0, stall_resume_after_s=5)
    m.advance(10)
    m.set_dom0_target(DOM0 - GiB)
    m.advance(14.9)
    assert m.dom0_mb == DOM0
    m.advance(17)
    assert m.dom0_mb == pytest.approx(DOM0 - GiB)
    assert m.target_reached_at == pytest.approx(16.0)


def test_the_limit_waits_out_a_stall_that_resumes():
    assert make(stall_after_mb=4096, stall_resume_after_s=10).release_time(
        8 * GiB) == pytest.approx(18.0)
    # One that lasts is no limit at all; short of it, no wait.
    assert make(stall_after_mb=4096).release_time(8 * GiB) is None
    assert make(stall_after_mb=4096).release_time(4 * GiB) == \
        pytest.approx(4.0)


def _stalled_thread(resume_after_s=30):
    m = make(stall_after_mb=4096, stall_resume_after_s=resume_after_s,
             **THREAD)
    m.set_dom0_target(DOM0 - 8 * GiB)
    return m


def test_a_stall_shows_as_nothing_left_to_reclaim_and_fails_passes():
    m = _stalled_thread()
    m.advance(3.9)
    # MemAvailable: only what comes before the stall.
    assert bd.available_mb(m) == pytest.approx(102.4)
    m.advance(4.05)
    delay, _, retry, _, available = bd.sysfs(m)
    # What dom0 shows: nothing to give, 4 GiB still to give.
    assert available == 0.0 and m.dom0_mb - m.dom0_target_mb == 4096
    assert (delay, retry) == (2, 2)
    # Passes fail at 4, 6, 10 s; the fourth, at 18 s, cancels.
    m.advance(17.9)
    assert (m.bp['state'], m.bp['delay']) == (bd.EAGAIN, 8)
    m.advance(18.1)
    assert m.bp['state'] == bd.CANCELED


def test_a_resume_makes_memory_reclaimable_again():
    m = _stalled_thread()
    m.advance(33.9)
    assert bd.available_mb(m) == 0.0
    m.advance(34.1)
    assert bd.available_mb(m) == pytest.approx(DOM0 - 4 * GiB - 1024)
    # Cancelled at 18 s, it sleeps until the target changes.
    m.advance(60)
    assert DOM0 - m.dom0_mb == pytest.approx(4096)
    m.set_dom0_target(m.dom0_target_mb - 1)
    m.advance(66)
    assert m.dom0_mb == pytest.approx(m.dom0_target_mb)


def test_a_resume_during_back_off_is_taken_at_the_next_pass():
    # Resumes at 9 s; the thread sleeps from 6 to 10 s, then succeeds.
    m = _stalled_thread(resume_after_s=5)
    m.advance(30)
    assert m.target_reached_at == pytest.approx(14.0)


def test_the_limit_of_a_stalled_thread_counts_its_back_off():
    # Cancelled at 18 and 32 s, nudged at once each time; the pass at
    # 34 s finds the resumed memory: 4 GiB more by 38 s. (The model's
    # nudge comes at its next 0.01 s look, up to 0.02 s later.)
    m = _stalled_thread()
    assert m.release_time(8 * GiB) == pytest.approx(38.0, abs=1e-3)
    assert freed_by_model(dict(stall_after_mb=4096,
                               stall_resume_after_s=30, **THREAD),
                          8 * GiB) == pytest.approx(38.0, abs=0.025)


def test_without_a_resume_the_low_mark_of_a_stall_is_final():
    m = make(stall_after_mb=4096, **THREAD)
    m.set_dom0_target(DOM0 - 8 * GiB)
    m.set_dom0_target(DOM0 - 8 * GiB - 1)
    m.advance(600)
    assert DOM0 - m.dom0_mb == pytest.approx(4096)
    assert bd.available_mb(m) == 0.0


# -- Xen's persistent shortfall -----------------------------------------


def test_xen_keeps_its_share_of_what_dom0_releases_for_good():
    # 8 MiB of each GiB up to 192 MiB (the 192 MiB came at 2 MiB
    # per GiB after 96 GiB: more than this host's dom0 holds).
    m = make(shortfall_mb=192, shortfall_per_gib_mb=8)
    m.set_dom0_target(DOM0 - 16 * GiB)
    m.advance(60)
    assert m.free_mb() == pytest.approx(FREE + 16 * GiB - 128)
    m.set_dom0_target(1024)
    m.advance(120)
    # Capped at shortfall_mb; dom0 growing back does not return it.
    assert m.free_mb() == pytest.approx(FREE + DOM0 - 1024 - 192)
    m.set_dom0_target(DOM0)
    m.advance(300)
    assert m.dom0_mb == pytest.approx(DOM0)
    assert m.free_mb() == pytest.approx(FREE - 192)


def test_what_dom0_must_release_for_the_free_memory_wanted():
    m = make(shortfall_mb=192, shortfall_per_gib_mb=8)
    # Under the cap: Xen keeps 8 MiB of each GiB.
    assert release.needed_mb(m, 1016) == pytest.approx(1024)
    # Over it: all of the cap more.
    assert release.needed_mb(m, 40 * GiB) == pytest.approx(40 * GiB + 192)
    assert release.needed_mb(make(), 1000) == 1000


def test_the_limit_of_a_shortfall_asks_dom0_for_it():
    balloon = dict(shortfall_mb=192, shortfall_per_gib_mb=8)
    m = make(**balloon)
    # 40 GiB + 192 MiB at 1 GiB/s.
    assert m.release_time(40 * GiB) == pytest.approx(40 + 192 / RATE)
    assert freed_by_model(balloon, 40 * GiB) == pytest.approx(
        40 + 192 / RATE, abs=0.011)
    # dom0 can give 55 GiB: free memory grows by 55 GiB - 192 MiB at most.
    assert m.release_time(55 * GiB - 192) is not None
    assert m.release_time(55 * GiB - 191) is None


# -- dom0 drifts above its target ---------------------------------------


def test_dom0_grows_above_its_target_and_the_balloon_gives_it_back():
    m = make(drift_at_s=5, drift_mb=2048)
    m.set_dom0_target(DOM0 - GiB)
    m.advance(5.0)
    assert m.dom0_mb == pytest.approx(DOM0 - GiB)
    m.advance(5.5)
    assert m.dom0_target_mb == DOM0 - GiB
    assert m.dom0_mb == pytest.approx(DOM0 - GiB + 1536)
    assert m.free_mb() == pytest.approx(FREE + GiB - 1536)
    m.advance(8)
    assert m.dom0_mb == pytest.approx(DOM0 - GiB)


def test_a_drift_takes_what_is_free_at_most_and_happens_once():
    m = make(drift_at_s=1, drift_mb=100 * GiB)
    m.advance(1.0001)
    assert m.free_mb() == pytest.approx(0, abs=0.5)
    m.advance(200)
    assert m.dom0_mb == pytest.approx(DOM0) and m.drifted


def test_the_limit_counts_a_drift_before_dom0_gets_there():
    balloon = dict(drift_at_s=5, drift_mb=2048)
    assert make(**balloon).release_time(8 * GiB) == pytest.approx(10.0)
    assert freed_by_model(balloon, 8 * GiB) == pytest.approx(10.0,
                                                             abs=0.011)


def test_a_drift_wakes_a_sleeping_balloon_thread():
    m = make(drift_at_s=60, drift_mb=GiB, **THREAD)
    m.set_dom0_target(512)
    # At the low mark from 55 s: passes fail at 55, 57 s; asleep to 61 s.
    m.advance(59)
    assert (m.bp['state'], m.bp['wake_at']) == (bd.EAGAIN, 61.0)
    m.advance(60.5)
    # The credit moved at 60 s: its pass ran and took the drift's pages.
    assert m.dom0_mb == pytest.approx(1024 + 512)
    assert m.bp['state'] == bd.DONE


# -- the scenario and the state file ------------------------------------


@pytest.mark.parametrize('field,value', [
    ('stall_resume_after_s', -1), ('decay_half_mb', 0),
    ('shortfall_mb', -5), ('shortfall_per_gib_mb', 2000),
    ('drift_at_s', 'soon'), ('drift_mb', -1)])
def test_bad_values_are_refused_with_the_fields_name(field, value):
    with pytest.raises(exception.InvalidScenario,
                       match='balloon.%s' % field):
        make(**{field: value})


def test_drift_and_resume_survive_the_state_file():
    balloon = dict(stall_after_mb=2048, stall_resume_after_s=10,
                   drift_at_s=1, drift_mb=512)
    m = make(**balloon)
    m.set_dom0_target(DOM0 - 8 * GiB)
    m.advance(3)
    copy = make(**balloon)
    store_mod.set_model_state(copy, store_mod.model_state(m))
    # Stalled at 2 s (1.5 GiB + the drift's 512 MiB), resumes at 12 s.
    assert (copy.drifted, copy.resume_at) == (True, pytest.approx(12.0))
    m.advance(30)
    copy.advance(30)
    assert copy.dom0_mb == pytest.approx(m.dom0_mb)
    assert copy.free_mb() == pytest.approx(m.free_mb())
