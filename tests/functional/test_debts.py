"""What the host is owed after a toolstack call fails, through the CLI.

A give-back to dom0 that fails, an ``xl destroy`` that leaves the domain,
a revert that cannot destroy a partial domain: each is kept in the
ledger, shown, reported in one line, and paid by ``recover``. The
simulator's toolstack faults (scenario ``toolstack`` section) make the
calls fail; they are counted on the host, so each command sees the next.
The checks run side by side, each on its own host (see base.Checks).
"""

import functools

import pytest

from tests.functional import base

CHECKS = base.Checks()

MEMORY_MB = 32768
NEED_MB = base.pv_footprint(MEMORY_MB)
FROM_DOM0_MB = NEED_MB - 8 * base.GiB   # the small host has 8 GiB free
FRESH = base.SMALL_FRESH_STATUS
SHRUNK_MB = FRESH['dom0_target_mb'] - FROM_DOM0_MB


def within_host(status, domains):
    """Ledger + guests + Xen within the host (the small host has no Xen)."""
    held = sum(d['memory_mb'] for d in domains)
    assert (status['free_mb'] + status['dom0_current_mb'] + held <=
            status['total_mb']), (status, domains)
    assert status['available_mb'] <= FRESH['available_mb'], status


def one_warning(result, text):
    """The failure is one line on stderr, with no traceback."""
    assert 'Traceback' not in result.stderr, result
    lines = [line for line in result.stderr.splitlines() if text in line]
    assert len(lines) == 1, result
    return lines[0]


def reinflate_fails(mode, make_host):
    # Two faults: the destroy's re-inflate, then host-status's start-up
    # recovery; the recover after that finds the toolstack working.
    host = make_host(base.small_scenario(toolstack={
        'reinflate_faults': 2, 'reinflate_fault': mode}))
    result = host.run('spawn', 'g1', '--memory-mb', MEMORY_MB)
    assert result.rc == 0, result

    result = host.run('destroy', 'g1')
    assert result.rc == 0, result   # the domain is gone; dom0 is owed
    line = one_warning(result, 'Giving dom0 back')
    assert ('Giving dom0 back %d MiB (target %d MiB, now %d MiB) failed'
            % (FROM_DOM0_MB, FRESH['dom0_target_mb'], SHRUNK_MB)) in line

    result = host.run('host-status', '-f', 'json')
    status = result.json()
    line = one_warning(result, 'dom0-debt')   # start-up recovery tried
    assert ('dom0 owed %d MiB after the destroy of g1; still failing: '
            'Toolstack call mem-set 0 %dm failed' % (
                FROM_DOM0_MB, FRESH['dom0_target_mb'])) in line
    assert 'Giving dom0 back' not in result.stderr   # one line, not two
    assert status['dom0_owed_mb'] == FROM_DOM0_MB
    assert status['dom0_target_mb'] == SHRUNK_MB
    assert status['available_mb'] == FRESH['available_mb']
    assert status['domains'] == 0   # (another command would pay the debt)
    within_host(status, [])

    rows = host.run('recover', '-f', 'json').json()
    assert rows == [{
        'what': 'dom0-debt', 'name': 'Domain-0', 'outcome': 'paid',
        'detail': 'dom0 owed %d MiB after the destroy of g1' % FROM_DOM0_MB,
    }]
    status, domains = host.settled_snapshot()
    assert (status, domains) == (FRESH, [])
    assert host.run('recover', '-f', 'json').json() == []


for _mode in ('error', 'hang', 'ignore'):
    _check = functools.partial(reinflate_fails, _mode)
    _check.__name__ = 'reinflate_%s_is_owed_then_paid' % _mode
    CHECKS.add()(_check)


@CHECKS.add()
def spawn_revert_whose_reinflate_fails_is_owed_then_paid(make_host):
    # Both of the revert's re-inflates fail (dom0's, then the
    # reservation's): one warning line, and the debt outlives the spawn.
    host = make_host(base.small_scenario(build={'fail_at_fraction': 0.5},
                                         toolstack={'reinflate_faults': 2}))
    result = host.run('spawn', 'b1', '--memory-mb', MEMORY_MB)
    assert result.rc == 5, result
    assert result.error == ('error: Building domain b1 failed: simulated '
                            'build failure at 50% of its memory')
    one_warning(result, 'Giving dom0 back %d MiB' % FROM_DOM0_MB)
    rows = host.run('recover', '-f', 'json').json()
    assert rows == [{
        'what': 'dom0-debt', 'name': 'Domain-0', 'outcome': 'paid',
        'detail': 'dom0 owed %d MiB after the revert of b1' % FROM_DOM0_MB,
    }]
    assert host.settled_snapshot() == (FRESH, [])


@CHECKS.add()
def destroy_that_leaves_the_domain_keeps_it(make_host):
    host = make_host(base.small_scenario(toolstack={'destroy_faults': 1}))
    assert host.run('spawn', 'g1', '--memory-mb', MEMORY_MB).rc == 0
    result = host.run('destroy', 'g1')
    assert result.rc == 7, result
    assert result.error == (
        'error: Toolstack call destroy g1 failed: the domain is still there '
        'after the destroy (simulated: toolstack.destroy_faults)')
    status, domains = host.settled_snapshot()
    assert [d['name'] for d in domains] == ['g1']
    assert status['dom0_target_mb'] == SHRUNK_MB
    assert status['dom0_owed_mb'] == 0
    within_host(status, domains)
    # Nothing forgotten: the ledger still holds g1, so nothing is out of
    # step, and a second destroy gives dom0 its memory back.
    assert host.run('recover', '-f', 'json').json() == []
    assert host.run('destroy', 'g1').rc == 0
    assert host.settled_snapshot() == (FRESH, [])


@CHECKS.add()
def revert_that_cannot_destroy_is_owed_then_paid(make_host):
    host = make_host(base.small_scenario(build={'fail_at_fraction': 0.5},
                                         toolstack={'destroy_faults': 1}))
    result = host.run('spawn', 'b1', '--memory-mb', MEMORY_MB)
    assert result.rc == 5, result
    assert result.error == ('error: Building domain b1 failed: simulated '
                            'build failure at 50% of its memory')
    line = one_warning(result, 'While reverting')
    assert 'destroying b1 failed' in line
    assert 'recorded: "xenballoon recover" destroys it' in line

    rows = host.run('recover', '-f', 'json').json()
    assert [(r['what'], r['name'], r['outcome']) for r in rows] == [
        ('undestroyed-domain', 'b1', 'destroyed')]
    assert 'could not destroy it' in rows[0]['detail']
    assert host.run('recover', '-f', 'json').json() == []
    assert host.settled_snapshot() == (FRESH, [])


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_debt_is_kept_and_paid(outcomes, check):
    outcomes[check].result()
