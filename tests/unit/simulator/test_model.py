"""The simulated host model: balloon, builds, contention, the oracle."""

import json

import pytest

from tests import conftest
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod

GiB = conftest.GiB
DOM0 = 56 * GiB          # conftest.make_scenario: dom0 56 GiB of 64 GiB
FREE = 8 * GiB


def make(**kw):
    return model_mod.HostModel(conftest.make_scenario(**kw))


def per_second_release(model, seconds):
    """MiB released during each whole simulated second."""
    released = []
    for t in range(1, seconds + 1):
        before = model.dom0_mb
        model.advance(t)
        released.append(before - model.dom0_mb)
    return released


# -- the balloon --------------------------------------------------------


def test_dom0_releases_at_the_configured_rate():
    m = make()
    m.set_dom0_target(46 * GiB)
    m.advance(3)
    assert m.dom0_mb == DOM0 - 3 * 1024
    assert m.free_mb() == FREE + 3 * 1024
    assert m.target_reached_at is None
    m.advance(10)
    assert m.dom0_mb == pytest.approx(46 * GiB)
    assert m.target_reached_at == pytest.approx(10.0)
    m.advance(60)
    # It stops at the target, it does not overshoot.
    assert m.dom0_mb == pytest.approx(46 * GiB)
    assert m.free_mb() == pytest.approx(FREE + 10 * GiB)
    assert not m.balloon_can_release()


def test_rate_is_exact_between_whole_seconds():
    m = make(balloon={'release_rate_mb_s': 680})
    m.set_dom0_target(DOM0 - 10 * GiB)
    m.advance(2.25)
    assert m.dom0_mb == pytest.approx(DOM0 - 2.25 * 680)
    assert m.released_mb == pytest.approx(2.25 * 680)


def test_nothing_moves_without_a_lower_target():
    m = make()
    m.advance(1000)
    assert m.now == 1000
    assert m.dom0_mb == DOM0
    assert m.free_mb() == FREE
    assert m.first_request_at is None


def test_start_delay_postpones_the_release():
    m = make(balloon={'start_delay_s': 2.5})
    m.set_dom0_target(DOM0 - 10 * GiB)
    m.advance(2.5)
    assert m.dom0_mb == DOM0
    m.advance(4.5)
    assert m.dom0_mb == pytest.approx(DOM0 - 2 * 1024)
    m.advance(60)
    assert m.target_reached_at == pytest.approx(12.5)


def test_start_delay_counts_from_the_request_not_from_zero():
    m = make(balloon={'start_delay_s': 2})
    m.advance(5)
    m.set_dom0_target(DOM0 - GiB)
    assert m.first_request_at == 5
    m.advance(7)
    assert m.dom0_mb == DOM0
    m.advance(7.5)
    assert m.dom0_mb == pytest.approx(DOM0 - 512)


def test_jitter_stays_within_its_bounds():
    m = make(balloon={'jitter': 0.25, 'seed': 7})
    m.set_dom0_target(6 * GiB)
    released = per_second_release(m, 40)
    for mb in released:
        assert 0.75 * 1024 - 1e-6 <= mb <= 1.25 * 1024 + 1e-6
    # The jitter really changes the rate from one second to the next.
    assert len({round(mb, 3) for mb in released}) > 30
    for second in range(1000):
        assert 0.75 <= m.jitter_factor(second) <= 1.25


def test_jitter_is_deterministic_for_a_seed():
    kw = {'balloon': {'jitter': 0.3, 'seed': 42}}
    a, b = make(**kw), make(**kw)
    a.set_dom0_target(6 * GiB)
    b.set_dom0_target(6 * GiB)
    assert per_second_release(a, 30) == per_second_release(b, 30)
    assert a.dom0_mb == b.dom0_mb


def test_different_seeds_give_different_trajectories():
    a = make(balloon={'jitter': 0.3, 'seed': 1})
    b = make(balloon={'jitter': 0.3, 'seed': 2})
    a.set_dom0_target(6 * GiB)
    b.set_dom0_target(6 * GiB)
    ra, rb = per_second_release(a, 10), per_second_release(b, 10)
    assert all(abs(x - y) > 1e-9 for x, y in zip(ra, rb))
    assert a.dom0_mb != b.dom0_mb


def test_no_jitter_means_factor_one():
    m = make(balloon={'jitter': 0.0, 'seed': 99})
    assert {m.jitter_factor(s) for s in range(100)} == {1.0}


def test_stall_after_stops_the_release_and_records_when():
    m = make(balloon={'stall_after_mb': 3000})
    m.set_dom0_target(46 * GiB)
    m.advance(2)
    assert m.balloon_can_release()
    assert m.stall_began_at is None
    m.advance(10)
    assert m.released_mb == pytest.approx(3000)
    assert m.dom0_mb == pytest.approx(DOM0 - 3000)
    assert m.stall_began_at == pytest.approx(3000 / 1024)
    assert m.stuck
    assert not m.balloon_can_release()
    m.advance(500)
    assert m.dom0_mb == pytest.approx(DOM0 - 3000)
    assert m.target_reached_at is None


def test_stall_counts_all_releases_together():
    m = make(balloon={'stall_after_mb': 3000})
    m.set_dom0_target(DOM0 - 2000)
    m.advance(10)
    assert m.dom0_mb == pytest.approx(DOM0 - 2000)
    assert m.stall_began_at is None
    # A second request gets only what is left of the 3000 MiB.
    m.set_dom0_target(DOM0 - 5000)
    m.advance(20)
    assert m.dom0_mb == pytest.approx(DOM0 - 3000)
    assert m.stall_began_at == pytest.approx(10 + 1000 / 1024)


def test_dom0_never_goes_below_its_low_mark():
    m = make(host={'dom0_low_mb': 50 * GiB})
    m.set_dom0_target(46 * GiB)
    m.advance(100)
    assert m.dom0_mb == pytest.approx(50 * GiB)
    assert m.dom0_target_mb == 46 * GiB
    assert m.stall_began_at == pytest.approx(6.0)
    assert m.stuck
    assert not m.balloon_can_release()


def test_target_zero_stops_at_the_low_mark():
    m = make()       # dom0_low_mb 1024
    m.set_dom0_target(0)
    m.advance(200)
    assert m.dom0_mb == pytest.approx(1024)
    assert m.stall_began_at == pytest.approx(55.0)


def test_grow_back_raises_the_target_and_dom0_reinflates():
    m = make(balloon={'grow_back_after_s': 15, 'grow_back_mb': 2048,
                      'reinflate_rate_mb_s': 512})
    m.set_dom0_target(46 * GiB)
    m.advance(10)
    assert m.dom0_mb == pytest.approx(46 * GiB)
    m.advance(15)
    assert not m.grown_back
    assert m.dom0_target_mb == 46 * GiB
    m.advance(16)
    assert m.grown_back
    assert m.dom0_target_mb == 48 * GiB
    assert m.dom0_mb == pytest.approx(46 * GiB + 512)
    m.advance(18)
    assert m.dom0_mb == pytest.approx(46 * GiB + 1536)
    m.advance(100)
    assert m.dom0_mb == pytest.approx(48 * GiB)
    assert m.free_mb() == pytest.approx(FREE + 8 * GiB)


def test_grow_back_while_ballooning_stops_dom0_early():
    m = make(balloon={'grow_back_after_s': 5, 'grow_back_mb': 2048})
    m.set_dom0_target(46 * GiB)
    trajectory = []
    for t in range(1, 30):
        m.advance(t)
        trajectory.append(m.dom0_mb)
    assert m.dom0_target_mb == 48 * GiB
    assert min(trajectory) == pytest.approx(48 * GiB)
    assert m.dom0_mb == pytest.approx(48 * GiB)


def test_free_memory_dips_for_its_duration():
    m = make(balloon={'dip_at_s': 2, 'dip_mb': 1000, 'dip_duration_s': 3})
    m.advance(1.99)
    assert m.free_mb() == FREE
    m.advance(2)
    assert m.free_mb() == FREE - 1000
    m.advance(4.99)
    assert m.free_mb() == FREE - 1000
    m.advance(5)
    assert m.free_mb() == FREE
    assert m.dip_mb(3.0) == 1000
    assert m.dip_mb(6.0) == 0


def test_a_dip_never_makes_free_memory_negative():
    m = make(balloon={'dip_at_s': 0, 'dip_mb': 100 * GiB,
                      'dip_duration_s': 10})
    m.advance(1)
    assert m.free_mb() == 0.0


def test_reinflate_is_limited_by_free_memory():
    m = make()
    m.start_build('a', 7 * GiB + 512, 1)
    m.advance(2)
    assert m.domains['a']['state'] == 'running'
    assert m.free_mb() == pytest.approx(512)
    m.set_dom0_target(60 * GiB)
    m.advance(10)
    assert m.dom0_mb == pytest.approx(DOM0 + 512)
    assert m.free_mb() == pytest.approx(0)
    # Once the guest is gone dom0 reaches its target at the reinflate rate.
    m.destroy('a')
    m.advance(11)
    assert m.dom0_mb == pytest.approx(DOM0 + 512 + 2048)
    m.advance(20)
    assert m.dom0_mb == pytest.approx(60 * GiB)


# -- builds -------------------------------------------------------------


def test_build_populates_at_its_rate():
    m = make(build={'populate_rate_mb_s': 1024})
    m.start_build('a', 4096, 2)
    dom = m.domains['a']
    assert (dom['domid'], dom['vcpus'], dom['state']) == (1, 2, 'building')
    m.advance(1)
    assert dom['populated_mb'] == pytest.approx(1024)
    assert dom['state'] == 'building'
    assert m.free_mb() == pytest.approx(FREE - 1024)
    m.advance(3.5)
    assert dom['state'] == 'building'
    m.advance(4)
    assert dom['state'] == 'running'
    assert dom['populated_mb'] == pytest.approx(4096)
    assert m.free_mb() == pytest.approx(FREE - 4096)
    assert m.used_by_domains_mb() == pytest.approx(4096)


def test_domids_count_up():
    m = make()
    m.start_build('a', 100, 1)
    m.start_build('b', 100, 1)
    assert [m.domains[n]['domid'] for n in 'ab'] == [1, 2]
    assert m.next_domid == 3


def test_build_fails_at_its_fraction():
    m = make(build={'populate_rate_mb_s': 1024})
    m.start_build('a', 4096, 1, fail_at_fraction=0.5)
    m.advance(1)
    assert m.domains['a']['state'] == 'building'
    m.advance(10)
    dom = m.domains['a']
    assert dom['state'] == 'crashed'
    assert dom['populated_mb'] == pytest.approx(2048)
    assert dom['reason'] == 'simulated build failure at 50% of its memory'


def test_a_named_domain_fails_at_its_own_fraction():
    m = make(build={'populate_rate_mb_s': 1024, 'fail_at_fraction': 0.25,
                    'fail_domains': {'b': 0.5}})
    assert (m.fails_at('a'), m.fails_at('b')) == (0.25, 0.5)
    m.start_build('a', 4096, 1)
    m.start_build('b', 4096, 1)
    m.advance(10)
    assert m.domains['a']['populated_mb'] == pytest.approx(1024)
    assert m.domains['b']['populated_mb'] == pytest.approx(2048)
    assert '50%' in m.domains['b']['reason']


def test_scenario_fail_at_fraction_is_the_default():
    m = make(build={'populate_rate_mb_s': 1024, 'fail_at_fraction': 0.25})
    m.start_build('a', 4096, 1)
    m.advance(10)
    assert m.domains['a']['state'] == 'crashed'
    assert m.domains['a']['populated_mb'] == pytest.approx(1024)
    assert '25%' in m.domains['a']['reason']


def test_build_without_memory_or_balloon_crashes_out_of_memory():
    m = make()
    m.start_build('a', 9 * GiB, 1)
    m.advance(5)
    dom = m.domains['a']
    assert dom['state'] == 'crashed'
    assert dom['reason'].startswith('out of memory')
    assert dom['populated_mb'] == pytest.approx(FREE)
    assert m.free_mb() == pytest.approx(0)
    assert m.contention_s == 0
    # The crashed domain keeps its memory until it is destroyed.
    m.destroy('a')
    assert m.free_mb() == pytest.approx(FREE)


def test_build_that_fits_while_dom0_balloons_does_not_contend():
    m = make()
    m.set_dom0_target(46 * GiB)
    m.start_build('a', 4 * GiB, 1)
    m.advance(20)
    assert m.domains['a']['state'] == 'running'
    assert m.contention_s == 0
    assert m.soft_lockups == 0
    assert m.target_reached_at == pytest.approx(10.0)


def test_build_racing_the_balloon_contends_and_locks_up():
    m = make()
    m.set_dom0_target(6 * GiB)
    m.start_build('a', 50 * GiB, 4)
    m.advance(1)
    # Contending, the balloon runs at contention_slowdown (0.5) x rate.
    assert m.dom0_mb == pytest.approx(DOM0 - 512)
    assert m.contention_s == pytest.approx(1.0)
    m.advance(20.5)
    assert m.soft_lockups == 1
    m.advance(100)
    dom = m.domains['a']
    assert dom['state'] == 'running'
    assert dom['populated_mb'] == pytest.approx(50 * GiB)
    # The 42 GiB not free at the start arrive at 512 MiB/s: 84 s of
    # contention, then the last 8 GiB at the full 1024 MiB/s.
    assert m.contention_s == pytest.approx(84.0, abs=0.06)
    assert m.soft_lockups == 4
    assert dom['contention_s'] == pytest.approx(84.0, abs=0.06)
    assert m.contention_by_name == {'a': dom['contention_s']}
    assert m.target_reached_at == pytest.approx(92.0, abs=0.06)
    assert m.dom0_mb == pytest.approx(6 * GiB)


def test_per_domain_contention_counts_the_last_step():
    m = make()
    m.set_dom0_target(6 * GiB)
    m.start_build('a', 50 * GiB, 4)
    m.advance(100)
    assert m.domains['a']['state'] == 'running'
    assert m.contention_by_name['a'] == pytest.approx(m.contention_s)


# -- persistence --------------------------------------------------------


def busy_model():
    """Mid-run: a build contending, one crashed, a stall on its way."""
    m = make(balloon={'jitter': 0.2, 'stall_after_mb': 40 * GiB})
    m.set_dom0_target(6 * GiB)
    m.start_build('a', 20 * GiB, 2)
    m.start_build('b', 4 * GiB, 1, fail_at_fraction=0.5)
    m.advance(12.34)
    return m


def test_saved_state_round_trip():
    m = busy_model()
    state = json.loads(json.dumps(store_mod.model_state(m)))
    copy = make(balloon={'jitter': 0.2, 'stall_after_mb': 40 * GiB})
    store_mod.set_model_state(copy, state)
    assert store_mod.model_state(copy) == store_mod.model_state(m)
    assert copy.domains['b']['state'] == 'crashed'
    assert copy.contention_by_name['a'] > 0
    # Both go on identically.
    m.advance(200)
    copy.advance(200)
    assert store_mod.model_state(copy) == store_mod.model_state(m)
    assert m.stuck and copy.stuck


def test_loaded_state_does_not_share_the_caller_dict():
    m = busy_model()
    state = store_mod.model_state(m)
    copy = make()
    store_mod.set_model_state(copy, state)
    state['domains']['a']['populated_mb'] = -1
    state['contention_by_name']['x'] = 1
    assert copy.domains['a']['populated_mb'] > 0
    assert 'x' not in copy.contention_by_name


def test_saved_state_holds_every_state_key():
    state = store_mod.model_state(busy_model())
    assert set(state) == set(store_mod.MODEL_KEYS) | set(
        store_mod.OPTIONAL_MODEL_KEYS)
    assert state['now'] == pytest.approx(12.34)


def test_a_state_saved_before_faults_existed_loads_with_none_used():
    state = store_mod.model_state(busy_model())
    del state['faults_used']
    m = make()
    store_mod.set_model_state(m, state)
    assert m.faults_used == {}
    assert m.take_fault('reinflate', 1) is True
    assert m.take_fault('reinflate', 1) is False
    assert store_mod.model_state(m)['faults_used'] == {'reinflate': 1}


# -- time chunking ------------------------------------------------------


CHUNKING_CASES = {
    'plain': ({}, False),
    'jitter-delay': ({'balloon': {'jitter': 0.3, 'seed': 5,
                                  'start_delay_s': 1.3}}, False),
    'stall': ({'balloon': {'jitter': 0.3, 'stall_after_mb': 20000}}, False),
    'grow-back': ({'balloon': {'grow_back_after_s': 7.7,
                               'grow_back_mb': 9000, 'jitter': 0.5}}, False),
    'contention': ({'balloon': {'jitter': 0.2}}, True),
    'dip-contention': ({'balloon': {'dip_at_s': 3.3, 'dip_mb': 5000,
                                    'dip_duration_s': 2.2}}, True),
}


@pytest.mark.parametrize('case', sorted(CHUNKING_CASES))
@pytest.mark.parametrize('step', [0.013, 0.37, 1.0])
def test_results_do_not_depend_on_how_time_is_chunked(case, step):
    kw, build = CHUNKING_CASES[case]

    def start():
        m = make(**kw)
        m.set_dom0_target(6 * GiB)
        if build:
            m.start_build('a', 50 * GiB, 4)
        return m

    for end in (3.7, 17.3, 45.1):
        whole, chunked = start(), start()
        whole.advance(end)
        t = 0.0
        while t < end:
            t = min(end, t + step)
            chunked.advance(t)
        assert chunked.now == pytest.approx(end)
        assert chunked.dom0_mb == pytest.approx(whole.dom0_mb, abs=1.0)
        if build:
            a, b = whole.domains['a'], chunked.domains['a']
            assert b['state'] == a['state']
            assert b['populated_mb'] == pytest.approx(a['populated_mb'],
                                                      abs=1.0)
            assert chunked.contention_s == pytest.approx(whole.contention_s,
                                                         abs=0.1)
