"""A board and jobs in memory, shaped as taskflow's Redis ones are used.

What the code under test calls on them: post, claim, iterjobs,
claim_expiry_s; a job's uuid, name, details, book and extend_expiry.
"""

import contextlib
import itertools
import threading

from xenballoon_driver.jobboard import posting


class Job:
    def __init__(self, uuid, name, book, details):
        self.uuid, self.name, self.book, self.details = (uuid, name, book,
                                                         details)
        self.refreshes = 0
        self.refreshed = threading.Event()
        # What extend_expiry answers: False once Redis forgot the claim.
        self.claim_alive = True

    def extend_expiry(self, expiry):
        self.refreshes += 1
        if self.refreshes >= 2:
            self.refreshed.set()
        return self.claim_alive


class Board:
    def __init__(self, persistence=None, claim_expiry_s=30.0):
        self.persistence = persistence
        self.claim_expiry_s = claim_expiry_s
        self.posted = []
        self.claims = []
        # What was stored of the job's flow when its job was posted.
        self.stored_at_post = []
        self._ids = itertools.count(1)

    def post(self, name, book=None, details=None):
        if self.persistence is not None:
            self.stored_at_post.append(posting.stored(
                self.persistence, details['flow_uuid']))
        job = Job('job-%d' % next(self._ids), name, book, details)
        self.posted.append(job)
        return job

    def claim(self, job, who, expiry=None):
        self.claims.append((job.uuid, who))

    def iterjobs(self, only_unclaimed=False, ensure_fresh=False):
        """The jobs posted, claimed or not (none is ever consumed here)."""
        return iter(list(self.posted))


class Boards:
    """Stands in for jobboard.board.Boards: one fake board per host."""

    def __init__(self):
        self.boards = {}

    def get(self, driver):
        return self.boards.setdefault(driver.host,
                                      Board(driver.persistence))

    def close(self):
        self.boards.clear()


@contextlib.contextmanager
def nothing():
    yield
