"""The spawn flow against DESIGN.md's invariants, on the simulator.

Every test runs the real taskflow engine on a simulated host whose clock
is virtual: minutes of ballooning take milliseconds.
"""

import dataclasses
import importlib.resources
import logging

import pytest
from taskflow import exceptions as tf_exceptions

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.flows import destroy as destroy_flow
from xenballoon_driver.flows import names
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.hypervisor import base
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import specs

GiB = conftest.GiB


class Spy:
    """Wraps a backend method, recording calls and a snapshot at each."""

    def __init__(self, host, method, snapshot=None):
        self.calls = []
        real = getattr(host.backend, method)

        def wrapper(*args, **kwargs):
            host.model.advance(host.clock.now())
            self.calls.append((args, snapshot() if snapshot else None))
            return real(*args, **kwargs)
        setattr(host.backend, method, wrapper)


def assert_clean(host, dom0_target):
    """No domain, no reservation, dom0 asked back to ``dom0_target``."""
    assert host.backend.list_domains() == []
    assert host.ledger.entries() == {}
    assert host.dom0().target_mb == dom0_target
    host.settle()
    assert host.dom0().current_mb == dom0_target


def test_flow_wiring():
    flow = spawn_flow.get_flow(None, None, None)
    tasks = [node[0].name for node in flow.iter_nodes()]
    assert tasks == [spawn_flow.RESERVE, spawn_flow.BALLOON,
                     spawn_flow.WAIT, spawn_flow.BUILD]
    # What is provided is what a later task or the driver reads (BalloonDom0
    # provided dom0_target_before, which nothing read).
    assert set(flow.provides) == {'reservation', 'balloon_report', 'domain'}
    assert set(flow.provides) == {names.RESERVATION, names.BALLOON_REPORT,
                                  names.DOMAIN}
    assert flow.requires == {'spec', 'request_id'}
    assert flow.requires == {names.SPEC, names.REQUEST_ID}


def test_destroy_flow_wiring():
    flow = destroy_flow.get_flow(None, None, True)
    tasks = [node[0].name for node in flow.iter_nodes()]
    assert tasks == [destroy_flow.DESTROY, destroy_flow.RELEASE]
    assert set(flow.provides) == {'dom0_target_after'}
    assert flow.requires == {'name', 'request_id'}


def test_spec_round_trips_through_the_store():
    spec = base.DomainSpec('vm1', 1024, vcpus=2, guest_type='hvm')
    assert base.DomainSpec.from_dict(spec.to_dict()) == spec
    # A spec stored by another release, with a key this one lacks.
    stored = dict(spec.to_dict(), retired_field=1)
    assert base.DomainSpec.from_dict(stored) == spec


def test_spawn_balloons_exactly_what_is_missing(sim):
    host = sim()
    free = host.backend.host_memory().free_mb
    info = host.driver.spawn('vm1', 20 * GiB)
    assert info.state == 'running'
    need = 20 * GiB + 2  # PV overhead
    assert host.dom0().target_mb == 56 * GiB - (need - free)
    assert host.backend.host_memory().free_mb == 0
    entry, = host.ledger.entries().values()
    assert entry['state'] == 'domain'
    assert entry['from_free_mb'] + entry['from_dom0_mb'] == need


def test_spawn_that_fits_does_not_touch_dom0(sim):
    host = sim()
    spy = Spy(host, 'set_dom0_target')
    host.driver.spawn('small', 1 * GiB)
    assert spy.calls == []
    assert host.dom0().target_mb == 56 * GiB


# Invariant 1: no early build.

def test_build_starts_only_when_its_memory_is_free(sim):
    host = sim(balloon={'jitter': 0.5, 'start_delay_s': 3})
    spy = Spy(host, 'create_domain', snapshot=host.model.free_mb)
    host.driver.spawn('vm1', 40 * GiB, vcpus=4, guest_type='hvm')
    (args, free_at_build), = spy.calls
    assert free_at_build >= args[0].footprint_mb
    assert host.model.contention_s == 0


def test_build_waits_for_memory_promised_to_another_spawn(sim):
    host = sim(balloon={'release_rate_mb_s': 512})
    spy = Spy(host, 'create_domain', snapshot=host.model.free_mb)
    results = host.clock.run([
        (0.0, lambda: host.driver.spawn('a', 12 * GiB)),
        (1.0, lambda: host.driver.spawn('b', 12 * GiB)),
    ])
    assert [err for _, err in results] == [None, None]
    assert [r.state for r, _ in results] == ['running', 'running']
    assert host.model.contention_s == 0
    # Whoever built first, its memory was free without the other's.
    (first, free_first), (second, free_second) = spy.calls
    assert free_first >= first[0].footprint_mb
    assert free_second >= second[0].footprint_mb
    used = host.model.used_by_domains_mb() + host.model.dom0_mb
    assert used <= host.model.total_mb


def test_overlapping_spawns_are_served_in_order_without_false_stalls(sim):
    # Two guests that each need dom0 to balloon; the second arrives while
    # the first waits, and its wait goes on through the first's build.
    host = sim(host={'total_mb': 1024 * GiB, 'dom0_mb': 960 * GiB},
               balloon={'release_rate_mb_s': 680},
               build={'populate_rate_mb_s': 2048})
    ready = {}

    def spawn(name):
        host.driver.spawn(name, 160 * GiB)
        ready[name] = host.clock.now()
    outcomes = host.clock.run([(0.0, lambda: spawn('a')),
                               (5.0, lambda: spawn('b'))])
    assert [err for _, err in outcomes] == [None, None]
    need = 160 * GiB + 2
    from_dom0_a = need - 64 * GiB
    build = need / 2048
    # The first is ready at its own limit, not after both balloons.
    assert ready['a'] <= 1.02 * (from_dom0_a / 680 + build) + 0.2
    assert ready['b'] <= 1.02 * ((from_dom0_a + need) / 680 + build) + 0.2
    assert host.model.contention_s == 0


def test_small_request_after_a_big_one_is_not_a_stall(sim):
    host = sim(host={'total_mb': 1024 * GiB, 'dom0_mb': 960 * GiB},
               balloon={'release_rate_mb_s': 680},
               build={'populate_rate_mb_s': 1024})
    outcomes = host.clock.run([
        (0.0, lambda: host.driver.spawn('big', 400 * GiB)),
        (12.0, lambda: host.driver.spawn('small', 16 * GiB)),
    ])
    assert [err for _, err in outcomes] == [None, None]
    assert host.model.contention_s == 0


def test_32_concurrent_spawns_makespan(sim):
    """32 spawns at once on a host with room for 25 of them."""
    host = sim(host={'total_mb': 512 * GiB, 'dom0_mb': 480 * GiB},
               balloon={'release_rate_mb_s': 4096},
               build={'populate_rate_mb_s': 64 * GiB})
    need = 20 * GiB + 2
    before = host.driver.host_status()
    outcomes = host.clock.run([
        (0.0, lambda i=i: host.driver.spawn('vm%d' % i, 20 * GiB))
        for i in range(32)])
    admitted = [r for r, err in outcomes if err is None]
    refused = [err for _, err in outcomes if err is not None]
    assert len(admitted) == before['available_mb'] // need == 25
    assert all(isinstance(e, exception.NotEnoughMemory) for e in refused)
    assert host.model.peak_committed_mb <= host.model.total_mb
    assert host.model.contention_s == 0
    release_s = (25 * need - before['free_mb']) / 4096
    assert host.clock.now() <= 1.05 * release_s


# Invariant 2: no false NOMEM.

def test_long_balloon_succeeds_as_long_as_it_progresses(sim):
    # 900 GiB at 300 MiB/s: over 50 minutes, far past xl's 33 s.
    host = sim(host={'total_mb': 1024 * GiB, 'dom0_mb': 1000 * GiB},
               balloon={'release_rate_mb_s': 300, 'jitter': 0.5})
    info = host.driver.spawn('huge', 900 * GiB)
    assert info.state == 'running'
    assert host.clock.now() > 50 * 60
    assert host.model.contention_s == 0


def test_time_to_ready_is_close_to_the_physical_limit(sim):
    host = sim(host={'total_mb': 1024 * GiB, 'dom0_mb': 960 * GiB},
               balloon={'release_rate_mb_s': 680, 'jitter': 0.3,
                        'start_delay_s': 2})
    need = 160 * GiB + 2
    limit = (host.model.release_time(need - host.model.free_mb()) +
             need / host.model.build.populate_rate_mb_s)
    host.driver.spawn('big', 160 * GiB)
    assert host.clock.now() <= 1.02 * limit + 0.2


def test_max_wait_caps_the_wait_when_set(sim, conf):
    conf.flags('xenballoon', max_wait=30.0)
    host = sim(balloon={'release_rate_mb_s': 100})
    with pytest.raises(exception.BalloonTimeout) as err:
        host.driver.spawn('vm1', 40 * GiB)
    assert 30.0 <= host.clock.now() <= 32.0
    assert err.value.missing_mb > 0
    assert_clean(host, 56 * GiB)


# Invariant 3: fast stall detection, and what is not a stall.

def test_stall_is_reported_fast_and_reverted(sim, conf):
    host = sim(balloon={'stall_after_mb': 10 * GiB})
    with pytest.raises(exception.BalloonStalled) as err:
        host.driver.spawn('vm1', 30 * GiB)
    began = host.model.stall_began_at
    assert began is not None
    timeout = conf.xenballoon.stall_timeout
    assert began + timeout <= host.clock.now() <= began + timeout + 3
    stalled = err.value
    assert stalled.current_mb == 46 * GiB
    assert stalled.target_mb == 56 * GiB - (30 * GiB + 2 - 8 * GiB)
    assert stalled.missing_mb == 30 * GiB + 2 - 18 * GiB
    assert 'dom0 is at %d MiB' % stalled.current_mb in str(stalled)
    assert '%d MiB still missing' % stalled.missing_mb in str(stalled)
    assert_clean(host, 56 * GiB)


def test_slow_crawl_below_min_progress_is_a_stall(sim, conf):
    conf.flags('xenballoon', min_progress_mb_s=50.0)
    host = sim(balloon={'release_rate_mb_s': 20})
    with pytest.raises(exception.BalloonStalled):
        host.driver.spawn('vm1', 20 * GiB)
    assert host.clock.now() < 15
    assert_clean(host, 56 * GiB)


@pytest.mark.parametrize('seed', range(8))
def test_heavy_jitter_is_not_a_stall(sim, seed):
    host = sim(balloon={'release_rate_mb_s': 300, 'jitter': 0.5,
                        'seed': seed})
    assert host.driver.spawn('vm1', 40 * GiB).state == 'running'


def test_start_delay_shorter_than_stall_timeout_is_not_a_stall(sim):
    # stall_timeout is 5 s by default.
    host = sim(balloon={'start_delay_s': 4.5})
    assert host.driver.spawn('vm1', 20 * GiB).state == 'running'
    assert host.clock.now() >= 4.5


def test_free_memory_dip_is_not_a_stall(sim):
    # Free memory falls by 2 GiB for 20 s while dom0 keeps ballooning.
    host = sim(balloon={'release_rate_mb_s': 256, 'dip_at_s': 5,
                        'dip_mb': 2 * GiB, 'dip_duration_s': 20})
    assert host.driver.spawn('vm1', 20 * GiB).state == 'running'


def test_dom0_growing_back_gets_its_target_again(sim):
    host = sim(balloon={'grow_back_after_s': 5, 'grow_back_mb': 4 * GiB})
    spy = Spy(host, 'set_dom0_target')
    assert host.driver.spawn('vm1', 30 * GiB).state == 'running'
    targets = [args[0] for args, _ in spy.calls]
    assert len(targets) >= 2 and len(set(targets)) == 1
    assert host.dom0().target_mb == targets[0]


def test_target_asserted_again_is_read_under_the_ledgers_lock(sim):
    """A look that finds dom0's target raised sets the ledger's, fresh.

    Between the wait's reading of the ledger and its setting of dom0, the
    other spawn gives its memory back: setting what was read would leave
    dom0 ballooned down for a reservation that is gone.
    """
    host = sim()  # 8 GiB free, dom0 56 GiB
    other = host.ledger.reserve(host.backend, 'other', 18 * GiB)
    host.ledger.apply_target(host.backend)
    real_snapshot, real_target = host.backend.snapshot, host.ledger.target
    looks = []

    def snapshot():
        looks.append(1)
        if len(looks) == 2:  # the wait's first look: someone raised dom0
            host.backend.set_dom0_target(56 * GiB)
        return real_snapshot()

    def target():
        read = real_target()
        if len(looks) == 2:  # meanwhile the other spawn gives up
            host.ledger.release(other.id)
            host.ledger.apply_target(host.backend)
        return read
    host.backend.snapshot, host.ledger.target = snapshot, target
    host.driver.spawn('vm1', 4 * GiB)
    assert host.dom0().target_mb == host.ledger.target() == 56 * GiB - (
        4 * GiB + 2)


def test_adaptive_polling_stays_within_bounds(sim, conf):
    host = sim(balloon={'release_rate_mb_s': 700, 'jitter': 0.2})
    sleeps = []
    real_sleep = host.clock.sleep

    def sleep(seconds):
        sleeps.append(seconds)
        real_sleep(seconds)
    host.clock.sleep = sleep
    at_build = Spy(host, 'create_domain', snapshot=lambda: len(sleeps))
    host.driver.spawn('vm1', 40 * GiB)
    waits = sleeps[:at_build.calls[0][1]]
    opts = conf.xenballoon
    assert all(opts.min_poll_interval <= s <= opts.poll_interval
               for s in waits)
    # Seldom far from the end (as often as a stall seen within
    # stall_timeout + 0.5 s needs), often near it.
    assert waits[0] == opts.poll_interval
    assert min(waits[-3:]) < 0.5
    assert len(waits) < 3 * host.clock.now() / opts.poll_interval + 20


def test_progress_is_reported_with_rate_and_eta(sim):
    host = sim()
    seen = []
    host.driver.spawn('vm1', 30 * GiB,
                      progress=lambda task, details: seen.append(details))
    # The engine's own 0.0 / 1.0 updates carry no balloon details.
    seen = [d for d in seen if 'released_mb' in d]
    fractions = [d['fraction'] for d in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0 and seen[-1]['missing_mb'] == 0
    middle = seen[len(seen) // 2]
    assert 900 <= middle['rate_mb_s'] <= 1100
    assert middle['eta_s'] == pytest.approx(
        middle['missing_mb'] / middle['rate_mb_s'])


# Invariant 4: refuse early.

def test_request_beyond_the_floor_is_refused_before_dom0_is_touched(
        sim, conf):
    host = sim()
    spy = Spy(host, 'set_dom0_target')
    floor = conf.xenballoon.dom0_min_memory_mb
    can_have = 64 * GiB - floor
    with pytest.raises(exception.NotEnoughMemory) as err:
        host.driver.spawn('vm1', can_have)  # + 2 MiB overhead: too much
    assert err.value.available_mb == can_have
    assert err.value.dom0_min_mb == floor
    assert spy.calls == []
    assert host.dom0().target_mb == 56 * GiB
    assert host.ledger.entries() == {}


def test_refusal_counts_memory_promised_to_others(sim):
    host = sim(balloon={'release_rate_mb_s': 256})
    outcomes = host.clock.run([
        (0.0, lambda: host.driver.spawn('a', 40 * GiB)),
        (1.0, lambda: host.driver.spawn('b', 40 * GiB)),
    ])
    (a, a_err), (b, b_err) = outcomes
    assert a_err is None and a.state == 'running'
    assert isinstance(b_err, exception.NotEnoughMemory)
    assert b_err.reserved_mb == 40 * GiB + 2
    assert host.clock.now() < 200  # b was refused at once, not after a wait


# Invariant 7: dom0's floor.

def test_dom0_is_never_asked_below_its_floor(sim, conf):
    host = sim()
    spy = Spy(host, 'set_dom0_target')
    floor = conf.xenballoon.dom0_min_memory_mb
    host.driver.spawn('all', 64 * GiB - floor - 2)
    assert [args[0] for args, _ in spy.calls] == [floor]
    assert host.dom0().current_mb == floor


# Invariant 8: whole MiB everywhere.

def test_memory_figures_are_whole_mib(sim):
    host = sim(balloon={'jitter': 0.37})
    host.clock.run([(0.0, lambda: host.driver.spawn('vm1', 30 * GiB))])
    status = host.driver.host_status()
    assert all(isinstance(v, int) for v in status.values())
    for entry in host.ledger.entries().values():
        assert isinstance(entry['from_dom0_mb'], int)


# Reverts.

def test_build_failure_leaves_nothing_behind(sim):
    host = sim(build={'fail_at_fraction': 0.5})
    with pytest.raises(exception.BuildFailed, match='50%'):
        host.driver.spawn('vm1', 30 * GiB)
    assert_clean(host, 56 * GiB)


def test_out_of_memory_from_the_toolstack_is_reverted(sim):
    host = sim()
    # Someone outside the driver takes the memory dom0 just freed.
    real_create = host.backend.create_domain

    def create(spec):
        host.model.xen_mb += host.model.free_mb()
        return real_create(spec)
    host.backend.create_domain = create
    with pytest.raises(exception.OutOfMemory):
        host.driver.spawn('vm1', 30 * GiB)
    assert host.backend.list_domains() == []
    assert host.ledger.entries() == {}
    assert host.dom0().target_mb == 56 * GiB


def test_revert_of_one_spawn_keeps_memory_promised_to_another(sim):
    host = sim(balloon={'release_rate_mb_s': 512},
               build={'fail_domains': {'bad': 0.2}})
    outcomes = host.clock.run([
        (0.0, lambda: host.driver.spawn('good', 16 * GiB)),
        (1.0, lambda: host.driver.spawn('bad', 16 * GiB)),
    ])
    (good, good_err), (_, bad_err) = outcomes
    assert good_err is None and good.state == 'running'
    assert isinstance(bad_err, exception.BuildFailed)
    # dom0 gave back only what 'bad' had taken: 'good' keeps its memory.
    assert host.dom0().target_mb == 56 * GiB - (16 * GiB + 2 - 8 * GiB)
    assert [d.name for d in host.backend.list_domains()] == ['good']
    host.settle()
    assert host.model.free_mb() >= 0


def test_reverts_are_idempotent(sim):
    host = sim(balloon={'stall_after_mb': 1024})
    flow = spawn_flow.get_flow(host.backend, host.ledger,
                               host.driver.conf.xenballoon)
    tasks = {node[0].name: node[0] for node in flow.iter_nodes()}
    spec = {'name': 'vm1', 'memory_mb': 20 * GiB}
    reservation = tasks[spawn_flow.RESERVE].execute(spec, 'r1')
    tasks[spawn_flow.BALLOON].execute(reservation)
    for _ in range(2):
        tasks[spawn_flow.BUILD].revert(spec=spec, result=None)
        tasks[spawn_flow.BALLOON].revert(reservation=reservation,
                                         result=None)
        tasks[spawn_flow.RESERVE].revert(result=reservation)
    assert_clean(host, 56 * GiB)


def test_duplicate_name_is_refused_and_changes_nothing(sim):
    host = sim()
    host.driver.spawn('vm1', 20 * GiB)
    before = host.driver.host_status()
    with pytest.raises(exception.DomainExists):
        host.driver.spawn('vm1', 1 * GiB)
    assert host.driver.host_status() == before


def test_a_domain_made_outside_the_driver_is_never_touched(sim):
    host = sim()
    host.backend.create_domain(base.DomainSpec(name='theirs',
                                               memory_mb=1024))
    before = host.driver.host_status()
    with pytest.raises(exception.DomainExists):
        host.driver.spawn('theirs', 20 * GiB)
    assert [d.name for d in host.backend.list_domains()] == ['theirs']
    assert host.driver.host_status() == before


def test_a_name_taken_during_the_wait_is_not_destroyed_by_the_revert(sim):
    host = sim()
    real_create = host.backend.create_domain

    def create(spec):
        # Someone else creates the same name while we were ballooning.
        real_create(base.DomainSpec(name=spec.name, memory_mb=512))
        return real_create(spec)
    host.backend.create_domain = create
    with pytest.raises(exception.DomainExists):
        host.driver.spawn('vm1', 20 * GiB)
    assert [d.name for d in host.backend.list_domains()] == ['vm1']
    assert host.ledger.entries() == {}
    assert host.dom0().target_mb == 56 * GiB


@pytest.mark.parametrize('name,memory', [
    ('', 1024), ('x' * 65, 1024), ('a b', 1024), ("a'b", 1024),
    ('a"b', 1024), ('a\nb', 1024), ('a/b', 1024), ('a;b', 1024),
    ('$(id)', 1024), ('12345', 1024), ('vm', 0), ('vm', -5),
    ('vm', 'abc'), ('vm', '1.5'), ('vm', 99999999999), ('vm', True),
])
def test_bad_input_changes_nothing(sim, name, memory):
    host = sim()
    before = host.driver.host_status()
    with pytest.raises(exception.InvalidInput):
        host.driver.spawn(name, memory)
    assert host.driver.host_status() == before
    assert host.ledger.entries() == {}


def test_unknown_guest_type_is_refused(sim):
    host = sim()
    with pytest.raises(exception.InvalidInput, match='guest type'):
        host.driver.spawn('vm', 1024, guest_type='kvm')


def test_engine_errors_are_not_wrapped(sim):
    host = sim(build={'fail_at_fraction': 0.1})
    with pytest.raises(exception.BuildFailed) as err:
        host.driver.spawn('vm1', 30 * GiB)
    assert not isinstance(err.value, tf_exceptions.WrappedFailure)


# Invariant 3 against Linux's balloon thread (simulator/balloon_driver.py):
# back-off pauses, a balloon that cancels itself, a true stall at the
# low mark, with the verdict of balloon/verdict.py.

def shipped(conf, name, free_calls=False, **balloon):
    """A SimHost on a shipped scenario, its balloon section changed.

    free_calls: without the scenario's toolstack call costs.
    """
    path = str(importlib.resources.files('xenballoon_driver.simulator') /
               'scenarios' / ('%s.yaml' % name))
    scenario = scenario_mod.load(path)
    scenario.balloon = dataclasses.replace(scenario.balloon, **balloon)
    if free_calls:
        scenario.toolstack = specs.ToolstackSpec()
    return conftest.SimHost(conf, scenario), scenario.requests[0]


def create_s(host):
    """The toolstack's own create time on the host (its scenario's)."""
    return host.model.toolstack.create_s


def spawn_request(host, request):
    return host.driver.spawn(request.name, request.memory_mb,
                             vcpus=request.vcpus)


def limit_s(host, request):
    """The physical limit: dom0's release time (cancel nudged at once)."""
    missing = request.footprint_mb - host.model.free_mb()
    return host.model.release_time(missing) + (
        request.footprint_mb / host.model.build.populate_rate_mb_s)


@pytest.mark.parametrize('reclaim_delay_s', [0, 4, 10, 20, 30, 40])
def test_back_off_pauses_are_waited_out(conf, caplog, reclaim_delay_s):
    # kswapd starts late: the balloon backs off 2, 4, 8, 16, 20, 20 ... s
    # (Debian's max_schedule_delay 20) before it gives again; never
    # cancelling (max_retry_count 0). stall_timeout 5 s, squeezed's.
    conf.flags('xenballoon', stall_timeout=5.0)
    host, request = shipped(conf, 'backoff-page-cache', max_retry_count=0,
                            reclaim_delay_s=reclaim_delay_s)
    limit = limit_s(host, request)
    with caplog.at_level(logging.WARNING):
        assert spawn_request(host, request).state == 'running'
    assert 'nudging' not in caplog.text
    assert host.model.contention_s == 0
    assert limit <= host.clock.now() <= 1.002 * (
        limit + create_s(host)) + 1.0


def test_a_back_off_beyond_its_budget_is_a_stall(conf):
    # kswapd 60 s late: no progress from 12 s to at least 72 s, more than
    # stall_timeout + backoff_budget_s (5 + 60 s).
    conf.flags('xenballoon', stall_timeout=5.0)
    host, request = shipped(conf, 'backoff-page-cache', max_retry_count=0,
                            reclaim_delay_s=60)
    with pytest.raises(exception.BalloonStalled):
        spawn_request(host, request)
    # The first pass fails at 12 s (the scenario's notes).
    assert 12.0 + 65.0 <= host.clock.now() <= 12.0 + 65.0 + 2.0


def test_the_shipped_back_off_is_no_stall(conf, caplog):
    conf.flags('xenballoon', stall_timeout=5.0)
    host, request = shipped(conf, 'backoff-page-cache')
    limit = limit_s(host, request)
    with caplog.at_level(logging.WARNING):
        assert spawn_request(host, request).state == 'running'
    assert 'nudging' not in caplog.text
    assert host.clock.now() <= 1.002 * (limit + create_s(host)) + 1.0


def test_the_same_back_off_without_the_verdict_is_a_false_stall(conf):
    # Today's rule (a backend that cannot see dom0): the 8 s pause is a
    # stall with stall_timeout 5 s.
    conf.flags('xenballoon', stall_timeout=5.0)
    host, request = shipped(conf, 'backoff-page-cache')
    host.backend.balloon_state = lambda: None
    with pytest.raises(exception.BalloonStalled):
        spawn_request(host, request)


def test_a_cancelled_balloon_is_nudged_and_the_spawn_finishes(conf, caplog):
    conf.flags('xenballoon', stall_timeout=5.0)
    host, request = shipped(conf, 'backoff-cancel')
    spy = Spy(host, 'set_dom0_target')
    with caplog.at_level(logging.WARNING):
        info = spawn_request(host, request)
    assert info.state == 'running'
    nudges = [r for r in caplog.records if 'nudging' in r.getMessage()]
    assert 1 <= len(nudges) <= conf.xenballoon.max_nudges
    assert all(r.levelno == logging.WARNING for r in nudges)
    # Each nudge 1 MiB below the ledger's target, then the target again;
    # dom0 is left at the ledger's.
    targets = [args[0] for args, _ in spy.calls]
    target = host.ledger.target()
    assert set(targets) == {target, target - 1}
    assert targets[-1] == target == host.dom0().target_mb
    assert host.model.contention_s == 0


def test_a_true_stall_at_the_low_mark_is_reported_fast(conf):
    conf.flags('xenballoon', stall_timeout=5.0)
    # Free toolstack calls: with the shipped ones (0.12 s a look) the
    # stall is seen 0.62 s past stall_timeout; polls placed by the stall
    # deadline with call costs are issue 12's item 4, not built yet.
    host, request = shipped(conf, 'stall-low-mark', free_calls=True)
    with pytest.raises(exception.BalloonStalled) as err:
        spawn_request(host, request)
    began = host.model.stall_began_at
    assert began is not None
    assert began + 5.0 <= host.clock.now() <= began + 5.0 + 0.5
    assert err.value.current_mb == 100 * GiB
    assert_clean(host, 120 * GiB)
