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
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import xl
from xenballoon_driver.simulator import backend as simulated
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
            # Retries of looks pause briefly: the fake answers at once.
            self.fixture.config(group='xl', command_timeout=30.0,
                                create_timeout=60.0,
                                look_retry_interval=0.05)
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


def test_transient_glitch_during_the_wait_does_not_abort(
        tmp_path, monkeypatch):
    # The 2nd and 3rd xl info of the spawn fail (the reserve made the
    # 1st): the wait tries again and the spawn ends as on a quiet host.
    monkeypatch.setenv('FAKE_XL_FAULT', 'flaky-info')
    monkeypatch.setenv('FAKE_XL_FLAKY_AFTER', '1')
    monkeypatch.setenv('FAKE_XL_FLAKY_N', '2')
    results = both(tmp_path, scenario(), spawn('g1', 16 * GiB))
    assert results['xl'][0]['error'] is None
    assert results['xl'][0]['domains'] == ['g1']
    assert results['xl'][2].fake.subcommands().count('info') >= 4


def test_persistent_glitch_still_fails_and_reverts(tmp_path, monkeypatch):
    run = Run(str(tmp_path / 'xl'), 'xl', scenario())
    try:
        monkeypatch.setenv('FAKE_XL_FAULT', 'flaky-info')
        monkeypatch.setenv('FAKE_XL_FLAKY_AFTER', '1')
        monkeypatch.setenv('FAKE_XL_FLAKY_N', '1000')
        with pytest.raises(exception.ToolstackError) as err:
            run.driver.spawn('g1', 16 * GiB)
        assert 'xl info' in err.value.message
        monkeypatch.delenv('FAKE_XL_FAULT')
        model = run.model()
        assert model.domains == {}
        assert model.dom0_target_mb == DOM0_MB
        assert run.driver.ledger.entries() == {}
    finally:
        run.close()


def stale_balloon_dir(root, dom0_mb):
    """A balloon directory that exists but never updates."""
    path = os.path.join(root, 'stale-xen_memory0')
    os.makedirs(os.path.join(path, 'info'))
    for name in ('target_kb', os.path.join('info', 'current_kb')):
        with open(os.path.join(path, name), 'w', encoding='ascii') as f:
            f.write('%d\n' % (dom0_mb * 1024))
    return path


def driver_beside(run, **xl_options):
    """Another process's driver on ``run``'s host: same fake, same state."""
    opts = cfg.ConfigOpts()
    conf_mod.register_opts(opts)
    opts([], default_config_files=[])
    fixture = config_fixture.Config(opts)
    fixture.setUp()
    opts.flags = lambda group, **kw: fixture.config(group=group, **kw)
    fixture.config(group='xenballoon', **{
        key: getattr(run.opts.xenballoon, key) for key in (
            'state_dir', 'dom0_min_memory_mb', 'poll_interval',
            'min_poll_interval', 'stall_timeout')})
    run.fake.configure(opts, **xl_options)
    return driver_mod.XenBalloonDriver(opts).init_host(), fixture


def test_stale_sysfs_directory_is_not_believed(tmp_path):
    """A process that never called mem-set reads dom0 right.

    The directory still says 56 GiB after another process ballooned
    dom0 down for g1: believed, it counted what dom0 gave twice (free,
    and still in dom0) and a spawn then stalled on memory that was not
    there.
    """
    run = Run(str(tmp_path / 'xl'), 'xl', scenario())
    fixtures = []
    try:
        run.driver.spawn('g1', 16 * GiB)
        target_after_g1 = DOM0_MB - (16 * GiB + 2 - FREE_MB)
        stale = stale_balloon_dir(str(tmp_path), DOM0_MB)
        reader, fixture = driver_beside(run, dom0_balloon_dir=stale)
        fixtures.append(fixture)
        plain, fixture = driver_beside(run, dom0_balloon_dir='')
        fixtures.append(fixture)
        status = reader.host_status()
        assert status == plain.host_status()
        assert reader.backend.balloon_dir is None
        assert (status['dom0_current_mb'], status['dom0_target_mb']) == (
            target_after_g1, target_after_g1)
        # A second spawn from the process with the stale directory:
        # dom0 gives what free memory lacks, no stall.
        reader.spawn('g2', 8 * GiB)
        model = run.model()
        assert sorted(model.domains) == ['g1', 'g2']
        need = 8 * GiB + 2
        assert model.dom0_target_mb == target_after_g1 - (
            need - status['free_mb'])
        assert len(reader.ledger.entries()) == 2
        after = plain.host_status()
        assert after == reader.host_status()
    finally:
        for fixture in fixtures:
            fixture.cleanUp()
        run.close()


# -- the guest lifecycle, xl only: the driver spawns, the backend acts ------
# (driver-level power calls are the core engineer's; these check what the
# xl backend does to a host the driver built, through the fake xl.)


@pytest.fixture
def xl_run(tmp_path):
    run = Run(str(tmp_path / 'xl'), 'xl', scenario())
    yield run
    run.close()


def host_state(run):
    model = run.fake.model()
    return ({name: dom['populated_mb'] for name, dom in
             model.domains.items()}, model.dom0_target_mb,
            len(run.driver.ledger.entries()))


def test_shutdown_of_a_missing_domain_changes_nothing(xl_run):
    xl_run.driver.spawn('g1', 16 * GiB)
    before = host_state(xl_run)
    with pytest.raises(exception.DomainNotFound):
        xl_run.driver.backend.shutdown_domain('nosuch')
    assert host_state(xl_run) == before
    assert xl_run.fake.calls()[-1] == ['shutdown', '-F', 'nosuch']


def test_pause_keeps_the_guests_memory(xl_run):
    xl_run.driver.spawn('g1', 4 * GiB)
    free = xl_run.driver.backend.host_memory().free_mb
    xl_run.driver.backend.pause_domain('g1')
    info = xl_run.driver.backend.domain_info('g1')
    assert (info.state, info.memory_mb) == ('paused', 4 * GiB)
    assert xl_run.driver.backend.host_memory().free_mb == free
    xl_run.driver.backend.unpause_domain('g1')
    assert xl_run.driver.backend.domain_info('g1').state == 'running'


def test_save_that_fails_leaves_the_guest_running(xl_run, monkeypatch,
                                                  tmp_path):
    xl_run.driver.spawn('g1', 16 * GiB)
    before = host_state(xl_run)
    saved = tmp_path / 'saved'
    saved.mkdir()
    monkeypatch.setenv('FAKE_XL_FAULT', 'save-fails')
    with pytest.raises(exception.ToolstackError) as err:
        xl_run.driver.backend.save_domain('g1', str(saved / 'g1.save'))
    assert 'Failed to save domain, resuming domain' in err.value.message
    assert host_state(xl_run) == before
    assert xl_run.driver.backend.domain_info('g1').state == 'running'
    assert list(saved.iterdir()) == []


def test_restore_without_memory_leaves_nothing(xl_run, tmp_path):
    backend = xl_run.driver.backend
    xl_run.driver.spawn('g1', 4 * GiB)
    saved = tmp_path / 'saved'
    saved.mkdir()
    path = str(saved / 'g1.save')
    backend.save_domain('g1', path)
    assert 'g1' not in [d.name for d in backend.list_domains()]
    # Another guest takes the memory g1's save gave back.
    xl_run.driver.spawn('g2', FREE_MB - 2)
    before = host_state(xl_run)
    with pytest.raises(exception.OutOfMemory) as err:
        backend.restore_domain(base.DomainSpec(name='g1',
                                               memory_mb=4 * GiB), path)
    assert 'Cannot allocate memory' in err.value.message
    assert err.value.need_mb == 4 * GiB + 2
    assert host_state(xl_run) == before
    assert [d.name for d in backend.list_domains()] == ['g2']


# -- the driver's lifecycle calls on the xl backend, through the fake ------


UUID = '0b8a3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b'


def guests(driver):
    return [(i.name, i.state, i.memory_mb, i.uuid)
            for i in driver.list_guests()]


def test_driver_power_off_cleanly_then_on(xl_run):
    driver = xl_run.driver
    driver.spawn('g1', 16 * GiB, uuid=UUID)
    target = xl_run.fake.model().dom0_target_mb
    assert driver.power_off('g1', timeout=30, retry_interval=5) is True
    assert ['shutdown', '-F', 'g1'] in xl_run.fake.calls()
    assert xl_run.fake.model().domains == {}
    # Stopped: its memory stays promised to it, never lent back to dom0.
    assert xl_run.fake.model().dom0_target_mb == target
    assert guests(driver) == [('g1', 'shutoff', 16 * GiB, UUID)]
    info = driver.power_on('g1')
    assert (info.name, info.state, info.memory_mb, info.uuid) == (
        'g1', 'running', 16 * GiB, UUID)
    assert xl_run.fake.model().dom0_target_mb == target


def test_driver_power_off_of_a_guest_that_ignores_it(xl_run, monkeypatch):
    driver = xl_run.driver
    driver.spawn('g1', 4 * GiB)
    monkeypatch.setenv('FAKE_XL_FAULT', 'shutdown-ignored')
    assert driver.power_off('g1', timeout=0.5, retry_interval=0.2) is False
    subs = xl_run.fake.subcommands()
    assert 'shutdown' in subs and 'destroy' in subs
    assert xl_run.fake.model().domains == {}
    assert guests(driver)[0][:2] == ('g1', 'shutoff')


@pytest.mark.parametrize('hard', [False, True])
def test_driver_reboot(xl_run, hard):
    driver = xl_run.driver
    driver.spawn('g1', 4 * GiB)
    domid = xl_run.fake.model().domains['g1']['domid']
    info = driver.reboot('g1', hard=hard, timeout=30, retry_interval=5)
    assert info.state == 'running' and info.domid != domid
    subs = xl_run.fake.subcommands()
    assert ('shutdown' in subs) is not hard
    assert ('destroy' in subs) is hard


def test_driver_pause_unpause_and_console(xl_run):
    driver = xl_run.driver
    driver.spawn('g1', 4 * GiB)
    assert driver.pause('g1').state == 'paused'
    assert driver.unpause('g1').state == 'running'
    assert 'GUEST: up' in driver.console_output('g1')
    assert ' up ' in driver.host_uptime()


def test_driver_suspend_keeps_the_memory_for_resume(xl_run):
    driver = xl_run.driver
    driver.spawn('g1', 16 * GiB, uuid=UUID)
    info = driver.suspend('g1')
    assert (info.state, info.domid) == ('suspended', -1)
    saved = os.path.join(xl_run.opts.xenballoon.state_dir, 'saved',
                         'g1.save')
    assert os.path.isfile(saved)
    assert xl_run.fake.model().domains == {}
    # g1's memory is free in Xen but promised to it: another guest of the
    # same size makes dom0 give more, it does not take g1's.
    target = xl_run.fake.model().dom0_target_mb
    driver.spawn('g2', 16 * GiB)
    assert xl_run.fake.model().dom0_target_mb < target - 15 * GiB
    info = driver.resume('g1')
    assert (info.state, info.memory_mb, info.uuid) == (
        'running', 16 * GiB, UUID)
    assert 'restore' in xl_run.fake.subcommands()
    assert sorted(xl_run.fake.model().domains) == ['g1', 'g2']
