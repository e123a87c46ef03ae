"""Commands that run while a spawn waits for dom0's balloon.

The pending spawn's reservation is visible to every other process (a
host-wide ledger behind a lock), so no MiB is counted twice, and a destroy
never takes back memory promised to the pending spawn.

A second spawn of one name, or a destroy racing a spawn, from separate
processes: the loser gets a clear error (DomainExists: exit 2;
DomainBusy: exit 8; DomainNotFound: exit 6), and once every guest is
destroyed the host's figures are a fresh host's again: no MiB left to a
reservation nobody holds, dom0's target back at its baseline.

The waiting spawn is held deterministically rather than by timing (a CLI
command takes about a second to start, more on a busy machine): dom0
gives 8 GiB and then stalls, and the stall timeout is an hour of
simulated time (3 minutes of real time here: room for a dozen commands
on a busy machine). Where commands are simply
started together, any interleaving may happen, and the checks assert
what must hold in all of them.
"""

import functools
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
# Needs 24 GiB: 8 free, 16 from dom0.
RACE_MB = 24 * base.GiB - 2
EXISTS = 'error: A domain named %s already exists'
BUSY = ('error: Domain %s is still being spawned; destroy it once its '
        'spawn has finished or failed')
NOT_FOUND = 'error: No domain named %s'
CHECKS = base.Checks()


def stalling_host(make_host):
    return make_host(
        base.small_scenario(balloon={'stall_after_mb': STALL_AFTER_MB}),
        time_scale=20, xenballoon={'stall_timeout': 3600})


def at_once(host, *commands):
    """Run CLI commands side by side; their Results, in order."""
    futures = base.run_parallel({
        i: functools.partial(host.run, *args)
        for i, args in enumerate(commands)})
    return [futures[i].result() for i in range(len(commands))]


def assert_nothing_lost(host):
    """Every guest gone: the figures are a fresh host's again.

    available_mb counts memory on its way back into dom0 as free, so it
    need not wait for dom0 to re-inflate.
    """
    status = host.status()
    fresh = base.SMALL_FRESH_STATUS
    assert status['domains'] == 0
    assert status['reserved_mb'] == 0
    assert status['dom0_target_mb'] == fresh['dom0_target_mb']
    assert status['available_mb'] == fresh['available_mb']


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
            'dom0_owed_mb': 0,
            'headroom_from_dom0_mb': 0,
            # Free memory is all promised to the slow spawn.
            'ready_mb': 0,
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
def same_name_and_destroy_while_a_spawn_waits(make_host):
    host = stalling_host(make_host)
    hold = host.run('spawn', 'hold1', '--memory-mb', HOLD_MB)
    assert hold.rc == 0, hold

    first = base.HeldSpawn(host, 'twin', SLOW_MB)
    try:
        # Other processes, while the spawn waits: the same name, a
        # destroy of it, and a look at the host.
        twin, busy, status = at_once(
            host, ('spawn', 'twin', '--memory-mb', SLOW_MB),
            ('destroy', 'twin'), ('host-status', '-f', 'json'))
        assert first.waiting()
        # Freeing hold1's memory lets the spawn finish.
        destroyed = host.run('destroy', 'hold1')
        rc, out, err = first.finish()
    finally:
        first.kill()
    assert twin.rc == 2, twin
    assert twin.error == EXISTS % 'twin'
    # There is no domain twin yet: its spawn must finish or fail first.
    assert busy.rc == 8, busy
    assert busy.error == BUSY % 'twin'
    # Neither took memory from the pending spawn or moved dom0.
    assert status.json()['reserved_mb'] == SLOW_NEED_MB
    assert status.json()['dom0_target_mb'] == TARGET_MB
    assert destroyed.rc == 0, destroyed
    assert rc == 0, err

    destroyed = host.run('destroy', 'twin', '-f', 'json')
    assert destroyed.json() == {'name': 'twin', 'dom0_target_mb': DOM0_MB}
    assert_nothing_lost(host)


@CHECKS.add()
def destroy_racing_a_spawn(make_host):
    host = make_host(base.small_scenario())
    spawn, destroy = at_once(
        host, ('spawn', 'race1', '--memory-mb', RACE_MB),
        ('destroy', 'race1', '-f', 'json'))
    # A destroy never cancels a spawn. It comes before it (no domain
    # yet; a spawn that starts while it holds the name is refused), while
    # it runs (busy), or after it (the domain goes).
    if spawn.rc:
        assert (spawn.rc, spawn.error) == (2, EXISTS % 'race1'), spawn
        assert (destroy.rc, destroy.error) == (6, NOT_FOUND % 'race1')
        assert_nothing_lost(host)
        return
    errors = {6: NOT_FOUND % 'race1', 8: BUSY % 'race1'}
    if destroy.rc:
        assert destroy.error == errors.get(destroy.rc), destroy
        destroy = host.run('destroy', 'race1', '-f', 'json')
    assert destroy.json() == {'name': 'race1', 'dom0_target_mb': DOM0_MB}
    assert_nothing_lost(host)


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_concurrent_commands(outcomes, check):
    outcomes[check].result()
