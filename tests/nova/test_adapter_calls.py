"""The adapter's calls beyond spawn and destroy, driven as Nova does.

Soft delete and restore, diagnostics, disk info, and the vifs Nova's
network_info can and cannot become. Real Nova objects against a
simulated host on a virtual clock (conftest.Compute).
"""

import json
import os

import pytest

pytest.importorskip('nova.virt.driver')

from nova.compute import power_state  # noqa: E402
from nova import exception as nova_exc  # noqa: E402
from nova.network import model as network_model  # noqa: E402

from tests.nova import test_compute_driver as helpers  # noqa: E402
from xenballoon_driver import ledger as ledger_mod  # noqa: E402

GiB = helpers.GiB


def vif(vif_type='ovs', bridge='br-int', vnic_type='normal',
        address='fa:16:3e:00:00:01'):
    return network_model.VIF(
        id='port-1', address=address, type=vif_type, vnic_type=vnic_type,
        network=network_model.Network(id='net-1', bridge=bridge))


def entry_of(host, instance):
    _key, entry = host.ledger.guest(instance.name)
    return entry


def test_soft_delete_keeps_the_memory_and_restore_starts(compute):
    host = compute()
    instance = helpers.make_instance(4 * GiB)
    helpers.spawn(host, instance)
    host.driver.soft_delete(instance)
    assert entry_of(host, instance)['state'] == ledger_mod.STOPPED
    assert host.driver.get_info(instance).state == power_state.SHUTDOWN
    host.driver.restore(instance)
    assert host.driver.get_info(instance).state == power_state.RUNNING


def test_instance_diagnostics_running_and_stopped(compute):
    host = compute()
    instance = helpers.make_instance(4 * GiB, vcpus=3)
    helpers.spawn(host, instance)
    diags = host.driver.get_instance_diagnostics(instance)
    assert (diags.state, diags.num_cpus, diags.hypervisor) == (
        'running', 3, 'xen')
    assert (diags.memory_details.maximum, diags.memory_details.used) == (
        4 * GiB, 4 * GiB + 2)
    host.driver.power_off(instance)
    diags = host.driver.get_instance_diagnostics(instance)
    assert diags.state == 'shutdown'
    assert diags.memory_details.used == 0
    other = helpers.make_instance(GiB, instance_id=7)
    with pytest.raises(nova_exc.InstanceNotFound):
        host.driver.get_instance_diagnostics(other)


def test_disk_info_of_sparse_files(compute):
    host = compute()
    instance = helpers.make_instance(GiB)
    instance.flavor.root_gb, instance.flavor.swap = 3, 128
    helpers.spawn(host, instance)
    disks = json.loads(host.driver.get_instance_disk_info(instance))
    assert [(os.path.basename(d['path']), d['virt_disk_size'],
             d['disk_size']) for d in disks] == [
        ('disk', 3 << 30, 0), ('disk.swap', 128 << 20, 0)]
    assert entry_of(host, instance)['spec']['disks'][1]['vdev'] == 'xvdc'
    host.driver.destroy(None, instance, None, destroy_disks=False)
    assert os.path.exists(disks[0]['path'])
    host.driver.cleanup(None, instance, None)
    assert not os.path.exists(os.path.dirname(disks[0]['path']))


def test_failed_spawn_leaves_no_disk_files(compute):
    host = compute()
    instance = helpers.make_instance(90 * GiB)  # more than the host
    instance.flavor.root_gb = 1
    with pytest.raises(nova_exc.ComputeResourcesUnavailable):
        helpers.spawn(host, instance)
    from nova.virt.xenballoon import disks
    assert not os.path.exists(disks.instance_dir(instance))


@pytest.mark.parametrize('bad, why', [
    (dict(vif_type='vhostuser'), 'VIF type vhostuser'),
    (dict(vnic_type='direct'), 'vnic_type direct'),
    (dict(bridge=None), 'no bridge'),
])
def test_vifs_that_cannot_be_xen_vifs_are_refused(compute, bad, why):
    host = compute()
    instance = helpers.make_instance(GiB)
    with pytest.raises(nova_exc.InvalidInput, match=why):
        host.driver.spawn(None, instance, helpers.image(), [], None, {},
                          network_info=network_model.NetworkInfo(
                              [vif(**bad)]))
    assert host.ledger.entries() == {}
    # At nova-compute's start, as the error Nova's init_host handles.
    helpers.spawn(host, instance)
    with pytest.raises(nova_exc.VirtualInterfacePlugException, match=why):
        host.driver.plug_vifs(instance, [vif(**bad)])


def test_plug_and_unplug_vifs_are_recorded_for_the_next_start(compute):
    host = compute()
    instance = helpers.make_instance(GiB)
    helpers.spawn(host, instance)
    second = vif(vif_type='bridge', bridge='br100',
                 address='fa:16:3e:00:00:02')
    host.driver.plug_vifs(instance, [vif(), second])
    assert entry_of(host, instance)['spec']['vifs'] == [
        {'mac': 'fa:16:3e:00:00:01', 'bridge': 'br-int'},
        {'mac': 'fa:16:3e:00:00:02', 'bridge': 'br100'}]
    host.driver.unplug_vifs(instance, [vif()])
    assert entry_of(host, instance)['spec']['vifs'] == [
        {'mac': 'fa:16:3e:00:00:02', 'bridge': 'br100'}]
    # An instance this host does not hold: nothing to record, no error.
    stranger = helpers.make_instance(GiB, instance_id=9)
    host.driver.plug_vifs(stranger, [vif()])
    host.driver.unplug_vifs(stranger, [vif()])
    assert entry_of(host, stranger) is None


def test_host_uptime_and_ip(compute, nova_conf):
    nova_conf.set_override('my_ip', '192.0.2.7')
    host = compute()
    assert host.driver.get_host_ip_addr() == '192.0.2.7'
    assert 'up' in host.driver.get_host_uptime()


def test_a_leftover_disk_directory_is_not_reused(compute):
    from nova.virt.xenballoon import disks
    host = compute()
    instance = helpers.make_instance(GiB)
    instance.flavor.root_gb = 1
    os.makedirs(disks.instance_dir(instance))
    with pytest.raises(nova_exc.InstanceDeployFailure, match='not reused'):
        helpers.spawn(host, instance)
    assert host.ledger.entries() == {}
    # Not ours to remove either.
    assert os.path.isdir(disks.instance_dir(instance))


def test_suspend_on_a_backend_that_cannot_is_not_implemented(
        compute, monkeypatch):
    from xenballoon_driver import exception as xb_exc
    host = compute()
    instance = helpers.make_instance(2 * GiB)
    helpers.spawn(host, instance)

    def cannot(name, path):
        raise xb_exc.Unsupported(backend='test', what='save')
    monkeypatch.setattr(host.backend, 'save_domain', cannot)
    # Nova's compute manager puts the server back ACTIVE on this.
    with pytest.raises(NotImplementedError, match='does not support save'):
        host.driver.suspend(None, instance)
    assert host.driver.get_info(instance).state == power_state.RUNNING
    assert entry_of(host, instance)['state'] == ledger_mod.DOMAIN


def test_console_of_a_guest_never_run_is_not_available(compute):
    host = compute()
    with pytest.raises(nova_exc.ConsoleNotAvailable):
        host.driver.get_console_output(None, helpers.make_instance(GiB))
