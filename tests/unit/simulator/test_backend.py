"""The simulated backend's contract, and loading backends with stevedore."""

import pytest

from tests import conftest
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver import hypervisor
from xenballoon_driver.hypervisor import base
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import specs
from xenballoon_driver.simulator import store as store_mod

GiB = conftest.GiB
DOM0 = 56 * GiB
FREE = 8 * GiB


class Host:
    """A model, a virtual clock and the backend on top of them."""

    def __init__(self, conf, **kw):
        self.model = model_mod.HostModel(conftest.make_scenario(**kw))
        self.clock = clock_mod.VirtualClock()
        self.backend = simulated.SimulatedHypervisor(
            conf, store=store_mod.MemoryStore(self.model, self.clock))


@pytest.fixture
def host(conf):
    def factory(**kw):
        return Host(conf, **kw)
    return factory


# -- memory figures, whole MiB -------------------------------------------


def test_memory_figures(host):
    h = host()
    assert h.backend.host_memory() == base.HostMemory(
        total_mb=64 * GiB, free_mb=FREE, claimed_mb=0)
    assert h.backend.dom0_memory() == base.Dom0Memory(
        current_mb=DOM0, target_mb=DOM0)
    assert h.backend.clock is h.clock
    assert h.backend.list_domains() == []


def test_a_costly_look_reads_each_figure_at_its_calls_end(host):
    # xl list, dom0, xl info, dom0 again, 1 s each: the figures are the
    # host's at 1, 2, 3 and 4 s (xl reads after its fork/exec and
    # libxl's init); the smaller dom0 reading is kept.
    h = host()
    h.backend.latency = specs.ToolstackSpec(list_s=1, info_s=1, dom0_s=1)
    h.backend.set_dom0_target(DOM0 - 10 * GiB)
    snap = h.backend.snapshot()
    assert h.clock.now() == pytest.approx(4.0)
    # Free memory as the balloon left it at 3 s, dom0 as at 4 s: the
    # host looks a dom0 call fuller than it is.
    assert snap.host.free_mb == FREE + 3 * GiB
    assert snap.dom0.current_mb == DOM0 - 4 * GiB
    assert h.backend.host_memory().free_mb == FREE + 5 * GiB


def test_a_costly_look_while_dom0_grows_back_counts_no_mib_twice(host):
    # dom0 grows back (a revert raised its target) at 2 GiB/s: dom0 read
    # after free memory would count the MiB it took meanwhile twice.
    h = host()
    h.backend.set_dom0_target(DOM0 - 10 * GiB)
    h.clock.sleep(10)
    h.backend.set_dom0_target(DOM0)
    h.backend.latency = specs.ToolstackSpec(list_s=1, info_s=1, dom0_s=1)
    snap = h.backend.snapshot()
    # dom0 at 2 s (+4 GiB), free memory at 3 s (6 GiB back in dom0).
    assert snap.dom0.current_mb == DOM0 - 6 * GiB
    assert snap.host.free_mb == FREE + 4 * GiB
    assert snap.dom0.current_mb + snap.host.free_mb <= DOM0 + FREE


def test_fractions_round_down(host):
    # Rounded down, free and dom0 can only add up short, never count a
    # fraction of a MiB twice.
    h = host()
    h.backend.set_dom0_target(50 * GiB)
    h.clock.sleep(0.0004)                  # 0.4096 MiB released
    dom0 = h.backend.dom0_memory()
    mem = h.backend.host_memory()
    assert h.model.dom0_mb == pytest.approx(DOM0 - 0.4096)
    assert h.model.free_mb() == pytest.approx(FREE + 0.4096)
    assert (dom0.current_mb, dom0.target_mb) == (DOM0 - 1, 50 * GiB)
    assert mem.free_mb == FREE
    assert isinstance(dom0.current_mb, int)
    assert isinstance(mem.free_mb, int)
    h.clock.sleep(0.0006)                  # 1.024 MiB released in all
    assert h.backend.dom0_memory().current_mb == DOM0 - 2
    assert h.backend.host_memory().free_mb == FREE + 1


def test_rounding_forgives_float_noise(host):
    h = host()
    h.model.dom0_mb = DOM0 - 1e-9
    h.model.dom0_target_mb = 50 * GiB + 1e-9
    assert h.backend.dom0_memory() == base.Dom0Memory(DOM0, 50 * GiB)
    assert h.backend.host_memory().free_mb == FREE


def test_sessions_advance_the_model_to_the_clock(host):
    h = host()
    h.backend.set_dom0_target(46 * GiB)
    h.clock.sleep(4)
    assert h.backend.dom0_memory() == base.Dom0Memory(DOM0 - 4096, 46 * GiB)
    assert h.backend.host_memory().free_mb == FREE + 4096
    assert h.model.now == 4


def test_dom0_target_of_128_is_accepted(host):
    h = host()
    h.backend.set_dom0_target(128)
    assert h.backend.dom0_memory().target_mb == 128


@pytest.mark.parametrize('target', [127, 0, -1])
def test_dom0_target_below_128_is_a_toolstack_error(host, target):
    h = host()
    with pytest.raises(exception.ToolstackError) as err:
        h.backend.set_dom0_target(target)
    assert 'mem-set 0 %dm' % target in str(err.value)
    assert '128 MiB minimum' in str(err.value)
    assert err.value.exit_code == exception.EXIT_TOOLSTACK
    assert h.backend.dom0_memory().target_mb == DOM0


# -- domains ------------------------------------------------------------


def test_create_domain_blocks_until_built_on_the_virtual_clock(host):
    h = host()
    info = h.backend.create_domain(base.DomainSpec('vm1', 4096))
    assert info == base.DomainInfo(name='vm1', domid=1, memory_mb=4098,
                                   vcpus=1, state='running')
    assert h.clock.now() == pytest.approx(4098 / 8192)
    assert h.backend.host_memory().free_mb == FREE - 4098


def test_a_long_build_takes_footprint_over_rate(host):
    h = host(build={'populate_rate_mb_s': 1000})
    spec = base.DomainSpec('vm1', 7000, vcpus=3, guest_type='hvm')
    # 2048 + 4 * (768 + 14000) KiB = 61120 KiB -> 30 x 2 MiB = 60 MiB.
    assert spec.footprint_mb == 7060
    info = h.backend.create_domain(spec)
    assert (info.memory_mb, info.vcpus, info.state) == (7060, 3, 'running')
    assert h.clock.now() == pytest.approx(7.06)


def test_list_and_info(host):
    h = host()
    h.backend.create_domain(base.DomainSpec('web', 1024, vcpus=2))
    h.backend.create_domain(base.DomainSpec('db', 2048))
    assert [(d.name, d.domid, d.memory_mb) for d in
            h.backend.list_domains()] == [('db', 2, 2050), ('web', 1, 1026)]
    assert h.backend.domain_info('web').vcpus == 2
    with pytest.raises(exception.DomainNotFound, match='No domain named x'):
        h.backend.domain_info('x')


def test_duplicate_name_is_refused_and_changes_nothing(host):
    h = host()
    h.backend.create_domain(base.DomainSpec('vm1', 1024))
    now = h.clock.now()
    with pytest.raises(exception.DomainExists) as err:
        h.backend.create_domain(base.DomainSpec('vm1', 2048))
    assert str(err.value) == 'A domain named vm1 already exists'
    assert h.clock.now() == now
    assert [d.memory_mb for d in h.backend.list_domains()] == [1026]


def test_destroy(host):
    h = host()
    h.backend.create_domain(base.DomainSpec('vm1', 1024))
    h.backend.destroy_domain('vm1')
    assert h.backend.list_domains() == []
    assert h.backend.host_memory().free_mb == FREE


def test_destroy_of_an_unknown_domain(host):
    h = host()
    with pytest.raises(exception.DomainNotFound) as err:
        h.backend.destroy_domain('ghost')
    assert str(err.value) == 'No domain named ghost'
    assert err.value.exit_code == exception.EXIT_NOT_FOUND


def test_build_failure_leaves_the_crashed_domain(host):
    h = host(build={'fail_domains': {'vm1': 0.25}})
    with pytest.raises(exception.BuildFailed) as err:
        h.backend.create_domain(base.DomainSpec('vm1', 4000))
    assert str(err.value) == ('Building domain vm1 failed: simulated build '
                              'failure at 25% of its memory')
    assert not isinstance(err.value, exception.OutOfMemory)
    info, = h.backend.list_domains()
    assert (info.name, info.state, info.memory_mb) == ('vm1', 'crashed', 1001)
    # The caller cleans up.
    h.backend.destroy_domain('vm1')
    assert h.backend.host_memory().free_mb == FREE


def test_out_of_memory_leaves_the_crashed_domain(host):
    h = host()
    with pytest.raises(exception.OutOfMemory) as err:
        h.backend.create_domain(base.DomainSpec('vm1', 9000))
    assert (err.value.need_mb, err.value.free_mb) == (9002, 0)
    assert str(err.value) == ('Out of memory for vm1: needs 9002 MiB, '
                              '0 MiB free')
    assert err.value.exit_code == exception.EXIT_NO_MEMORY
    info = h.backend.domain_info('vm1')
    assert (info.state, info.memory_mb) == ('crashed', FREE)
    h.backend.destroy_domain('vm1')
    assert h.backend.host_memory().free_mb == FREE


def test_build_racing_the_balloon_waits_for_it(host):
    h = host()
    h.backend.set_dom0_target(36 * GiB)
    info = h.backend.create_domain(base.DomainSpec('vm1', 16 * GiB))
    assert info.state == 'running'
    # 8 GiB free at once, the other 8194 MiB at half the balloon rate.
    assert h.clock.now() == pytest.approx(8194 / 512, abs=0.1)
    assert h.model.contention_s > 15


def test_destroy_while_building(host):
    h = host(build={'populate_rate_mb_s': 1024})
    results = h.clock.run([
        (0.0, lambda: h.backend.create_domain(
            base.DomainSpec('vm1', 4096))),
        (1.5, lambda: h.backend.destroy_domain('vm1')),
    ])
    (_, build_err), (destroyed, destroy_err) = results
    assert destroy_err is None and destroyed is None
    assert isinstance(build_err, exception.BuildFailed)
    assert 'destroyed while building' in str(build_err)
    assert h.backend.list_domains() == []


# -- stevedore ------------------------------------------------------------


def test_available_backends():
    names = hypervisor.available()
    assert names == sorted(names)
    assert {'simulated', 'xl'} <= set(names)


def test_load_gives_the_simulated_backend_on_the_default_host(conf, tmp_path):
    backend = hypervisor.load(conf)
    assert isinstance(backend, simulated.SimulatedHypervisor)
    assert backend.hypervisor_type == 'xen (simulated)'
    assert isinstance(backend.store, store_mod.FileStore)
    assert backend.store.path == str(tmp_path / 'state' /
                                     'simulated-host.json')
    assert backend.host_memory().total_mb == 1024 * GiB
    assert backend.dom0_memory() == base.Dom0Memory(960 * GiB, 960 * GiB)


def test_load_passes_keywords_to_the_backend(conf):
    model = model_mod.HostModel(conftest.make_scenario())
    store = store_mod.MemoryStore(model, clock_mod.VirtualClock())
    backend = hypervisor.load(conf, 'simulated', store=store)
    assert backend.store is store
    assert backend.host_memory().total_mb == 64 * GiB


def test_load_honours_scenario_and_state_file(conf, tmp_path):
    scenario = tmp_path / 'small.yaml'
    scenario.write_text('host: {total_mb: 8192, dom0_mb: 4096}\n')
    state = tmp_path / 'elsewhere' / 'host.json'
    conf.flags('simulator', scenario_file=str(scenario),
               state_file=str(state), time_scale=1000.0)
    backend = hypervisor.load(conf)
    assert backend.host_memory() == base.HostMemory(8192, 4096)
    assert state.exists()
    assert backend.clock.scale == 1000.0


def test_unknown_backend_lists_the_installed_ones(conf):
    conf.flags('hypervisor', driver='xen-magic')
    with pytest.raises(exception.BackendNotFound) as err:
        hypervisor.load(conf)
    assert str(err.value) == ("Unknown hypervisor backend 'xen-magic'; "
                              'installed: %s' % ', '.join(
                                  hypervisor.available()))
    assert isinstance(err.value, exception.InvalidInput)


def test_unknown_backend_by_argument(conf):
    with pytest.raises(exception.BackendNotFound, match="'nope'.*simulated"):
        hypervisor.load(conf, name='nope')


def test_a_failing_plugin_raises_its_own_error(conf, tmp_path):
    missing = tmp_path / 'missing.yaml'
    conf.flags('simulator', scenario_file=str(missing))
    with pytest.raises(exception.InvalidScenario) as err:
        hypervisor.load(conf)
    assert str(err.value) == 'Invalid scenario %s: no such file' % missing
    assert not isinstance(err.value, exception.BackendNotFound)


def test_a_plugin_with_a_bad_scenario_names_the_field(conf, tmp_path):
    scenario = tmp_path / 'bad.yaml'
    scenario.write_text('balloon: {jitter: 2}\n')
    conf.flags('simulator', scenario_file=str(scenario))
    with pytest.raises(exception.InvalidScenario,
                       match=r'balloon\.jitter = 2\.0 is outside'):
        hypervisor.load(conf)


def test_a_domain_keeps_its_instance_uuid(host):
    h = host()
    uuid = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'
    info = h.backend.create_domain(base.DomainSpec('vm1', 1024, uuid=uuid))
    assert info.uuid == uuid
    h.backend.create_domain(base.DomainSpec('vm2', 1024))
    assert [(d.name, d.uuid) for d in h.backend.list_domains()] == [
        ('vm1', uuid), ('vm2', None)]
    assert h.backend.domain_info('vm1').uuid == uuid


# -- dom0's balloon thread, as sysfs shows it ----------------------------


def test_balloon_state_is_none_unless_the_thread_is_modelled(host):
    assert host().backend.balloon_state() is None
    # Page cache alone is not the balloon thread.
    assert host(balloon={'page_cache_mb': 1024}).backend.balloon_state() \
        is None


def test_balloon_state_shows_the_back_off_and_memavailable(host):
    h = host(balloon={'page_cache_mb': 10 * GiB, 'reclaim_rate_mb_s': 0,
                      'max_schedule_delay_s': 20, 'max_retry_count': 4})
    # At rest: the knobs of the lab's Debian 12 dom0 (capture a160);
    # MemAvailable is what dom0 holds above its 1 GiB low mark, but for
    # the cache kswapd cannot reclaim here (reclaim_rate_mb_s 0): shown,
    # it would be memory the balloon can never give.
    assert h.backend.balloon_state() == base.BalloonState(
        schedule_delay_s=1, max_schedule_delay_s=20, retry_count=1,
        max_retry_count=4, available_mb=DOM0 - 1024 - 10 * GiB)
    h.backend.set_dom0_target(10 * GiB)
    # 45 GiB of free pages go in 45 s; then only cache is left, and
    # kswapd gives none of it: a pass fails at 45 s, another at 47 s.
    h.clock.sleep(47.5)
    assert h.backend.balloon_state() == base.BalloonState(
        schedule_delay_s=4, max_schedule_delay_s=20, retry_count=3,
        max_retry_count=4, available_mb=0)
    # 51 s: retry 4 (delay 8); 59 s: cancelled, idle-looking in sysfs.
    h.clock.sleep(12)
    state = h.backend.balloon_state()
    assert (state.schedule_delay_s, state.retry_count) == (1, 1)
    assert h.backend.dom0_memory().current_mb == 11 * GiB
