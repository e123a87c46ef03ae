"""Posting again the job of a flow saved but never posted.

posting.post saves a flow's record, THEN posts its job: a poster killed
between the two leaves a flow that start-up recovery leaves to the
conductors (resume.left_to_conductors), on a board that has no job for
it. The host's conductor sweeps at its start and every ``[jobboard]
sweep_interval_s``: each flow of its host left to the conductors, saved
at least ``[jobboard] sweep_grace_s`` ago, whose id no job on the board
names (claimed or not), gets a new job, with a WARNING.

The grace counts from the flow's logbook's ``created_at``: set by the
poster's clock when it built the record, just before saving it (no
posted-at is stored: the job's own presence on the board is the mark).

A duplicate job is harmless, so the grace need not be tight: the
conductor re-reads the job's flow under the flow's lock and consumes a
job whose flow ended (or is gone), and leaves one whose flow another
process runs until that run ended. A poster slower than the grace costs
one more job, never a second run.
"""

import datetime
import threading

from oslo_log import log as logging

from xenballoon_driver import exception
from xenballoon_driver.flows import engine as engine_mod
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import registry
from xenballoon_driver.flows import resume
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import posting

LOG = logging.getLogger(__name__)


def _on_board(board):
    return {(job.details or {}).get('flow_uuid') for job in board.iterjobs()}


def unposted(driver, board, grace_s=0.0, now=None):
    """[(book, detail)] of this host's saved flows no job names.

    Only flows left to the conductors (a job's flow not started, or
    suspended) and saved at least ``grace_s`` seconds before ``now``.
    The board is listed before the flows: a job consumed after the
    listing had its flow ended first, so the flow is read as ended, not
    taken for one never posted.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    posted = _on_board(board)
    return [(book, detail) for book, detail in listing.details(
        driver.persistence, driver.host, unfinished=True)
        if detail.uuid not in posted and _left(driver, detail) and
        listing.age(book, now) >= grace_s]


def _left(driver, detail):
    # A discarded job's flow is REVERTED with no task run: finished.
    return (registry.owner(detail) == driver.host and
            detail.state not in listing.FINISHED and
            listing.state(detail) != listing.QUARANTINED and
            resume.left_to_conductors(detail))


def sweep(driver, board, grace_s, now=None):
    """Post again every flow unposted() finds; [(flow id, job id)].

    Each is re-read under its lock first (as recovery acts): one that a
    process runs now, or that ended since the listing, is left alone.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    reposted = []
    for book, listed in unposted(driver, board, grace_s, now):
        try:
            with engine_mod.owning(driver.lock_dir, listed.uuid):
                detail = posting.stored(driver.persistence, listed.uuid)
                if detail is None or not _left(driver, detail):
                    continue
                job = posting.post_again(board, book, detail)
        except exception.FlowBusy:
            continue  # a conductor runs it: its job is on the board
        LOG.warning('Flow %s (%s) was saved %.0f s ago but its job was '
                    'never posted (its poster died in between?): posted '
                    'it again as job %s', detail.uuid, book.name,
                    listing.age(book, now), job.uuid)
        reposted.append((detail.uuid, job.uuid))
    return reposted


class Sweeper:
    """Sweeps the host's board now, then every sweep_interval_s, in a thread.

    Each sweep opens the board afresh: a Redis restart between two
    sweeps costs nothing. A sweep that fails is logged and tried again
    at the next one.
    """

    def __init__(self, conf, driver):
        self.conf, self.driver = conf, driver
        self.stopped = threading.Event()
        self._thread = None

    def once(self):
        jobboard = self.conf.jobboard
        try:
            with board_mod.connected(self.conf, self.driver.host,
                                     self.driver.persistence) as board:
                return sweep(self.driver, board, jobboard.sweep_grace_s)
        except Exception as err:  # Redis or the database away: next time
            LOG.warning('Sweep of the unposted flows failed: %s', err)
            return []

    def start(self):
        self._thread = threading.Thread(target=self._loop, name='sweep',
                                        daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        while not self.stopped.wait(self.conf.jobboard.sweep_interval_s):
            self.once()

    def stop(self):
        self.stopped.set()
        if self._thread is not None:
            self._thread.join()
