"""The simulated guests, and the scenario's guest section.

They shut down in their own time, pause, print to a console, save and
restore.
"""

import json

import pytest

from tests import conftest
from tests.unit.simulator import test_backend
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.simulator import guests
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod

GiB = conftest.GiB


@pytest.fixture
def host(conf):
    h = test_backend.Host(conf)
    h.backend.create_domain(base.DomainSpec('vm1', 4 * GiB))
    return h


def test_shutdown_takes_the_guests_time_then_the_domain_is_gone(host):
    host.backend.shutdown_domain('vm1')
    host.clock.sleep(4.9)
    assert [d.name for d in host.backend.list_domains()] == ['vm1']
    free = host.backend.host_memory().free_mb
    host.clock.sleep(0.2)
    assert host.backend.list_domains() == []
    assert host.backend.host_memory().free_mb == free + 4 * GiB + 2
    # Asked again meanwhile, or after: the first request stands.
    with pytest.raises(exception.DomainNotFound):
        host.backend.shutdown_domain('vm1')


def test_memory_freed_by_a_shutdown_counts_from_that_instant(host):
    host.backend.shutdown_domain('vm1')
    host.model.advance(100.0)  # one call: stepped at the shutdown
    assert host.model.domains == {}
    assert 'reboot: Power down' in host.model.consoles['vm1']


def test_a_guest_named_to_ignore_shutdowns_never_goes(host):
    host.model.guest.ignore_shutdown = ['vm1']
    host.backend.shutdown_domain('vm1')
    host.clock.sleep(3600)
    assert [d.state for d in host.backend.list_domains()] == ['running']


def test_pause_keeps_memory_and_postpones_a_shutdown(host):
    free = host.backend.host_memory().free_mb
    host.backend.shutdown_domain('vm1')
    host.clock.sleep(2)
    host.backend.pause_domain('vm1')
    host.clock.sleep(60)
    info, = host.backend.list_domains()
    assert info.state == 'paused' and info.memory_mb == 4 * GiB + 2
    assert host.backend.host_memory().free_mb == free
    host.backend.unpause_domain('vm1')
    host.clock.sleep(2.9)
    assert len(host.backend.list_domains()) == 1
    host.clock.sleep(0.2)
    assert host.backend.list_domains() == []


def test_a_guest_paused_before_the_request_acts_once_unpaused(host):
    host.backend.pause_domain('vm1')
    host.backend.shutdown_domain('vm1')
    host.clock.sleep(60)
    assert len(host.backend.list_domains()) == 1
    host.backend.unpause_domain('vm1')
    host.clock.sleep(5.1)
    assert host.backend.list_domains() == []


def test_lifecycle_calls_on_a_missing_domain(host):
    for call in (host.backend.shutdown_domain, host.backend.pause_domain,
                 host.backend.unpause_domain):
        with pytest.raises(exception.DomainNotFound):
            call('ghost')
    with pytest.raises(exception.ConsoleUnavailable):
        host.backend.console_output('ghost')


def test_console_is_capped_and_outlives_the_domain(host):
    text = host.backend.console_output('vm1')
    assert 'Memory: %dK/' % ((4 * GiB + 2) * 1024) in text
    assert text.endswith('vm1 login:\n')
    for _ in range(5000):
        host.model.console_write('vm1', ('x' * 60,))
    assert len(host.backend.console_output('vm1')) == guests.CONSOLE_MAX
    host.backend.destroy_domain('vm1')
    assert host.backend.console_output('vm1').endswith('x\n')


def test_save_takes_time_by_memory_and_restore_needs_it_free(host,
                                                             tmp_path):
    path = str(tmp_path / 'vm1.save')
    start = host.clock.now()
    host.backend.save_domain('vm1', path)
    # 4 GiB at the default 500 MiB/s.
    assert host.clock.now() - start == pytest.approx(4098 / 500.0)
    assert host.backend.list_domains() == []
    with open(path) as f:
        assert json.load(f)['name'] == 'vm1'
    spec = base.DomainSpec('vm1', 4 * GiB)
    start = host.clock.now()
    info = host.backend.restore_domain(spec, path)
    assert info.state == 'running'
    assert host.clock.now() - start >= 4098 / 500.0
    with pytest.raises(exception.BuildFailed, match='holds the memory'):
        host.backend.restore_domain(base.DomainSpec('vm2', GiB), path)
    with pytest.raises(exception.BuildFailed, match='cannot read'):
        host.backend.restore_domain(spec, str(tmp_path / 'none'))


def test_restore_without_free_memory_fails_like_a_create(host, tmp_path):
    path = str(tmp_path / 'vm1.save')
    host.backend.save_domain('vm1', path)
    # Someone else takes the memory (dom0 grows back into it).
    host.backend.set_dom0_target(64 * GiB)
    host.clock.sleep(60)
    with pytest.raises(exception.OutOfMemory):
        host.backend.restore_domain(base.DomainSpec('vm1', 4 * GiB), path)


def test_uptime_text():
    assert guests.uptime_text(59, 0) == (
        ' 00:00:00 up 0 min,  0 users,  load average: 0.00, 0.00, 0.00')
    assert guests.uptime_text(86400 + 3720, 3723).startswith(
        ' 01:02:03 up 1 day, 1:02,')


def test_guest_section_is_read_and_checked():
    data = conftest.make_scenario().to_dict()
    data['guest'] = {'shutdown_s': 9, 'ignore_shutdown': ['b', 'a', 'a']}
    scenario = scenario_mod.from_dict(data)
    assert scenario.guest.shutdown_s == 9.0
    assert scenario.guest.ignore_shutdown == ['a', 'b']
    assert scenario_mod.from_dict(scenario.to_dict()) == scenario
    for bad, word in (({'shutdown_s': -1}, 'guest.shutdown_s'),
                      ({'ignore_shutdown': 'a'}, 'list of domain names'),
                      ({'ignore_shutdown': ['bad name']}, 'item'),
                      ({'save_rate_mb_s': 0}, 'save_rate_mb_s'),
                      ({'nope': 1}, 'unknown')):
        data['guest'] = bad
        with pytest.raises(exception.InvalidScenario, match=word):
            scenario_mod.from_dict(data)


def test_a_state_saved_before_consoles_loads(host):
    state = store_mod.model_state(host.model)
    del state['consoles']
    store_mod.set_model_state(host.model, state)
    assert host.model.consoles == {}
