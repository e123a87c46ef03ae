"""Run a scenario's requests on a virtual clock.

``run``: one host, one strategy. Each strategy gets a fresh simulated
host, so strategies are compared on the same host and the same request
sequence. ``run_fleet``: a multi-host scenario (``hosts:``), each request
placed by the reference scheduler and spawned by its host's driver.
Requests whose times overlap run concurrently (each in its own thread,
one at a time on the clock).
"""

import dataclasses
import math
import random

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.hypervisor import simulated
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.ledger import store as ledger_storage
from xenballoon_driver.scheduler import manager
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod
from xenballoon_driver import strategies

RUNNING = 'running'
NOMEM = 'nomem'
STALLED = 'stalled'
FAILED = 'failed'

# How long, after the last request, the host may take to settle.
SETTLE_LIMIT_S = 3600.0


@dataclasses.dataclass
class RequestResult:
    strategy: str
    request: str
    memory_mb: int
    at_s: float
    outcome: str
    time_to_ready_s: float
    lower_bound_s: float
    contention_s: float
    soft_lockups: int
    dom0_final_mb: int
    dom0_target_mb: int
    ended_at_s: float
    stall_began_at_s: float = None
    error: str = ''

    @property
    def ratio(self):
        """time-to-ready / physical limit (None if either is missing)."""
        if self.time_to_ready_s is None or not self.lower_bound_s:
            return None
        return self.time_to_ready_s / self.lower_bound_s


def _outcome(err):
    if err is None:
        return RUNNING
    if isinstance(err, (exception.NotEnoughMemory,
                        exception.OutOfMemory)):
        return NOMEM
    if isinstance(err, exception.BalloonStalled):
        return STALLED
    return FAILED


def lower_bound_s(model, footprint_mb):
    """The physical limit: time for dom0 to free what is missing, + build."""
    from_dom0 = max(0.0, footprint_mb - model.free_mb())
    release = model.release_time(from_dom0)
    if release is None:
        return None
    return release + footprint_mb / model.build.populate_rate_mb_s


def domain_spec(req):
    """The DomainSpec a scenario's request asks for."""
    return base.DomainSpec(name=req.name, memory_mb=req.memory_mb,
                           vcpus=req.vcpus, guest_type=req.guest_type,
                           fail_at_fraction=req.fail_at_fraction)


def run_jobs(clock, jobs):
    """clock.run(jobs): what each returned; a job's exception is a bug."""
    results = []
    for result, err in clock.run(jobs):
        if err is not None:
            raise err  # a bug, not an outcome
        results.append(result)
    return results


def run(scenario, strategy_name, conf):
    model = model_mod.HostModel(scenario)
    clock = clock_mod.VirtualClock()
    backend = simulated.SimulatedHypervisor(
        conf, store=store_mod.MemoryStore(model, clock))
    ledger = ledger_mod.Ledger(ledger_storage.MemoryStorage(),
                               conf.xenballoon.dom0_min_memory_mb)
    strategy = strategies.load(strategy_name, conf, backend, ledger)

    def job(req):
        spec = domain_spec(req)

        def attempt():
            model.advance(clock.now())
            limit = lower_bound_s(model, spec.footprint_mb)
            try:
                if scenario.driver.flow_s:
                    # The caller's own time before its first look.
                    clock.sleep(scenario.driver.flow_s)
                strategy.spawn(spec)
                err = None
            except exception.XenBalloonException as caught:
                err = caught
            model.advance(clock.now())
            outcome = _outcome(err)
            contention = model.contention_by_name.get(req.name, 0.0)
            return RequestResult(
                strategy=strategy_name, request=req.name,
                memory_mb=req.memory_mb, at_s=req.at_s, outcome=outcome,
                time_to_ready_s=(clock.now() - req.at_s
                                 if outcome == RUNNING else None),
                lower_bound_s=limit, contention_s=contention,
                soft_lockups=int(contention //
                                 model_mod.SOFT_LOCKUP_EVERY_S),
                dom0_final_mb=int(math.ceil(model.dom0_mb - 1e-6)),
                dom0_target_mb=int(math.ceil(model.dom0_target_mb - 1e-6)),
                ended_at_s=clock.now(),
                stall_began_at_s=model.stall_began_at,
                error=str(err) if err else '')
        return req.at_s, attempt

    return run_jobs(clock, [job(req) for req in scenario.requests])


def run_all(scenario, strategy_names, conf):
    results = []
    for name in strategy_names:
        results.extend(run(scenario, name, conf))
    return results


# -- many hosts, one scheduler ----------------------------------------------

REFUSED = 'refused'


@dataclasses.dataclass
class FleetRequestResult:
    request: str
    memory_mb: int
    at_s: float
    host: str
    outcome: str
    time_to_ready_s: float
    # The scheduler's prediction: MiB dom0 had to release first, and how
    # long that would take at the host's (measured) release rate.
    balloon_mb: int
    predicted_s: float
    ended_at_s: float
    error: str = ''


@dataclasses.dataclass
class FleetHostResult:
    host: str
    total_mb: int
    release_rate_mb_s: float
    measured_rate_mb_s: float
    guests: int
    guest_mb: int
    dom0_mb: int
    free_mb: int
    available_mb: int
    # The most ever spoken for at once (Xen, dom0 and every domain's
    # whole footprint from the start of its build), and how far that
    # went past the host's memory: 0 unless something overcommitted.
    peak_committed_mb: int
    overcommit_mb: int


class Fleet:
    """A simulated host per scenario host, each with its own driver.

    All on one virtual clock; ledgers and flows in memory, no locks.
    """

    def __init__(self, scenario, conf):
        if not scenario.hosts:
            raise exception.InvalidScenario(
                path=scenario.path or scenario.name,
                reason='it has no hosts: list')
        self.clock = clock_mod.VirtualClock()
        self.models = {}
        self.drivers = {}
        for host in scenario.hosts:
            model = model_mod.HostModel(host)
            backend = simulated.SimulatedHypervisor(
                conf, store=store_mod.MemoryStore(model, self.clock))
            ledger = ledger_mod.Ledger(ledger_storage.MemoryStorage(),
                                       conf.xenballoon.dom0_min_memory_mb)
            self.models[host.name] = model
            # Flows unpersisted (taskflow keeps them in memory, uncopied).
            self.drivers[host.name] = driver_mod.XenBalloonDriver(
                conf, backend, ledger)

    def host_results(self):
        rows = []
        for name, drv in self.drivers.items():
            model = self.models[name]
            model.advance(self.clock.now())
            res = drv.get_available_resource(name)
            extra = res['xenballoon']
            peak = int(math.ceil(model.peak_committed_mb - 1e-6))
            rows.append(FleetHostResult(
                host=name, total_mb=res['memory_mb'],
                release_rate_mb_s=model.balloon.release_rate_mb_s,
                measured_rate_mb_s=drv.release_rate.mb_s,
                guests=extra['guests'],
                guest_mb=sum(d.memory_mb for d in drv.list_domains()),
                dom0_mb=extra['dom0_current_mb'], free_mb=extra['free_mb'],
                available_mb=extra['available_mb'],
                peak_committed_mb=peak,
                overcommit_mb=max(0, peak - res['memory_mb'])))
        return rows


def run_fleet(scenario, conf, seed=0, on_refused=None):
    """Place a multi-host scenario's requests with the reference scheduler.

    Each request, at its arrival time, goes through select_destinations
    (every host read afresh) and spawns on the chosen host's driver;
    requests overlap on the virtual clock. ``seed`` drives the random
    pick among [scheduler] host_subset_size hosts. ``on_refused(fleet,
    spec, error)`` is called when no host passes, before the clock moves.

    The scheduler's reads take no simulated time unless the hosts'
    ``toolstack`` sections say so (then other requests move on while it
    reads, as they would on real hosts); the scenario's ``driver``
    section is not charged here.

    Returns (list of FleetRequestResult, list of FleetHostResult).
    """
    fleet = Fleet(scenario, conf)
    scheduler = manager.Scheduler(conf, rng=random.Random(seed))
    clock = fleet.clock

    def job(req):
        spec = domain_spec(req)

        def result(outcome, selection=None, err=None):
            return FleetRequestResult(
                request=req.name, memory_mb=req.memory_mb, at_s=req.at_s,
                host=selection.host if selection else None,
                outcome=outcome,
                time_to_ready_s=(clock.now() - req.at_s
                                 if outcome == RUNNING else None),
                balloon_mb=selection.balloon_mb if selection else None,
                predicted_s=selection.balloon_time_s if selection else None,
                ended_at_s=clock.now(), error=str(err) if err else '')

        def attempt():
            try:
                selection, = scheduler.select_destinations(spec,
                                                           fleet.drivers)
            except exception.NoValidHost as err:
                if on_refused is not None:
                    on_refused(fleet, spec, err)
                return result(REFUSED, err=err)
            drv = fleet.drivers[selection.host]
            try:
                drv.spawn(spec.name, spec.memory_mb, spec.vcpus,
                          spec.guest_type,
                          fail_at_fraction=spec.fail_at_fraction)
                err = None
            except exception.XenBalloonException as caught:
                err = caught
            return result(_outcome(err), selection, err)
        return req.at_s, attempt

    results = run_jobs(clock, [job(req) for req in scenario.requests])
    return results, fleet.host_results()
