"""BalloonMemoryFilter: passes exactly the hosts the ledger accepts."""

from tests import conftest
from xenballoon_driver.hypervisor import base
from xenballoon_driver.scheduler import filters
from xenballoon_driver.scheduler import host_state

GiB = conftest.GiB


def spec_of(footprint_mb):
    spec = base.DomainSpec('vm', footprint_mb - 2)   # PV: + 2 MiB
    assert spec.footprint_mb == footprint_mb
    return spec


def test_passes_when_free_plus_balloonable_minus_reserved_covers_it(
        sim, conf):
    host = sim()
    host.ledger.reserve(host.backend, 'other', 10 * GiB)
    hs = host_state.HostState.from_resources(
        'h', host.driver.get_available_resource('h'))
    floor = conf.xenballoon.dom0_min_memory_mb
    room = 8 * GiB + (56 * GiB - floor) - 10 * GiB
    assert hs.available_mb == room
    flt = filters.BalloonMemoryFilter(conf)
    assert flt.host_passes(hs, spec_of(room))
    assert not flt.host_passes(hs, spec_of(room + 1))


def test_footprint_counts_xens_overhead(sim, conf):
    host = sim()
    hs = host_state.HostState.from_resources(
        'h', host.driver.get_available_resource('h'))
    flt = filters.BalloonMemoryFilter(conf)
    # The guest's memory alone would fit; with HVM overhead it does not.
    spec = base.DomainSpec('vm', hs.available_mb - 4, vcpus=4,
                           guest_type='hvm')
    assert spec.memory_mb < hs.available_mb < spec.footprint_mb
    assert not flt.host_passes(hs, spec)


def test_max_balloon_time_rejects_slow_hosts(conf):
    conf.flags('scheduler', max_balloon_time_s=10.0)
    flt = filters.BalloonMemoryFilter(conf)
    hs = host_state.HostState(
        name='h', total_mb=64 * GiB, free_mb=8 * GiB,
        balloonable_mb=52 * GiB, reserved_mb=0, available_mb=60 * GiB,
        release_rate_mb_s=1024.0)
    assert flt.host_passes(hs, spec_of(8 * GiB))          # no balloon
    assert flt.host_passes(hs, spec_of(18 * GiB))         # 10 s
    assert not flt.host_passes(hs, spec_of(18 * GiB + 2))
    conf.flags('scheduler', max_balloon_time_s=0.0)       # no limit
    assert filters.BalloonMemoryFilter(conf).host_passes(
        hs, spec_of(60 * GiB))
