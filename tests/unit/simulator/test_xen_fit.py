"""The simulator fitted to real Xen runs, and checked against them.

tests/fixtures/xen holds what ``tox -e xen`` measured on real Xen 4.17
under QEMU (per-test figures, xl call times, the spawn's task timeline).
"""

import glob
import json
import os

import pytest
import yaml

from tests import conftest
from tests.xen import fit as xen_fit
from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures',
                        'xen')
RUNS = sorted(glob.glob(os.path.join(FIXTURES, 'run-*.json')))
# The first run of the driver whose timings today's simulator replays
# (the balloon wait's look placement, issue 12): a prediction is held to
# the real figures from this run on.
CURRENT_DRIVER_SINCE = 'run-2026-11-30c.json'


def fitted_from():
    """The runs the shipped scenario names in its header."""
    with open(xen_fit.SHIPPED, encoding='utf-8') as f:
        header = f.read().split('\nname:')[0]
    return [run for run in RUNS if os.path.basename(run)[:-5] in header]


def load(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


@pytest.fixture
def make_conf(conf):
    def make(**options):
        conf.flags(group='xenballoon', **options)
        return conf
    return make


def test_shipped_scenario_is_the_fit_of_its_run():
    with open(xen_fit.SHIPPED, encoding='utf-8') as f:
        shipped = yaml.safe_load(f)
    runs = fitted_from()
    assert len(runs) >= 2
    fitted = xen_fit.fit_many([load(run) for run in runs])
    for section, figures in fitted.items():
        assert shipped[section] == figures, section


@pytest.mark.parametrize('run', RUNS, ids=os.path.basename)
def test_predicts_each_recorded_run(run, make_conf):
    measurements = load(run)
    rows = xen_fit.predict(scenario_mod.load(xen_fit.SHIPPED), measurements,
                           make_conf)
    recorded = [flow for flow in xen_fit.FLOW_TESTS + xen_fit.CACHE_FLOWS
                if flow in measurements['tests']]
    assert [r.flow for r in rows] == recorded
    for row in rows:
        assert row.predicted_outcome == row.outcome, row


def test_predicts_todays_driver_within_its_runs_spread(make_conf):
    # The runs of today's driver on an idle machine: its spawn's time to
    # ready varies from run to run (6.86 and 5.16 s for the same spawn,
    # a third, as fit.py says of emulation). The prediction, at the
    # fitted runs' speed (unscaled: on an idle machine the yardstick, one
    # create + destroy, moves apart from the spawn; run c's was 0.77x the
    # mean while its spawn was 1.14x), lies within that spread, +/-10 %.
    # Runs 2026-11-30a and b (made at load 11-15) and older ones recorded
    # an older driver (more looks per wait): outcomes only, above.
    runs = [load(run) for run in RUNS
            if os.path.basename(run) >= CURRENT_DRIVER_SINCE]
    assert len(runs) >= 2
    spawns = [xen_fit.predict(scenario_mod.load(xen_fit.SHIPPED), m,
                              make_conf, scale=False)[0] for m in runs]
    real = [row.real_s for row in spawns]
    for row in spawns:
        assert 0.9 * min(real) <= row.predicted_s <= 1.1 * max(real), row


def test_task_times_from_the_listener_log():
    timeline = [
        [0.5, "Flow 'f' (u1) transitioned into state 'RUNNING' from state "
              "'PENDING'"],
        [0.6, "Task 'xenballoon-spawn-reserve-memory' (6d39-a) transitioned "
              "into state 'RUNNING' from state 'PENDING'"],
        [2.1, "Task 'xenballoon-spawn-reserve-memory' (6d39-a) transitioned "
              "into state 'SUCCESS' from state 'RUNNING' with result '{}'"],
        [2.2, "Task 'xenballoon-spawn-build-domain' (7f-b) transitioned "
              "into state 'RUNNING' from state 'PENDING'"],
    ]
    assert xen_fit.task_times(timeline) == {
        'xenballoon-spawn-reserve-memory': (0.6, 2.1),
        'xenballoon-spawn-build-domain': (2.2, None)}


def backend_for(toolstack, conf):
    data = conftest.make_scenario().to_dict()
    data['toolstack'] = toolstack
    scenario = scenario_mod.from_dict(data)
    clock = clock_mod.VirtualClock()
    model = model_mod.HostModel(scenario)
    return simulated.SimulatedHypervisor(
        conf, store=store_mod.MemoryStore(model, clock)), clock


def test_toolstack_calls_take_their_time(conf):
    backend, clock = backend_for({'list_s': 1.0, 'info_s': 0.5,
                                  'dom0_s': 0.25, 'mem_set_s': 2.0,
                                  'create_s': 3.0, 'destroy_s': 4.0}, conf)
    backend.snapshot()              # xl list, dom0, xl info, dom0
    assert clock.now() == pytest.approx(2.0)
    backend.host_memory()
    backend.dom0_memory()
    assert clock.now() == pytest.approx(2.75)
    backend.set_dom0_target(backend.dom0_memory().target_mb - 1024)
    assert clock.now() == pytest.approx(5.0)
    start = clock.now()
    backend.create_domain(base.DomainSpec(name='g', memory_mb=512, vcpus=1,
                                          guest_type='pv'))
    # 3 s before the build, then its memory at 8 GiB/s.
    assert clock.now() - start == pytest.approx(3.0 + 514 / 8192.0,
                                                abs=1e-3)
    start = clock.now()
    backend.destroy_domain('g')
    assert clock.now() - start == pytest.approx(4.0)


def test_no_toolstack_section_costs_nothing(conf):
    backend, clock = backend_for(None, conf)
    backend.snapshot()
    backend.set_dom0_target(4096)
    assert clock.now() == 0.0


@pytest.mark.parametrize('section, field, value', [
    ('toolstack', 'list_s', -1), ('toolstack', 'create_s', 'slow'),
    ('toolstack', 'mem_set_s', 601), ('driver', 'flow_s', -0.5),
    ('toolstack', 'fork_s', 1.0)])
def test_bad_timings_refused(section, field, value):
    data = conftest.make_scenario().to_dict()
    data[section] = {field: value}
    with pytest.raises(exception.InvalidScenario) as err:
        scenario_mod.from_dict(data)
    assert '%s' % section in str(err.value)


def test_scaled_to_the_runs_machine_speed():
    data = conftest.make_scenario().to_dict()
    data['toolstack'] = {'list_s': 0.5, 'info_s': 0.25, 'reference_s': 2.0}
    data['driver'] = {'flow_s': 1.0}
    fitted = scenario_mod.from_dict(data)
    # This run's machine took twice as long for the same xl work.
    run = {'tests': {'pvgrub_64': {'create_s': 3.0, 'destroy_s': 1.0}}}
    scaled, factor = xen_fit.at_speed_of(fitted, run)
    assert factor == 2.0
    assert (scaled.toolstack.list_s, scaled.toolstack.info_s) == (1.0, 0.5)
    assert scaled.toolstack.mem_set_s == 0.0
    assert scaled.toolstack.reference_s == 4.0
    assert scaled.driver.flow_s == 2.0
    assert scaled.balloon.release_rate_mb_s == 512
    assert scaled.build.populate_rate_mb_s == 4096
    # A run without the yardstick is taken as it comes.
    assert xen_fit.at_speed_of(fitted, {'tests': {}}) == (fitted, 1.0)


def cache_samples(*cache_mb, step_s=0.5):
    """A Sampler's back-off series with these page cache sizes."""
    return [[round(i * step_s, 2), 1, 1, 500.0, mb]
            for i, mb in enumerate(cache_mb)]


def test_reclaim_rate_from_where_the_cache_fell_to_its_lowest():
    # Still, then 100 MiB in 1 s, then flat: 100 MiB/s, not averaged
    # over the flat ends.
    series = cache_samples(900, 900, 900, 850, 800, 800, 800.5, 800)
    assert xen_fit.reclaim_rate_mb_s(series) == 100.0


@pytest.mark.parametrize('cache_mb', [
    (900, 900, 900), (900, 899.5, 900.2), (900, 890, 895), (900,)])
def test_no_reclaim_rate_where_the_cache_did_not_fall(cache_mb):
    assert xen_fit.reclaim_rate_mb_s(cache_samples(*cache_mb)) is None


def test_page_cache_knobs_from_a_run():
    fitted = scenario_mod.load(xen_fit.SHIPPED)
    tests = {
        'host': {'backoff': {'max_schedule_delay': 32,
                             'max_retry_count': 0}},
        xen_fit.SPAWN_CACHE: {
            'meminfo_before_kb': {'MemFree': 256 * 1024},
            'page_cache_filled_mb': 900.0, 'dom0_target_before_mb': 1536,
            'backoff_series': cache_samples(900, 800, 700, 700)},
        xen_fit.SPAWN_CANCELLED: {
            'meminfo_before_kb': {'MemFree': 1024 * 1024},
            'page_cache_filled_mb': 100.0, 'dom0_target_before_mb': 1536,
            'max_retry_count': 1, 'backoff_series': []}}
    low = fitted.host.dom0_low_mb
    assert xen_fit.page_cache_knobs(fitted, tests, xen_fit.SPAWN_CACHE) == {
        # what lies between the low mark and dom0's free memory
        'page_cache_mb': 1536 - low - 256, 'max_schedule_delay_s': 32,
        'max_retry_count': 0, 'reclaim_rate_mb_s': 200.0}
    knobs = xen_fit.page_cache_knobs(fitted, tests, xen_fit.SPAWN_CANCELLED)
    # at most what the run cached; the test's own max_retry_count
    assert knobs['page_cache_mb'] == 1536 - low - 1024
    assert knobs['max_retry_count'] == 1
    del tests['host']['backoff']
    knobs = xen_fit.page_cache_knobs(fitted, tests, xen_fit.SPAWN_CACHE)
    assert (knobs['max_schedule_delay_s'], knobs['max_retry_count']) == (
        xen_fit.DEBIAN_MAX_SCHEDULE_DELAY_S, xen_fit.DEBIAN_MAX_RETRY_COUNT)
