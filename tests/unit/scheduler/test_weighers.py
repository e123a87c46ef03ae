"""BalloonTimeWeigher and Nova's normalisation."""

import pytest

from tests import conftest
from xenballoon_driver.hypervisor import base
from xenballoon_driver.scheduler import host_state
from xenballoon_driver.scheduler import weighers

GiB = conftest.GiB


def state(name, free_gib, rate, reserved_gib=0):
    return host_state.HostState(
        name=name, total_mb=256 * GiB, free_mb=free_gib * GiB,
        balloonable_mb=200 * GiB, reserved_mb=reserved_gib * GiB,
        available_mb=(free_gib + 200 - reserved_gib) * GiB,
        release_rate_mb_s=rate)


def names(weighed):
    return [w.host_state.name for w in weighed]


def test_normalize_like_nova():
    assert weighers.normalize([]) == []
    assert weighers.normalize([3, 3, 3]) == [0.0, 0.0, 0.0]
    assert weighers.normalize([-10, 0, -5]) == [0.0, 1.0, 0.5]


def test_prefers_the_host_that_needs_least_ballooning(conf):
    hosts = [state('slow', 4, 300.0), state('fast', 4, 2000.0),
             state('roomy', 64, 300.0)]
    weigher = weighers.BalloonTimeWeigher(conf)
    spec = base.DomainSpec('vm', 32 * GiB)
    # roomy: fits in free memory; fast: 28 GiB at 2000 MiB/s; slow last.
    weighed = weighers.weigh_hosts([weigher], hosts, spec)
    assert names(weighed) == ['roomy', 'fast', 'slow']
    assert [w.weight for w in weighed] == pytest.approx(
        [1.0, 1.0 - 14.336 / 95.56, 0.0], abs=1e-3)


def test_memory_promised_to_earlier_requests_counts(conf):
    hosts = [state('busy', 64, 1000.0, reserved_gib=60),
             state('idle', 10, 1000.0)]
    spec = base.DomainSpec('vm', 16 * GiB)
    weighed = weighers.weigh_hosts([weighers.BalloonTimeWeigher(conf)],
                                   hosts, spec)
    assert names(weighed) == ['idle', 'busy']


def test_multiplier_scales_and_zero_turns_it_off(conf):
    hosts = [state('slow', 4, 300.0), state('fast', 4, 2000.0)]
    spec = base.DomainSpec('vm', 32 * GiB)
    conf.flags('scheduler', balloon_time_weight_multiplier=2.5)
    weighed = weighers.weigh_hosts([weighers.BalloonTimeWeigher(conf)],
                                   hosts, spec)
    assert [(w.host_state.name, w.weight) for w in weighed] == [
        ('fast', 2.5), ('slow', 0.0)]
    conf.flags('scheduler', balloon_time_weight_multiplier=0.0)
    weighed = weighers.weigh_hosts([weighers.BalloonTimeWeigher(conf)],
                                   hosts, spec)
    # Off: every weight 0, the hosts in the order given.
    assert [(w.host_state.name, w.weight) for w in weighed] == [
        ('slow', 0.0), ('fast', 0.0)]


def test_equal_weights_keep_the_given_order(conf):
    hosts = [state('a', 64, 300.0), state('b', 64, 2000.0)]
    weighed = weighers.weigh_hosts([weighers.BalloonTimeWeigher(conf)],
                                   hosts, base.DomainSpec('vm', 1024))
    assert names(weighed) == ['a', 'b']
