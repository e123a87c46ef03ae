"""The guest lifecycle through the CLI, each command its own process.

stop, start, reboot, pause, unpause, suspend, resume, console and list
on one simulated host shared through the state directory. The memory
of a stopped or suspended guest stays reserved for it: free in Xen, not
lent to dom0, not given to another spawn.
"""

import pytest

from tests.functional import base

CHECKS = base.Checks()
GiB = base.GiB
NEED_MB = base.pv_footprint(8 * GiB)


def _ok(result):
    assert result.rc == 0, result
    return result.json()


@CHECKS.add()
def stop_keeps_the_memory_and_start_gets_it_back(make_host):
    host = make_host(base.small_scenario())
    _ok(host.run('spawn', 'vm1', '--memory-mb', 8 * GiB, '-f', 'json'))
    before = host.settle()
    assert _ok(host.run('stop', 'vm1', '-f', 'json')) == {
        'name': 'vm1', 'clean': True, 'state': 'shutoff'}
    status, domains = host.snapshot()
    assert domains == [{'name': 'vm1', 'domid': -1, 'memory_mb': 8 * GiB,
                        'vcpus': 1, 'state': 'shutoff'}]
    assert status['free_mb'] == NEED_MB
    assert status['reserved_mb'] == NEED_MB
    assert status['dom0_target_mb'] == before['dom0_target_mb']
    assert status['available_mb'] == before['available_mb']
    # A spawn that would need the stopped guest's memory is refused.
    result = host.run('spawn', 'big', '--memory-mb',
                      status['available_mb'] + 1)
    assert result.rc == 3, result
    # Stopped already: nothing to do.
    assert _ok(host.run('stop', 'vm1', '-f', 'json'))['clean'] is True
    info = _ok(host.run('start', 'vm1', '-f', 'json'))
    assert info['state'] == 'running' and info['domid'] > 0
    status = host.settle()
    assert status['reserved_mb'] == 0 and status['free_mb'] == 0
    assert status['dom0_target_mb'] == before['dom0_target_mb']


@CHECKS.add()
def start_races_a_crowd_of_spawns_and_wins(make_host):
    host = make_host(base.small_scenario())
    _ok(host.run('spawn', 'vm1', '--memory-mb', 16 * GiB, '-f', 'json'))
    _ok(host.run('stop', 'vm1', '--timeout', 0, '-f', 'json'))
    available = host.status()['available_mb']
    fits = available // NEED_MB
    jobs = {'start': lambda: host.run('start', 'vm1', '-f', 'json')}
    for n in range(fits + 2):
        jobs['c%d' % n] = (lambda n=n: host.run(
            'spawn', 'c%d' % n, '--memory-mb', 8 * GiB, '-f', 'json'))
    results = {key: f.result() for key, f in base.run_parallel(
        jobs).items()}
    # Whatever the order, the stopped guest's memory was its own.
    assert results.pop('start').rc == 0
    codes = sorted(r.rc for r in results.values())
    assert codes == [0] * fits + [3, 3], results
    status, domains = host.settled_snapshot()
    assert len(domains) == fits + 1
    assert {d['state'] for d in domains} == {'running'}
    assert status['reserved_mb'] == 0


@CHECKS.add()
def stop_of_a_guest_that_ignores_it_destroys_after_timeout(make_host):
    host = make_host(base.small_scenario(guest={'ignore_shutdown':
                                                ['vm1']}))
    _ok(host.run('spawn', 'vm1', '--memory-mb', GiB, '-f', 'json'))
    out = _ok(host.run('stop', 'vm1', '--timeout', 20, '--retry-interval',
                       5, '-f', 'json'))
    assert out['clean'] is False
    assert host.domains()[0]['state'] == 'shutoff'


@CHECKS.add()
def reboot_pause_console(make_host):
    host = make_host(base.small_scenario())
    _ok(host.run('spawn', 'vm1', '--memory-mb', GiB, '-f', 'json'))
    first = host.domains()[0]['domid']
    soft = _ok(host.run('reboot', 'vm1', '-f', 'json'))
    hard = _ok(host.run('reboot', 'vm1', '--hard', '-f', 'json'))
    assert first < soft['domid'] < hard['domid']
    assert _ok(host.run('pause', 'vm1', '-f', 'json'))['state'] == 'paused'
    assert host.domains()[0]['state'] == 'paused'
    assert _ok(host.run('unpause', 'vm1', '-f', 'json'))['state'] == (
        'running')
    console = host.run('console', 'vm1')
    assert console.rc == 0, console
    # Booted three times, shut down cleanly once (the soft reboot).
    assert console.stdout.count('vm1 login:') == 3
    assert console.stdout.count('reboot: Power down') == 1


@CHECKS.add()
def suspend_and_resume(make_host):
    host = make_host(base.small_scenario())
    _ok(host.run('spawn', 'vm1', '--memory-mb', 8 * GiB, '-f', 'json'))
    info = _ok(host.run('suspend', 'vm1', '-f', 'json'))
    assert (info['state'], info['domid']) == ('suspended', -1)
    saved = host.state_dir / 'saved' / 'vm1.save'
    assert saved.exists()
    assert host.domains()[0]['state'] == 'suspended'
    assert host.status()['reserved_mb'] == NEED_MB
    result = host.run('pause', 'vm1')
    assert result.rc == 2 and 'resume it first' in result.error, result
    assert _ok(host.run('resume', 'vm1', '-f', 'json'))['state'] == (
        'running')
    assert not saved.exists()
    assert 'PM: restore' in host.run('console', 'vm1').stdout


@CHECKS.add()
def destroy_of_a_stopped_guest_gives_dom0_its_memory(make_host):
    host = make_host(base.small_scenario())
    _ok(host.run('spawn', 'vm1', '--memory-mb', 16 * GiB, '-f', 'json'))
    _ok(host.run('stop', 'vm1', '--timeout', 0, '-f', 'json'))
    result = host.run('destroy', 'vm1', '-f', 'json')
    assert result.rc == 0 and result.error_lines == [], result
    status, domains = host.settled_snapshot()
    assert domains == []
    assert status == base.SMALL_FRESH_STATUS


@CHECKS.add()
def errors_are_one_line_with_their_exit_code(make_host):
    host = make_host(base.small_scenario())
    for args, rc in ((('stop', 'ghost'), 6), (('start', 'ghost'), 6),
                     (('stop', 'bad name'), 2),
                     (('stop', 'ghost', '--timeout', 'soon'), 2),
                     (('console', 'ghost'), 6)):
        result = host.run(*args)
        assert result.rc == rc, result
        assert len(result.error_lines) == 1, result
    _ok(host.run('spawn', 'vm1', '--memory-mb', GiB, '-f', 'json'))
    result = host.run('stop', 'vm1', '--timeout', -1)
    assert result.rc == 2 and 'seconds from 0' in result.error, result
    _ok(host.run('stop', 'vm1', '-f', 'json'))
    result = host.run('resume', 'vm1')
    assert result.rc == 2 and 'not suspended' in result.error, result


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_power_cli(outcomes, check):
    outcomes[check].result()
