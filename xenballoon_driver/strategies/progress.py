"""Our strategy: the driver's own spawn flow."""

from taskflow.persistence import backends

from xenballoon_driver import driver


class ProgressAwareStrategy:
    """Wait while dom0 makes progress; reserve first; revert on failure."""

    def __init__(self, conf, backend, ledger):
        # Flows persisted in memory: simulate touches no state on disk.
        memory = backends.fetch({'connection': 'memory://'})
        self.driver = driver.XenBalloonDriver(conf, backend, ledger, memory)

    def spawn(self, spec):
        return self.driver.spawn(spec.name, spec.memory_mb, spec.vcpus,
                                 spec.guest_type,
                                 fail_at_fraction=spec.fail_at_fraction)
