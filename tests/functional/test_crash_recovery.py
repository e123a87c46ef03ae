"""Crash safety: kill -9 a spawn or destroy anywhere, then recover.

Each case runs the CLI in a subprocess that SIGKILLs itself at one point
(fault_runner.py), then runs ``xenballoon recover`` in a new process, and
checks DESIGN.md invariant 6 on the stored state: every flow completed or
reverted, no partial domain, no reservation without a flow, and dom0's
target equal to what the ledger derives.
"""

import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

from xenballoon_driver.cmd import base
from xenballoon_driver import driver as driver_mod

HERE = os.path.dirname(__file__)
RUNNER = os.path.join(HERE, 'fault_runner.py')
GiB = 1024

SPAWN_POINTS = ['reserve-before', 'reserve-after', 'balloon-after-target',
                'wait-middle', 'build-before-create', 'build-inside-create',
                'build-before-commit', 'build-after-commit']
# A populate rate at which a half-built domain stays half built.
FROZEN_BUILD_MB_S = 0.01
REVERT_POINTS = ['revert-destroying-domain', 'revert-returning-dom0',
                 'revert-releasing']


@pytest.fixture
def store_url(tmp_path):
    """Flows on SQLite, the embedded default."""
    return 'sqlite:///%s' % (tmp_path / 'state' / 'flows.sqlite')


@pytest.fixture
def host(tmp_path, store_url):
    """A config for a small simulated host; ``host(build=...)`` rewrites."""
    def make(rate=2048, **build):
        scenario = {
            'host': {'total_mb': 64 * GiB, 'dom0_mb': 56 * GiB,
                     'dom0_low_mb': 1024},
            'balloon': {'release_rate_mb_s': rate},
            'build': dict({'populate_rate_mb_s': 1024}, **build),
        }
        (tmp_path / 'scenario.yaml').write_text(yaml.safe_dump(scenario))
        conf = tmp_path / 'xenballoon.conf'
        conf.write_text(
            '[xenballoon]\nstate_dir = %s\npoll_interval = 0.5\n'
            '[persistence]\nconnection = %s\n'
            '[simulator]\nscenario_file = %s\ntime_scale = 1000\n' % (
                tmp_path / 'state', store_url, tmp_path / 'scenario.yaml'))
        return str(conf)
    return make


def cli(conf, *args, point=None):
    cmd = [sys.executable]
    if point:
        cmd += [RUNNER, point, '--']
    else:
        cmd += ['-m', 'xenballoon_driver.cmd.shell']
    cmd += ['--config-file', conf] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def consistent(conf_path):
    """Assert invariant 6 on what is stored; return the driver."""
    drv = driver_mod.XenBalloonDriver(base.load_conf([conf_path])).init_host(
        recover=False)
    flows = drv.list_flows()
    assert flows and all(f.state in ('SUCCESS', 'REVERTED') for f in flows)
    entries = drv.ledger.entries().values()
    assert all(e['state'] == 'domain' for e in entries), entries
    domains = drv.backend.list_domains()
    assert all(d.state == 'running' for d in domains), domains
    assert {d.name for d in domains} == {e['name'] for e in entries}
    target = drv.ledger.target()
    if target is None:
        target = drv.ledger.baseline()
    assert drv.backend.dom0_memory().target_mb == target
    return drv


def recover(conf):
    result = cli(conf, 'recover', '-f', 'json')
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize('point', SPAWN_POINTS)
def test_spawn_killed_then_recovered(host, point):
    # A slow balloon, so that the wait sees several looks before its end
    # however slowly this machine runs them: 12 GiB at 2 MiB/s take 6144
    # simulated seconds, 6 s of real time at this time_scale (at 128
    # MiB/s, 0.1 s: a loaded machine's third look came after the end); a
    # build so slow that it is still half done when recovery comes,
    # however long that takes: the simulated host keeps building in the
    # meantime, and 20 GiB at 0.01 MiB/s take 2 million simulated seconds
    # (over half an hour of real time at this time_scale).
    conf = host(rate=2 if point == 'wait-middle' else 2048,
                populate_rate_mb_s=FROZEN_BUILD_MB_S
                if point == 'build-inside-create' else 1024)
    killed = cli(conf, 'spawn', 'vm1', '--memory-mb', str(20 * GiB),
                 point=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rows = recover(conf)
    drv = consistent(conf)
    flow_rows = [r for r in rows if r['what'] == 'flow']
    if point != 'reserve-before':
        # Died inside the flow: recovery ran it to one end or the other.
        assert [r['outcome'] for r in flow_rows] in (['completed'],
                                                     ['reverted'])
    if point in ('wait-middle', 'balloon-after-target',
                 'build-before-create'):
        # Its build had not started: nobody waits for it any more.
        assert [r['outcome'] for r in flow_rows] == ['reverted']
        assert drv.list_instances() == []
        assert drv.backend.dom0_memory().target_mb == 56 * GiB
    if point == 'build-inside-create':
        # Recovery found the domain half built: destroyed, flow reverted.
        assert flow_rows[0]['outcome'] == 'reverted'
        assert drv.list_instances() == []
    if point in ('build-before-commit', 'build-after-commit'):
        # The domain had been built: recovery keeps it.
        assert flow_rows[0]['outcome'] == 'completed'
        assert drv.list_instances() == ['vm1']


@pytest.mark.parametrize('point', REVERT_POINTS)
def test_revert_killed_then_finished_by_recovery(host, point):
    conf = host(fail_at_fraction=0.5)
    killed = cli(conf, 'spawn', 'vm1', '--memory-mb', str(20 * GiB),
                 point=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    recover(conf)
    drv = consistent(conf)
    assert drv.list_instances() == []
    assert drv.ledger.entries() == {}
    assert drv.backend.dom0_memory().target_mb == 56 * GiB


def test_destroy_killed_then_recovered(host):
    conf = host()
    assert cli(conf, 'spawn', 'vm1', '--memory-mb',
               str(20 * GiB)).returncode == 0
    killed = cli(conf, 'destroy', 'vm1', point='destroy-before-release')
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    recover(conf)
    drv = consistent(conf)
    assert drv.list_instances() == []
    assert drv.backend.dom0_memory().target_mb == 56 * GiB


def test_recovery_twice_is_harmless(host):
    conf = host()
    cli(conf, 'spawn', 'vm1', '--memory-mb', str(20 * GiB),
        point='build-inside-create')
    recover(conf)
    before = consistent(conf).host_status()
    assert recover(conf) == []
    assert consistent(conf).host_status() == before


def test_any_command_recovers_first(host):
    conf = host()
    cli(conf, 'spawn', 'vm1', '--memory-mb', str(20 * GiB),
        point='build-before-commit')
    status = cli(conf, 'host-status', '-f', 'json')
    assert status.returncode == 0
    assert json.loads(status.stdout)['reserved_mb'] == 0
    consistent(conf)


class TestOnDatabaseServers:
    """A few of the same cases on PostgreSQL and MariaDB.

    Skipped when a server is absent, unless XENBALLOON_REQUIRE_SERVICES=1.
    """

    @pytest.fixture
    def store_url(self, server_url):
        return server_url

    @pytest.mark.parametrize('point', ['build-inside-create',
                                       'build-after-commit'])
    def test_spawn_killed_then_recovered(self, host, point):
        test_spawn_killed_then_recovered(host, point)

    def test_revert_killed_then_finished_by_recovery(self, host):
        test_revert_killed_then_finished_by_recovery(
            host, 'revert-returning-dom0')
