"""The guest lifecycle through the driver, on the simulator's virtual clock.

A stopped (or suspended) guest keeps its reservation: its memory stays
free in Xen, never lent to dom0, never given to another spawn.
"""

import dataclasses
import os

import pytest

from tests import conftest
from xenballoon_driver import exception

GiB = conftest.GiB
VIF = {'mac': 'fa:16:3e:00:00:01', 'bridge': 'br100'}
UUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'
DISK = {'path': '/var/lib/xen/images/vm1.img', 'vdev': 'xvda'}


def stopped(host, name='vm1'):
    entry, = [e for e in host.ledger.entries().values()
              if e['name'] == name]
    return entry


def timed(host, call, *args, **kwargs):
    start = host.clock.now()
    result = call(*args, **kwargs)
    return result, host.clock.now() - start


def test_power_off_shuts_down_cleanly_and_keeps_the_memory(sim):
    host = sim()
    host.driver.spawn('vm1', 20 * GiB)
    target = host.dom0().target_mb
    clean, took = timed(host, host.driver.power_off, 'vm1', timeout=60,
                        retry_interval=10)
    assert clean is True
    # The scenario's default guest takes 5 s to shut down; polled each 1 s.
    assert 5.0 <= took <= 6.0
    assert host.backend.list_domains() == []
    assert stopped(host)['state'] == 'stopped'
    # Free in Xen, promised to vm1, dom0 not given it back.
    assert host.backend.host_memory().free_mb == 20 * GiB + 2
    assert host.dom0().target_mb == target
    assert host.driver.host_status()['reserved_mb'] == 20 * GiB + 2
    guest, = host.driver.list_guests()
    assert (guest.name, guest.domid, guest.state, guest.memory_mb) == (
        'vm1', -1, 'shutoff', 20 * GiB)


def test_power_on_of_a_running_guest_gone_from_the_host_starts_it(sim):
    # The host rebooted (or the guest crashed, on_crash=destroy): Nova's
    # resume_state_on_host_boot powers it on.
    host = sim()
    host.driver.spawn('vm1', 4 * GiB, uuid=UUID)
    entry_id, = host.ledger.entries()
    with host.backend.store.session() as model:
        model.destroy('vm1')
    info = host.driver.power_on('vm1')
    assert info.state == 'running' and info.uuid == UUID
    assert [d.name for d in host.backend.list_domains()] == ['vm1']
    entry = host.ledger.entries()[entry_id]
    assert entry['state'] == 'domain' and 'stopping' not in entry
    assert host.driver.host_status()['reserved_mb'] == 0


def test_power_off_of_a_guest_that_ignores_it_destroys_after_timeout(sim):
    host = sim()
    host.model.guest = dataclasses.replace(host.model.guest,
                                           ignore_shutdown=['vm1'])
    host.driver.spawn('vm1', 4 * GiB)
    asked = []
    real = host.backend.shutdown_domain
    host.backend.shutdown_domain = lambda name: (
        asked.append(host.clock.now()), real(name))
    clean, took = timed(host, host.driver.power_off, 'vm1', timeout=30,
                        retry_interval=10)
    assert clean is False
    assert 30.0 <= took <= 31.0
    # Asked again every retry_interval.
    assert [round(t - asked[0]) for t in asked] == [0, 10, 20]
    assert host.backend.list_domains() == []
    assert stopped(host)['state'] == 'stopped'


def test_a_guest_that_cannot_be_asked_is_powered_off_hard(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)

    def refuse(name):
        raise exception.ToolstackError(call='shutdown vm1',
                                       reason='PV control interface not '
                                              'available')
    host.backend.shutdown_domain = refuse
    clean, took = timed(host, host.driver.power_off, 'vm1', timeout=60)
    assert clean is False and took < 1.0
    assert host.backend.list_domains() == []
    assert stopped(host)['state'] == 'stopped'


def test_a_failed_second_ask_keeps_waiting_for_the_first(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)
    real, asks = host.backend.shutdown_domain, []

    def flaky(name):
        asks.append(host.clock.now())
        if len(asks) == 1:
            # Asked; the guest takes its 8 s to go.
            return real(name)
        raise exception.ToolstackError(call='shutdown vm1', reason='busy')
    host.model.guest.shutdown_s = 8.0
    host.backend.shutdown_domain = flaky
    clean, took = timed(host, host.driver.power_off, 'vm1', timeout=60,
                        retry_interval=2)
    assert clean is True and 8.0 <= took <= 9.0 and len(asks) == 4


def test_the_timeout_counts_from_the_ask_not_from_a_slow_first_look(sim):
    # A look costing more than the timeout (xl list under QEMU: 1.35 s)
    # must not get the guest destroyed before it was ever asked.
    host = sim()
    host.driver.spawn('vm1', GiB)
    real_existing = host.backend.list_domains
    asked = []
    real_ask = host.backend.shutdown_domain

    def slow_list():
        host.clock.sleep(1.0)
        return real_existing()
    host.backend.list_domains = slow_list
    host.backend.shutdown_domain = lambda name: (
        asked.append(host.clock.now()), real_ask(name))
    host.model.guest.shutdown_s = 0.2
    clean, _took = timed(host, host.driver.power_off, 'vm1', timeout=0.5,
                         retry_interval=0.2)
    assert len(asked) == 1
    # Asked, it went within the timeout; only the next look, 1 s later,
    # sees it gone: clean, not destroyed.
    assert clean is True
    assert stopped(host)['state'] == 'stopped'


def test_power_off_with_no_timeout_destroys_at_once(sim):
    host = sim()
    host.driver.spawn('vm1', 4 * GiB)
    clean, took = timed(host, host.driver.power_off, 'vm1')
    assert clean is False and took < 1.0
    assert stopped(host)['state'] == 'stopped'


def test_power_off_refusals_change_nothing(sim):
    host = sim()
    with pytest.raises(exception.DomainNotFound):
        host.driver.power_off('ghost')
    host.driver.spawn('vm1', GiB)
    for bad in (-1, float('nan'), '10', True, 10 ** 9):
        with pytest.raises(exception.InvalidInput):
            host.driver.power_off('vm1', timeout=bad)
    with pytest.raises(exception.InvalidInput):
        host.driver.power_off('bad name')
    assert stopped(host)['state'] == 'domain'
    assert len(host.driver.list_flows()) == 1  # the spawn's only


def test_power_off_of_a_stopped_guest_is_a_no_op(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)
    host.driver.power_off('vm1')
    flows = len(host.driver.list_flows())
    assert host.driver.power_off('vm1', timeout=60) is True
    assert len(host.driver.list_flows()) == flows


def test_power_on_after_a_crowd_of_spawns_filled_the_host(sim):
    host = sim()
    host.driver.spawn('vm1', 20 * GiB, vcpus=2, uuid='1b4e28ba-2fa1-11d2-'
                      '883f-0016d3cca427')
    host.driver.power_off('vm1', timeout=60)
    n = 0
    while True:
        try:
            host.driver.spawn('crowd-%d' % n, 4 * GiB)
        except exception.NotEnoughMemory:
            break
        n += 1
    assert n >= 5
    info = host.driver.power_on('vm1')
    assert (info.state, info.vcpus, info.uuid) == (
        'running', 2, '1b4e28ba-2fa1-11d2-883f-0016d3cca427')
    assert stopped(host)['state'] == 'domain'
    assert host.model.contention_s == 0
    # Still no room for another spawn: nothing was double counted.
    with pytest.raises(exception.NotEnoughMemory):
        host.driver.spawn('late', 4 * GiB)


def test_power_on_of_a_running_guest_returns_its_info(sim):
    host = sim()
    built = host.driver.spawn('vm1', GiB)
    assert host.driver.power_on('vm1') == built
    with pytest.raises(exception.DomainNotFound):
        host.driver.power_on('ghost')


def test_failed_power_on_leaves_the_guest_stopped(sim):
    host = sim()
    host.driver.spawn('vm1', 8 * GiB)
    host.driver.power_off('vm1')
    target = host.dom0().target_mb
    before = stopped(host)
    host.model.build = dataclasses.replace(host.model.build,
                                           fail_domains={'vm1': 0.5})
    with pytest.raises(exception.BuildFailed):
        host.driver.power_on('vm1')
    assert host.backend.list_domains() == []
    assert stopped(host) == before
    assert host.dom0().target_mb == target
    host.model.build = dataclasses.replace(host.model.build,
                                           fail_domains=None)
    assert host.driver.power_on('vm1').state == 'running'


def test_power_on_of_an_older_releases_entry_is_refused(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)
    host.driver.power_off('vm1')
    with host.ledger.storage.locked() as state:
        for entry in state['entries'].values():
            del entry['spec']
    before = stopped(host)
    with pytest.raises(exception.InvalidInput, match='older release'):
        host.driver.power_on('vm1')
    assert stopped(host) == before and host.backend.list_domains() == []


def test_power_off_of_an_older_releases_guest_is_refused_while_it_runs(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)
    with host.ledger.storage.locked() as state:
        for entry in state['entries'].values():
            del entry['spec']
    entries = host.ledger.entries()
    flows = [f.flow_id for f in host.driver.list_flows()]
    for call in (lambda: host.driver.power_off('vm1', 60, 10),
                 lambda: host.driver.reboot('vm1', hard=True),
                 lambda: host.driver.suspend('vm1')):
        with pytest.raises(exception.InvalidInput, match='left running'):
            call()
        assert host.ledger.entries() == entries
        assert [d.state for d in host.backend.list_domains()] == ['running']
    assert [f.flow_id for f in host.driver.list_flows()] == flows


def test_destroy_of_a_stopped_guest_releases_its_memory(sim):
    host = sim()
    host.driver.spawn('vm1', 20 * GiB)
    host.driver.power_off('vm1')
    assert host.driver.destroy('vm1') == 56 * GiB
    host.settle()
    assert host.ledger.entries() == {}
    assert host.dom0().current_mb == 56 * GiB
    assert host.driver.list_guests() == []


def test_reboots_go_through_stopped_and_come_back(sim):
    host = sim()
    host.driver.spawn('vm1', 8 * GiB, vifs=[VIF])
    target = host.dom0().target_mb
    info, took = timed(host, host.driver.reboot, 'vm1')
    assert info.state == 'running' and 5.0 <= took <= 7.0
    info, took = timed(host, host.driver.reboot, 'vm1', hard=True)
    assert info.state == 'running' and took < 2.0
    assert host.dom0().target_mb == target
    assert stopped(host)['state'] == 'domain'
    assert stopped(host)['spec']['vifs'] == [VIF]


def test_soft_reboot_falls_back_to_hard_after_the_timeout(sim):
    host = sim()
    host.model.guest = dataclasses.replace(host.model.guest,
                                           ignore_shutdown=['vm1'])
    host.driver.spawn('vm1', GiB)
    info, took = timed(host, host.driver.reboot, 'vm1', timeout=20,
                       retry_interval=5)
    assert info.state == 'running' and 20.0 <= took <= 22.0


def test_pause_keeps_the_memory(sim):
    host = sim()
    host.driver.spawn('vm1', 8 * GiB)
    free = host.backend.host_memory().free_mb
    assert host.driver.pause('vm1').state == 'paused'
    host.clock.sleep(60)
    assert host.backend.host_memory().free_mb == free
    assert host.driver.unpause('vm1').state == 'running'


def test_a_paused_guest_shuts_down_only_once_unpaused(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)
    host.driver.pause('vm1')
    assert host.driver.power_off('vm1', timeout=10) is False
    assert host.driver.power_on('vm1').state == 'running'
    host.driver.power_off('vm1')
    with pytest.raises(exception.InvalidInput, match='stopped'):
        host.driver.pause('vm1')


def test_suspend_saves_the_memory_and_resume_restores_it(sim, conf):
    host = sim()
    host.driver.spawn('vm1', 10 * GiB, uuid='1b4e28ba-2fa1-11d2-883f-'
                      '0016d3cca427')
    target = host.dom0().target_mb
    info, took = timed(host, host.driver.suspend, 'vm1')
    assert (info.state, info.domid) == ('suspended', -1)
    # 10 GiB at the default 500 MiB/s disk rate.
    assert 20.0 <= took <= 21.0
    path = os.path.join(conf.xenballoon.state_dir, 'saved', 'vm1.save')
    assert os.path.exists(path) and not os.path.exists(path + '.part')
    assert host.backend.list_domains() == []
    assert host.driver.list_guests()[0].state == 'suspended'
    assert host.driver.host_status()['reserved_mb'] == 10 * GiB + 2
    with pytest.raises(exception.InvalidInput, match='suspend'):
        host.driver.pause('vm1')
    info, took = timed(host, host.driver.resume, 'vm1')
    assert info.state == 'running' and 20.0 <= took <= 22.0
    assert not os.path.exists(path)
    assert 'PM: restore' in host.driver.console_output('vm1')
    assert host.dom0().target_mb == target


def test_resume_of_a_powered_off_guest_is_refused(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)
    host.driver.power_off('vm1')
    with pytest.raises(exception.InvalidInput, match='not suspended'):
        host.driver.resume('vm1')


def test_destroy_of_a_suspended_guest_removes_its_saved_memory(sim, conf):
    host = sim()
    host.driver.spawn('vm1', GiB)
    host.driver.suspend('vm1')
    path = os.path.join(conf.xenballoon.state_dir, 'saved', 'vm1.save')
    assert os.path.exists(path)
    host.driver.destroy('vm1')
    assert not os.path.exists(path) and host.ledger.entries() == {}


def test_suspend_on_a_backend_that_cannot_leaves_all_as_it_was(sim):
    host = sim()
    info = host.driver.spawn('vm1', GiB)

    def unsupported(name, path):
        raise exception.Unsupported(what='suspend', backend='test')
    host.backend.save_domain = unsupported
    before = host.ledger.entries()
    with pytest.raises(exception.Unsupported):
        host.driver.suspend('vm1')
    assert host.ledger.entries() == before
    assert host.backend.list_domains() == [info]


def test_console_shows_boot_and_shutdown(sim):
    host = sim()
    host.driver.spawn('vm1', GiB)
    assert 'vm1 login:' in host.driver.console_output('vm1')
    host.driver.power_off('vm1', timeout=60)
    text = host.driver.console_output('vm1')
    assert text.index('login:') < text.index('reboot: Power down')
    with pytest.raises(exception.ConsoleUnavailable):
        host.driver.console_output('ghost')


def test_host_uptime_reads_like_uptime(sim):
    host = sim()
    host.clock.sleep(2 * 86400 + 3 * 3600 + 4 * 60)
    assert ' up 2 days, 3:04,  0 users,  load average:' in (
        host.driver.host_uptime())


def test_set_vifs_is_used_from_the_next_start(sim):
    host = sim()
    host.driver.spawn('vm1', GiB, disks=[DISK])
    host.driver.set_vifs('vm1', [VIF])
    built = []
    real = host.backend.create_domain
    host.backend.create_domain = lambda spec: (built.append(spec),
                                               real(spec))[1]
    host.driver.reboot('vm1', hard=True)
    spec, = built
    assert spec.vifs == (VIF,) and spec.disks == (DISK,)
    with pytest.raises(exception.InvalidInput):
        host.driver.set_vifs('vm1', [{'mac': 'nope', 'bridge': 'br0'}])


def test_spawn_refuses_bad_devices_before_anything_runs(sim):
    host = sim()
    with pytest.raises(exception.InvalidInput):
        host.driver.spawn('vm1', GiB, disks=[{'path': 'rel', 'vdev': 'xvda'}])
    with pytest.raises(exception.InvalidInput):
        host.driver.spawn('vm1', GiB, vifs='br0')
    assert host.driver.list_flows() == [] and host.ledger.entries() == {}


def test_lifecycle_calls_during_a_spawn_are_refused_without_a_flow(sim):
    host = sim()
    host.ledger.reserve(host.backend, 'vm1', GiB, res_id='flow-1')
    flows = host.driver.list_flows()
    for call in (host.driver.power_off, host.driver.power_on,
                 host.driver.suspend, host.driver.pause):
        with pytest.raises(exception.DomainBusy, match='being spawned'):
            call('vm1')
    assert [f.flow_id for f in host.driver.list_flows()] == flows
