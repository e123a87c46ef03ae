"""A fake host whose dom0 balloons like Linux's drivers/xen/balloon.c.

For the balloon wait's verdict, one task at a time, with failures placed
by hand (the simulator's model, simulator/balloon_driver.py, derives them
from page cache and reclaim): only what the wait, BalloonDom0 and the
ledger use.
The balloon thread, as in Linux 5.15+ (Debian 12's 6.1):

- it gives back ``release_rate_mb_s`` while page allocations succeed;
  inside a scripted ``fail_windows`` interval (page cache kswapd is still
  reclaiming; GFP_BALLOON is __GFP_NORETRY) or at dom0's low mark an
  allocation fails;
- update_schedule(): success resets delay and retry to 1; a failure
  increments retry and, past max_retry_count (not 0), resets both to 1
  and cancels (BP_ECANCELED), else doubles the delay up to
  max_schedule_delay (BP_EAGAIN);
- balloon_thread(): BP_EAGAIN sleeps schedule_delay s, BP_ECANCELED up
  to 3600 s; either wakes early when the credit (target - current)
  changes from what it was at sleep (balloon_thread_cond), so the same
  target again does not wake it and a different one does.

MemAvailable is dom0 above its low mark (page cache counts: it is
reclaimable). Defaults: captures a160 (max_schedule_delay 20,
max_retry_count 4).
"""

import math

from xenballoon_driver import clock as clock_mod
from xenballoon_driver.hypervisor import base

STEP_S = 0.01
DONE, EAGAIN, ECANCELED, RUNNING = 'done', 'eagain', 'ecanceled', 'running'


class LinuxDom0(base.Hypervisor):
    hypervisor_type = 'xen (fake linux dom0)'

    def __init__(self, total_mb, dom0_mb, low_mb, release_rate_mb_s=1024,
                 fail_windows=(), max_delay=20, max_retry=4, visible=True):
        self.clock = clock_mod.VirtualClock()
        self.t = 0.0
        self.total_mb, self.low_mb = total_mb, low_mb
        self.current = float(dom0_mb)
        self.target = dom0_mb
        self.rate = release_rate_mb_s
        self.fail_windows = list(fail_windows)
        self.max_delay, self.max_retry = max_delay, max_retry
        self.delay = self.retry = 1
        self.state, self.wake_at, self.slept_credit = DONE, math.inf, 0.0
        self.visible = visible
        self.targets = []         # every target set, in order
        self.set_at = []          # and when
        self.cancelled_at = []    # when the thread gave up
        self.stuck_since = None   # when dom0 last stopped moving

    # -- the balloon thread ----------------------------------------------

    def credit(self):
        return self.target - self.current

    def _fails(self):
        return self.current <= self.low_mb or any(
            a <= self.t < b for a, b in self.fail_windows)

    def _sleep(self, state, seconds):
        self.state, self.wake_at = state, self.t + seconds
        self.slept_credit = self.credit()

    def _update_schedule(self, ok):
        if ok:
            self.delay = self.retry = 1
            self._sleep(DONE, 3600)
            return
        self.retry += 1
        if self.max_retry and self.retry > self.max_retry:
            self.delay = self.retry = 1
            self.cancelled_at.append(self.t)
            self._sleep(ECANCELED, 3600)
            return
        self.delay = min(self.delay * 2, self.max_delay)
        self._sleep(EAGAIN, self.delay)

    def _woken(self):
        if self.t >= self.wake_at:
            return True
        if self.state == DONE:
            return abs(self.credit()) > 1e-9
        return abs(self.credit() - self.slept_credit) > 1e-9

    def _step(self, dt):
        if self.state != RUNNING:
            if not self._woken():
                return
            if self.credit() >= 0:
                self._sleep(DONE, 3600)
                return
            self.state = RUNNING
        if self.credit() >= 0:
            self._update_schedule(True)
        elif self._fails():
            self._update_schedule(False)
        else:
            # A whole chunk allocated: update_schedule's success.
            self.delay = self.retry = 1
            self.current = max(self.target, self.low_mb,
                               self.current - self.rate * dt)

    def advance(self):
        while self.t + STEP_S <= self.clock.now() + 1e-9:
            was = self.current
            self._step(STEP_S)
            self.t += STEP_S
            if self.current < was:
                self.stuck_since = None
            elif self.current > self.target and self.stuck_since is None:
                self.stuck_since = self.t - STEP_S

    # -- the backend contract (what the wait uses) ----------------------

    def snapshot(self):
        self.advance()
        free = self.total_mb - self.current
        return base.Snapshot(
            host=base.HostMemory(total_mb=self.total_mb,
                                 free_mb=int(free)),
            dom0=self.dom0_memory(), domains={})

    def host_memory(self):
        return self.snapshot().host

    def dom0_memory(self):
        self.advance()
        return base.Dom0Memory(current_mb=int(self.current),
                               target_mb=self.target)

    def balloon_state(self):
        if not self.visible:
            return None
        self.advance()
        return base.BalloonState(
            schedule_delay_s=self.delay, max_schedule_delay_s=self.max_delay,
            retry_count=self.retry, max_retry_count=self.max_retry,
            available_mb=int(max(0.0, self.current - self.low_mb)))

    def set_dom0_target(self, target_mb):
        base.check_dom0_target('mem-set', target_mb)
        self.advance()
        self.targets.append(target_mb)
        self.set_at.append(self.clock.now())
        self.target = target_mb

    def list_domains(self):
        return []

    def host_info(self):
        raise NotImplementedError

    def create_domain(self, spec):
        raise NotImplementedError

    def destroy_domain(self, name):
        raise NotImplementedError

    def shutdown_domain(self, name):
        raise NotImplementedError

    def pause_domain(self, name):
        raise NotImplementedError

    def unpause_domain(self, name):
        raise NotImplementedError

    def console_output(self, name):
        raise NotImplementedError
