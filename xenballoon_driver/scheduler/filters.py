"""Host filters, shaped like Nova's: ``host_passes(host_state, spec)``.

``spec`` is anything with ``footprint_mb`` (the guest's memory plus Xen's
overhead, hypervisor/footprint.py), such as hypervisor.base.DomainSpec.
"""


class BalloonMemoryFilter:
    """Pass hosts whose free + balloonable - reserved covers the request.

    The same test the host's ledger applies when the spawn reserves its
    memory, so a host that passes does not refuse the request (unless it
    changed in between). With [scheduler] max_balloon_time_s set, also
    reject hosts where the request would wait longer than that for dom0.
    """

    def __init__(self, conf):
        self.max_balloon_time_s = conf.scheduler.max_balloon_time_s

    def host_passes(self, host_state, spec):
        need = spec.footprint_mb
        if not host_state.fits(need):
            return False
        return not (self.max_balloon_time_s and host_state.balloon_time_s(
            need) > self.max_balloon_time_s)
