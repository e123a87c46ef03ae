"""The simulated host's wiring: its ledger's lock on the virtual clock."""

import dataclasses

from tests import conftest
from xenballoon_driver import clock as clock_mod
from xenballoon_driver.simulator import host as host_mod
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import specs
from xenballoon_driver.simulator import store as store_mod

GiB = conftest.GiB


def test_the_ledger_of_a_simulated_host_waits_in_simulated_time(
        conf):
    clock = clock_mod.VirtualClock()
    scenario = conftest.make_scenario()
    store = store_mod.MemoryStore(model_mod.HostModel(scenario), clock)
    storage = host_mod.build_driver(conf, store).ledger.storage
    seen = []

    def holder():
        with storage.locked():
            with storage.locked():  # re-entrant
                clock.sleep(2.0)    # a costly toolstack call
            seen.append(('holder out', clock.now()))
        return 'holder'

    def waiter():
        with storage.locked():
            seen.append(('waiter in', clock.now()))
        return 'waiter'

    assert runner.run_jobs(clock, [(0.0, holder), (0.5, waiter)]) == [
        'holder', 'waiter']
    assert seen == [('holder out', 2.0), ('waiter in', 2.0)]


def test_concurrent_requests_with_costly_calls_all_finish(conf):
    # Two overlapping spawns on a host whose every xl call costs time:
    # the ledger's lock is held across those calls.
    scenario = conftest.make_scenario(requests=[
        {'name': 'a', 'memory_mb': 12 * GiB, 'at_s': 0},
        {'name': 'b', 'memory_mb': 12 * GiB, 'at_s': 0.01}])
    scenario = dataclasses.replace(scenario, toolstack=specs.ToolstackSpec(
        list_s=0.06, info_s=0.06, mem_set_s=0.06, create_s=1.0))
    results = runner.run(scenario, 'progress', conf)
    assert [r.outcome for r in results] == ['running', 'running']
    assert all(r.time_to_ready_s > 1.0 for r in results)
