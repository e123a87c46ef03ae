"""fleet.run_fleet: requests placed over time on one virtual clock."""

import pytest

from xenballoon_driver import exception
from xenballoon_driver.simulator import fleet as fleet_mod
from xenballoon_driver.simulator import scenario as scenario_mod

GiB = 1024


def fleet(requests, **host_b):
    return scenario_mod.from_dict({
        'name': 'two',
        'host': {'dom0_low_mb': 1024},
        'hosts': [
            {'name': 'a', 'host': {'total_mb': 64 * GiB,
                                   'dom0_mb': 48 * GiB},
             'balloon': {'release_rate_mb_s': 500}},
            {'name': 'b', 'host': dict({'total_mb': 64 * GiB,
                                        'dom0_mb': 58 * GiB}, **host_b),
             'balloon': {'release_rate_mb_s': 2000}}],
        'requests': requests})


def by_name(results):
    return {r.request: r for r in results}


def test_requests_go_where_they_are_ready_soonest(conf):
    requests, hosts = fleet_mod.run_fleet(fleet([
        {'name': 'one', 'memory_mb': 12 * GiB},
        {'name': 'two', 'memory_mb': 12 * GiB, 'at_s': 5},
    ]), conf)
    rows = by_name(requests)
    # a has 16 GiB free: "one" needs no balloon there.
    assert (rows['one'].host, rows['one'].balloon_mb) == ('a', 0)
    assert rows['one'].time_to_ready_s < 2
    # Then a has 4 GiB free, b 6 GiB: b needs 2 GiB less ballooning
    # (both at the assumed rate: nothing measured yet).
    assert (rows['two'].host, rows['two'].balloon_mb) == ('b', 6 * GiB + 2)
    assert rows['two'].predicted_s == pytest.approx(
        (6 * GiB + 2) / conf.scheduler.default_release_rate_mb_s)
    assert rows['two'].outcome == 'running'
    assert [h.host for h in hosts] == ['a', 'b']
    assert [h.guests for h in hosts] == [1, 1]
    assert all(h.overcommit_mb == 0 for h in hosts)


def test_simultaneous_requests_do_not_take_the_same_memory(conf):
    requests, hosts = fleet_mod.run_fleet(fleet([
        {'name': 'r%d' % i, 'memory_mb': 14 * GiB} for i in range(4)]),
        conf)
    rows = by_name(requests)
    assert {r.outcome for r in rows.values()} == {'running'}
    assert sorted(r.host for r in rows.values()) == ['a', 'a', 'b', 'b']
    assert all(h.peak_committed_mb <= h.total_mb for h in hosts)


def test_refusals_are_reported_at_refusal_time(conf):
    seen = []

    def on_refused(fleet_, spec, err):
        seen.append((spec.name, sorted(fleet_.drivers),
                     fleet_.clock.now(), str(err)))

    requests, _ = fleet_mod.run_fleet(fleet([
        {'name': 'big', 'memory_mb': 40 * GiB},
        {'name': 'bigger', 'memory_mb': 60 * GiB, 'at_s': 3},
    ]), conf, on_refused=on_refused)
    rows = by_name(requests)
    assert rows['big'].outcome == 'running'
    refused = rows['bigger']
    assert (refused.outcome, refused.host, refused.time_to_ready_s) == (
        fleet_mod.REFUSED, None, None)
    assert 'No valid host for bigger' in refused.error
    assert seen == [('bigger', ['a', 'b'], 3.0, refused.error)]


def test_a_scenario_without_hosts_is_refused(conf):
    with pytest.raises(exception.InvalidScenario, match='no hosts: list'):
        fleet_mod.run_fleet(scenario_mod.from_dict({}), conf)


def test_a_request_fault_follows_it_to_its_host(conf):
    requests, hosts = fleet_mod.run_fleet(fleet([
        {'name': 'one', 'memory_mb': 12 * GiB, 'fail_at_fraction': 0.5},
        {'name': 'two', 'memory_mb': 12 * GiB, 'at_s': 5},
    ]), conf)
    rows = by_name(requests)
    assert rows['one'].host == 'a' and rows['one'].outcome == 'failed'
    assert rows['one'].error.endswith('simulated build failure at 50% of '
                                      'its memory')
    # The failed build gave a its memory back: "two" builds there.
    assert (rows['two'].host, rows['two'].outcome) == ('a', 'running')
    assert [h.guests for h in hosts] == [1, 0]


def test_headroom_through_conf_alone_makes_guests_ready_sooner(conf):
    """The benchmark's switch: conf.set_override is all it takes."""
    spread = fleet([{'name': 'r%d' % i, 'memory_mb': 6 * GiB,
                     'at_s': 30 * i} for i in range(8)])
    cold, _ = fleet_mod.run_fleet(spread, conf)
    conf.set_override('free_headroom_mb', 8 * GiB, 'xenballoon')
    warm, hosts = fleet_mod.run_fleet(spread, conf)
    assert {r.outcome for r in cold + warm} == {'running'}
    # Re-established in the 30 s between requests: none waits for dom0.
    assert [r.balloon_mb for r in warm] == [0] * 8
    assert max(r.time_to_ready_s for r in warm) < 2
    assert sum(r.balloon_mb for r in cold) > 0
    mean = [sum(r.time_to_ready_s for r in rows) / 8
            for rows in (cold, warm)]
    assert mean[1] < mean[0]
    assert all(h.overcommit_mb == 0 for h in hosts)
