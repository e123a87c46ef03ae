"""Our strategy: the driver's own spawn flow."""

from xenballoon_driver import driver


class ProgressAwareStrategy:
    """Wait while dom0 makes progress; reserve first; revert on failure."""

    def __init__(self, conf, backend, ledger):
        self.driver = driver.XenBalloonDriver(conf, backend, ledger)

    def spawn(self, spec):
        return self.driver.spawn(spec.name, spec.memory_mb, spec.vcpus,
                                 spec.guest_type,
                                 fail_at_fraction=spec.fail_at_fraction)
