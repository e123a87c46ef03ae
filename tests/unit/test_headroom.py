"""Warm headroom through the driver, on the simulator's virtual clock.

The small host: 64 GiB, 8 GiB free, dom0 56 GiB releasing 1 GiB/s.
With 16 GiB of headroom, dom0 goes to 48 GiB when nothing waits.
"""

import pytest

from tests import conftest
from xenballoon_driver.hypervisor import base
from xenballoon_driver.scheduler import host_state
from xenballoon_driver.scheduler import weighers

GiB = conftest.GiB
H = 16 * GiB


@pytest.fixture
def warm(sim, conf):
    """A host keeping H MiB free, dom0 settled at its headroom target."""
    def make(**kw):
        conf.flags('xenballoon', free_headroom_mb=H)
        host = sim(**kw)
        host.settle()
        return host
    return make


def waits(host):
    """The balloon reports of the driver's spawns, as they come."""
    seen = []
    real = host.driver.release_rate.observe

    def observe(released_mb, waited_s, poll_interval=0.0):
        seen.append((released_mb, waited_s))
        return real(released_mb, waited_s, poll_interval)
    host.driver.release_rate.observe = observe
    return seen


def test_start_up_releases_the_headroom(warm):
    host = warm()
    assert host.dom0().target_mb == 56 * GiB - (H - 8 * GiB)
    status = host.driver.host_status()
    assert status['ready_mb'] == H
    assert status['headroom_from_dom0_mb'] == H - 8 * GiB
    # The host can take what it could without the headroom.
    assert status['available_mb'] == 64 * GiB - status['dom0_min_mb']


def test_a_guest_within_the_headroom_waits_for_no_balloon(warm):
    host = warm()
    seen = waits(host)
    began = host.clock.now()
    host.driver.spawn('vm1', 8 * GiB)
    assert seen == [(0, 0.0)]
    # Its build alone: 8 GiB populated at 8 GiB/s.
    assert host.clock.now() - began < 2.0
    # And the headroom is there again for the next one.
    assert host.dom0().target_mb == 56 * GiB - (H - 8 * GiB) - (8 * GiB + 2)
    host.settle()
    assert host.driver.host_status()['ready_mb'] == H


def test_without_headroom_the_same_guest_waits(sim):
    host = sim()
    seen = waits(host)
    host.driver.spawn('vm1', 12 * GiB)
    (released, waited), = seen
    assert released >= 4 * GiB and waited > 3.0


def test_a_bigger_guest_waits_only_for_what_the_headroom_lacks(warm):
    host = warm()
    seen = waits(host)
    host.driver.spawn('big', 24 * GiB)
    (released, waited), = seen
    # Its footprint is 24 GiB + 2 MiB: dom0 released the rest only.
    assert released == pytest.approx(8 * GiB + 2, abs=64)
    assert waited == pytest.approx(8.0, abs=1.5)


def test_re_established_after_a_destroy_and_a_failed_spawn(warm):
    host = warm(build={'fail_domains': {'bad': 0.5}})
    settled = host.dom0().target_mb
    host.driver.spawn('vm1', 20 * GiB)
    host.driver.destroy('vm1')
    # dom0 gets the guest's memory back, but not the headroom's.
    assert host.dom0().target_mb == settled
    host.settle()
    with pytest.raises(Exception):
        host.driver.spawn('bad', 20 * GiB)
    assert host.ledger.entries() == {}
    assert host.dom0().target_mb == settled
    host.settle()
    assert host.driver.host_status()['ready_mb'] == H


def test_setting_it_to_0_gives_it_back(warm, conf):
    host = warm()
    conf.flags('xenballoon', free_headroom_mb=0)
    host.driver.get_available_resource()
    assert host.dom0().target_mb == 56 * GiB
    host.settle()
    status = host.driver.host_status()
    assert (status['ready_mb'], status['headroom_from_dom0_mb'],
            status['dom0_owed_mb']) == (8 * GiB, 0, 0)


def test_power_off_and_on_keep_it(warm):
    host = warm()
    host.driver.spawn('vm1', 4 * GiB)
    settled = host.dom0().target_mb
    host.driver.power_off('vm1')
    host.driver.power_on('vm1')
    assert host.dom0().target_mb == settled
    host.settle()
    assert host.driver.host_status()['ready_mb'] == H


def test_the_weigher_sees_no_balloon_time_within_the_headroom(
        warm, sim, conf):
    hosts = {'warm': warm().driver, 'cold': sim().driver}
    states = {s.name: s for s in (host_state.HostState.from_resources(
        name, drv.get_available_resource(name))
        for name, drv in hosts.items())}
    # Both offer placement the same memory: the headroom is dom0's.
    assert states['warm'].available_mb == states['cold'].available_mb
    spec = base.DomainSpec('vm', 12 * GiB)
    assert states['warm'].balloon_time_s(spec.footprint_mb) == 0.0
    assert states['cold'].balloon_time_s(spec.footprint_mb) > 0.0
    weighed = weighers.weigh_hosts([weighers.BalloonTimeWeigher(conf)],
                                   list(states.values()), spec)
    assert weighed[0].host_state.name == 'warm'
    # Placed once, the headroom left is smaller: a second guest of the
    # same size needs dom0 on the warm host too.
    states['warm'].consume_from_request(spec)
    assert states['warm'].balloon_mb(spec.footprint_mb) == (
        2 * spec.footprint_mb - H)


def test_the_resource_report_says_what_is_ready(warm):
    extra = warm().driver.get_available_resource()['xenballoon']
    assert extra['ready_mb'] == H
    assert extra['headroom_from_dom0_mb'] == H - 8 * GiB
