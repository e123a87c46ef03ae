"""The physical limit: how soon dom0 could free memory if asked now.

A copy of the host model runs on its own with nobody raising dom0's
target and no dip; with dom0's balloon thread modelled, its back-off
counts, and a cancelled balloon is nudged at once (the best a toolstack
can do).
"""

import copy

from xenballoon_driver.simulator import balloon_driver

EPS = balloon_driver.EPS


def release_time(model, mb):
    """Seconds from now for dom0 to free ``mb`` MiB if asked now.

    Used to report the physical limit of a request; None when dom0
    cannot free that much (floor or stall).
    """
    if mb <= EPS:
        return 0.0
    oracle = copy.deepcopy(model)
    oracle.domains = {}
    oracle.balloon = copy.copy(model.balloon)
    oracle.balloon.grow_back_after_s = None
    oracle.balloon.dip_at_s = None
    oracle.set_dom0_target(oracle.dom0_mb - mb)
    goal = oracle.dom0_target_mb
    if goal < max(oracle.dom0_low_mb, oracle.dom0_mb - oracle._stall_room()
                  ) - EPS:
        return None
    start = oracle.now
    while oracle.dom0_mb > goal + EPS:
        if balloon_driver.canceled(oracle):
            oracle.bp.update(state=balloon_driver.EAGAIN, wake_at=oracle.now)
        oracle._step(oracle._next_boundary() - oracle.now)
    return oracle.target_reached_at - start
