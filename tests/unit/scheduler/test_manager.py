"""The reference scheduler: filter, weigh, pick, consume."""

import collections
import random

import pytest

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.scheduler import manager

GiB = conftest.GiB


@pytest.fixture
def fleet(conf):
    """Factory: {name: (total GiB, dom0 GiB, MiB/s)} -> {name: SimHost}."""
    def factory(**shapes):
        hosts = {}
        for name, (total, dom0, rate) in shapes.items():
            scenario = conftest.make_scenario(
                host={'total_mb': total * GiB, 'dom0_mb': dom0 * GiB},
                balloon={'release_rate_mb_s': rate})
            hosts[name] = conftest.SimHost(conf, scenario)
        return hosts
    return factory


def drivers(hosts):
    return {name: host.driver for name, host in hosts.items()}


def test_picks_the_host_that_is_ready_soonest(conf, fleet):
    hosts = fleet(small=(64, 60, 1024), roomy=(128, 64, 1024))
    sched = manager.Scheduler(conf)
    spec = base.DomainSpec('vm', 32 * GiB)
    pick, = sched.select_destinations(spec, drivers(hosts))
    # roomy has 64 GiB free: no ballooning at all.
    assert (pick.host, pick.balloon_mb, pick.balloon_time_s) == (
        'roomy', 0, 0.0)
    assert pick.weight == 1.0


def test_measured_release_rate_decides_between_equal_hosts(conf, fleet):
    hosts = fleet(slow=(64, 60, 256), fast=(64, 60, 4096))
    sched = manager.Scheduler(conf)
    # Unmeasured, both hosts look alike: the first one is taken.
    first, = sched.select_destinations(base.DomainSpec('a', 8 * GiB),
                                       drivers(hosts))
    assert first.host == 'slow'
    # Each balloons about 20 GiB: long enough to measure.
    hosts['slow'].driver.spawn('a', 24 * GiB)
    hosts['fast'].driver.spawn('b', 24 * GiB)
    rates = {name: host.driver.get_available_resource(name)['xenballoon'][
        'release_rate_mb_s'] for name, host in hosts.items()}
    assert rates['slow'] == pytest.approx(256, rel=0.1)
    assert rates['fast'] == pytest.approx(4096, rel=0.25)
    pick, = sched.select_destinations(base.DomainSpec('c', 8 * GiB),
                                      drivers(hosts))
    assert pick.host == 'fast'
    assert pick.balloon_time_s == pytest.approx(
        pick.balloon_mb / rates['fast'])


def test_instances_of_one_request_see_each_other(conf, fleet):
    hosts = fleet(a=(64, 32, 1024), b=(64, 32, 1024))
    sched = manager.Scheduler(conf)
    spec = base.DomainSpec('vm', 24 * GiB)
    picks = sched.select_destinations(spec, drivers(hosts),
                                      num_instances=3)
    # 32 GiB free each: the first two fit in free memory on different
    # hosts; the third must balloon wherever it goes.
    assert sorted(p.host for p in picks[:2]) == ['a', 'b']
    assert [p.balloon_mb for p in picks] == [0, 0, 16 * GiB + 4]


def test_states_are_read_afresh_for_each_call(conf, fleet):
    hosts = fleet(a=(64, 32, 1024), b=(64, 32, 1024))
    sched = manager.Scheduler(conf)
    hosts['a'].driver.spawn('big', 30 * GiB)
    pick, = sched.select_destinations(base.DomainSpec('vm', 24 * GiB),
                                      drivers(hosts))
    assert pick.host == 'b'


def test_no_valid_host_names_the_numbers(conf, fleet):
    hosts = fleet(a=(64, 56, 1024), b=(128, 120, 1024))
    sched = manager.Scheduler(conf)
    floor = conf.xenballoon.dom0_min_memory_mb
    with pytest.raises(exception.NoValidHost) as err:
        sched.select_destinations(base.DomainSpec('huge', 200 * GiB),
                                  drivers(hosts))
    assert str(err.value) == (
        'No valid host for huge: it needs %d MiB; the most any of the 2 '
        'host(s) can give is %d MiB' % (200 * GiB + 2, 128 * GiB - floor))
    assert err.value.exit_code == exception.EXIT_NO_MEMORY
    # Nothing was reserved anywhere.
    assert all(h.ledger.entries() == {} for h in hosts.values())


def test_no_valid_host_within_max_balloon_time(conf, fleet):
    conf.flags('scheduler', max_balloon_time_s=5.0)
    hosts = fleet(a=(64, 56, 1024))
    sched = manager.Scheduler(conf)
    with pytest.raises(exception.NoValidHost) as err:
        sched.select_destinations(base.DomainSpec('vm', 20 * GiB),
                                  drivers(hosts))
    assert ('1 host(s) can free it, but none within [scheduler] '
            'max_balloon_time_s = 5.0 s (soonest: 18.1 s)') in str(err.value)


def test_host_subset_size_picks_at_random_among_the_best(conf, fleet):
    conf.flags('scheduler', host_subset_size=2)
    hosts = fleet(a=(64, 32, 1024), b=(64, 32, 1024), c=(64, 8, 1024))
    sched = manager.Scheduler(conf, rng=random.Random(3))
    spec = base.DomainSpec('vm', 16 * GiB)
    picks = collections.Counter(
        sched.select_destinations(spec, drivers(hosts))[0].host
        for _ in range(40))
    # c would have to balloon: never among the best two.
    assert set(picks) == {'a', 'b'}


def test_place_posts_to_the_picked_hosts_board_when_enabled(conf, fleet):
    from tests.unit.jobboard import fakes
    hosts = fleet(small=(64, 60, 1024), roomy=(128, 64, 1024))
    conf.flags('jobboard', enabled=True)
    sched = manager.Scheduler(conf)
    sched.boards = fakes.Boards()
    spec = base.DomainSpec('vm', 32 * GiB)
    (pick, (job, flow_id)), = sched.place(spec, drivers(hosts))
    assert pick.host == 'roomy'
    board, = sched.boards.boards.values()
    assert board.posted == [job]
    assert job.details['flow_uuid'] == flow_id
    assert job.name == 'spawn vm'
    # Posted, not run: the picked host is untouched until its conductor
    # claims the job.
    assert hosts['roomy'].driver.list_instances() == []


def test_place_without_the_jobboard_posts_nothing(conf, fleet):
    hosts = fleet(a=(64, 32, 1024))
    sched = manager.Scheduler(conf)
    assert sched.boards is None
    (pick, posted), = sched.place(base.DomainSpec('vm', 8 * GiB),
                                  drivers(hosts))
    assert (pick.host, posted) == ('a', None)


def test_place_many_spreads_them_as_one_request(conf, fleet):
    from tests.unit.jobboard import fakes
    hosts = fleet(a=(64, 32, 1024), b=(64, 32, 1024))
    conf.flags('jobboard', enabled=True)
    sched = manager.Scheduler(conf)
    sched.boards = fakes.Boards()
    placed = sched.place(base.DomainSpec('vm', 24 * GiB), drivers(hosts),
                         num_instances=3)
    # As select_destinations: the first two fit in free memory on
    # different hosts (both hosts share one name here: one fake board).
    assert [p.balloon_mb for p, _ in placed] == [0, 0, 16 * GiB + 4]
    board, = sched.boards.boards.values()
    assert [j.name for j in board.posted] == ['spawn vm', 'spawn vm-2',
                                              'spawn vm-3']
