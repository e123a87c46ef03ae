"""Our filter and weigher as Nova scheduler plugins, on Nova's HostState.

Each HostState is filled the way Nova's scheduler fills it: from a
ComputeNode that holds what the adapter's get_available_resource
reported (as the resource tracker copies it).
"""

import uuid

import pytest

pytest.importorskip('nova.virt.driver')

import nova.conf as nova_conf_mod  # noqa: E402
from nova import objects  # noqa: E402
from nova.scheduler import filters as nova_filters  # noqa: E402
from nova.scheduler import host_manager  # noqa: E402
from nova.scheduler import weights as nova_weights  # noqa: E402

from nova.virt.xenballoon import scheduler  # noqa: E402
from tests import conftest as base  # noqa: E402
from tests.nova import conftest  # noqa: E402

GiB = base.GiB
FILTER = 'nova.virt.xenballoon.scheduler.BalloonMemoryFilter'
WEIGHER = 'nova.virt.xenballoon.scheduler.BalloonTimeWeigher'


def compute_node(name, resources, instances_mb=(), updated_at=None):
    """The ComputeNode as the resource tracker saves it.

    It keeps the driver's figures and stats but overwrites memory_mb_used
    with its own count: [DEFAULT] reserved_host_memory_mb plus every
    instance on the node (``instances_mb``), and adds its own counters
    to the stats.
    """
    node = objects.ComputeNode(
        uuid=str(uuid.uuid4()), host=name, host_ip='192.0.2.1',
        free_disk_gb=0, updated_at=updated_at, pci_device_pools=None,
        metrics=None, cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0)
    node.update_from_virt_driver(resources)
    node.memory_mb_used = (nova_conf_mod.CONF.reserved_host_memory_mb +
                           sum(instances_mb))
    node.free_ram_mb = resources['memory_mb'] - node.memory_mb_used
    node.stats = dict(resources['stats'],
                      num_instances=str(len(instances_mb)))
    return node


def host_state(name, resources, instances_mb=()):
    """Nova's HostState for a host that reported ``resources``."""
    state = host_manager.HostState(name, name, str(uuid.uuid4()))
    state.update(compute=compute_node(name, resources, instances_mb))
    return state


def request(memory_mb, vcpus=2, **image_properties):
    flavor = objects.Flavor(memory_mb=memory_mb, vcpus=vcpus, root_gb=0,
                            ephemeral_gb=0, swap=0, extra_specs={})
    return objects.RequestSpec(
        flavor=flavor, num_instances=1, instance_uuid=str(uuid.uuid4()),
        numa_topology=None,
        pci_requests=objects.InstancePCIRequests(requests=[]),
        image=objects.ImageMeta.from_dict({'properties': image_properties}))


@pytest.fixture
def hosts(compute):
    """Two hosts: 'busy' must balloon 8+ GiB for 16 GiB; 'roomy' need not.

    busy: 64 GiB, dom0 56 GiB, 8 GiB free; can have 60 GiB.
    roomy: 32 GiB, dom0 8 GiB, 24 GiB free; can have 28 GiB.
    """
    busy = compute()
    roomy = compute(host={'total_mb': 32 * GiB, 'dom0_mb': 8 * GiB})
    return {name: host_state(name, drv.driver.get_available_resource(
        conftest.NODE)) for name, drv in (('busy', busy), ('roomy', roomy))}


def test_nova_loads_our_classes_by_path():
    filter_cls, = nova_filters.HostFilterHandler().get_matching_classes(
        [FILTER])
    weigher_cls, = nova_weights.HostWeightHandler().get_matching_classes(
        [WEIGHER])
    assert filter_cls is scheduler.BalloonMemoryFilter
    assert weigher_cls is scheduler.BalloonTimeWeigher


def test_filter_passes_hosts_that_can_free_the_memory(hosts, nova_conf):
    handler = nova_filters.HostFilterHandler()
    filters = [scheduler.BalloonMemoryFilter()]

    def passing(spec):
        return sorted(s.host for s in handler.get_filtered_objects(
            filters, list(hosts.values()), spec))

    assert passing(request(16 * GiB)) == ['busy', 'roomy']
    # 30 GiB: only after busy's dom0 gives back; roomy can have 28 GiB.
    assert passing(request(30 * GiB)) == ['busy']
    assert passing(request(61 * GiB)) == []


def test_filter_counts_what_nova_placed_since_the_report(hosts, nova_conf):
    busy = hosts['busy']
    spec = request(40 * GiB)
    assert scheduler.BalloonMemoryFilter().host_passes(busy, spec)
    # Nova places the first of two instances here ...
    busy.consume_from_request(spec)
    # ... and the second no longer fits in busy's 60 GiB.
    assert not scheduler.BalloonMemoryFilter().host_passes(busy, spec)


def test_filter_honours_max_balloon_time(hosts, nova_conf):
    # busy needs ~8 GiB from dom0 for 16 GiB: ~12 s at 680 MiB/s.
    nova_conf.set_override('max_balloon_time_s', 5.0, group='scheduler')
    spec = request(16 * GiB)
    assert not scheduler.BalloonMemoryFilter().host_passes(hosts['busy'],
                                                           spec)
    assert scheduler.BalloonMemoryFilter().host_passes(hosts['roomy'], spec)


def busy_balloon_s(spec):
    """Seconds busy must balloon for ``spec`` (beyond 8 GiB, 680 MiB/s)."""
    return (scheduler.our_spec(spec).footprint_mb - 8 * GiB) / 680.0


def test_weigher_prefers_the_host_that_needs_no_ballooning(hosts,
                                                           nova_conf):
    spec = request(16 * GiB)
    weighed = nova_weights.HostWeightHandler().get_weighed_objects(
        [scheduler.BalloonTimeWeigher()], list(hosts.values()), spec)
    # On the fixed scale of [scheduler] balloon_time_weight_horizon_s
    # (300 s): 1 - t/300, not 0 for the worst host of the two.
    assert 12.0 < busy_balloon_s(spec) < 12.1
    assert [(w.obj.host, w.weight) for w in weighed] == [
        ('roomy', 1.0), ('busy', pytest.approx(1 - busy_balloon_s(spec) /
                                               300.0))]


def test_weigher_multiplier_comes_from_our_option(hosts, nova_conf):
    nova_conf.set_override('balloon_time_weight_multiplier', 3.0,
                           group='scheduler')
    spec = request(16 * GiB)
    weighed = nova_weights.HostWeightHandler().get_weighed_objects(
        [scheduler.BalloonTimeWeigher()], list(hosts.values()), spec)
    assert [w.weight for w in weighed] == [
        3.0, pytest.approx(3.0 * (1 - busy_balloon_s(spec) / 300.0))]


def test_weigher_scale_comes_from_our_horizon_and_caps_there(hosts,
                                                             nova_conf):
    spec = request(16 * GiB)
    handler = nova_weights.HostWeightHandler()
    nova_conf.set_override('balloon_time_weight_horizon_s', 60.0,
                           group='scheduler')
    weighed = handler.get_weighed_objects(
        [scheduler.BalloonTimeWeigher()], list(hosts.values()), spec)
    assert [w.weight for w in weighed] == [
        1.0, pytest.approx(1 - busy_balloon_s(spec) / 60.0)]
    # Beyond the horizon every host weighs 0 (as much as any other).
    nova_conf.set_override('balloon_time_weight_horizon_s', 10.0,
                           group='scheduler')
    weighed = handler.get_weighed_objects(
        [scheduler.BalloonTimeWeigher()], list(hosts.values()), spec)
    assert [(w.obj.host, w.weight) for w in weighed] == [
        ('roomy', 1.0), ('busy', 0.0)]


def test_hosts_of_other_drivers_pass_and_weigh_as_no_ballooning(
        hosts, nova_conf):
    kvm = {'vcpus': 8, 'vcpus_used': 0, 'memory_mb': 32 * GiB,
           'memory_mb_used': 512, 'local_gb': 100, 'local_gb_used': 0,
           'disk_available_least': 100, 'hypervisor_type': 'QEMU',
           'hypervisor_version': 8002000, 'hypervisor_hostname': 'kvm1',
           'cpu_info': '', 'numa_topology': None,
           'supported_instances': [['x86_64', 'kvm', 'hvm']], 'stats': {}}
    other = host_state('kvm1', kvm)
    spec = request(16 * GiB)
    assert scheduler.BalloonMemoryFilter().host_passes(other, spec)
    assert scheduler.BalloonTimeWeigher()._weigh_object(other, spec) == 0.0


# The scheduler's nova.conf lines, as README.rst gives them.
NOVA_CONF = """
[filter_scheduler]
available_filters = nova.scheduler.filters.all_filters
available_filters = nova.virt.xenballoon.scheduler.BalloonMemoryFilter
enabled_filters = ComputeFilter,BalloonMemoryFilter
weight_classes = nova.scheduler.weights.all_weighers,
    nova.virt.xenballoon.scheduler.BalloonTimeWeigher
"""


def test_readme_nova_conf_enables_our_filter_and_weigher(nova_conf,
                                                         tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text(NOVA_CONF)
    nova_conf([], project='nova', default_config_files=[str(path)])
    opts = nova_conf.filter_scheduler
    available = {cls.__name__: cls for cls in
                 nova_filters.HostFilterHandler().get_matching_classes(
                     opts.available_filters)}
    assert available['BalloonMemoryFilter'] is scheduler.BalloonMemoryFilter
    assert set(opts.enabled_filters) <= set(available)
    weighers = nova_weights.HostWeightHandler().get_matching_classes(
        opts.weight_classes)
    assert scheduler.BalloonTimeWeigher in weighers
    assert len(weighers) > 1  # Nova's own are still there
