"""Run a scenario's requests on a virtual clock.

``run``: one host, one strategy. Each strategy gets a fresh simulated
host, so strategies are compared on the same host and the same request
sequence. (fleet.py runs a multi-host scenario.) Requests whose times
overlap run concurrently (each in its own thread, one at a time on the
clock).
"""

import dataclasses
import math

from taskflow.persistence import backends

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver.simulator import host as host_mod
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod
from xenballoon_driver.simulator import strategies

RUNNING = 'running'
NOMEM = 'nomem'
STALLED = 'stalled'
FAILED = 'failed'


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


def outcome_of(err):
    """RUNNING, or what kind of failure ``err`` is."""
    if err is None:
        return RUNNING
    if isinstance(err, (exception.NotEnoughMemory,
                        exception.OutOfMemory)):
        return NOMEM
    if isinstance(err, exception.BalloonStalled):
        return STALLED
    return FAILED


def lower_bound_s(model, footprint_mb):
    """The physical limit: time for dom0 to free what is missing, + build.

    The build is the toolstack's own create call (toolstack.create_s:
    any toolstack pays it once the memory is free) and populating the
    guest's memory.
    """
    from_dom0 = max(0.0, footprint_mb - model.free_mb())
    release = model.release_time(from_dom0)
    if release is None:
        return None
    return release + build_s(model, footprint_mb)


def build_s(model, footprint_mb):
    """Seconds to build a guest once its memory is free: create + populate."""
    return (model.toolstack.create_s +
            footprint_mb / model.build.populate_rate_mb_s)


def domain_spec(req):
    """The DomainSpec a scenario's request asks for."""
    return base.DomainSpec(name=req.name, memory_mb=req.memory_mb,
                           vcpus=req.vcpus, guest_type=req.guest_type)


def with_request_faults(host, requests):
    """``host`` (a Scenario) whose builds fail where ``requests`` say.

    A request's fail_at_fraction goes into the host's build section,
    fail_domains, under the request's name: the simulated backend injects
    the failure by domain name (over the section's own entries).
    """
    faults = {r.name: r.fail_at_fraction for r in requests
              if r.fail_at_fraction is not None}
    if not faults:
        return host
    fail_domains = {**(host.build.fail_domains or {}), **faults}
    return dataclasses.replace(host, build=dataclasses.replace(
        host.build, fail_domains=fail_domains))


def run_jobs(clock, jobs):
    """clock.run(jobs): what each returned; a job's exception is a bug."""
    results = []
    for result, err in clock.run(jobs):
        if err is not None:
            raise err  # a bug, not an outcome
        results.append(result)
    return results


def strategy_names(choice='all'):
    """The strategies ``choice`` names: one, or every one for 'all'.

    Raises StrategyNotFound for any other name.
    """
    names = strategies.available()
    if choice == 'all':
        return names
    if choice not in names:
        raise exception.StrategyNotFound(name=choice,
                                         available=', '.join(names) +
                                         ', all')
    return [choice]


def run(scenario, strategy_name, conf, ends=None):
    """Each request of ``scenario`` spawned by the strategy, on one host.

    ``ends`` (request name -> simulated time): a guest that ran is
    destroyed then, or as soon as it runs if that is later (the driver's
    destroy, dom0 given its memory back as the [xenballoon] options
    say), so a long stream of requests fits on the host. None: guests
    stay.
    """
    model = model_mod.HostModel(with_request_faults(scenario,
                                                    scenario.requests))
    clock = clock_mod.VirtualClock()
    # Flows persisted in memory: simulate touches no state on disk.
    driver = host_mod.build_driver(
        conf, store_mod.MemoryStore(model, clock),
        backends.fetch({'connection': 'memory://'}))
    strategy = strategies.load(strategy_name, conf, driver)

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
            outcome = outcome_of(err)
            contention = model.contention_by_name.get(req.name, 0.0)
            result = RequestResult(
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
            end_of_life(clock, driver, req.name, outcome, ends)
            return result
        return req.at_s, attempt

    return run_jobs(clock, [job(req) for req in scenario.requests])


def end_of_life(clock, driver, name, outcome, ends):
    """Destroy guest ``name`` at its end (or now), if it ran and has one."""
    end = (ends or {}).get(name)
    if outcome == RUNNING and end is not None:
        clock.sleep(end - clock.now())
        driver.destroy(name)


def run_all(scenario, names, conf):
    results = []
    for name in names:
        results.extend(run(scenario, name, conf))
    return results
