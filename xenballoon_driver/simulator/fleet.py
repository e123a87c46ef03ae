"""A multi-host scenario (``hosts:``) on one virtual clock.

``run_fleet`` places each request with the reference scheduler and spawns
it with its host's driver; requests whose times overlap run concurrently
(each in its own thread, one at a time on the clock).
"""

import dataclasses
import math
import random

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver.scheduler import manager
from xenballoon_driver.simulator import host as host_mod
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import store as store_mod

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
            model = model_mod.HostModel(runner.with_request_faults(
                host, scenario.requests))
            self.models[host.name] = model
            # Flows unpersisted (taskflow keeps them in memory, uncopied).
            self.drivers[host.name] = host_mod.build_driver(
                conf, store_mod.MemoryStore(model, self.clock))
            # As init_host would: dom0 starts releasing the headroom
            # ([xenballoon] free_headroom_mb) at time 0, before any request.
            self.drivers[host.name].keep_headroom()

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


def run_fleet(scenario, conf, seed=0, on_refused=None, ends=None):
    """Place a multi-host scenario's requests with the reference scheduler.

    Each request, at its arrival time, goes through select_destinations
    (every host read afresh) and spawns on the chosen host's driver;
    requests overlap on the virtual clock. ``seed`` drives the random
    pick among [scheduler] host_subset_size hosts. ``on_refused(fleet,
    spec, error)`` is called when no host passes, before the clock moves.

    The scheduler's reads take no simulated time unless the hosts'
    ``toolstack`` sections say so (then other requests move on while it
    reads, as they would on real hosts); the scenario's ``driver``
    section is not charged here. ``ends`` (request name -> simulated
    time): a guest that ran is destroyed on its host then, or as soon as
    it runs if that is later (runner.end_of_life).

    Returns (list of FleetRequestResult, list of FleetHostResult).
    """
    fleet = Fleet(scenario, conf)
    scheduler = manager.Scheduler(conf, rng=random.Random(seed))
    clock = fleet.clock

    def job(req):
        spec = runner.domain_spec(req)

        def result(outcome, selection=None, err=None):
            return FleetRequestResult(
                request=req.name, memory_mb=req.memory_mb, at_s=req.at_s,
                host=selection.host if selection else None,
                outcome=outcome,
                time_to_ready_s=(clock.now() - req.at_s
                                 if outcome == runner.RUNNING else None),
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
                          spec.guest_type)
                err = None
            except exception.XenBalloonException as caught:
                err = caught
            done = result(runner.outcome_of(err), selection, err)
            runner.end_of_life(clock, drv, req.name, done.outcome, ends)
            return done
        return req.at_s, attempt

    results = runner.run_jobs(clock, [job(req) for req in scenario.requests])
    return results, fleet.host_results()
