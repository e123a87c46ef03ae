"""Our strategy: the driver's own spawn flow."""


class ProgressAwareStrategy:
    """Wait while dom0 makes progress; reserve first; revert on failure."""

    def __init__(self, conf, driver):
        self.driver = driver
        # As init_host would: the headroom ([xenballoon] free_headroom_mb)
        # is released from time 0, before the first request.
        driver.keep_headroom()

    def spawn(self, spec):
        return self.driver.spawn(spec.name, spec.memory_mb, spec.vcpus,
                                 spec.guest_type)
