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
    assert [r.flow for r in rows] == list(xen_fit.FLOW_TESTS)
    for row in rows:
        assert row.predicted_outcome == row.outcome, row
    spawn = rows[0]
    assert abs(spawn.error) <= 0.20, spawn


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
    backend.snapshot()
    assert clock.now() == pytest.approx(1.75)
    backend.host_memory()
    backend.dom0_memory()
    assert clock.now() == pytest.approx(2.5)
    backend.set_dom0_target(backend.dom0_memory().target_mb - 1024)
    assert clock.now() == pytest.approx(4.75)
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
