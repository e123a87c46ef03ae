"""taskflow's Redis jobboard with claims that lapse, oldest job first.

taskflow's Redis board claims without an expiry unless told: ours always
claims with ``claim_expiry_s``, so a dead conductor's claim lapses.
taskflow's board also hands out the newest job first (its jobs sort by
sequence, listed in reverse): ours hands out the oldest first, so that
under a backlog no request waits behind every later one.
"""

from taskflow.jobs.backends import impl_redis

from xenballoon_driver.jobboard import order


class Board(impl_redis.RedisJobBoard):
    """taskflow's Redis board whose claims lapse unless refreshed."""

    def __init__(self, name, conf, claim_expiry_s, persistence=None):
        super().__init__(name, conf, persistence=persistence)
        self.claim_expiry_s = claim_expiry_s

    def claim(self, job, who, expiry=None):
        return super().claim(job, who, expiry=expiry or self.claim_expiry_s)

    def _fetch_jobs(self):
        return order.oldest_first(super()._fetch_jobs())
