"""The anchors' balloon waits, reproduced for comparison only.

Each follows its toolstack's freemem() loop: ask dom0 for the shortfall
relative to its current target, then wait in the toolstack's own way.
None of them reserves memory, re-inflates dom0 on failure, or knows our
dom0 floor: that is the behaviour being compared.

- xl-4.4 (tools/libxl/xl_cmdimpl.c freemem, libxl 4.4's
  tools/libxl/libxl.c): 3 rounds of set target, poll free memory once a
  second for 10 s, then libxl_wait_for_memory_target(1), which sleeps
  1 s and always returns 0; then ERROR_NOMEM. About 33 s in all,
  whatever the progress.
- libvirt-2014 (src/libxl/libxl_domain.c libxlDomainFreeMem, libvirt
  1.2): the same rounds on the same libxl, but its loop keeps the last
  libxl_wait_for_memory_target's 0 as its result: when the rounds run
  out it reports success and builds while dom0 is still ballooning.
- xl-4.17 (tools/xl/xl_vmcontrol.c freemem): 30 s of credit, charged for
  all time spent waiting; each wait (libxl_wait_for_memory_target, 10 s)
  polls dom0 every 2 s and fails after 10 s without progress or as soon
  as dom0 grows. Success is checked before the credit.

libxl_set_memory_target (relative, both versions): a decrease larger
than dom0's current target gives a new target of 0; a new target below
LIBXL_MIN_DOM0_MEM (128 MiB) is refused and the target left as it was.
libxl 4.4 returns 1 there, which freemem (rc < 0) and libvirt do not
see as an error: they go on waiting. libxl 4.17 returns ERROR_INVAL and
xl's freemem fails. dom0's target never goes negative.

libxl 4.4 (until "libxl: remove freemem_slack", Xen 4.6) also keeps a
free-memory slack: libxl_get_free_memory and libxl_wait_for_free_memory
count free memory minus /local/domain/0/memory/freemem-slack, which
libxl__fill_dom0_memory_info writes on first use as the host's memory
not in dom0 (at most 15 % of it). On a host whose dom0 holds most of the
memory that is nearly all the free memory at the first create.

xl-4.4 and xl-4.17 hold xl's global lock (/var/lock/xl) around freemem
+ create: ``xl create`` takes it before freemem and lets it go once the
domain is created (tools/libxl/xl_cmdimpl.c create_domain in 4.4;
tools/xl/xl_vmcontrol.c create_domain in 4.17, with autoballoon on), so
concurrent creates on one host queue. fcntl(F_SETLKW) blocks until the
holder lets go; here waiters go first come, first served (an
assumption: POSIX does not order them), parked on the simulated clock
(clock.ClockLock). libvirt serialises only jobs on the same domain
(libxlDomainObjBeginJob): different guests start at once.
"""

import contextlib

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import exception

NOMEM = 'ERROR_NOMEM'
# LIBXL_MIN_DOM0_MEM (tools/libxl/libxl_internal.h): 128 * 1024 KiB.
MIN_DOM0_MB = 128
# libxl__fill_dom0_memory_info: the slack is at most 15 % of the host.
SLACK_MAX_SHARE = 0.15


class _Baseline:
    # xl create holds /var/lock/xl around freemem + create.
    LOCKED = False
    # libxl before 4.6 counts free memory minus freemem-slack.
    SLACK = False

    def __init__(self, conf, driver):
        # The toolstack alone: no ledger, no flow.
        self.backend = driver.backend
        self.clock = self.backend.clock
        # One strategy per simulated host: the lock and the xenstore
        # node are the host's.
        self.lock = clock_mod.ClockLock(self.clock)
        self.slack_mb = None

    def spawn(self, spec):
        need = spec.footprint_mb
        held = self.lock if self.LOCKED else contextlib.nullcontext()
        with held:
            if not self.freemem(need):
                raise exception.OutOfMemory(name=spec.name, need_mb=need,
                                            free_mb=self._free())
            try:
                return self.backend.create_domain(spec)
            except exception.XenBalloonException as err:
                failed = err
        # error_out: xl lets the lock go, then destroys what was created.
        try:
            self.backend.destroy_domain(spec.name)
        except exception.DomainNotFound:
            pass
        raise failed

    def _slack(self):
        if not self.SLACK:
            return 0
        if self.slack_mb is None:
            # Written once, by the first call that needs it.
            total = self.backend.host_memory().total_mb
            dom0 = self.backend.dom0_memory().current_mb
            self.slack_mb = int(min(total - dom0, SLACK_MAX_SHARE * total))
        return self.slack_mb

    def _free(self):
        """libxl_get_free_memory: free memory, less the slack (4.4)."""
        return max(0, self.backend.host_memory().usable_mb - self._slack())

    def _lower_target_by(self, shortfall_mb):
        """libxl_set_memory_target(ctx, 0, -shortfall, relative=1).

        False when libxl refuses the new target (below 128 MiB).
        """
        current = self.backend.dom0_memory().target_mb
        target = 0 if shortfall_mb > current else current - shortfall_mb
        if target < MIN_DOM0_MB:
            return False  # "below the minimum threshold": target kept
        self.backend.set_dom0_target(target)
        return True

    def _wait_for_free_memory(self, need, wait_secs):
        while wait_secs > 0:
            if self._free() >= need:
                return True
            wait_secs -= 1
            self.clock.sleep(1)
        return False

    def _three_rounds(self, need):
        for _ in range(3):
            free = self._free()
            if free >= need:
                return True
            # libxl 4.4 refuses a target below 128 MiB with rc 1: not < 0,
            # so neither xl nor libvirt stops there.
            self._lower_target_by(need - free)
            if self._wait_for_free_memory(need, 10):
                return True
            # libxl_wait_for_memory_target(ctx, 0, 1) in 4.4: one pass of
            # its do-while (sleep 1 s, read target and dom0), returns 0.
            self.clock.sleep(1)
            self.backend.dom0_memory()
        return False


class Xl44Strategy(_Baseline):
    LOCKED = True
    SLACK = True

    def freemem(self, need):
        return self._three_rounds(need)


class Libvirt2014Strategy(_Baseline):
    SLACK = True

    def freemem(self, need):
        self._three_rounds(need)
        return True  # the bug: goes on to build whatever happened


class Xl417Strategy(_Baseline):
    LOCKED = True
    CREDIT_S = 30.0

    def freemem(self, need):
        credit = self.CREDIT_S
        while True:
            free = self._free()
            if free >= need:
                return True
            if credit <= 0:
                return False
            if not self._lower_target_by(need - free):
                return False  # ERROR_INVAL from libxl: freemem fails
            start = self.clock.now()
            if not self._wait_for_memory_target(10):
                return False
            credit -= self.clock.now() - start

    def _wait_for_memory_target(self, wait_secs):
        target = self.backend.dom0_memory().target_mb
        prev = None
        while True:
            self.clock.sleep(2)
            current = self.backend.dom0_memory().current_mb
            if prev is not None and current > prev:
                return False  # dom0 grew: give up at once
            if prev is not None and current == prev:
                wait_secs -= 2
            prev = current
            if wait_secs <= 0 or current <= target:
                return current <= target
