"""The compute driver: loading, init_host, destroy, host status."""

import pytest
from stevedore import driver as stevedore_driver

from tests import conftest
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver.simulator import backend as simulated

GiB = conftest.GiB


def test_driver_loads_through_stevedore(conf):
    manager = stevedore_driver.DriverManager(
        'xenballoon_driver.compute_drivers', 'xenballoon',
        invoke_on_load=True, invoke_args=(conf,))
    drv = manager.driver.init_host()
    assert isinstance(drv, driver_mod.XenBalloonDriver)
    assert isinstance(drv.backend, simulated.SimulatedHypervisor)
    assert drv.host_status()['total_mb'] == 1024 * GiB


def test_init_host_names_installed_backends_for_an_unknown_one(conf):
    conf.flags('hypervisor', driver='nosuch')
    with pytest.raises(exception.BackendNotFound) as err:
        driver_mod.XenBalloonDriver(conf).init_host()
    assert "'nosuch'" in str(err.value) and 'simulated' in str(err.value)


def test_host_status_figures(sim, conf):
    host = sim()
    status = host.driver.host_status()
    floor = conf.xenballoon.dom0_min_memory_mb
    assert status == {
        'total_mb': 64 * GiB, 'free_mb': 8 * GiB,
        'dom0_current_mb': 56 * GiB, 'dom0_target_mb': 56 * GiB,
        'dom0_min_mb': floor, 'balloonable_mb': 56 * GiB - floor,
        'reserved_mb': 0, 'available_mb': 64 * GiB - floor,
        'dom0_owed_mb': 0, 'headroom_from_dom0_mb': 0, 'ready_mb': 8 * GiB}


def test_destroy_reinflates_dom0(sim):
    host = sim()
    host.driver.spawn('vm1', 20 * GiB)
    assert host.driver.list_instances() == ['vm1']
    assert host.driver.destroy('vm1') == 56 * GiB
    host.settle()
    assert host.dom0().current_mb == 56 * GiB
    assert host.driver.list_instances() == []
    assert host.ledger.entries() == {}


def test_destroy_without_reinflate_leaves_dom0_down(sim, conf):
    conf.flags('xenballoon', reinflate_on_destroy=False)
    host = sim()
    host.driver.spawn('vm1', 20 * GiB)
    lowered = host.dom0().target_mb
    assert host.driver.destroy('vm1') == lowered
    assert host.backend.host_memory().free_mb == 20 * GiB + 2
    # The next spawn uses the free memory first.
    host.driver.spawn('vm2', 20 * GiB)
    assert host.dom0().target_mb == lowered


def test_destroy_of_an_unknown_domain(sim):
    host = sim()
    with pytest.raises(exception.DomainNotFound):
        host.driver.destroy('ghost')
    with pytest.raises(exception.InvalidInput):
        host.driver.destroy('bad name')


def test_destroy_cleans_the_ledger_of_a_domain_already_gone(sim):
    host = sim()
    host.driver.spawn('vm1', 20 * GiB)
    host.backend.destroy_domain('vm1')  # behind the driver's back
    assert host.driver.destroy('vm1') == 56 * GiB
    assert host.ledger.entries() == {}


def test_failed_destroy_lets_go_of_the_name(sim):
    host = sim()
    with pytest.raises(exception.DomainNotFound):
        host.driver.destroy('ghost')
    assert host.ledger.entries() == {}
    host.driver.spawn('ghost', GiB)
    assert host.driver.list_instances() == ['ghost']


def test_spawn_keeps_the_instance_uuid_with_the_domain(sim):
    host = sim()
    uuid = '1B4E28BA-2FA1-11D2-883F-0016D3CCA427'
    info = host.driver.spawn('vm1', 1024, uuid=uuid)
    assert info.uuid == uuid.lower()
    host.driver.spawn('vm2', 1024)
    assert [(d.name, d.uuid) for d in host.driver.list_domains()] == [
        ('vm1', uuid.lower()), ('vm2', None)]


@pytest.mark.parametrize('uuid', ['', 'vm1', 42,
                                  '1b4e28ba-2fa1-11d2-883f-0016d3cca427 '])
def test_spawn_refuses_a_bad_uuid_before_anything_runs(sim, uuid):
    host = sim()
    before = host.driver.host_status()
    with pytest.raises(exception.InvalidInput, match='instance UUID'):
        host.driver.spawn('vm1', 1024, uuid=uuid)
    assert host.driver.list_domains() == []
    assert host.driver.list_flows() == []
    assert host.driver.host_status() == before
