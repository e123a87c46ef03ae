"""The xl backend through the driver, against the fake xl.

The same spawn scenarios, run through XenBalloonDriver(conf).init_host()
once with [hypervisor] driver = simulated and once with driver = xl and
[xl] command = the fake xl, must end the same way: same result or
exception, same domains, dom0 at the same target, nothing reserved. Both
hosts are the same scenario in scaled real time (x1000): the driver polls
on the backend's clock, real time for xl, so a 16 GiB balloon takes
milliseconds and the polling itself (one xl process per look) sets the
pace.
"""

import os

from oslo_config import cfg
from oslo_config import fixture as config_fixture
import pytest
import yaml

from tests.fake_xl import harness
from xenballoon_driver import conf as conf_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import simulated
from xenballoon_driver.hypervisor import xl
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod

GiB = 1024
TIME_SCALE = 1000.0
DOM0_MB = 56 * GiB
FREE_MB = 8 * GiB
FLOOR_MB = 4096
# 64 GiB host, dom0 56 GiB, 8 GiB free, a fast balloon.
SCENARIO = {
    'name': 'xl-parity',
    'host': {'total_mb': 64 * GiB, 'dom0_mb': DOM0_MB, 'dom0_low_mb': 1024,
             'xen_mb': 0},
    'balloon': {'release_rate_mb_s': 4096, 'reinflate_rate_mb_s': 8192},
    'build': {'populate_rate_mb_s': 8192},
}
BACKENDS = ('simulated', 'xl')


def scenario(**sections):
    data = {key: dict(value) if isinstance(value, dict) else value
            for key, value in SCENARIO.items()}
    for section, fields in sections.items():
        data[section].update(fields)
    return data


class Run:
    """One host and one driver on it, for one backend."""

    def __init__(self, root, backend, data):
        os.makedirs(root)
        self.backend_name = backend
        self.opts = cfg.ConfigOpts()
        conf_mod.register_opts(self.opts)
        self.opts([], default_config_files=[])
        self.fixture = config_fixture.Config(self.opts)
        self.fixture.setUp()
        # The same helper as tests/conftest.py's conf fixture.
        self.opts.flags = lambda group, **kw: self.fixture.config(
            group=group, **kw)
        self.fixture.config(group='xenballoon',
                            state_dir=os.path.join(root, 'state'),
                            dom0_min_memory_mb=FLOOR_MB,
                            poll_interval=0.05, min_poll_interval=0.01,
                            stall_timeout=1.0)
        self.fake = None
        if backend == 'xl':
            self.fake = harness.FakeXl(os.path.join(root, 'fake'), data,
                                       time_scale=TIME_SCALE)
            self.fake.configure(self.opts)
            self.fixture.config(group='xl', command_timeout=30.0,
                                create_timeout=60.0)
        else:
            path = os.path.join(root, 'scenario.yaml')
            with open(path, 'w', encoding='utf-8') as f:
                yaml.safe_dump(data, f)
            self.state_file = os.path.join(root, 'host.json')
            self.scenario = scenario_mod.load(path)
            self.fixture.config(group='simulator', scenario_file=path,
                                state_file=self.state_file,
                                time_scale=TIME_SCALE)
        self.driver = driver_mod.XenBalloonDriver(self.opts).init_host()

    def model(self):
        if self.fake is not None:
            return self.fake.model()
        store = store_mod.FileStore(self.state_file, self.scenario,
                                    TIME_SCALE)
        with store.session() as model:
            return model

    def outcome(self, action):
        """Run ``action(driver)``; what it did to the host."""
        try:
            result = action(self.driver)
            error = None
        except exception.XenBalloonException as err:
            result = None
            error = err
        model = self.model()
        out = {
            'error': type(error).__name__ if error else None,
            'domains': sorted(model.domains),
            'dom0_target_mb': model.dom0_target_mb,
            'dom0_touched': model.first_request_at is not None,
            'reserved': len(self.driver.ledger.entries()),
        }
        if isinstance(result, list):
            out['result'] = [(i.name, i.state) for i in result]
        if isinstance(error, exception.BalloonStalled):
            out['stall'] = (error.current_mb, error.target_mb,
                            error.missing_mb)
        if isinstance(error, exception.NotEnoughMemory):
            out['refusal'] = (error.need_mb, error.available_mb)
        return out, error

    def close(self):
        self.fixture.cleanUp()


def both(tmp_path, data, action):
    """Run ``action`` on each backend in turn; {backend: (outcome, err)}.

    One after the other: ConfigOpts that share option groups would see
    each other's overrides.
    """
    results = {}
    for backend in BACKENDS:
        run = Run(str(tmp_path / backend), backend, data)
        try:
            assert isinstance(run.driver.backend, {
                'xl': xl.XlHypervisor,
                'simulated': simulated.SimulatedHypervisor}[backend])
            results[backend] = run.outcome(action) + (run,)
        finally:
            run.close()
    assert results['xl'][0] == results['simulated'][0]
    return results


def spawn(name, memory_mb):
    def action(driver):
        driver.spawn(name, memory_mb)
        return driver.list_domains()
    return action


def test_spawn_that_balloons(tmp_path):
    results = both(tmp_path, scenario(), spawn('g1', 16 * GiB))
    need = 16 * GiB + 2
    assert results['xl'][0] == {
        'error': None, 'domains': ['g1'],
        'dom0_target_mb': DOM0_MB - (need - FREE_MB), 'dom0_touched': True,
        'reserved': 1, 'result': [('g1', 'running')]}
    run = results['xl'][2]
    model = run.fake.model()
    assert model.dom0_mb == pytest.approx(DOM0_MB - (need - FREE_MB))
    calls = run.fake.calls()
    assert ['mem-set', '0', '%dm' % (DOM0_MB - (need - FREE_MB))] in calls
    # No early build: xl create came after the last mem-set.
    subs = run.fake.subcommands()
    assert subs.index('create') > len(subs) - 1 - subs[::-1].index('mem-set')


def test_spawn_that_fits_leaves_dom0_alone(tmp_path):
    results = both(tmp_path, scenario(), spawn('small', 4 * GiB))
    assert results['xl'][0]['error'] is None
    assert results['xl'][0]['dom0_touched'] is False
    assert results['xl'][0]['dom0_target_mb'] == DOM0_MB
    assert 'mem-set' not in results['xl'][2].fake.subcommands()


def test_build_failure_reverts(tmp_path):
    results = both(tmp_path, scenario(build={'fail_at_fraction': 0.5}),
                   spawn('broken', 16 * GiB))
    assert results['xl'][0] == {
        'error': 'BuildFailed', 'domains': [], 'dom0_target_mb': DOM0_MB,
        'dom0_touched': True, 'reserved': 0}
    err = results['xl'][1]
    assert 'xl create' in err.message
    assert 'cannot (re-)build domain' in err.message
    # xl create failed, then dom0 was given its memory back.
    calls = results['xl'][2].fake.calls()
    create = [argv[0] for argv in calls].index('create')
    assert ['mem-set', '0', '%dm' % DOM0_MB] in calls[create:]


def test_stall_is_reported_as_a_stall(tmp_path):
    results = both(tmp_path, scenario(balloon={'stall_after_mb': 1024}),
                   spawn('stuck', 16 * GiB))
    need = 16 * GiB + 2
    target = DOM0_MB - (need - FREE_MB)
    assert results['xl'][0] == {
        'error': 'BalloonStalled', 'domains': [],
        'dom0_target_mb': DOM0_MB, 'dom0_touched': True, 'reserved': 0,
        'stall': (DOM0_MB - 1024, target, need - FREE_MB - 1024)}
    subs = results['xl'][2].fake.subcommands()
    assert 'create' not in subs


def test_too_big_refused_before_dom0_is_touched(tmp_path):
    available = FREE_MB + DOM0_MB - FLOOR_MB
    results = both(tmp_path, scenario(), spawn('huge', available))
    assert results['xl'][0] == {
        'error': 'NotEnoughMemory', 'domains': [],
        'dom0_target_mb': DOM0_MB, 'dom0_touched': False, 'reserved': 0,
        'refusal': (available + 2, available)}
    assert set(results['xl'][2].fake.subcommands()) <= {'info', 'list'}


def test_destroy_reinflates(tmp_path):
    def action(driver):
        driver.spawn('g1', 16 * GiB)
        driver.destroy('g1')
        return driver.list_domains()
    results = both(tmp_path, scenario(), action)
    assert results['xl'][0] == {
        'error': None, 'domains': [], 'dom0_target_mb': DOM0_MB,
        'dom0_touched': True, 'reserved': 0, 'result': []}
    assert results['xl'][2].fake.model().dom0_mb == pytest.approx(DOM0_MB)


def test_name_taken(tmp_path):
    def action(driver):
        driver.spawn('g1', 1024)
        driver.spawn('g1', 1024)
    results = both(tmp_path, scenario(), action)
    assert results['xl'][0]['error'] == 'DomainExists'
    assert results['xl'][0]['domains'] == ['g1']
    assert results['xl'][0]['reserved'] == 1
