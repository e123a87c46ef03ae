"""What the driver reports to a scheduler: Nova's figures, placement's."""

import json
import socket
import types

import pytest

from tests import conftest
from xenballoon_driver import resources
from xenballoon_driver.simulator import backend as simulated

GiB = conftest.GiB


class FakeProviderTree:
    """The part of Nova's ProviderTree the driver uses, recording calls."""

    def __init__(self, traits=()):
        self.traits = set(traits)
        self.inventory = None
        self.calls = []

    def data(self, name_or_uuid):
        return types.SimpleNamespace(traits=frozenset(self.traits),
                                     inventory=self.inventory)

    def update_inventory(self, name_or_uuid, inventory, generation=None):
        self.calls.append(('update_inventory', name_or_uuid))
        self.inventory = inventory

    def update_traits(self, name_or_uuid, traits, generation=None):
        self.calls.append(('update_traits', name_or_uuid))
        self.traits = set(traits)


@pytest.fixture
def host(sim):
    # 64 GiB, dom0 56 GiB, Xen 512 MiB, 7.5 GiB free, 1 GiB/s balloon.
    return sim(host={'xen_mb': 512, 'cpus': 24})


def test_nova_resource_tracker_shape(host, conf):
    res = host.driver.get_available_resource()
    floor = conf.xenballoon.dom0_min_memory_mb
    assert res['vcpus'] == 24 and res['vcpus_used'] == 0
    assert res['memory_mb'] == 64 * GiB
    # dom0 counts only down to its floor; Xen's own memory is used.
    assert res['memory_mb_used'] == floor + 512
    assert (res['local_gb'], res['local_gb_used']) == (0, 0)
    assert res['hypervisor_type'] == 'xen'
    assert res['hypervisor_version'] == simulated.SIMULATED_XEN_VERSION
    # [xenballoon] host is unset: the machine's name, stored on first use.
    assert res['hypervisor_hostname'] == host.driver.host == (
        socket.gethostname())
    assert res['numa_topology'] is None
    assert res['supported_instances'] == [('x86_64', 'xen', 'xen'),
                                          ('x86_64', 'xen', 'hvm')]
    assert json.loads(res['cpu_info']) == {
        'arch': 'x86_64', 'features': [],
        'topology': {'sockets': 1, 'cores': 24, 'threads': 1}}
    assert host.driver.get_available_resource('node-7')[
        'hypervisor_hostname'] == 'node-7'


def test_extras_are_the_ledgers_figures(host, conf):
    extra = host.driver.get_available_resource()['xenballoon']
    status = host.driver.host_status()
    for key in ('free_mb', 'balloonable_mb', 'reserved_mb', 'available_mb',
                'dom0_current_mb', 'dom0_target_mb', 'dom0_min_mb'):
        assert extra[key] == status[key], key
    assert extra['xen_mb'] == 512
    assert extra['guests'] == 0
    assert extra['backend'] == 'xen (simulated)'
    assert extra['release_rate_mb_s'] == (
        conf.scheduler.default_release_rate_mb_s)
    assert extra['release_rate_measured'] is False


def test_memory_used_counts_guests_and_spawns_in_flight(host, conf):
    floor = conf.xenballoon.dom0_min_memory_mb
    host.driver.spawn('vm1', 20 * GiB, vcpus=4)
    res = host.driver.get_available_resource()
    assert res['memory_mb_used'] == floor + 512 + 20 * GiB + 2
    assert res['vcpus_used'] == 4
    assert res['xenballoon']['guests'] == 1
    # A reservation not yet built counts as used too.
    host.ledger.reserve(host.backend, 'vm2', 10 * GiB)
    res = host.driver.get_available_resource()
    assert res['memory_mb_used'] == floor + 512 + 30 * GiB + 2
    assert res['xenballoon']['reserved_mb'] == 10 * GiB
    assert res['memory_mb'] - res['memory_mb_used'] == (
        res['xenballoon']['available_mb'])


def test_release_rate_is_measured_by_spawns(host):
    # 20 GiB needs 12.5 GiB from dom0: about 12.5 s at 1 GiB/s.
    host.driver.spawn('vm1', 20 * GiB)
    extra = host.driver.get_available_resource()['xenballoon']
    assert extra['release_rate_measured'] is True
    assert extra['release_rate_mb_s'] == pytest.approx(1024, rel=0.05)


def test_a_spawn_without_ballooning_measures_nothing(host):
    host.driver.spawn('vm1', 2 * GiB)
    extra = host.driver.get_available_resource()['xenballoon']
    assert extra['release_rate_measured'] is False


def test_release_rate_average():
    rate = resources.ReleaseRate()
    assert rate.mb_s is None
    assert rate.observe(100, 1.0) is None           # too little released
    assert rate.observe(4096, 3.0, poll_interval=2.0) is None  # too short
    assert rate.observe(4096, 0.0) is None
    assert rate.observe(4000, 10.0) == 400.0
    assert rate.observe(8000, 10.0) == 600.0        # half way to 800
    assert rate.samples == 2


def test_inventory(host, conf):
    floor = conf.xenballoon.dom0_min_memory_mb
    conf.flags('scheduler', cpu_allocation_ratio=2.0)
    inv = host.driver.get_inventory()
    # Reserved: dom0's floor, Xen's 512 MiB and the overhead of the biggest
    # guest placement may admit: HVM, 24 vCPUs, the 60928 MiB left:
    # 2 MiB + 4 KiB x (256 x 24 + 2 x 60928) = 502 MiB.
    assert inv == {
        'MEMORY_MB': {'total': 64 * GiB, 'reserved': floor + 512 + 502,
                      'min_unit': 1,
                      'max_unit': 64 * GiB - floor - 512 - 502,
                      'step_size': 1, 'allocation_ratio': 1.0},
        'VCPU': {'total': 24, 'reserved': 0, 'min_unit': 1, 'max_unit': 24,
                 'step_size': 1, 'allocation_ratio': 2.0}}
    # A guest adds its own overhead (PV: 2 MiB) and leaves less room, so
    # less for the next one: 40446 MiB left, 2 + 4 x (6144 + 80892) / 1024
    # = 341.9, rounded up to 342 MiB.
    host.driver.spawn('vm1', 20 * GiB)
    assert host.driver.get_inventory()['MEMORY_MB']['reserved'] == (
        floor + 512 + 2 + 342)
    # Placement may sell what is left less one guest's worst overhead.
    left = host.driver.host_status()['available_mb']
    assert left == 64 * GiB - floor - 512 - 20 * GiB - 2
    assert 64 * GiB - (floor + 512 + 2 + 342) - 20 * GiB == left - 342
    host.driver.destroy('vm1')
    assert host.driver.get_inventory() == inv


def test_traits():
    assert resources.traits() == ['CUSTOM_XENBALLOON_BALLOONING']


def test_update_provider_tree_publishes_inventory_and_merges_traits(host):
    tree = FakeProviderTree(traits={'COMPUTE_STATUS_DISABLED',
                                    'CUSTOM_XENBALLOON_OLD'})
    host.driver.update_provider_tree(tree, 'node-1')
    assert tree.calls == [('update_inventory', 'node-1'),
                          ('update_traits', 'node-1')]
    assert tree.inventory == host.driver.get_inventory('node-1')
    # Others' traits stay; ours are what the driver reports now.
    assert tree.traits == {'COMPUTE_STATUS_DISABLED',
                           'CUSTOM_XENBALLOON_BALLOONING'}
    host.driver.update_provider_tree(tree, 'node-1', allocations={})
    assert tree.traits == {'COMPUTE_STATUS_DISABLED',
                           'CUSTOM_XENBALLOON_BALLOONING'}
