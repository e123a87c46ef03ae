"""``xenballoon-conductor``: runs its host's jobs from the jobboard.

A plain loop (taskflow's blocking conductor) in one process per compute
host; run as many as wanted, each claims one job at a time. At start it
recovers first (driver.init_host): what its previous incarnation left
half-done is finished or undone, and the jobs of those flows are then
consumed when claimed again. The first SIGTERM, SIGINT or SIGHUP stops
claiming and suspends the job in progress at its next task boundary (a
balloon wait runs to its end): the job goes back on the board, and the
next conductor of the host goes on with its flow from there. A second
signal cuts a balloon wait short (the spawn is reverted).

Beside the loop, a sweep (jobboard/sweep.py) posts again, at start and
every [jobboard] sweep_interval_s, the job of any flow of the host saved
but never posted (its poster died between the two steps).
"""

import argparse
import os
import signal
import sys

from oslo_log import log as logging

from xenballoon_driver.cmd import base
from xenballoon_driver.cmd import errors
from xenballoon_driver.cmd import logs
from xenballoon_driver.cmd import signals
from xenballoon_driver.cmd import state_dir
from xenballoon_driver import exception
from xenballoon_driver.jobboard import board as board_mod
from xenballoon_driver.jobboard import conductor as conductor_mod
from xenballoon_driver.jobboard import sweep

LOG = logging.getLogger(__name__)


def parser():
    p = argparse.ArgumentParser(
        prog='xenballoon-conductor',
        description='Claim and run this host\'s jobs from its jobboard '
                    '([jobboard] options; [jobboard] enabled must be true).')
    p.add_argument('--config-file', action='append', default=[],
                   metavar='PATH', help='oslo.config ini file (repeatable)')
    p.add_argument('--log-file', help='also log to this file')
    p.add_argument('-v', '--verbose', action='count', default=0,
                   help='more output on stderr (-vv: debug)')
    p.add_argument('--max-jobs', type=int, default=None,
                   help='exit after dispatching this many jobs (tests)')
    return base.one_line_usage_errors(p)


def _stop_on_signals(conductor):
    received = signals.Received()

    def handler(signum, frame):
        first = received.signum is None
        received(signum, frame)
        if first:
            LOG.warning('%s: no new job; the running one is suspended at '
                        'its next task (again to cut a balloon wait short)',
                        received.name)
            conductor.stop()
        else:
            conductor.cancel.set()

    for signum in signals.STOP_SIGNALS:
        signal.signal(signum, handler)
    return received


def run(args):
    conf = base.load_conf(args.config_file)
    logs.setup(conf, args.verbose, args.log_file)
    if not conf.jobboard.enabled:
        raise exception.InvalidConfig(
            option='[jobboard] enabled',
            reason='it is false: the conductor has no board to serve')
    state_dir.check(conf)
    # Recovery first: what a previous conductor of this host left.
    driver = base.load_driver(conf).init_host(recover=True)
    with board_mod.connected(conf, driver.host, driver.persistence) as board:
        conductor = conductor_mod.Conductor(
            '%s:%d' % (driver.host, os.getpid()), driver, board,
            conf.jobboard.poll_interval_s)
        _stop_on_signals(conductor)
        # The first sweep before serving: what a dead poster left is on
        # the board by the time the conductor says it serves it.
        sweeper = sweep.Sweeper(conf, driver)
        sweeper.once()
        sweeper.start()
        sys.stderr.write('xenballoon-conductor: serving board %s on %s\n'
                         % (board.name, board_mod.where(conf)))
        sys.stderr.flush()
        try:
            conductor.run(max_dispatches=args.max_jobs)
            conductor.wait()
        finally:
            sweeper.stop()
    LOG.info('Stopped after %d job(s)', conductor.ran)
    return 0


def main(argv=None):
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except Exception as err:
        LOG.debug('Conductor failed', exc_info=True)
        return base.report(sys.stderr, errors.mapped(
            err, 'the flow database', 'the state directory'))


if __name__ == '__main__':
    sys.exit(main())
