"""A fleet: 50 simulated hosts, 500 requests, the reference scheduler.

The shipped fleet scenario with six fewer 2 TiB hosts, so that its 500
requests of 1-512 GiB (about 44 TiB) more than fill the fleet (about 43
TiB) and the last ones are refused. Every request arrives at its time on
one virtual clock, is placed by select_destinations and spawned by its
host's driver while earlier ones are still ballooning. It must show:

- no overcommit on any host at any step (the simulator keeps the most
  ever committed: Xen + dom0 + every domain's whole footprint);
- no NOMEM (or any other failure) for a request the scheduler placed;
- no request refused while some host could take it: at each refusal
  every host's figures are read again and none has room.

About 20 s of CPU (the taskflow engine of 500 spawns, the scheduler
reading 50 hosts per request, the balloon waits), on a virtual clock.
"""

import collections
import importlib.resources

from oslo_config import cfg
import pytest
import yaml

from tests.functional import base
from xenballoon_driver import conf as conf_mod
from xenballoon_driver.simulator import fleet as fleet_mod
from xenballoon_driver.simulator import scenario as scenario_mod

GiB = 1024
FLEET_YAML = importlib.resources.files(
    'xenballoon_driver.simulator') / 'scenarios' / 'fleet.yaml'


def overloaded_fleet():
    data = yaml.safe_load(FLEET_YAML.read_text(encoding='utf-8'))
    for item in data['hosts']:
        if item['name'] == 'x2t':
            item['count'] -= 6
    return scenario_mod.from_dict(data, 'overloaded fleet')


@pytest.fixture(scope='module')
def fleet_run(tmp_path_factory):
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('state_dir', str(tmp_path_factory.mktemp('fleet')),
                      group='xenballoon')
    # The waits look at dom0 every 30 s at most, every 1 s at least near
    # the end: what is checked here does not depend on how often, and the
    # defaults (1 s, 0.05 s) would take several times longer.
    conf.set_override('poll_interval', 30.0, group='xenballoon')
    conf.set_override('min_poll_interval', 1.0, group='xenballoon')
    scenario = overloaded_fleet()
    refusals = []

    def on_refused(fleet, spec, err):
        # At refusal time, before the clock moves: every host, read anew.
        room = {name: drv.get_available_resource(name)['xenballoon'][
            'available_mb'] for name, drv in fleet.drivers.items()}
        refusals.append((spec, err, room))

    requests, hosts = fleet_mod.run_fleet(scenario, conf,
                                          on_refused=on_refused)
    return scenario, requests, hosts, refusals


def test_the_fleet_is_big_and_mixed(fleet_run):
    scenario, requests, hosts, _ = fleet_run
    assert len(hosts) >= 50
    assert len({h.total_mb for h in hosts}) >= 4
    assert len({h.release_rate_mb_s for h in hosts}) >= 4
    assert len(requests) >= 500
    sizes = [r.memory_mb for r in requests]
    assert min(sizes) == 1 * GiB and 400 * GiB < max(sizes) <= 512 * GiB
    arrivals = [r.at_s for r in requests]
    assert arrivals == sorted(arrivals) and arrivals[-1] > 1000
    # Demand beyond the fleet, so that refusals are tested too.
    assert sum(r.footprint_mb for r in scenario.requests) > sum(
        h.total_mb for h in hosts)


def test_no_host_is_ever_overcommitted(fleet_run):
    hosts = fleet_run[2]
    for host in hosts:
        assert host.overcommit_mb == 0, host
        assert host.peak_committed_mb <= host.total_mb, host
        assert host.free_mb >= 0 and host.available_mb >= 0


def test_every_placed_request_runs(fleet_run):
    requests = fleet_run[1]
    placed = [r for r in requests if r.host is not None]
    outcomes = collections.Counter(r.outcome for r in placed)
    assert outcomes == {'running': len(placed)}, [
        r for r in placed if r.outcome != 'running'][:3]
    assert len(placed) > 400
    for r in placed:
        assert r.time_to_ready_s > 0 and r.balloon_mb >= 0


def test_no_request_is_refused_while_a_host_could_take_it(fleet_run):
    requests, refusals = fleet_run[1], fleet_run[3]
    refused = [r for r in requests if r.host is None]
    assert refused, 'the overloaded fleet refused nothing: test is vacuous'
    assert {r.outcome for r in refused} == {fleet_mod.REFUSED}
    assert len(refusals) == len(refused)
    for spec, err, room in refusals:
        assert len(room) >= 50
        assert max(room.values()) < spec.footprint_mb, (spec.name, err)
        assert 'No valid host for %s' % spec.name in str(err)


def test_hosts_took_their_guests_and_learned_their_rates(fleet_run):
    requests, hosts = fleet_run[1], fleet_run[2]
    placed = collections.Counter(r.host for r in requests if r.host)
    for host in hosts:
        assert host.guests == placed[host.host]
        if host.measured_rate_mb_s is not None:
            # dom0's start delay and jitter included: close to the
            # scenario's rate, never above it by much.
            assert (0.5 * host.release_rate_mb_s < host.measured_rate_mb_s <
                    1.25 * host.release_rate_mb_s), host


def test_simulate_cli_runs_a_multi_host_scenario(tmp_path):
    fleet = {
        'name': 'three',
        'hosts': [
            {'name': 'fast', 'host': {'total_mb': 64 * GiB,
                                      'dom0_mb': 60 * GiB},
             'balloon': {'release_rate_mb_s': 4000}},
            {'name': 'slow', 'count': 2,
             'host': {'total_mb': 128 * GiB, 'dom0_mb': 124 * GiB},
             'balloon': {'release_rate_mb_s': 200}}],
        'requests': [
            {'name': 'a', 'memory_mb': 32 * GiB},
            {'name': 'b', 'memory_mb': 100 * GiB, 'at_s': 1},
            {'name': 'c', 'memory_mb': 200 * GiB, 'at_s': 2}],
    }
    host = base.Host(tmp_path, scenario=None)
    path = tmp_path / 'fleet.yaml'
    path.write_text(yaml.safe_dump(fleet))
    rows = host.run('simulate', '--scenario', path, '-f', 'json').json()
    by_name = {row['request']: row for row in rows}
    assert by_name['a']['host'] == 'fast'
    assert by_name['a']['outcome'] == 'running'
    assert by_name['b']['host'] == 'slow-1'
    assert by_name['c']['outcome'] == 'refused'
    assert by_name['c']['host'] is None
    hosts = host.run('simulate', '--scenario', path, '--report', 'hosts',
                     '-f', 'json').json()
    assert [h['host'] for h in hosts] == ['fast', 'slow-1', 'slow-2']
    assert [h['guests'] for h in hosts] == [1, 1, 0]
    assert all(h['overcommit_mb'] == 0 for h in hosts)
    bad = host.run('simulate', '--scenario', path, '--strategy', 'xl-4.4')
    assert bad.rc == 2
    assert 'multi-host scenario runs this driver (progress) only' in (
        bad.error)
    assert not host.state_dir.exists()
