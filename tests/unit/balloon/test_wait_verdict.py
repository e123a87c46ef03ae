"""The balloon wait against a dom0 that backs off and cancels like Linux.

On a small fake host (linux_dom0.py) whose balloon_state is the Linux
driver's, on a virtual clock, with the wait's task alone: each failure
window, cancel and nudge is placed by hand here. The same verdict on the
simulator's model, through the whole spawn flow, is in
tests/unit/flows/test_spawn.py. dom0 holds 56 GiB of a 64 GiB host, its
low mark is 2 GiB (below the driver's floor of 4 GiB) unless a test says
otherwise.
"""

import logging
import threading

import pytest

from tests.unit.balloon import linux_dom0
from xenballoon_driver.balloon import verdict as verdict_mod
from xenballoon_driver import exception
from xenballoon_driver.ledger import operations as ledger_mod
from xenballoon_driver.ledger import store as ledger_storage
from xenballoon_driver.tasks import dom0 as dom0_tasks

GiB = 1024
NEED = 20 * GiB          # 12 GiB of it from dom0, at 1 GiB/s: 12 s


def host(**kw):
    args = dict(total_mb=64 * GiB, dom0_mb=56 * GiB, low_mb=2 * GiB)
    args.update(kw)
    return linux_dom0.LinuxDom0(**args)


class Wait:
    """Reserve, balloon dom0 and wait, as the spawn flow does."""

    def __init__(self, conf, dom0, need_mb=NEED):
        self.dom0, self.opts = dom0, conf.xenballoon
        self.ledger = ledger_mod.Ledger(ledger_storage.MemoryStorage(),
                                        self.opts.dom0_min_memory_mb)
        res = self.ledger.reserve(dom0, 'vm1', need_mb)
        self.reservation = {'id': res.id, 'name': 'vm1', 'need_mb': need_mb}
        self.target = res.dom0_target_mb
        dom0_tasks.BalloonDom0(dom0, self.ledger).execute(self.reservation)

    def run(self):
        task = dom0_tasks.WaitForBalloon(self.dom0, self.ledger, self.opts)
        return task.execute(self.reservation)


@pytest.fixture
def conf5(conf):
    conf.flags('xenballoon', stall_timeout=5.0)
    return conf


@pytest.mark.parametrize('max_retry', [0, 4])
@pytest.mark.parametrize('pause_s', [2, 4, 8, 14, 16, 20])
@pytest.mark.parametrize('at_s', [1.0, 6.0, 10.5])
def test_back_off_pauses_are_waited_out(conf5, pause_s, at_s, max_retry):
    # Allocations fail for pause_s at at_s: the driver backs off 2, 4,
    # 8 ... s, then resumes; with Debian's max_retry_count 4 it cancels
    # after 2 + 4 + 8 s and is nudged.
    dom0 = host(fail_windows=[(at_s, at_s + pause_s)], max_retry=max_retry)
    wait = Wait(conf5, dom0)
    report = wait.run()
    assert report['nudges'] == len(dom0.cancelled_at) <= 1
    assert dom0.cancelled_at == [] or max_retry
    assert dom0.target == wait.target
    assert set(dom0.targets) <= {wait.target, wait.target - 1}
    # Ready when dom0 got there, and no later than a look after it.
    assert dom0.current == wait.target
    assert dom0.clock.now() >= 12.0 + pause_s


def test_repeated_back_off_pauses_are_waited_out(conf5):
    # A dom0 of page cache: every 3 s of ballooning, 12 s of failures.
    windows = [(3 + 15 * i, 15 + 15 * i) for i in range(6)]
    dom0 = host(fail_windows=windows, max_retry=0)
    wait = Wait(conf5, dom0)
    assert wait.run()['nudges'] == 0
    assert dom0.current == wait.target


def test_back_off_is_no_stall_without_the_verdict(conf5):
    # The same dom0 through a backend that cannot see it (libvirt, an
    # older scenario): today's rule, a false stall.
    dom0 = host(fail_windows=[(1.0, 17.0)], max_retry=0, visible=False)
    with pytest.raises(exception.BalloonStalled):
        Wait(conf5, dom0).run()
    assert 6.0 <= dom0.clock.now() <= 7.0


def test_cancelled_balloon_is_nudged_and_the_wait_ends(conf5, caplog):
    # Debian's driver: 2 + 4 + 8 s of back-off, then it cancels; the
    # page cache is reclaimed by then, but it sleeps until the target
    # changes.
    dom0 = host(fail_windows=[(3.0, 17.5)])
    wait = Wait(conf5, dom0)
    with caplog.at_level(logging.WARNING):
        report = wait.run()
    assert dom0.cancelled_at == [pytest.approx(17.0, abs=0.05)]
    assert report['nudges'] == 1
    # One nudge 1 MiB lower, then the ledger's target again.
    assert dom0.targets == [wait.target, wait.target - 1, wait.target]
    assert dom0.target == wait.ledger.target() == wait.target
    nudges = [r for r in caplog.records if 'nudging' in r.getMessage()]
    assert len(nudges) == 1 and nudges[0].levelno == logging.WARNING
    # Nudged at the first look that sees delay 1, try 1 after try 4 of 4
    # with no page given (a look at most 0.45 s after the cancel, and
    # its cost); put back at the next look; done 9 s of ballooning after
    # the nudge, within a poll.
    nudged_at, restored_at = dom0.set_at[1:]
    assert 17.0 < nudged_at <= 17.0 + 0.45 + 0.45
    assert restored_at - nudged_at <= 1.0
    assert nudged_at + 9.0 < dom0.clock.now() <= nudged_at + 9.0 + 1.0


def test_a_balloon_cancelled_again_is_nudged_again(conf5):
    # Reclaim lasts through the first nudge's retries: cancelled twice.
    dom0 = host(fail_windows=[(3.0, 40.0)])
    wait = Wait(conf5, dom0)
    report = wait.run()
    assert len(dom0.cancelled_at) == 2
    assert report['nudges'] == 2
    assert dom0.target == wait.target


def test_nudges_are_bounded_by_the_back_off_budget(conf5, caplog):
    conf5.flags('xenballoon', max_nudges=2, backoff_budget_s=60.0)
    # Allocations never succeed again, though MemAvailable says there is
    # memory: each nudge wakes the balloon, which fails and cancels again
    # (2 + 4 + 8 s), until the budget ends it as a stall.
    dom0 = host(fail_windows=[(3.0, 1e9)])
    wait = Wait(conf5, dom0)
    with caplog.at_level(logging.WARNING):
        with pytest.raises(exception.BalloonStalled):
            wait.run()
    nudged = [t for t in dom0.targets if t != wait.target]
    # One per cycle of at least NUDGE_IDLE_S + 14 s within 65 s.
    assert 2 <= len(nudged) <= 65 // (verdict_mod.NUDGE_IDLE_S + 14) + 1
    assert set(nudged) == {wait.target - 1}
    # The wait never leaves dom0 at a nudged target.
    assert dom0.target == wait.target
    assert len([r for r in caplog.records
                if 'nudging' in r.getMessage()]) == len(nudged)
    assert 3.0 + 5.0 + 60.0 <= dom0.clock.now() <= 3.0 + 5.0 + 60.0 + 2.0


def test_back_off_budget_ends_an_endless_back_off(conf5):
    conf5.flags('xenballoon', backoff_budget_s=30.0)
    dom0 = host(fail_windows=[(3.0, 1e9)], max_retry=0)
    with pytest.raises(exception.BalloonStalled):
        Wait(conf5, dom0).run()
    # Stalled for stall_timeout, then excused for the budget (each
    # counted from a look, 1 s apart here).
    assert 3.0 + 5.0 + 30.0 <= dom0.clock.now() <= 3.0 + 5.0 + 30.0 + 2.0


@pytest.mark.parametrize('max_retry', [0, 4])
def test_stall_at_the_low_mark_is_reported_fast(conf, max_retry):
    # dom0 cannot go below 40 GiB (its low mark above the floor): the
    # balloon backs off there with nothing left to reclaim.
    conf.flags('xenballoon', stall_timeout=5.0)
    dom0 = host(low_mb=40 * GiB + 300, max_retry=max_retry)
    wait = Wait(conf, dom0, need_mb=30 * GiB)
    with pytest.raises(exception.BalloonStalled) as err:
        wait.run()
    stuck = dom0.stuck_since
    assert stuck is not None
    assert stuck + 5.0 <= dom0.clock.now() <= stuck + 5.0 + 0.5
    assert err.value.current_mb == 40 * GiB + 300
    assert dom0.targets == [wait.target]


@pytest.mark.parametrize('low_mb', [40 * GiB + 300, 44 * GiB + 7])
@pytest.mark.parametrize('stall_timeout', [2.0, 5.0, 10.0])
def test_stall_detection_bound_across_stall_points(conf, low_mb,
                                                   stall_timeout):
    conf.flags('xenballoon', stall_timeout=stall_timeout)
    dom0 = host(low_mb=low_mb)
    with pytest.raises(exception.BalloonStalled):
        Wait(conf, dom0, need_mb=30 * GiB).run()
    late = dom0.clock.now() - dom0.stuck_since - stall_timeout
    assert 0.0 <= late <= 0.5


def test_a_crash_after_a_nudge_leaves_the_ledgers_target(conf5):
    # Killed between a nudge and the look that puts it back: recovery
    # resumes the flow, whose wait refuses to run again and whose revert
    # sets the target the ledger derives.
    dom0 = host()
    wait = Wait(conf5, dom0)
    assert wait.ledger.nudge_target(dom0) == wait.target - 1
    assert dom0.target == wait.target - 1
    again = dom0_tasks.WaitForBalloon(dom0, wait.ledger, wait.opts,
                                      recovering=True)
    with pytest.raises(exception.Interrupted):
        again.execute(wait.reservation)
    dom0_tasks.BalloonDom0(dom0, wait.ledger).revert(wait.reservation, None)
    assert dom0.target == wait.ledger.target() == 56 * GiB


def test_nudge_never_goes_below_the_floor(conf5):
    conf5.flags('xenballoon', dom0_min_memory_mb=44 * GiB)
    dom0 = host()
    wait = Wait(conf5, dom0)   # dom0 asked for exactly its floor
    assert wait.target == 44 * GiB
    assert wait.ledger.nudge_target(dom0) == 44 * GiB + 1


def test_a_wait_ended_right_after_a_nudge_puts_the_target_back(conf5):
    # Ctrl-C between the nudge and the next look: the wait ends there,
    # and dom0 is left at the ledger's target, not the nudged one.
    dom0 = host(fail_windows=[(3.0, 1e9)])
    wait = Wait(conf5, dom0)
    cancel = threading.Event()
    real = dom0.set_dom0_target

    def set_target(target_mb):
        real(target_mb)
        if target_mb == wait.target - 1:
            cancel.set()
    dom0.set_dom0_target = set_target
    task = dom0_tasks.WaitForBalloon(dom0, wait.ledger, wait.opts,
                                     cancel=cancel)
    with pytest.raises(exception.SpawnCancelled):
        task.execute(wait.reservation)
    assert dom0.targets == [wait.target, wait.target - 1, wait.target]
    assert dom0.target == wait.target
