"""The power-off and power-on flows: wiring, reverts, and recovery.

A process killed mid-flow is stood in for as in test_recovery.py: an
exception no task catches stops the engine where it is, leaving the
flow's record as a kill -9 would.
"""

import os

import pytest

from tests import conftest
from tests.unit.flows import test_recovery
from xenballoon_driver import exception
from xenballoon_driver.flows import names
from xenballoon_driver.flows import power_off
from xenballoon_driver.flows import power_on
from xenballoon_driver.flows import registry

GiB = conftest.GiB
Killed = test_recovery.Killed


@pytest.fixture
def host(conf):
    """A simulated host whose ledger and flows are in SQLite."""
    host = conftest.SimHost(conf, conftest.make_scenario(), persisted=True)
    host.driver.spawn('vm1', 8 * GiB)
    return host


def entry(host):
    found, = host.ledger.entries().values()
    return found


def killed_once(host, obj, method, after=False):
    """The next call of obj.``method`` kills the flow.

    After the real call, if ``after``; the call after that is real again.
    """
    real = getattr(obj, method)

    def die(*args, **kwargs):
        setattr(obj, method, real)
        if after:
            real(*args, **kwargs)
        raise Killed(method)
    setattr(obj, method, die)


def recover(host):
    recovered, orphans = host.driver.recover()
    assert orphans == []
    for row in recovered:
        if row.outcome == 'reverted' and 'power-on' in row.request:
            assert 'interrupted' in row.error
            assert 'spawn' not in row.error
    return [r.outcome for r in recovered]


def test_flows_are_registered_under_their_stored_names():
    assert set(registry.FACTORIES) >= {'xenballoon-power-off',
                                       'xenballoon-power-on'}
    off = power_off.get_flow(None, None, None)
    assert [n[0].name for n in off.iter_nodes()] == [power_off.MARK,
                                                     power_off.STOP]
    assert off.requires == {names.NAME, names.REQUEST_ID, names.TIMEOUT,
                            names.RETRY_INTERVAL, names.SAVE_PATH}
    on = power_on.get_flow(None, None, None)
    assert [n[0].name for n in on.iter_nodes()] == [
        power_on.RESERVE, power_on.WAIT, power_on.START]
    assert on.requires == {names.NAME, names.REQUEST_ID}
    assert names.DOMAIN in on.provides


def test_power_off_whose_destroy_fails_is_undone(host):
    host.model.toolstack.destroy_faults = 1
    with pytest.raises(exception.ToolstackError):
        host.driver.power_off('vm1')
    assert entry(host)['state'] == 'domain'
    assert 'stopping' not in entry(host)
    assert [d.state for d in host.backend.list_domains()] == ['running']
    assert host.driver.power_off('vm1') is False
    assert entry(host)['state'] == 'stopped'


def test_power_off_killed_while_waiting_is_finished(host):
    killed_once(host, host.backend, 'shutdown_domain')
    with pytest.raises(Killed):
        host.driver.power_off('vm1', timeout=600)
    assert entry(host)['stopping']  # held by the dead flow
    start = host.clock.now()
    assert recover(host) == ['completed']
    # Nobody waits any more: destroyed at once, not after 600 s.
    assert host.clock.now() - start < 5
    assert host.backend.list_domains() == []
    assert entry(host)['state'] == 'stopped' and 'stopping' not in entry(host)
    assert host.driver.power_on('vm1').state == 'running'


def test_power_on_killed_before_its_domain_ran_is_undone(host):
    host.driver.power_off('vm1')
    before = entry(host)
    target = host.dom0().target_mb
    killed_once(host, host.backend, 'create_domain')
    with pytest.raises(Killed):
        host.driver.power_on('vm1')
    assert entry(host)['state'] == 'building'
    assert recover(host) == ['reverted']
    assert entry(host) == before
    assert host.dom0().target_mb == target
    assert host.backend.list_domains() == []


def test_power_on_killed_in_its_wait_is_undone(host):
    host.driver.power_off('vm1')
    before = entry(host)
    killed_once(host, host.backend, 'snapshot')
    with pytest.raises(Killed):
        host.driver.power_on('vm1')
    assert recover(host) == ['reverted']
    assert entry(host) == before


def test_power_on_killed_after_its_domain_ran_is_adopted(host):
    host.driver.power_off('vm1')
    killed_once(host, host.backend, 'create_domain', after=True)
    with pytest.raises(Killed):
        host.driver.power_on('vm1')
    assert recover(host) == ['completed']
    assert entry(host)['state'] == 'domain' and 'starting' not in entry(host)
    assert [d.state for d in host.backend.list_domains()] == ['running']


def test_power_on_killed_while_its_domain_builds_is_undone(host):
    host.driver.power_off('vm1')
    before = entry(host)
    real = host.backend.create_domain

    def half(spec):
        # The domain exists, its memory half populated, when we die.
        with host.backend.store.session() as model:
            model.start_build(spec.name, spec.footprint_mb, spec.vcpus)
        raise Killed('create_domain')
    host.backend.create_domain = half
    with pytest.raises(Killed):
        host.driver.power_on('vm1')
    host.backend.create_domain = real
    assert recover(host) == ['reverted']
    assert host.backend.list_domains() == []
    assert entry(host) == before


def test_suspend_killed_before_saving_saves_again(host, conf):
    killed_once(host, host.backend, 'save_domain')
    with pytest.raises(Killed):
        host.driver.suspend('vm1')
    assert recover(host) == ['completed']
    saved = entry(host)['saved']
    assert saved == os.path.join(conf.xenballoon.state_dir, 'saved',
                                 'vm1.save')
    assert os.path.exists(saved)
    assert host.driver.resume('vm1').state == 'running'


def test_suspend_killed_after_saving_keeps_what_was_saved(host):
    killed_once(host, host.backend, 'save_domain', after=True)
    with pytest.raises(Killed):
        host.driver.suspend('vm1')
    assert host.backend.list_domains() == []
    assert recover(host) == ['completed']
    assert os.path.exists(entry(host)['saved'])
    assert host.driver.list_guests()[0].state == 'suspended'


def test_restore_that_fails_stays_suspended(host):
    host.driver.suspend('vm1')
    saved = entry(host)['saved']
    with open(saved, 'w') as f:
        f.write('{"name": "other"}')
    with pytest.raises(exception.BuildFailed, match='other'):
        host.driver.resume('vm1')
    assert entry(host)['state'] == 'stopped' and entry(host)['saved']
    assert host.backend.list_domains() == []
