"""The offline optimum of a request stream on one host (issue 13).

Shortest-need-first with full knowledge of the stream, on the scenario's
own host model (simulator.model.HostModel: dom0's release rate, its
jitter, decay and balloon thread as the scenario has them). What it
assumes:

- The same release physics as the driver's runs, but no toolstack call
  costs other than the create call, no polling, no flow: a request
  builds the instant free memory covers it.
- Free memory that no build has taken yet belongs to nobody: at every
  instant it goes to the waiting request with the least still to come,
  which is the one with the smallest need (ties: the earlier). So an
  arrival pre-empts a bigger request that waits, at once.
- dom0's target is always what the live requests need beyond the memory
  free at the start (never below the floor): dom0 releases only what is
  asked of it, and a destroyed guest's memory goes to whoever waits
  first; dom0 grows back into the rest (the driver's
  reinflate_on_destroy).
- Build = toolstack.create_s + footprint / populate rate, with nothing
  contending; a guest holds its footprint from its build to its destroy
  (``ends``: at that simulated time, or once ready if later; none: it
  stays), as runner.run(ends=) destroys them.
- Nobody raises dom0's target behind our back, no dip in free memory
  (as oracle.release_time). A cancelled balloon is nudged at once.

Within a step of at most one simulated second (the jitter's period) free
memory is taken to grow linearly up to where dom0 reaches its target:
exact at a constant rate (a decaying one falls by a fraction of a
percent within a second).
"""

import dataclasses
import heapq
import math

from xenballoon_driver.simulator import balloon_driver
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import runner

EPS = 1e-6


@dataclasses.dataclass
class Planned:
    request: str
    at_s: float
    need_mb: float
    # When free memory covered it (its build began), and when it ran.
    build_at_s: float = None
    ready_at_s: float = None

    @property
    def time_to_ready_s(self):
        return None if self.ready_at_s is None else (self.ready_at_s -
                                                     self.at_s)


def schedule(scenario, floor_mb, ends=None):
    """Every request's Planned outcome in the offline optimum, by name.

    ``floor_mb``: dom0's floor ([xenballoon] dom0_min_memory_mb).
    A request never covered (dom0 cannot release enough) keeps None.
    """
    model = model_mod.HostModel(scenario)
    model.balloon = dataclasses.replace(scenario.balloon,
                                        grow_back_after_s=None,
                                        dip_at_s=None)
    plans = {r.name: Planned(r.name, r.at_s, float(r.footprint_mb))
             for r in scenario.requests}
    arrivals = sorted(scenario.requests, key=lambda r: r.at_s)
    start_dom0, start_free = model.dom0_mb, model.free_mb()
    ends_at = ends or {}
    waiting = []            # heap of (need, arrival index, name)
    ends = []               # heap of (destroy time, name)
    held = 0.0              # MiB taken by builds and running guests
    live = 0.0              # MiB of every request arrived, not destroyed
    index = 0

    def set_target():
        want = max(float(floor_mb), start_dom0 - max(0.0, live - start_free))
        if abs(want - model.dom0_target_mb) > EPS:
            model.set_dom0_target(want)

    def build(plan, at):
        plan.build_at_s = at
        plan.ready_at_s = at + runner.build_s(model, plan.need_mb)
        if ends_at.get(plan.request) is not None:
            heapq.heappush(ends, (max(plan.ready_at_s,
                                      ends_at[plan.request]), plan.request))

    def serve(t0, pool0, t1, pool1):
        """Start the smallest waiting while the pool covers them."""
        nonlocal held
        while waiting and waiting[0][0] <= pool1 - held + EPS:
            need, _, name = heapq.heappop(waiting)
            # When, within the step, the pool first covered this need.
            grown = pool1 - pool0
            at = t1 if grown <= EPS else t0 + (t1 - t0) * min(1.0, max(
                0.0, (need + held - pool0) / grown))
            held += need
            build(plans[name], at)

    while index < len(arrivals) or waiting:
        now = model.now
        nxt = [math.floor(now + 1e-9) + 1.0]
        if index < len(arrivals):
            nxt.append(arrivals[index].at_s)
        if ends:
            nxt.append(ends[0][0])
        if model.release_start > now + EPS:
            nxt.append(model.release_start)
        t1 = max(now, min(nxt))
        if (index >= len(arrivals) and not ends and
                not model.balloon_can_release() and
                model.release_start <= now + EPS and
                (model.resume_at or 0.0) <= now + EPS):
            break  # the rest waits for good: dom0 has nothing to give
        pool0 = model.free_mb()
        model.advance(t1)
        if balloon_driver.canceled(model):
            model.bp.update(state=balloon_driver.EAGAIN, wake_at=model.now)
        # dom0 reaching its target within the step stops the growth there.
        reached = model.target_reached_at
        grew_until = (reached if reached is not None and
                      now < reached < t1 else t1)
        serve(now, pool0, grew_until, model.free_mb())
        while ends and ends[0][0] <= t1 + EPS:
            _, name = heapq.heappop(ends)
            held -= plans[name].need_mb
            live -= plans[name].need_mb
            set_target()
        while index < len(arrivals) and arrivals[index].at_s <= t1 + EPS:
            req = arrivals[index]
            heapq.heappush(waiting, (float(req.footprint_mb), index,
                                     req.name))
            live += req.footprint_mb
            index += 1
            set_target()
        pool = model.free_mb()
        serve(t1, pool, t1, pool)
    return plans
