"""Our strategy: the driver's own spawn flow."""


class ProgressAwareStrategy:
    """Wait while dom0 makes progress; reserve first; revert on failure."""

    def __init__(self, conf, driver):
        self.driver = driver

    def spawn(self, spec):
        return self.driver.spawn(spec.name, spec.memory_mb, spec.vcpus,
                                 spec.guest_type)
