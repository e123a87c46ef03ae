"""The Nova adapter, loaded and driven as Nova's compute manager does.

Real Nova objects (Instance, Flavor, ImageMeta, ComputeNode,
ProviderTree) against a simulated host on a virtual clock.
"""

import uuid

import pytest

pytest.importorskip('nova.virt.driver')

from nova.compute import power_state  # noqa: E402
from nova.compute import provider_tree  # noqa: E402
from nova import exception as nova_exc  # noqa: E402
from nova import objects  # noqa: E402
from nova.virt import driver as nova_driver  # noqa: E402
from nova.virt import hardware  # noqa: E402

from nova.virt.xenballoon import disks  # noqa: E402
from nova.virt.xenballoon import driver as adapter  # noqa: E402
from tests import conftest as base  # noqa: E402
from tests.nova import conftest  # noqa: E402

GiB = base.GiB
NODE = conftest.NODE
DOM0_MB = 56 * GiB


def make_instance(memory_mb, vcpus=2, instance_id=42):
    flavor = objects.Flavor(name='f%d' % memory_mb, memory_mb=memory_mb,
                            vcpus=vcpus, root_gb=0, ephemeral_gb=0, swap=0,
                            extra_specs={})
    return objects.Instance(id=instance_id, uuid=str(uuid.uuid4()),
                            flavor=flavor, host=NODE, node=NODE)


def image(**properties):
    return objects.ImageMeta.from_dict({'properties': properties})


def spawn(compute, instance, image_meta=None):
    compute.driver.spawn(None, instance, image_meta or image(), [], None, {})


def assert_nothing_left(compute, dom0_target=DOM0_MB):
    assert compute.driver.list_instances() == []
    assert compute.ledger.entries() == {}
    assert compute.dom0().target_mb == dom0_target


def test_loads_through_nova_compute_driver_option(compute):
    host = compute()
    assert isinstance(host.driver, adapter.XenBalloonComputeDriver)
    assert isinstance(host.driver, nova_driver.ComputeDriver)
    assert host.driver.get_available_nodes() == [NODE]
    assert host.driver.node_is_available(NODE)
    assert not host.driver.node_is_available('elsewhere')


def test_capabilities_name_every_key_of_nova():
    assert (set(adapter.XenBalloonComputeDriver.capabilities) ==
            set(nova_driver.ComputeDriver.capabilities))


def test_spawn_builds_the_flavor_under_nova_instance_name(compute):
    host = compute()
    instance = make_instance(20 * GiB, vcpus=4)
    assert instance.name == 'instance-0000002a'
    spawn(host, instance)
    assert host.driver.list_instances() == ['instance-0000002a']
    assert host.driver.instance_exists(instance)
    dom = host.backend.domain_info('instance-0000002a')
    assert (dom.memory_mb, dom.vcpus) == (20 * GiB + 2, 4)
    info = host.driver.get_info(instance)
    assert isinstance(info, hardware.InstanceInfo)
    assert info.state == power_state.RUNNING
    # dom0 gave the memory that free memory (8 GiB) could not cover.
    assert host.dom0().target_mb == DOM0_MB - (12 * GiB + 2)


def test_hvm_image_builds_an_hvm_guest(compute):
    host = compute()
    instance = make_instance(4 * GiB, vcpus=2)
    spawn(host, instance, image(hw_vm_mode='hvm'))
    # HVM's shadow memory: more than PV's 2 MiB of overhead.
    assert host.backend.domain_info(instance.name).memory_mb > 4 * GiB + 2


def test_unsupported_vm_mode_is_refused_before_anything(compute):
    host = compute()
    with pytest.raises(nova_exc.InvalidInput, match='hw_vm_mode=exe'):
        spawn(host, make_instance(GiB), image(hw_vm_mode='exe'))
    assert_nothing_left(host)


def test_stopped_spawn_is_refused(compute):
    host = compute()
    with pytest.raises(nova_exc.InstanceDeployFailure, match='power_on'):
        host.driver.spawn(None, make_instance(GiB), image(), [], None, {},
                          power_on=False)
    assert_nothing_left(host)


def test_failed_build_then_nova_destroy_leaves_nothing(compute):
    host = compute(build={'fail_at_fraction': 0.5})
    instance = make_instance(20 * GiB)
    with pytest.raises(nova_exc.InstanceDeployFailure,
                       match='instance-0000002a'):
        spawn(host, instance)
    # Our flow has undone it; Nova's compute manager destroys anyway.
    assert_nothing_left(host)
    host.driver.destroy(None, instance, network_info=None)
    host.driver.cleanup(None, instance, network_info=None)
    assert_nothing_left(host)
    assert not host.driver.instance_exists(instance)
    with pytest.raises(nova_exc.InstanceNotFound):
        host.driver.get_info(instance)


def test_too_big_is_refused_with_nova_exception_and_nothing_left(compute):
    host = compute()
    instance = make_instance(100 * GiB)
    with pytest.raises(nova_exc.ComputeResourcesUnavailable,
                       match='needs 102402 MiB'):
        spawn(host, instance)
    assert_nothing_left(host)
    host.driver.destroy(None, instance, network_info=None)
    assert_nothing_left(host)


def test_balloon_stall_asks_nova_to_reschedule(compute):
    host = compute(balloon={'stall_after_mb': 2 * GiB})
    with pytest.raises(nova_exc.ComputeResourcesUnavailable,
                       match='Balloon stalled'):
        spawn(host, make_instance(20 * GiB))
    assert_nothing_left(host)


def test_name_refused_by_our_validation(compute, nova_conf):
    nova_conf.set_override('instance_name_template', 'vm %d')
    host = compute()
    instance = make_instance(GiB)
    with pytest.raises(nova_exc.InvalidInput, match='domain name'):
        spawn(host, instance)
    # A name we refuse was never built: destroying it is no error.
    host.driver.destroy(None, instance, network_info=None)
    assert_nothing_left(host)


def test_second_spawn_of_the_same_name(compute):
    host = compute()
    instance = make_instance(GiB)
    spawn(host, instance)
    with pytest.raises(nova_exc.InstanceExists):
        spawn(host, instance)
    assert host.driver.list_instances() == [instance.name]


def test_destroy_gives_dom0_its_memory_back(compute):
    host = compute()
    instance = make_instance(20 * GiB)
    spawn(host, instance)
    host.driver.destroy(None, instance, network_info=None)
    assert_nothing_left(host)


def test_available_resource_fits_nova_compute_node(compute):
    host = compute()
    spawn(host, make_instance(20 * GiB, vcpus=4))
    resources = host.driver.get_available_resource(NODE)
    node = objects.ComputeNode()
    node.update_from_virt_driver(resources)
    node.stats = resources['stats']
    assert node.hypervisor_hostname == NODE
    assert node.hypervisor_type == 'xen'
    assert node.memory_mb == 64 * GiB
    floor = host.ledger.dom0_min_mb
    # Used: dom0 down to its floor and the guest; the rest can be had.
    assert node.memory_mb_used == floor + 20 * GiB + 2
    assert node.vcpus_used == 4
    # The disk: the filesystem of [DEFAULT] instances_path.
    total_gb, used_gb = disks.host_gb()
    assert (node.local_gb, node.local_gb_used) == (total_gb, used_gb)
    assert node.disk_available_least == total_gb - used_gb > 0
    assert [spec.to_list() for spec in node.supported_hv_specs] == [
        ['x86_64', 'xen', 'xen'], ['x86_64', 'xen', 'hvm']]
    assert node.stats['xenballoon_available_mb'] == str(
        64 * GiB - floor - 20 * GiB - 2)
    assert node.stats['xenballoon_balloonable_mb'] == str(
        host.dom0().current_mb - floor)
    assert 'xenballoon' not in resources


def test_update_provider_tree_publishes_memory_inventory(compute,
                                                         nova_conf):
    nova_conf.set_override('cpu_allocation_ratio', 2.0)
    host = compute()
    tree = provider_tree.ProviderTree()
    tree.new_root(NODE, str(uuid.uuid4()))
    tree.add_traits(NODE, 'CUSTOM_SET_BY_OPERATOR')
    host.driver.update_provider_tree(tree, NODE)
    data = tree.data(NODE)
    floor = host.ledger.dom0_min_mb
    # Reserved: dom0's floor, and libxl's overhead for the biggest guest
    # placement may admit (HVM, the host's 64 CPUs, all 61440 MiB left):
    # 2 MiB + 4 KiB x (256 x 64 + 2 x 61440) = 546 MiB. Without it,
    # placement would sell memory the ledger cannot build (issue 11).
    assert data.inventory['MEMORY_MB'] == {
        'total': 64 * GiB, 'reserved': floor + 546, 'min_unit': 1,
        'max_unit': 64 * GiB - floor - 546, 'step_size': 1,
        'allocation_ratio': 1.0}
    assert data.inventory['VCPU']['allocation_ratio'] == 2.0
    # Ours, the operator's, and the COMPUTE_* traits we truly support
    # (no image type: guests never boot the image).
    assert data.traits == {'CUSTOM_SET_BY_OPERATOR',
                           'CUSTOM_XENBALLOON_BALLOONING',
                           'COMPUTE_ARCH_X86_64',
                           'COMPUTE_NET_VIF_MODEL_NETFRONT',
                           'COMPUTE_STORAGE_BUS_XEN'}
    assert data.inventory['DISK_GB']['total'] == disks.host_gb()[0]
    # Nova calls it every minute: an unchanged host publishes the same.
    host.driver.update_provider_tree(tree, NODE)
    assert tree.data(NODE).inventory == data.inventory
    assert tree.data(NODE).traits == data.traits


def test_vcpu_ratio_set_in_placement_stays(compute):
    host = compute()
    tree = provider_tree.ProviderTree()
    tree.new_root(NODE, str(uuid.uuid4()))
    host.driver.update_provider_tree(tree, NODE)
    # No [DEFAULT] cpu_allocation_ratio: Nova's initial ratio, 4.0.
    inventory = tree.data(NODE).inventory
    assert inventory['VCPU']['allocation_ratio'] == 4.0
    # An operator sets 3.0 through the placement API; it is kept.
    inventory['VCPU']['allocation_ratio'] = 3.0
    tree.update_inventory(NODE, inventory)
    host.driver.update_provider_tree(tree, NODE)
    assert tree.data(NODE).inventory['VCPU']['allocation_ratio'] == 3.0
    assert tree.data(NODE).inventory['MEMORY_MB']['allocation_ratio'] == 1.0


def test_compute_manager_sequence(compute):
    """init_host, node, resources, placement, spawn, destroy, as Nova."""
    host = compute()
    node, = host.driver.get_available_nodes(refresh=True)
    before = host.driver.get_available_resource(node)
    tree = provider_tree.ProviderTree()
    tree.new_root(node, str(uuid.uuid4()))
    host.driver.update_provider_tree(tree, node, allocations=None)
    instance = make_instance(30 * GiB, vcpus=8)
    spawn(host, instance)
    during = host.driver.get_available_resource(node)
    assert during['memory_mb_used'] == (before['memory_mb_used'] +
                                        30 * GiB + 2)
    assert host.driver.get_num_instances() == 1
    host.driver.destroy(None, instance, network_info=None)
    after = host.driver.get_available_resource(node)
    assert after['memory_mb_used'] == before['memory_mb_used']
    assert_nothing_left(host)


def test_instance_uuids_power_states_and_a_domain_gone(compute):
    host = compute()
    assert host.driver.list_instance_uuids() == []
    instance = make_instance(2 * GiB)
    spawn(host, instance)
    assert host.driver.list_instance_uuids() == [instance.uuid]
    assert host.backend.domain_info(instance.name).uuid == instance.uuid
    # Found by its UUID, whatever its name.
    renamed = make_instance(2 * GiB, instance_id=43)
    renamed.uuid = instance.uuid
    assert host.driver.instance_exists(renamed)
    assert host.driver.get_info(renamed).state == power_state.RUNNING
    other = make_instance(GiB, instance_id=44)
    assert not host.driver.instance_exists(other)
    # Gone behind Nova's back: Nova expects InstanceNotFound.
    host.backend.destroy_domain(instance.name)
    assert host.driver.list_instance_uuids() == []
    assert not host.driver.instance_exists(instance)
    with pytest.raises(nova_exc.InstanceNotFound):
        host.driver.get_info(instance)


def test_domain_built_without_a_uuid_is_found_by_name(compute):
    host = compute()
    instance = make_instance(GiB)
    host.driver.driver.spawn(instance.name, GiB)
    assert host.driver.list_instance_uuids() == []
    assert host.driver.instance_exists(instance)
    assert host.driver.get_info(instance).state == power_state.RUNNING


@pytest.mark.parametrize('state, expected', [
    ('running', power_state.RUNNING), ('blocked', power_state.RUNNING),
    ('paused', power_state.PAUSED), ('shutoff', power_state.SHUTDOWN),
    ('crashed', power_state.CRASHED), ('building', power_state.NOSTATE)])
def test_power_states(compute, state, expected):
    host = compute()
    instance = make_instance(GiB)
    spawn(host, instance)
    host.model.domains[instance.name]['state'] = state
    assert host.driver.get_info(instance).state == expected
