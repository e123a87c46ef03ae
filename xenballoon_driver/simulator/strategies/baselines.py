"""The anchors' balloon waits, reproduced for comparison only.

Each follows its toolstack's freemem() loop: ask dom0 for the shortfall
relative to its current target, then wait in the toolstack's own way.
None of them reserves memory, re-inflates dom0 on failure, or knows our
dom0 floor: that is the behaviour being compared.

- xl-4.4 (tools/libxl/xl_cmdimpl.c freemem): 3 rounds of set target,
  poll free memory once a second for 10 s, wait up to 1 s for dom0's
  target; then ERROR_NOMEM. About 33 s in all, whatever the progress.
- libvirt-2014 (src/libxl/libxl_domain.c libxlDomainFreeMem): the same
  loop, but it returns success when the rounds run out and goes on to
  build while dom0 is still ballooning.
- xl-4.17 (tools/xl/xl_vmcontrol.c freemem): 30 s of credit, charged for
  all time spent waiting; each wait (libxl_wait_for_memory_target, 10 s)
  polls dom0 every 2 s and fails after 10 s without progress or as soon
  as dom0 grows. Success is checked before the credit.
"""

from xenballoon_driver import exception

NOMEM = 'ERROR_NOMEM'


class _Baseline:
    def __init__(self, conf, driver):
        # The toolstack alone: no ledger, no flow.
        self.backend = driver.backend
        self.clock = self.backend.clock

    def spawn(self, spec):
        need = spec.footprint_mb
        if not self.freemem(need):
            free = self.backend.host_memory().usable_mb
            raise exception.OutOfMemory(name=spec.name, need_mb=need,
                                        free_mb=free)
        try:
            return self.backend.create_domain(spec)
        except exception.XenBalloonException:
            # libxl destroys a domain whose creation failed.
            try:
                self.backend.destroy_domain(spec.name)
            except exception.DomainNotFound:
                pass
            raise

    def _free(self):
        return self.backend.host_memory().usable_mb

    def _lower_target_by(self, shortfall_mb):
        """libxl_set_memory_target(ctx, 0, -shortfall, relative=1)."""
        target = self.backend.dom0_memory().target_mb - shortfall_mb
        self.backend.set_dom0_target(target)

    def _wait_for_free_memory(self, need, wait_secs):
        while wait_secs > 0:
            if self._free() >= need:
                return True
            wait_secs -= 1
            self.clock.sleep(1)
        return False

    def _wait_for_target_briefly(self, wait_secs):
        while wait_secs > 0:
            dom0 = self.backend.dom0_memory()
            if dom0.current_mb <= dom0.target_mb:
                return
            wait_secs -= 1
            self.clock.sleep(1)

    def _three_rounds(self, need):
        for _ in range(3):
            free = self._free()
            if free >= need:
                return True
            self._lower_target_by(need - free)
            if self._wait_for_free_memory(need, 10):
                return True
            self._wait_for_target_briefly(1)
        return False


class Xl44Strategy(_Baseline):
    def freemem(self, need):
        return self._three_rounds(need)


class Libvirt2014Strategy(_Baseline):
    def freemem(self, need):
        self._three_rounds(need)
        return True  # the bug: goes on to build whatever happened


class Xl417Strategy(_Baseline):
    CREDIT_S = 30.0

    def freemem(self, need):
        credit = self.CREDIT_S
        while True:
            free = self._free()
            if free >= need:
                return True
            if credit <= 0:
                return False
            self._lower_target_by(need - free)
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
