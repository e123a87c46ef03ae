"""The stall verdict, one look at a time (balloon/verdict.py)."""

import dataclasses

import pytest

from xenballoon_driver.balloon import verdict as verdict_mod
from xenballoon_driver.hypervisor import base

WAIT, NUDGE, STALL = verdict_mod.WAIT, verdict_mod.NUDGE, verdict_mod.STALL


@dataclasses.dataclass
class Prog:
    stalled: bool = False
    idle_s: float = 0.0
    next_poll_s: float = 1.0
    done: bool = False


def state(delay=1, retry=1, available=10000, max_delay=20, max_retry=4):
    return base.BalloonState(delay, max_delay, retry, max_retry, available)


def judge(**kw):
    args = dict(stall_timeout=5.0, backoff_budget_s=60.0, max_nudges=3)
    args.update(kw)
    return verdict_mod.Verdict(**args)


@pytest.mark.parametrize('stalled', [False, True])
def test_without_a_state_todays_rule(stalled):
    j = judge()
    prog = Prog(stalled=stalled, idle_s=30.0, next_poll_s=0.7)
    assert j.judge(40.0, prog, None, 5000, 1000) == (
        STALL if stalled else WAIT)


def test_back_off_with_memory_left_is_no_stall():
    j = judge()
    assert j.judge(10.0, Prog(True, 6.0), state(8, 4), 5000, 1000) == WAIT
    assert 'backing off' in j.reason


@pytest.mark.parametrize('current, available', [
    (5000, 4000),    # nothing left to reclaim: MemAvailable <= 4000 to give
    (5000, 0),
    (1000, 9000),    # dom0 at its target: not the balloon's to fix
])
def test_stall_when_nothing_to_reclaim_or_at_target(current, available):
    j = judge()
    assert j.judge(10.0, Prog(True, 6.0), state(8, 4, available), current,
                   1000) == STALL
    # Not before stall_timeout.
    assert j.judge(3.0, Prog(False, 2.0), state(8, 4, available), current,
                   1000) == WAIT


def test_unknown_mem_available_trusts_the_back_off():
    j = judge()
    assert j.judge(10.0, Prog(True, 6.0), state(8, 4, None), 5000,
                   1000) == WAIT


def test_back_off_budget():
    j = judge(backoff_budget_s=30.0)
    assert j.judge(10.0, Prog(True, 5.0), state(8, 3), 5000, 1000) == WAIT
    assert j.judge(40.0, Prog(True, 35.0), state(16, 5), 5000, 1000) == WAIT
    assert j.judge(40.1, Prog(True, 35.1), state(16, 5), 5000, 1000) == STALL
    assert 'budget' in j.reason


def test_progress_restarts_the_budget():
    j = judge(backoff_budget_s=30.0)
    j.judge(10.0, Prog(True, 5.0), state(8, 3), 5000, 1000)
    assert j.judge(39.0, Prog(False, 0.0), state(), 5000, 1000) == WAIT
    assert j.judge(45.0, Prog(True, 6.0), state(2, 2), 5000, 1000) == WAIT


def test_idle_above_target_is_nudged_after_two_seconds():
    j = judge()
    # The first look that sees delay 1, try 1 starts the count.
    assert j.judge(20.0, Prog(True, 20.0), state(), 5000, 1000) == WAIT
    assert j.judge(22.0, Prog(True, 22.0), state(), 5000, 1000) == WAIT
    assert j.judge(22.1, Prog(True, 22.1), state(), 5000, 1000) == NUDGE
    # Not again until idle as long since the nudge.
    assert j.judge(23.0, Prog(True, 23.0), state(), 5000, 1000) == WAIT
    assert j.judge(24.2, Prog(True, 24.2), state(), 5000, 1000) == NUDGE
    assert (j.nudges, j.fruitless) == (2, 2)
    # Progress: the nudges worked; the count of fruitless ones restarts.
    j.judge(25.0, Prog(False, 0.0), state(), 5000, 1000)
    assert (j.nudges, j.fruitless) == (2, 0)


def test_a_balloon_just_out_of_a_back_off_is_not_nudged():
    # Long without progress, but backing off until now: it passes again.
    j = judge()
    assert j.judge(15.0, Prog(True, 10.0), state(8, 3), 5000, 1000) == WAIT
    assert j.judge(15.5, Prog(True, 10.5), state(), 5000, 1000) == WAIT
    assert j.judge(17.0, Prog(True, 12.0), state(), 5000, 1000) == WAIT
    assert j.judge(17.6, Prog(True, 12.6), state(), 5000, 1000) == NUDGE


def test_a_cancel_right_after_the_last_try_is_nudged_at_once():
    # Try 4 of 4, then delay 1, try 1 with dom0 no smaller: cancelled.
    j = judge()
    assert j.judge(15.0, Prog(True, 10.0), state(8, 4), 5000, 1000) == WAIT
    assert j.judge(15.4, Prog(True, 10.4), state(), 5000, 1000) == NUDGE
    assert 'cancelled after try 4 of 4' in j.reason
    # Pages given after the last try: a pass that worked, not a cancel.
    j = judge()
    assert j.judge(15.0, Prog(True, 10.0), state(8, 4), 5000, 1000) == WAIT
    assert j.judge(15.4, Prog(True, 10.4), state(), 4998, 1000) == WAIT
    # Never with max_retry_count 0 (it never cancels), nor past the bound.
    j = judge()
    j.judge(15.0, Prog(True, 10.0), state(8, 4, max_retry=0), 5000, 1000)
    assert j.judge(15.4, Prog(True, 10.4), state(max_retry=0), 5000,
                   1000) == WAIT
    j = judge(max_nudges=0)
    j.judge(15.0, Prog(True, 10.0), state(8, 4), 5000, 1000)
    assert j.judge(15.4, Prog(True, 10.4), state(), 5000, 1000) == WAIT


def test_nudges_are_bounded():
    j = judge(max_nudges=1, backoff_budget_s=1000.0)
    assert j.judge(18.0, Prog(True, 18.0), state(), 5000, 1000) == WAIT
    assert j.judge(21.0, Prog(True, 21.0), state(), 5000, 1000) == NUDGE
    assert j.judge(42.0, Prog(True, 42.0), state(), 5000, 1000) == STALL
    assert 'after 1 nudges' in j.reason
    never = judge(max_nudges=0)
    never.judge(18.0, Prog(True, 18.0), state(), 5000, 1000)
    assert never.judge(21.0, Prog(True, 21.0), state(), 5000,
                       1000) == STALL
