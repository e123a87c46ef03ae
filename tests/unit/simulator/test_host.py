"""The simulated host's wiring: its ledger's lock on the virtual clock."""

import dataclasses

from tests import conftest
from xenballoon_driver import clock as clock_mod
from xenballoon_driver.simulator import host as host_mod
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import specs

GiB = conftest.GiB


def test_a_held_clock_lock_makes_others_wait_in_simulated_time():
    clock = clock_mod.VirtualClock()
    lock = host_mod.ClockLock(clock)
    seen = []

    def holder():
        with lock:
            with lock:              # re-entrant
                clock.sleep(2.0)    # a costly toolstack call
            seen.append(('holder out', clock.now()))
        return 'holder'

    def waiter():
        with lock:
            seen.append(('waiter in', clock.now()))
        return 'waiter'

    assert runner.run_jobs(clock, [(0.0, holder), (0.5, waiter)]) == [
        'holder', 'waiter']
    (first, out_at), (second, in_at) = seen
    assert (first, second) == ('holder out', 'waiter in')
    assert out_at == 2.0 and 2.0 <= in_at <= 2.0 + host_mod.LOCK_POLL_S


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
