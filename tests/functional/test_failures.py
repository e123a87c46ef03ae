"""Spawns that fail part-way: a stalled balloon (4), a failed build (5).

Both must undo everything: dom0's target back where it was, no domain,
no reservation left behind. The checks run side by side, each on its own
host (see base.Checks).
"""

import re

import pytest

from tests.functional import base

CHECKS = base.Checks()

MEMORY_MB = 32768
NEED_MB = base.pv_footprint(MEMORY_MB)
# The small host has 8 GiB free: the rest comes from dom0's 56 GiB.
TARGET_MB = 56 * base.GiB - (NEED_MB - 8 * base.GiB)


@CHECKS.add()
def stalled_balloon_exits_4_and_reinflates(make_host):
    # dom0 gives 8 GiB and then nothing more; the spawn needs 24 GiB.
    stall_mb = 8 * base.GiB
    host = make_host(base.small_scenario(
        balloon={'stall_after_mb': stall_mb}))
    result = host.run('spawn', 'stuck1', '--memory-mb', MEMORY_MB)
    assert result.rc == 4, result
    stuck_at = 56 * base.GiB - stall_mb
    missing = NEED_MB - (64 * base.GiB - stuck_at)
    match = re.fullmatch(
        r'error: Balloon stalled: dom0 is at (\d+) MiB, target (\d+) MiB, '
        r'(\d+) MiB still missing after [\d.]+ s .*', result.error)
    assert match, result
    assert [int(n) for n in match.groups()] == [
        stuck_at, TARGET_MB, missing]
    assert result.stdout == ''

    status, domains = host.settled_snapshot()
    assert domains == []
    assert status == base.SMALL_FRESH_STATUS


@CHECKS.add()
def failed_build_exits_5_and_undoes_everything(make_host):
    host = make_host(base.small_scenario(build={'fail_at_fraction': 0.5}))
    result = host.run('spawn', 'broken1', '--memory-mb', MEMORY_MB)
    assert result.rc == 5, result
    assert result.error == ('error: Building domain broken1 failed: '
                            'simulated build failure at 50% of its memory')
    assert result.stdout == ''

    status, domains = host.settled_snapshot()
    assert domains == []
    assert status['reserved_mb'] == 0
    assert status['dom0_target_mb'] == 56 * base.GiB
    assert status == base.SMALL_FRESH_STATUS


@CHECKS.add()
def a_named_domain_fails_and_another_builds(make_host):
    # Fault injection by domain name, in the simulated host's scenario.
    host = make_host(base.small_scenario(
        build={'fail_domains': {'broken2': 0.25}}))
    result = host.run('spawn', 'broken2', '--memory-mb', MEMORY_MB)
    assert result.rc == 5, result
    assert result.error == ('error: Building domain broken2 failed: '
                            'simulated build failure at 25% of its memory')
    status, domains = host.settled_snapshot()
    assert domains == []
    assert status == base.SMALL_FRESH_STATUS
    result = host.run('spawn', 'fine2', '--memory-mb', 1024)
    assert result.rc == 0, result


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_failure_is_undone(outcomes, check):
    outcomes[check].result()
