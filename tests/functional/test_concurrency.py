"""Commands that run while a spawn waits for dom0's balloon.

The pending spawn's reservation is visible to every other process (a
host-wide ledger behind a lock), so no MiB is counted twice, and a destroy
never takes back memory promised to the pending spawn.

The waiting spawn is held deterministically rather than by timing (a CLI
command takes about a second to start, more on a busy machine): dom0
gives 8 GiB and then stalls, and the stall timeout is an hour of
simulated time (36 s of real time here).
"""

import json

import pytest

from tests.functional import base

STALL_AFTER_MB = 8 * base.GiB
# Takes exactly the 8 GiB that are free on the small host.
HOLD_MB = 8 * base.GiB - 2
# Needs 16 GiB: all from dom0, which stalls half-way.
SLOW_MB = 16 * base.GiB - 2
SLOW_NEED_MB = base.pv_footprint(SLOW_MB)
DOM0_MB = 56 * base.GiB
TARGET_MB = DOM0_MB - SLOW_NEED_MB
STUCK_MB = DOM0_MB - STALL_AFTER_MB
BALLOONABLE_MB = TARGET_MB - base.DEFAULT_FLOOR_MB
CHECKS = base.Checks()


def stalling_host(make_host):
    return make_host(
        base.small_scenario(balloon={'stall_after_mb': STALL_AFTER_MB}),
        time_scale=100, xenballoon={'stall_timeout': 3600})


@CHECKS.add()
def pending_spawn_is_reserved_for_other_processes(make_host):
    host = stalling_host(make_host)
    hold = host.run('spawn', 'hold1', '--memory-mb', HOLD_MB)
    assert hold.rc == 0, hold

    slow = base.HeldSpawn(host, 'slow1', SLOW_MB)
    try:
        # While it waits: the reservation shows, and a spawn that would
        # only fit by counting the same MiB twice is refused.
        jobs = {'status': lambda: host.run('host-status', '-f', 'json'),
                'greedy': lambda: host.run('spawn', 'greedy1', '--memory-mb',
                                           BALLOONABLE_MB - 1)}
        results = {key: future.result() for key, future in
                   base.run_parallel(jobs).items()}
        assert slow.waiting()
        assert results['status'].json() == {
            'total_mb': 64 * base.GiB,
            'free_mb': STALL_AFTER_MB,
            'dom0_current_mb': STUCK_MB,
            'dom0_target_mb': TARGET_MB,
            'dom0_min_mb': base.DEFAULT_FLOOR_MB,
            'balloonable_mb': BALLOONABLE_MB,
            'reserved_mb': SLOW_NEED_MB,
            # What is free or still coming out of dom0 is all promised.
            'available_mb': BALLOONABLE_MB,
            'backend': 'simulated',
            'domains': 1,
        }
        greedy = results['greedy']
        assert greedy.rc == 3, greedy
        assert ('only %d MiB can be had' % BALLOONABLE_MB) in greedy.error
        assert ('%d MiB promised to other spawns' % SLOW_NEED_MB) in (
            greedy.error)

        # Destroying the other guest frees what the spawn still misses;
        # dom0's target stays where the pending spawn needs it.
        destroyed = host.run('destroy', 'hold1', '-f', 'json')
        assert destroyed.rc == 0, destroyed
        assert destroyed.json() == {'name': 'hold1',
                                    'dom0_target_mb': TARGET_MB}

        rc, out, err = slow.finish()
    finally:
        slow.kill()
    assert rc == 0, err
    assert 'error:' not in err
    info = json.loads(out)
    assert info['name'] == 'slow1'
    assert info['state'] == 'running'

    status = host.status()
    assert status['reserved_mb'] == 0
    assert status['domains'] == 1
    assert status['free_mb'] == 0
    assert status['dom0_target_mb'] == TARGET_MB
    assert status['dom0_current_mb'] == STUCK_MB


@CHECKS.add()
def destroy_does_not_cancel_a_pending_spawn(make_host):
    host = stalling_host(make_host)
    # 8 GiB from free memory, 16 GiB from dom0, which stalls after 8 GiB.
    memory_mb = 24 * base.GiB - 2
    need_mb = base.pv_footprint(memory_mb)
    slow = base.HeldSpawn(host, 'slow1', memory_mb)
    try:
        result = host.run('destroy', 'slow1')
        status = host.status()
        waited = slow.waiting()
    finally:
        slow.kill()
    # There is no domain slow1 yet: its spawn must finish or fail first.
    assert result.rc == 8, result
    assert 'slow1 is still being spawned' in result.error
    assert status['reserved_mb'] == need_mb
    assert status['dom0_target_mb'] == DOM0_MB - (need_mb - 8 * base.GiB)
    assert waited


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_concurrent_commands(outcomes, check):
    outcomes[check].result()
