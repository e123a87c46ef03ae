"""The stall verdict from what dom0's own balloon driver shows.

Pure logic over looks; the caller acts on the answer. Without a
BalloonState (libvirt, a simulated host that does not show one) the
answer is progress.py's rule alone: no progress for stall_timeout is a
stall. With one, a pause is judged by what Linux's balloon driver
(drivers/xen/balloon.c, 5.15 and Debian 12's 6.1) is doing:

- Back-off (schedule_delay > 1 or retry_count > 1): decrease_reservation
  could not allocate pages (GFP_BALLOON is __GFP_NORETRY) and the thread
  sleeps schedule_delay s, doubling up to max_schedule_delay
  (update_schedule). With reclaimable memory left (MemAvailable above
  what dom0 must still give) kswapd will produce pages: the pause is
  waited out, for at most backoff_budget_s past stall_timeout.
- Idle (delay 1, retry 1) with dom0 above its target: after
  max_retry_count failures the driver resets both to 1 and cancels
  (BP_ECANCELED), then sleeps up to 3600 s until the credit (target -
  current) changes; the same target again does not change it
  (balloon_thread_cond). A failure shows at once (retry_count 2,
  schedule_delay 2: update_schedule runs before the sleep), and a
  balloon that is not cancelled passes again at once while it succeeds
  (balloon_thread loops while the credit is not 0), so idle for longer
  than NUDGE_IDLE_S is taken as cancelled (at once when the look before
  saw its last allowed try, retry_count = max_retry_count, and dom0 gave
  not a page since: update_schedule cancelled it): the caller nudges the
  target, at most max_nudges times in a row without an answer (progress,
  or a back-off: it woke and tried). A balloon that wakes, fails and
  cancels again is nudged again, at most once per cycle (NUDGE_IDLE_S
  plus its retries, 2 + 4 + 8 s with Debian's max_retry_count 4), within
  the back-off budget.
- dom0 at its target, or nothing left to reclaim (the low mark: the
  kernel gives back at most si_mem_available() pages), with no progress
  for stall_timeout: a stall, as before.
"""

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

WAIT, NUDGE, STALL = 'wait', 'nudge', 'stall'
# Idle this long at delay 1, try 1 above its target: cancelled. Twice
# the thread's shortest sleep (1 s), so that one pass that took a while
# is not taken for a cancel (an assumption; a nudge too many costs two
# mem-set calls and is bounded by max_nudges).
NUDGE_IDLE_S = 2.0


class Verdict:
    """One balloon wait's judge of its pauses."""

    def __init__(self, stall_timeout, backoff_budget_s, max_nudges):
        self.stall_timeout = stall_timeout
        self.backoff_budget_s = backoff_budget_s
        self.max_nudges = max_nudges
        # When the current excused pause began to count as a stall.
        self._excused_since = None
        self._last_nudge_t = None
        # Nudges since progress was last seen.
        self.fruitless = 0
        self.nudges = 0
        self.reason = None
        # Since when dom0's balloon has shown delay 1, try 1 (or None).
        self._calm_since = None
        # (retry_count, dom0's size) the last look saw in a back-off.
        self._last_try = None

    def judge(self, t, prog, state, current_mb, target_mb):
        """WAIT, NUDGE or STALL for this look; ``reason`` says why."""
        if state is None:
            return self._say(STALL if prog.stalled else WAIT,
                             'no progress for stall_timeout')
        if not prog.stalled:
            self._excused_since = None
        if prog.idle_s == 0:
            # Progress since the last look: the nudges so far worked.
            self.fruitless = 0
        remaining = current_mb - target_mb
        if remaining <= 0:
            return self._plain(prog, 'dom0 is at its target')
        if (state.available_mb is not None and
                state.available_mb <= remaining):
            return self._plain(prog, 'dom0 has %d MiB left to reclaim, '
                               '%d MiB to give' % (state.available_mb,
                                                   remaining))
        if prog.stalled and self._excused_since is None:
            self._excused_since = t
        if (self._excused_since is not None and
                t - self._excused_since > self.backoff_budget_s):
            return self._say(STALL, 'no progress for %.1f s while dom0\'s '
                             'balloon backed off (budget %.0f s)'
                             % (prog.idle_s, self.backoff_budget_s))
        if state.schedule_delay_s > 1 or state.retry_count > 1:
            # It tried (the last nudge woke it): a back-off, bounded by
            # the budget, not a nudge gone unanswered.
            self._calm_since = None
            self.fruitless = 0
            self._last_try = (state.retry_count, current_mb)
            return self._say(WAIT, 'backing off (delay %d s, try %d)' % (
                state.schedule_delay_s, state.retry_count))
        last_try, self._last_try = self._last_try, None
        if (last_try is not None and state.max_retry_count and
                last_try[0] >= state.max_retry_count and
                current_mb >= last_try[1] and
                self.fruitless < self.max_nudges):
            # Its last allowed try, then delay 1, try 1 with not a page
            # given: update_schedule() cancelled it (a pass that worked
            # gives 2 MiB and goes on). No need to wait NUDGE_IDLE_S.
            return self._nudge(t, 'cancelled after try %d of %d' % (
                last_try[0], state.max_retry_count))
        if prog.idle_s == 0 or self._calm_since is None:
            # Idle at delay 1, try 1 counts from the first look that saw
            # it: a balloon that just came out of a back-off passes again.
            self._calm_since = t
        since = max(t - prog.idle_s, self._calm_since,
                    self._last_nudge_t or -1e18)
        if t - since <= NUDGE_IDLE_S:
            return self._say(WAIT, 'idle for %.1f s' % (t - since))
        if self.fruitless < self.max_nudges:
            return self._nudge(t, 'idle for %.1f s above its target: '
                               'cancelled' % (t - since))
        return self._plain(prog, 'still idle after %d nudges'
                           % self.fruitless)

    def _nudge(self, t, why):
        self.fruitless += 1
        self.nudges += 1
        self._last_nudge_t = t
        return self._say(NUDGE, why)

    def _plain(self, prog, why):
        return self._say(STALL if prog.stalled else WAIT, why)

    def _say(self, verdict, why):
        self.reason = why
        return verdict
