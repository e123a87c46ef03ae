"""spawn, list, host-status and destroy in separate processes, one host.

Each command is a new process; they share the host through the state
directory (the simulated host and the reservation ledger). The checks
run side by side, each on its own host (see base.Checks).
"""

import pytest

from tests.functional import base

CHECKS = base.Checks()

BIG_MB = 163840          # the 2014 report's 160 GiB guest
BIG_VCPUS = 16
BIG_NEED_MB = base.pv_footprint(BIG_MB)
# Free memory alone (62 GiB) cannot hold the guest: dom0 gives the rest.
LOWERED_MB = base.DEFAULT_DOM0_MB - (BIG_NEED_MB - base.DEFAULT_FREE_MB)


def _spawn_big(host, name='big1'):
    result = host.run('spawn', name, '--memory-mb', BIG_MB,
                      '--vcpus', BIG_VCPUS, '-f', 'json')
    assert result.rc == 0, result
    assert result.error_lines == []
    info = result.json()
    assert info['name'] == name
    assert info['state'] == 'running'
    assert info['vcpus'] == BIG_VCPUS
    assert BIG_MB <= info['memory_mb'] <= BIG_NEED_MB
    return info


@CHECKS.add()
def spawn_list_destroy_reinflates(make_host):
    host = make_host()
    info = _spawn_big(host)

    status, domains = host.snapshot()
    assert domains == [{'name': 'big1', 'domid': info['domid'],
                        'memory_mb': info['memory_mb'], 'vcpus': BIG_VCPUS,
                        'state': 'running'}]
    assert status['dom0_target_mb'] == LOWERED_MB
    assert status['dom0_current_mb'] == LOWERED_MB
    # The free memory went into the guest; nothing is pending any more.
    assert status['free_mb'] == 0
    assert status['reserved_mb'] == 0
    assert status['domains'] == 1
    assert status['balloonable_mb'] == LOWERED_MB - base.DEFAULT_FLOOR_MB
    assert status['available_mb'] == status['balloonable_mb']

    result = host.run('destroy', 'big1', '-f', 'json')
    assert result.rc == 0, result
    assert result.json() == {'name': 'big1',
                             'dom0_target_mb': base.DEFAULT_DOM0_MB}

    # dom0 grows back (at 1400 MiB/s, a few milliseconds of real time).
    status, domains = host.settled_snapshot()
    assert domains == []
    assert status == base.DEFAULT_FRESH_STATUS


@CHECKS.add()
def destroy_without_reinflate_keeps_dom0_down(make_host):
    floor = 64 * base.GiB
    host = make_host(xenballoon={'reinflate_on_destroy': 'false',
                                 'dom0_min_memory_mb': floor})
    # As long as names may be: 64 characters.
    name = 'n' + '0123456789' * 6 + 'abc'
    assert len(name) == 64
    _spawn_big(host, name)

    result = host.run('destroy', name, '-f', 'json')
    assert result.rc == 0, result
    assert result.json() == {'name': name, 'dom0_target_mb': LOWERED_MB}

    status, domains = host.snapshot()
    assert domains == []
    assert status['dom0_target_mb'] == LOWERED_MB
    assert status['dom0_current_mb'] == LOWERED_MB
    # The guest's memory is free again, and nothing is reserved.
    assert status['free_mb'] == BIG_NEED_MB
    assert status['reserved_mb'] == 0
    assert status['domains'] == 0
    assert status['dom0_min_mb'] == floor
    assert status['balloonable_mb'] == LOWERED_MB - floor
    assert status['available_mb'] == BIG_NEED_MB + LOWERED_MB - floor


@CHECKS.add()
def whole_host_down_to_the_floor(make_host):
    # dom0 gives 956 GiB at 680 MiB/s: 24 simulated minutes, 70 ms here.
    host = make_host(time_scale=20000)
    # The largest guest that fits: free memory plus dom0 down to its floor
    # (one MiB more is refused: see test_bad_input).
    largest = (base.DEFAULT_TOTAL_MB - base.DEFAULT_XEN_MB -
               base.DEFAULT_FLOOR_MB - 2)
    result = host.run('spawn', 'huge', '--memory-mb', largest)
    assert result.rc == 0, result
    status = host.status()
    assert status['dom0_target_mb'] == base.DEFAULT_FLOOR_MB
    assert status['dom0_current_mb'] == base.DEFAULT_FLOOR_MB
    assert status['available_mb'] == 0
    assert status['free_mb'] == 0
    assert status['domains'] == 1


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_lifecycle(outcomes, check):
    outcomes[check].result()
