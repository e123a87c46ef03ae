"""HostState: the ledger's figures, and what placing a request does."""

import pytest

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.scheduler import host_state

GiB = conftest.GiB


def state(**kw):
    values = dict(name='h', total_mb=64 * GiB, free_mb=8 * GiB,
                  balloonable_mb=52 * GiB, reserved_mb=0,
                  available_mb=60 * GiB, release_rate_mb_s=1024.0)
    values.update(kw)
    return host_state.HostState(**values)


def read(host, name='h'):
    return host_state.HostState.from_resources(
        name, host.driver.get_available_resource(name))


def test_from_resources_takes_the_drivers_figures(sim, conf):
    host = sim()
    hs = read(host)
    floor = conf.xenballoon.dom0_min_memory_mb
    assert hs == host_state.HostState(
        name='h', total_mb=64 * GiB, free_mb=8 * GiB,
        balloonable_mb=56 * GiB - floor, reserved_mb=0,
        available_mb=64 * GiB - floor,
        release_rate_mb_s=conf.scheduler.default_release_rate_mb_s,
        vcpus=64, vcpus_used=0)


def test_balloon_time_is_what_free_memory_cannot_cover_over_the_rate():
    hs = state(free_mb=8 * GiB, reserved_mb=2 * GiB)
    assert hs.balloon_mb(4 * GiB) == 0
    assert hs.balloon_time_s(6 * GiB) == 0
    # 10 GiB with 6 GiB of free memory promised to nobody: 4 GiB to wait.
    assert hs.balloon_mb(10 * GiB) == 4 * GiB
    assert hs.balloon_time_s(10 * GiB) == pytest.approx(4.0)
    assert state(release_rate_mb_s=512.0).balloon_time_s(10 * GiB) == (
        pytest.approx(4.0))


def test_fits_is_the_ledgers_test():
    hs = state(available_mb=1000)
    assert hs.fits(1000) and not hs.fits(1001)


def test_consume_puts_a_second_request_behind_the_first():
    hs = state()
    spec = base.DomainSpec('a', 6 * GiB - 2, vcpus=2)   # footprint 6 GiB
    hs.consume_from_request(spec)
    assert (hs.reserved_mb, hs.available_mb, hs.balloonable_mb) == (
        6 * GiB, 54 * GiB, 52 * GiB)
    assert (hs.vcpus_used, hs.placed) == (2, 1)
    # Only 2 GiB of free memory is left unpromised.
    assert hs.balloon_mb(4 * GiB) == 2 * GiB
    hs.consume_from_request(base.DomainSpec('b', 6 * GiB - 2))
    assert (hs.reserved_mb, hs.available_mb, hs.balloonable_mb) == (
        12 * GiB, 48 * GiB, 48 * GiB)


def test_promise_mb_takes_memory_off_as_a_request_would_but_no_vcpus():
    hs = state()
    hs.promise_mb(10 * GiB)   # 8 GiB free, then 2 GiB from dom0
    assert (hs.reserved_mb, hs.available_mb, hs.balloonable_mb) == (
        10 * GiB, 50 * GiB, 50 * GiB)
    assert (hs.vcpus_used, hs.placed) == (0, 0)
    # Behind the 2 GiB dom0 still owes the promise: 3 GiB for 1 GiB.
    assert hs.balloon_mb(1 * GiB) == 3 * GiB


@pytest.mark.parametrize('sizes_gib', [
    [4], [8], [20], [4, 4, 30], [50, 9], [30, 26, 3]])
def test_consume_predicts_the_ledger_exactly(sim, sizes_gib):
    """After each request, the state equals a fresh read of the host."""
    host = sim()
    hs = read(host)
    for i, gib in enumerate(sizes_gib):
        spec = base.DomainSpec('vm%d' % i, gib * GiB)
        assert hs.fits(spec.footprint_mb)
        hs.consume_from_request(spec)
        host.ledger.reserve(host.backend, spec.name, spec.footprint_mb)
        fresh = read(host)
        assert (hs.available_mb, hs.reserved_mb, hs.balloonable_mb) == (
            fresh.available_mb, fresh.reserved_mb, fresh.balloonable_mb)


def test_a_request_that_does_not_fit_is_refused_by_the_ledger_too(sim):
    host = sim()
    hs = read(host)
    assert not hs.fits(hs.available_mb + 1)
    with pytest.raises(exception.NotEnoughMemory):
        host.ledger.reserve(host.backend, 'big', hs.available_mb + 1)
    host.ledger.reserve(host.backend, 'exact', hs.available_mb)
