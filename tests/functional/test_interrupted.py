"""A spawn killed while dom0 balloons leaves nothing behind.

DESIGN.md, invariant 6: after a crash at any point, the flow ends up
either completed or reverted (no partial domain, dom0's target given back,
reservation released). SIGKILL stands for a crash, cleaned up when the
driver next starts. Ctrl-C, SIGHUP and SIGTERM: test_signals.py.
"""

import signal

import pytest

from tests.functional import base

STALL_AFTER_MB = 8 * base.GiB
# Needs 16 GiB beyond the 8 GiB that are free; dom0 stalls after 8 GiB.
MEMORY_MB = 24 * base.GiB
CHECKS = base.Checks()


def _crash(make_host):
    host = make_host(
        base.small_scenario(balloon={'stall_after_mb': STALL_AFTER_MB}),
        time_scale=100, xenballoon={'stall_timeout': 3600})
    spawn = base.HeldSpawn(host, 'cut1', MEMORY_MB)
    try:
        spawn.proc.send_signal(signal.SIGKILL)
        rc, _out, _err = spawn.finish()
    finally:
        spawn.kill()
    assert rc == -signal.SIGKILL
    # The next command recovers what the crash left (two at once would
    # see one of them mid-recovery, the other skipping the flow it holds).
    host.status()

    status, domains = host.snapshot()
    assert domains == []
    assert status['reserved_mb'] == 0
    assert status['dom0_target_mb'] == base.SMALL_FRESH_STATUS[
        'dom0_target_mb']
    if status['dom0_current_mb'] != status['dom0_target_mb']:
        status = host.settle()
    assert status == base.SMALL_FRESH_STATUS


@CHECKS.add()
def crash(make_host):
    _crash(make_host)


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_interrupted_spawn_is_undone(outcomes, check):
    outcomes[check].result()
