"""The physical limit: how soon free memory could grow if dom0 were asked
now.

A copy of the host model runs on its own with nobody raising dom0's
target and no dip. dom0 is asked once for what free memory needs, Xen's
shortfall included (release.needed_mb): the best a toolstack could ask.
What the host itself does counts: a decaying rate, a stall that resumes,
dom0 drifting above its target; with dom0's balloon thread modelled, its
back-off too, and a cancelled balloon is nudged at once.
"""

import copy

from xenballoon_driver.simulator import balloon_driver
from xenballoon_driver.simulator import release

EPS = balloon_driver.EPS


def release_time(model, mb):
    """Seconds from now until free memory has grown by ``mb`` MiB.

    That is, until dom0 has released what that takes if asked now. Used
    to report the physical limit of a request; None when dom0 can never
    release that much (its low mark, or a stall that does not end).
    """
    if mb <= EPS:
        return 0.0
    oracle = copy.deepcopy(model)
    oracle.domains = {}
    oracle.balloon = copy.copy(model.balloon)
    oracle.balloon.grow_back_after_s = None
    oracle.balloon.dip_at_s = None
    need = release.needed_mb(oracle, mb)
    if need > min(oracle.dom0_mb - oracle.dom0_low_mb,
                  release.room_ever(oracle)) + EPS:
        return None
    oracle.set_dom0_target(oracle.dom0_mb - need)
    goal = oracle.dom0_target_mb
    start = oracle.now
    while oracle.dom0_mb > goal + EPS:
        if balloon_driver.canceled(oracle):
            oracle.bp.update(state=balloon_driver.EAGAIN, wake_at=oracle.now)
        oracle._step(oracle._next_boundary() - oracle.now)
    return oracle.target_reached_at - start
