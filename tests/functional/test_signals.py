"""SIGINT, SIGHUP and SIGTERM during spawn and destroy (issue 9, item 4).

A spawn stopped by any of them mid-balloon reverts at once: dom0 gets its
memory back, the reservation is released and the flow ends REVERTED,
with no recovery needed. A destroy is let finish, then exits. Either way
the command exits 128 + the signal's number with one ``error:`` line.

Sync points: a spawn on a host whose balloon stalls waits until signalled
(base.HeldSpawn returns once it printed its first progress line); a
destroy run with -v is signalled once it printed the line that says it
is starting (a slow ``destroy_s`` keeps the flow running meanwhile).
"""

import signal
import subprocess

import pytest

from tests.functional import base

STALL_AFTER_MB = 8 * base.GiB
MEMORY_MB = 24 * base.GiB
# Simulated seconds a destroy spends in the toolstack: at time_scale 2,
# the signal comes while the flow is in there (not needed for the test
# to hold: a signal at any point of the command is deferred).
DESTROY_S = 4.0
CHECKS = base.Checks()


def _flows(host):
    return host.run('flows', '-f', 'json').json()


def _spawn_signalled(make_host, signum):
    host = make_host(
        base.small_scenario(balloon={'stall_after_mb': STALL_AFTER_MB}),
        time_scale=100, xenballoon={'stall_timeout': 3600})
    spawn = base.HeldSpawn(host, 'cut1', MEMORY_MB)
    try:
        spawn.proc.send_signal(signum)
        rc, out, err = spawn.finish()
    finally:
        spawn.kill()
    assert rc == 128 + signum, err
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert errors == [
        'error: The spawn of cut1 was interrupted by %s before its domain '
        'was built; it is undone' % signal.Signals(signum).name], err
    assert 'Traceback' not in err and out == ''
    # Reverted by the command itself: read without recovery first.
    flows = _flows(host)
    assert [(f['request'], f['state']) for f in flows] == [
        ('spawn cut1', 'REVERTED')]
    status, domains = host.snapshot()
    assert domains == []
    assert status['reserved_mb'] == 0
    assert status['dom0_target_mb'] == base.SMALL_FRESH_STATUS[
        'dom0_target_mb']
    assert host.settle() == base.SMALL_FRESH_STATUS
    # And nothing was left for recovery to do.
    assert host.run('recover', '-f', 'json').json() == []


def _destroy_signalled(make_host, signum):
    host = make_host(base.small_scenario(toolstack={'destroy_s': DESTROY_S}),
                     time_scale=2)
    assert host.run('spawn', 'gone1', '--memory-mb', 16 * base.GiB).rc == 0
    argv = list(base.CLI) + ['-v', '--config-file', str(host.conf_file),
                             'destroy', 'gone1', '-f', 'json']
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        # The line comes once the handlers are in place and the driver is
        # up, just before the flow starts: a signal from here on, however
        # slow the machine, lands while the command runs.
        line = proc.stderr.readline()
        assert line == 'destroy: destroying gone1\n', line
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=base.COMMAND_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signum, err
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert errors == [
        'error: %s came during the destroy of gone1, which was let finish '
        'first: it succeeded, dom0 target %d MiB' % (
            signal.Signals(signum).name,
            base.SMALL_FRESH_STATUS['dom0_target_mb'])], err
    assert 'Traceback' not in err and out == ''
    states = {f['request']: f['state'] for f in _flows(host)}
    assert states == {'spawn gone1': 'SUCCESS', 'destroy gone1': 'SUCCESS'}
    assert host.settle() == base.SMALL_FRESH_STATUS
    assert host.domains() == []


for _signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    def _spawn_check(make_host, signum=_signum):
        _spawn_signalled(make_host, signum)

    def _destroy_check(make_host, signum=_signum):
        _destroy_signalled(make_host, signum)

    _name = signal.Signals(_signum).name.lower()
    _spawn_check.__name__ = 'spawn_' + _name
    _destroy_check.__name__ = 'destroy_' + _name
    CHECKS.add()(_spawn_check)
    CHECKS.add()(_destroy_check)


def test_handlers_are_restored(tmp_path):
    """In-process: the previous handlers come back after the block."""
    from xenballoon_driver.cmd import signals

    before = {s: signal.getsignal(s) for s in signals.STOP_SIGNALS}
    with signals.caught() as received:
        signal.raise_signal(signal.SIGHUP)
        assert received.event.is_set() and received.name == 'SIGHUP'
        signal.raise_signal(signal.SIGTERM)
        assert received.name == 'SIGHUP'   # the first one counts
    assert {s: signal.getsignal(s) for s in signals.STOP_SIGNALS} == before


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
    return CHECKS.start(tmp_path_factory)


@pytest.mark.parametrize('check', CHECKS.params())
def test_signalled(outcomes, check):
    outcomes[check].result()
