"""What the scheduler knows of one host, and what placing a request does.

Built from ``get_available_resource()``: Nova's figures plus the driver's
``xenballoon`` extras. All memory is MiB and follows the ledger's
arithmetic (ledger/arithmetic.py), so that a request the scheduler places
is never refused when the host reserves it:

- ``available_mb``: free + what dom0 can give down to its floor - what
  spawns in flight were promised; a request fits when its footprint
  (memory + Xen overhead, hypervisor/footprint.py) is at most this.
- ``free_mb - reserved_mb``: free memory promised to nobody. What a
  request needs beyond it, dom0 must release first (requests are served
  in arrival order, so earlier reservations come before it).
"""

import dataclasses


@dataclasses.dataclass
class HostState:
    name: str
    total_mb: int
    free_mb: int
    balloonable_mb: int
    reserved_mb: int
    available_mb: int
    release_rate_mb_s: float
    vcpus: int = 0
    vcpus_used: int = 0
    # Requests placed on this state since it was read from the host.
    placed: int = 0
    # Spawn jobs on the host's board whose flow had not reserved yet when
    # the state was read (Scheduler.place counts them in).
    posted: int = 0

    @classmethod
    def from_resources(cls, name, resources):
        extra = resources['xenballoon']
        return cls(name=name, total_mb=resources['memory_mb'],
                   free_mb=extra['free_mb'],
                   balloonable_mb=extra['balloonable_mb'],
                   reserved_mb=extra['reserved_mb'],
                   available_mb=extra['available_mb'],
                   release_rate_mb_s=extra['release_rate_mb_s'],
                   vcpus=resources['vcpus'],
                   vcpus_used=resources['vcpus_used'])

    def fits(self, footprint_mb):
        """The ledger's test: reserve() refuses exactly when this is false."""
        return footprint_mb <= self.available_mb

    def balloon_mb(self, footprint_mb):
        """MiB dom0 must release before this request's memory is free."""
        return max(0, footprint_mb - (self.free_mb - self.reserved_mb))

    def balloon_time_s(self, footprint_mb):
        """Predicted seconds of ballooning before the request can build."""
        return self.balloon_mb(footprint_mb) / self.release_rate_mb_s

    def consume_from_request(self, spec):
        """Account for ``spec`` placed here, as the ledger's reserve will.

        Its footprint is promised (reserved, no longer available); what
        free memory not promised to anyone cannot cover comes out of
        what dom0 can still give.
        """
        self.promise_mb(spec.footprint_mb)
        self.vcpus_used += spec.vcpus
        self.placed += 1

    def count_posted(self, spec):
        """Account for a posted spawn of ``spec`` its ledger lacks yet.

        As consume_from_request: its conductor's reserve will take it.
        """
        self.promise_mb(spec.footprint_mb)
        self.vcpus_used += spec.vcpus
        self.posted += 1

    def promise_mb(self, need):
        """Account for ``need`` MiB promised since the host's report."""
        unpromised = self.available_mb - self.balloonable_mb
        from_dom0 = need - max(0, min(need, unpromised))
        self.balloonable_mb = max(0, self.balloonable_mb - from_dom0)
        self.reserved_mb += need
        self.available_mb -= need
