"""Where the balloon wait's looks go (balloon/placement.py), on made-up
progress: each branch, then seeded random looks against the promises
(looks answer by the stall deadline and at most poll_interval apart, no
negative sleep). The same promises end to end, with the simulator's
call costs: tests/functional/test_balloon_wait.py.
"""

import math
import random

import pytest

from xenballoon_driver.balloon import placement
from xenballoon_driver.balloon import progress as progress_mod

TIMEOUT = 5.0
POLL = 0.45
QEMU_FULL_S = 1.354      # xl list + xl info under QEMU (xen-qemu.yaml)


def prog(eta_s=math.inf, idle_s=0.0, next_poll_s=1.0, estimated=True):
    return progress_mod.Progress(
        elapsed_s=10.0, released_mb=100.0, missing_mb=50, rate_mb_s=10.0,
        eta_s=eta_s, next_poll_s=next_poll_s, done=False, stalled=False,
        timed_out=False, grew_back=False, idle_s=idle_s,
        estimated=estimated)


def plan(p, full_s=QEMU_FULL_S, cheap_s=0.0, since_full_s=0.0,
         at_target=False, timeout=TIMEOUT):
    return placement.plan(p, timeout, POLL, full_s, cheap_s, since_full_s,
                          at_target)


def test_free_looks_are_all_full_and_land_on_the_deadline():
    gap, full = plan(prog(idle_s=4.9), full_s=0.0)
    assert full and gap == pytest.approx(0.1 + placement.DUE_EPS_S)


def test_free_looks_come_at_most_poll_interval_apart():
    assert plan(prog(next_poll_s=POLL + 1.0), full_s=0.0) == (POLL, True)


def test_first_look_of_unknown_cost_is_full_and_at_once():
    assert plan(prog(), full_s=None) == (0.0, True)


def test_dom0_at_its_target_asks_for_a_full_look_at_once():
    # Nothing more to learn from dom0 (a shortfall, a dip): look at free.
    assert plan(prog(eta_s=30.0), at_target=True) == (0.0, True)


def test_far_from_the_end_looks_are_cheap():
    gap, full = plan(prog(eta_s=30.0), cheap_s=0.01)
    assert not full and gap == pytest.approx(POLL - 0.01)


def test_full_look_answers_just_after_the_eta():
    gap, full = plan(prog(eta_s=1.5))
    assert full
    answer = gap + QEMU_FULL_S
    assert 1.5 < answer <= 1.5 * (1 + placement.LATE_FRACTION) + 0.011


def test_full_look_answers_just_after_the_stall_deadline():
    # 3 s without progress: a cheap look first, as the full one would
    # start after it; 3.45 s: the full one, answering on the deadline.
    assert not plan(prog(idle_s=3.0))[1]
    gap, full = plan(prog(idle_s=3.45))
    assert full
    assert gap + QEMU_FULL_S == pytest.approx(1.55 + placement.DUE_EPS_S)


def test_past_the_deadline_no_look_is_placed_on_it():
    # A back-off the verdict waits out: cheap looks, a full one now and
    # then to see free memory come from elsewhere.
    assert not plan(prog(idle_s=20.0), cheap_s=0.0)[1]
    assert plan(prog(idle_s=20.0), since_full_s=20.0)[1]


def test_a_costly_cheap_look_leaves_no_room_full_looks_only():
    gap, full = plan(prog(eta_s=30.0), cheap_s=0.5, full_s=0.4)
    assert full


@pytest.mark.parametrize('seed', range(200))
def test_random_looks_keep_the_promises(seed):
    rng = random.Random(seed)
    full_s = rng.choice([None, 0.0, 0.005, 0.12, 0.7, QEMU_FULL_S, 2.5])
    cheap_s = rng.choice([0.0, 0.001, 0.04, 0.2])
    eta = rng.choice([math.inf, rng.uniform(0, 400)])
    idle = rng.uniform(0, 40)
    p = prog(eta_s=eta, idle_s=idle, next_poll_s=rng.uniform(0.05, POLL),
             estimated=rng.random() < 0.5)
    at_target = rng.random() < 0.2
    gap, full = plan(p, full_s=full_s, cheap_s=cheap_s,
                     since_full_s=rng.uniform(0, 30), at_target=at_target)
    assert gap >= 0.0
    took = (full_s or 0.0) if full else cheap_s
    due = TIMEOUT - idle
    if due > 0:
        # The look that can prove a stall answers by the deadline (+eps):
        # never a look that answers later than that.
        assert gap + took <= due + placement.DUE_EPS_S + 1e-9 or (
            full and gap == 0.0)
    if not full:
        # Cheap looks answer at most poll_interval apart.
        assert gap + cheap_s <= POLL + 1e-9
