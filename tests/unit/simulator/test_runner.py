"""simulate: our strategy against faithful reproductions of the anchors."""

import pytest

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import strategies

GiB = conftest.GiB


big_host = conftest.big_host


def one(scenario, strategy, conf):
    result, = runner.run(scenario, strategy, conf)
    return result


def test_strategies_are_plugins_with_ours_first():
    names = strategies.available()
    assert names[0] == 'progress'
    assert set(names) == {'progress', 'xl-4.4', 'libvirt-2014', 'xl-4.17'}


def test_unknown_strategy(conf):
    with pytest.raises(exception.StrategyNotFound, match='xl-4.4'):
        runner.run(big_host([]), 'xl-9', conf)


def test_default_scenario_outcomes(conf):
    scenario = scenario_mod.load()
    rows = {(r.strategy, r.request): r for r in runner.run_all(
        scenario, strategies.available(), conf)}
    ours = rows['progress', 'big-160g']
    assert ours.outcome == 'running' and ours.contention_s == 0
    assert ours.time_to_ready_s <= 1.02 * ours.lower_bound_s + 0.2
    assert 140 < ours.lower_bound_s < 175  # ~100 GiB at 680 MiB/s
    assert rows['xl-4.4', 'big-160g'].outcome == 'nomem'
    libvirt = rows['libvirt-2014', 'big-160g']
    assert libvirt.outcome == 'running'
    assert libvirt.contention_s > 20 and libvirt.soft_lockups >= 1
    assert libvirt.time_to_ready_s > ours.time_to_ready_s


def test_xl44_gives_up_after_33_seconds_and_leaves_dom0_down(conf):
    scenario = big_host([{'name': 'g', 'memory_mb': 100 * GiB}])
    result = one(scenario, 'xl-4.4', conf)
    assert result.outcome == 'nomem'
    assert 32 <= result.ended_at_s <= 34
    # xl does not re-inflate: dom0 stays (and keeps going) down.
    assert result.dom0_target_mb < 960 * GiB


def test_xl44_succeeds_when_the_balloon_is_short(conf):
    scenario = big_host([{'name': 'g', 'memory_mb': 16 * GiB}])
    assert one(scenario, 'xl-4.4', conf).outcome == 'running'


def test_libxl44_keeps_a_freemem_slack_of_the_memory_dom0_lacks(conf):
    # 64 GiB free, dom0 960 GiB: libxl 4.4 writes freemem-slack 64 GiB
    # on first use and counts free memory less it, so a 16 GiB guest
    # that fits waits for dom0 to give 16 GiB (24 s at 680 MiB/s);
    # xl 4.17 (no slack) builds it at once.
    scenario = big_host([{'name': 'g', 'memory_mb': 16 * GiB}])
    xl44 = one(scenario, 'xl-4.4', conf)
    assert 20 < xl44.time_to_ready_s < 33
    assert xl44.dom0_target_mb < 960 * GiB - 16 * GiB
    xl417 = one(scenario, 'xl-4.17', conf)
    assert xl417.time_to_ready_s < 5 and xl417.dom0_target_mb == 960 * GiB


def test_libvirt_builds_early_and_contends(conf):
    scenario = big_host([{'name': 'g', 'memory_mb': 100 * GiB}])
    result = one(scenario, 'libvirt-2014', conf)
    assert result.outcome == 'running'
    assert result.contention_s > 0 and result.soft_lockups > 0
    assert one(scenario, 'progress', conf).contention_s == 0


def test_xl417_waits_while_progressing_but_fails_when_dom0_grows(conf):
    scenario = big_host([{'name': 'g', 'memory_mb': 200 * GiB}])
    assert one(scenario, 'xl-4.17', conf).outcome == 'running'
    growing = big_host([{'name': 'g', 'memory_mb': 200 * GiB}],
                       grow_back_after_s=20, grow_back_mb=4 * GiB)
    assert one(growing, 'xl-4.17', conf).outcome == 'nomem'
    assert one(growing, 'progress', conf).outcome == 'running'


def test_stall_outcomes_and_our_revert(conf):
    scenario = big_host([{'name': 'g', 'memory_mb': 200 * GiB}],
                        stall_after_mb=50 * GiB)
    ours = one(scenario, 'progress', conf)
    assert ours.outcome == 'stalled' and 'Balloon stalled' in ours.error
    delay = ours.ended_at_s - ours.stall_began_at_s
    assert conf.xenballoon.stall_timeout <= delay <= (
        conf.xenballoon.stall_timeout + 3)
    assert ours.dom0_target_mb == 960 * GiB  # re-inflating
    assert ours.lower_bound_s is None  # dom0 cannot free that much
    assert one(scenario, 'xl-4.17', conf).outcome == 'nomem'


def test_failed_build_outcome(conf):
    scenario = big_host([{'name': 'g', 'memory_mb': 10 * GiB,
                          'fail_at_fraction': 0.5}])
    for name in strategies.available():
        assert one(scenario, name, conf).outcome == 'failed', name


def test_refusal_is_nomem_at_once(conf):
    scenario = big_host([{'name': 'g', 'memory_mb': 1023 * GiB}])
    result = one(scenario, 'progress', conf)
    assert result.outcome == 'nomem' and result.ended_at_s == 0.0
    assert result.dom0_target_mb == 960 * GiB


def test_overlapping_requests_never_overcommit(conf):
    requests = [{'name': 'g%d' % i, 'memory_mb': 150 * GiB,
                 'at_s': 5.0 * i} for i in range(8)]
    results = runner.run(big_host(requests), 'progress', conf)
    running = [r for r in results if r.outcome == 'running']
    refused = [r for r in results if r.outcome == 'nomem']
    assert len(running) == 6 and len(refused) == 2
    assert all(r.contention_s == 0 for r in results)
    assert all(r.ended_at_s == r.at_s for r in refused)


def test_runs_are_deterministic(conf):
    scenario = big_host([{'name': 'a', 'memory_mb': 120 * GiB},
                         {'name': 'b', 'memory_mb': 60 * GiB, 'at_s': 3}],
                        jitter=0.5)
    first = runner.run(scenario, 'progress', conf)
    second = runner.run(scenario, 'progress', conf)
    assert first == second


def test_strategy_names(conf):
    assert runner.strategy_names() == strategies.available()
    assert runner.strategy_names('xl-4.4') == ['xl-4.4']
    with pytest.raises(exception.StrategyNotFound) as err:
        runner.strategy_names('xl-9')
    assert str(err.value).endswith('xl-4.17, xl-4.4, all')


def test_request_faults_go_to_the_build_by_name():
    scenario = big_host([{'name': 'a', 'memory_mb': GiB},
                         {'name': 'b', 'memory_mb': GiB,
                          'fail_at_fraction': 0.5}])
    assert runner.with_request_faults(scenario, []) is scenario
    host = runner.with_request_faults(scenario, scenario.requests)
    assert host.build.fail_domains == {'b': 0.5}
    # The scenario itself is left as it was.
    assert scenario.build.fail_domains is None


def test_a_request_fault_overrides_the_build_sections(conf):
    scenario = conftest.make_scenario(
        build={'fail_at_fraction': 0.5, 'fail_domains': {'a': 0.25,
                                                         'c': 0.75}},
        requests=[{'name': 'a', 'memory_mb': GiB, 'fail_at_fraction': 0.1},
                  {'name': 'b', 'memory_mb': GiB, 'at_s': 10},
                  {'name': 'c', 'memory_mb': GiB, 'at_s': 20}])
    host = runner.with_request_faults(scenario, scenario.requests)
    assert host.build.fail_domains == {'a': 0.1, 'c': 0.75}
    errors = [r.error for r in runner.run(scenario, 'progress', conf)]
    assert [e.split(': ')[-1] for e in errors] == [
        'simulated build failure at %d%% of its memory' % n
        for n in (10, 50, 75)]


def test_our_strategy_keeps_the_headroom_and_the_baselines_do_not(conf):
    # 1 TiB, dom0 960 GiB at 680 MiB/s: 64 GiB free at the start.
    conf.set_override('free_headroom_mb', 128 * GiB, 'xenballoon')
    scenario = big_host([{'name': 'g', 'memory_mb': 100 * GiB,
                          'at_s': 120}])
    ours = one(scenario, 'progress', conf)
    # dom0 released the headroom before the request came: build only.
    assert ours.outcome == 'running'
    assert ours.time_to_ready_s < 15
    assert ours.dom0_target_mb < 960 * GiB - 100 * GiB
    xl = one(scenario, 'xl-4.17', conf)
    assert xl.time_to_ready_s > 50
