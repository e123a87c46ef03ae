"""Commands whose flow runs as a job when [jobboard] is enabled.

With the jobboard on, the host's xenballoon-conductor is its one runner
of flows: a spawn, destroy, stop, start, reboot, suspend or resume is
posted on the host's board (its flow saved first, plain-data arguments:
jobboard/posting.py) and the command waits for the job's result and
prints what the direct path prints, or with --async prints the job's id
and returns. The command checks its input and the host's state first,
as the direct path does, so a refused request posts nothing. A signal
stops the wait only: the job goes on, and a killed waiter leaves nothing
half done.
"""

import dataclasses
import typing

from xenballoon_driver.cmd import base
from xenballoon_driver.cmd import jobs
from xenballoon_driver.cmd import signals
from xenballoon_driver import exception
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import posting

POSTED_COLUMNS = ('job_id', 'flow_id', 'name')


def add_async(parser):
    parser.add_argument('--async', dest='post_only', action='store_true',
                        help='with [jobboard] enabled: post the job, '
                             'print its id and return')
    return parser


def post_and_wait(command, driver, received, post_only, factory, store,
                  what, name, **args):
    """Post ``factory``'s flow; (job, flow_id, results or None).

    results is None with ``post_only``; else what the job's tasks
    provided, or the job's failure raised as the direct path raises it.
    ``received``: the command's signals.Received (ends the wait only).
    """
    with board_mod.connected(command.conf(), driver.host,
                             driver.persistence) as board:
        job, flow_id = posting.post(driver, board, factory, store,
                                    '%s %s' % (what, name), **args)
    if post_only:
        return job, flow_id, None
    results = posting.wait(driver, flow_id,
                           command.conf().jobboard.poll_interval_s,
                           stop=received.event)
    if results is None:
        raise exception.JobWaitSignalled(what=what, name=name, job=job.uuid,
                                         **received.details())
    return job, flow_id, results


def posted(job, flow_id, name):
    """What --async prints."""
    return POSTED_COLUMNS, (job.uuid, flow_id, name)


@dataclasses.dataclass
class Plan:
    """A flow to post, and how to show its results as the direct path."""

    factory: str
    store: dict
    what: str  # the request's verb: 'destroy', 'power-off', ...
    show: typing.Callable  # show(results) -> (columns, values)
    args: dict = dataclasses.field(default_factory=dict)


class JobCommand(base.ShowOne):
    """A command that runs ``direct`` here, or posts its ``plan``.

    ``plan(driver, args)`` checks the request and returns a Plan, or the
    (columns, values) to print when there is nothing to run.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', help='guest name')
        return add_async(parser)

    def direct(self, args):
        raise NotImplementedError

    def plan(self, driver, args):
        raise NotImplementedError

    def take_action(self, args):
        if not self.conf().jobboard.enabled:
            if args.post_only:
                jobs.jobboard_enabled(self.conf())
            return self.direct(args)
        with signals.caught() as received:
            driver = self.driver()
            plan = self.plan(driver, args)
            if not isinstance(plan, Plan):
                return plan  # nothing to run
            job, flow_id, results = post_and_wait(
                self, driver, received, args.post_only, plan.factory,
                plan.store, plan.what, args.name, **plan.args)
        if results is None:
            return posted(job, flow_id, args.name)
        return plan.show(results)
