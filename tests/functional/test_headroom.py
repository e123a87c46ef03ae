"""Warm headroom on the simulated CLI host, killed -9 while it is kept.

[xenballoon] free_headroom_mb = 16 GiB on the crash tests' host (64 GiB,
8 GiB free, dom0 56 GiB): kept, dom0's target is 48 GiB. Each kill
leaves what it stored; ``xenballoon recover`` (any command's start-up)
must turn it into a consistent host: every flow ended, dom0's target the
ledger's, and the headroom kept again.

The commands (several dozen) are forked by the kill harness's zygote, each the
CLI's main(argv) in a process of its own killed where told, as
test_crash_recovery's fault_runner.py subprocesses are, without a Python
start-up each (two seconds of CPU under coverage).
"""

import json
import signal
import subprocess

import pytest

from tests.functional import kill_harness
from tests.functional.test_crash_recovery import host  # noqa: F401
from tests.functional.test_crash_recovery import store_url  # noqa: F401
from xenballoon_driver.cmd import base
from xenballoon_driver import driver as driver_mod

GiB = 1024
H = 16 * GiB
KEPT_TARGET = 56 * GiB - (H - 8 * GiB)


@pytest.fixture
def cli(tmp_path_factory):
    """``cli(conf, *args, point='none')``: test_crash_recovery's, forked."""
    zygote = kill_harness.zygote(tmp_path_factory)

    def run(conf, *args, point='none'):
        done = zygote.start_argv(['--config-file', str(conf)] + list(args),
                                 point=point, measure=True).wait()
        return subprocess.CompletedProcess(done.argv, done.rc, done.stdout,
                                           done.stderr)
    return run


@pytest.fixture
def warm(host):  # noqa: F811
    """The crash tests' host config, with H MiB of headroom."""
    def make(**kw):
        path = host(**kw)
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(text.replace('[xenballoon]\n', '[xenballoon]\n'
                                 'free_headroom_mb = %d\n' % H, 1))
        return path
    return make


def kept(cli, conf):
    """Recover, then check invariant 6 and the headroom; the status."""
    recovered = cli(conf, 'recover', '-f', 'json')
    assert recovered.returncode == 0, recovered.stderr
    drv = driver_mod.XenBalloonDriver(base.load_conf([conf])).init_host(
        recover=False)
    # Invariant 6 as crash.consistent checks it (a kill at start-up
    # leaves no flow at all).
    assert all(f.state in ('SUCCESS', 'REVERTED') for f in drv.list_flows())
    entries = drv.ledger.entries().values()
    assert all(e['state'] == 'domain' for e in entries), entries
    assert {d.name for d in drv.backend.list_domains()} == {
        e['name'] for e in entries}
    assert drv.backend.dom0_memory().target_mb == drv.ledger.target()
    status = json.loads(cli(conf, 'host-status', '-f', 'json').stdout)
    assert status['dom0_owed_mb'] == 0
    # Free memory promised to nobody, counting what dom0 still releases.
    assert status['available_mb'] - status['balloonable_mb'] == H
    return status


def test_killed_after_storing_it_at_start_up(warm, cli):
    conf = warm()
    killed = cli(conf, 'spawn', 'vm1', '--memory-mb', str(4 * GiB),
                       point='headroom-stored')
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    status = kept(cli, conf)
    assert status['dom0_target_mb'] == KEPT_TARGET


@pytest.mark.parametrize('command', ['spawn', 'destroy'])
def test_killed_after_storing_it_at_the_end_of_a_command(
        warm, cli, command):
    conf = warm()
    assert cli(conf, 'spawn', 'vm1', '--memory-mb',
                     str(4 * GiB)).returncode == 0
    args = (['spawn', 'vm2', '--memory-mb', str(4 * GiB)]
            if command == 'spawn' else ['destroy', 'vm1'])
    killed = cli(conf, *args, point='headroom-stored-2')
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    status = kept(cli, conf)
    guests = 2 if command == 'spawn' else 0
    # Each 4 GiB guest (+2 MiB of Xen's) came out of dom0 in the end.
    assert status['dom0_target_mb'] == KEPT_TARGET - guests * (4 * GiB + 2)


def test_killed_anywhere_in_the_destroy_s_give_back(warm, cli, tmp_path):
    """The last events of a destroy are its keep_headroom: kill at each.

    About 24 events (each call's before and after: the document's reads
    and write, the host's look, dom0's target); a kill after one call and
    one before the next leave the same state, so every other one.
    """
    conf = warm()
    assert cli(conf, 'spawn', 'vm1', '--memory-mb',
               str(20 * GiB)).returncode == 0
    counted = tmp_path / 'count'
    assert cli(conf, 'destroy', 'vm1',
               point='count:%s' % counted).returncode == 0
    total = int(counted.read_text())
    assert kept(cli, conf)['dom0_target_mb'] == KEPT_TARGET
    for back in range(1, 25, 2):
        assert cli(conf, 'spawn', 'vm1', '--memory-mb',
                   str(20 * GiB)).returncode == 0
        killed = cli(conf, 'destroy', 'vm1', point='nth:%d' % (total - back))
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert kept(cli, conf)['dom0_target_mb'] == KEPT_TARGET, (
            killed.stderr)
