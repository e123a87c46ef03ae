"""``xenballoon jobs``: this host's jobs on its jobboard."""

from xenballoon_driver.cmd import base
from xenballoon_driver import exception
from xenballoon_driver.flows import listing
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import posting
from xenballoon_driver.jobboard import sweep

NOT_POSTED = 'NOT POSTED'


def jobboard_enabled(conf):
    if not conf.jobboard.enabled:
        raise exception.InvalidConfig(
            option='[jobboard] enabled',
            reason='it is false: this host posts no jobs')


def _owner(board, job):
    # taskflow's find_owner fails (TypeError) on a job nobody claims: the
    # claim may lapse between the two reads.
    try:
        return board.find_owner(job)
    except TypeError:
        return None


class ListJobs(base.Lister):
    """List the jobs on this host's board: who holds each, and its flow.

    state is the board's (UNCLAIMED, CLAIMED); owner the conductor that
    holds the claim; flow_state the job's flow as stored. A job's flow
    saved but on no job of the board (its poster died before posting:
    the conductor's sweep posts it again) is listed as NOT POSTED.
    """

    COLUMNS = ('job_id', 'name', 'state', 'owner', 'flow_id',
               'flow_state')

    def take_action(self, parsed_args):
        conf = self.conf()
        jobboard_enabled(conf)
        driver = self.driver(recover=False)
        rows = []
        with board_mod.connected(conf, driver.host,
                                 driver.persistence) as board:
            for job in board.iterjobs():
                flow_id = (job.details or {}).get('flow_uuid', '')
                detail = flow_id and posting.stored(driver.persistence,
                                                    flow_id)
                state = job.state
                owner = _owner(board, job) if state == 'CLAIMED' else None
                rows.append((job.uuid, job.name, state, owner or '',
                             flow_id,
                             listing.state(detail) if detail else 'GONE'))
            for book, detail in sweep.unposted(driver, board):
                rows.append(('', book.name, NOT_POSTED, '', detail.uuid,
                             listing.state(detail)))
        return self.COLUMNS, rows
