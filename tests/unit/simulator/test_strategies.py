"""The anchors' strategies: xl's lock and libxl's target arithmetic."""

from taskflow.persistence import backends

from tests import conftest
from xenballoon_driver import clock as clock_mod
from xenballoon_driver.simulator import host as host_mod
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import store as store_mod
from xenballoon_driver.simulator import strategies

GiB = conftest.GiB


big_host = conftest.big_host


def traced_run(scenario, name, conf):
    """Run ``scenario`` with strategy ``name``; when each step happened.

    {request: {'freemem': start, 'created': end}} on the virtual clock.
    """
    model = model_mod.HostModel(scenario)
    clock = clock_mod.VirtualClock()
    driver = host_mod.build_driver(conf, store_mod.MemoryStore(model, clock),
                                   backends.fetch({'connection':
                                                   'memory://'}))
    strategy = strategies.load(name, conf, driver)
    seen = {}
    freemem, create = strategy.freemem, strategy.backend.create_domain

    def traced_freemem(need):
        seen[current[0]] = {'freemem': clock.now()}
        return freemem(need)

    def traced_create(spec):
        info = create(spec)
        seen[spec.name]['created'] = clock.now()
        return info

    current = [None]
    strategy.freemem = traced_freemem
    strategy.backend.create_domain = traced_create

    def job(req):
        def attempt():
            current[0] = req.name
            strategy.spawn(runner.domain_spec(req))
        return req.at_s, attempt

    runner.run_jobs(clock, [job(r) for r in scenario.requests])
    return seen


def test_two_xl_creates_queue_on_the_lock(conf):
    scenario = big_host([{'name': 'a', 'memory_mb': 16 * GiB},
                         {'name': 'b', 'memory_mb': 4 * GiB, 'at_s': 1}])
    for name in ('xl-4.4', 'xl-4.17'):
        seen = traced_run(scenario, name, conf)
        # b's freemem starts once a is created, not at its arrival.
        assert seen['a']['created'] > 1.0, name
        assert seen['b']['freemem'] == seen['a']['created'], name
    # libvirt holds no host-wide lock: b goes at once.
    seen = traced_run(scenario, 'libvirt-2014', conf)
    assert seen['b']['freemem'] == 1.0
    assert seen['a']['created'] > seen['b']['freemem']


def test_the_lock_queues_waiters_in_order_on_virtual_time():
    clock = clock_mod.VirtualClock()
    lock = clock_mod.ClockLock(clock)
    got = []

    def holder(name, hold_s):
        def body():
            with lock:
                with lock:  # reentrant, as the ledger's RLock
                    got.append((name, clock.now()))
                # Sleeping while holding it: the others park meanwhile.
                clock.sleep(hold_s)
        return body

    clock.run([(0.0, holder('a', 10)), (1.0, holder('b', 5)),
               (2.0, holder('c', 1))])
    assert got == [('a', 0.0), ('b', 10.0), ('c', 15.0)]
    assert lock.owner is None and not lock.waiters


def test_the_lock_on_a_real_clock_is_an_rlock():
    lock = clock_mod.ClockLock(clock_mod.RealClock())
    with lock:
        with lock:
            assert not lock.virtual
    assert lock._rlock.acquire(blocking=False)


def test_libxl_never_sets_a_target_below_128_mib(conf):
    # Round 1 asks dom0 for the whole 900 GiB guest (libxl 4.4 counts
    # 0 free: the slack); round 2's decrease is larger than the target
    # left, libxl makes it 0 and refuses it: the target stays, xl waits
    # its ~33 s and fails with NOMEM.
    scenario = big_host([{'name': 'g', 'memory_mb': 900 * GiB}])
    result, = runner.run(scenario, 'xl-4.4', conf)
    assert result.outcome == 'nomem' and 32 <= result.ended_at_s <= 35
    assert 50 * GiB < result.dom0_target_mb < 70 * GiB
    # A guest bigger than dom0 + free: xl 4.17's libxl returns
    # ERROR_INVAL and freemem fails at once, dom0 untouched.
    huge = big_host([{'name': 'g', 'memory_mb': 1100 * GiB}])
    result, = runner.run(huge, 'xl-4.17', conf)
    assert result.outcome == 'nomem' and result.ended_at_s < 1
    assert result.dom0_target_mb == 960 * GiB
    result, = runner.run(huge, 'xl-4.4', conf)
    assert result.outcome == 'nomem' and 32 <= result.ended_at_s <= 35
    assert result.dom0_target_mb == 960 * GiB
