"""The guest lifecycle commands.

``xenballoon stop``, ``start``, ``reboot``, ``pause``, ``unpause``,
``suspend``, ``resume`` and ``console``.

A stopped or suspended guest keeps its memory reserved (free in Xen, not
lent to dom0) until it is started again or destroyed, so its start is
never refused for memory another spawn took. Each exits 2 on bad input,
6 when there is no such guest, 7 when the toolstack fails, 8 while the
guest is being spawned, started, stopped or destroyed, 9 when the state
directory or the flow database cannot be used. A command killed half-way
is finished or undone by the next command's recovery.

With [jobboard] enabled, stop, start, reboot, suspend and resume post
their flow as a job for the host's xenballoon-conductor (cmd/as_job.py):
they wait for its result (a signal stops the wait only) or, with
--async, print the job's id and return.
"""

import dataclasses

from xenballoon_driver.cmd import as_job
from xenballoon_driver.cmd import base
from xenballoon_driver.flows import names
from xenballoon_driver.flows import power_off as power_off_flow
from xenballoon_driver.flows import power_on as power_on_flow
from xenballoon_driver.flows import reboot as reboot_flow
from xenballoon_driver.hypervisor import base as base_hv
from xenballoon_driver import lifecycle

# Nova's [DEFAULT] shutdown_timeout and its retry interval.
TIMEOUT_S = 60.0
RETRY_INTERVAL_S = 10.0


def _name(parser):
    parser.add_argument('name', help='guest name')
    return parser


def _shutdown_options(parser):
    parser.add_argument(
        '--timeout', type=float, default=TIMEOUT_S, metavar='SECONDS',
        help='wait this long for a clean shutdown, then destroy the '
             'domain; 0 destroys it at once (default %(default)s)')
    parser.add_argument(
        '--retry-interval', type=float, default=RETRY_INTERVAL_S,
        metavar='SECONDS', help='ask the guest again this often (default '
                                '%(default)s; 0: ask once)')
    return parser


def _show(info):
    row = dataclasses.asdict(info)
    keys = sorted(row)
    return keys, [row[k] for k in keys]


def _power_on_plan(driver, name, what='power-on'):
    """A start as a job: nothing if it runs, a reboot if it is gone."""
    state, info = lifecycle.power_on_plan(driver, name)
    if state == 'running':
        return _show(info)

    def show(results):
        return _show(base_hv.DomainInfo(**results[names.DOMAIN]))
    if state == 'gone':
        # As the direct path: marked stopped (destroyed at once), then
        # started; as one job, so that no waiter leaves it half done.
        return as_job.Plan(reboot_flow.FLOW_NAME,
                           lifecycle.power_off_store(driver, name), what,
                           show)
    return as_job.Plan(power_on_flow.FLOW_NAME, {names.NAME: name}, what,
                       show)


class Stop(as_job.JobCommand):
    """Power a guest off; its memory stays reserved for its start.

    The guest is asked to shut down cleanly; after --timeout seconds its
    domain is destroyed. ``clean`` says which. A stopped guest: no-op.
    """

    def get_parser(self, prog_name):
        return _shutdown_options(super().get_parser(prog_name))

    @staticmethod
    def _row(name, clean):
        return ('name', 'clean', 'state'), (name, clean, 'shutoff')

    def direct(self, args):
        return self._row(args.name, self.driver().power_off(
            args.name, args.timeout, args.retry_interval))

    def plan(self, driver, args):
        store = lifecycle.power_off_store(driver, args.name, args.timeout,
                                          args.retry_interval)
        if store is None:
            return self._row(args.name, True)  # stopped already
        return as_job.Plan(
            power_off_flow.FLOW_NAME, store, 'power-off',
            lambda results: self._row(args.name,
                                      results[names.POWER_OFF]['clean']))


class Start(as_job.JobCommand):
    """Start a stopped guest from the spec kept with it; no-op if running.

    Its memory was kept for it: normally nothing is waited for. On any
    failure the guest stays stopped and keeps its memory.
    """

    def direct(self, args):
        return _show(self.driver().power_on(args.name))

    def plan(self, driver, args):
        return _power_on_plan(driver, args.name)


class Reboot(as_job.JobCommand):
    """Reboot a guest; its memory stays reserved throughout.

    A clean shutdown (destroyed after --timeout), or with --hard a
    destroy, then a start. With [jobboard] enabled both are one job.
    """

    def get_parser(self, prog_name):
        parser = _shutdown_options(super().get_parser(prog_name))
        parser.add_argument('--hard', action='store_true',
                            help='destroy the domain, no clean shutdown')
        return parser

    def direct(self, args):
        return _show(self.driver().reboot(
            args.name, hard=args.hard, timeout=args.timeout,
            retry_interval=args.retry_interval))

    def plan(self, driver, args):
        store = lifecycle.power_off_store(
            driver, args.name, 0 if args.hard else args.timeout,
            args.retry_interval)
        if store is None:  # stopped already: a start
            return _power_on_plan(driver, args.name, 'reboot')
        return as_job.Plan(reboot_flow.FLOW_NAME, store, 'reboot',
                           lambda results: _show(base_hv.DomainInfo(
                               **results[names.DOMAIN])))


class _Simple(base.ShowOne):
    call = None

    def get_parser(self, prog_name):
        return _name(super().get_parser(prog_name))

    def take_action(self, args):
        return _show(getattr(self.driver(), self.call)(args.name))


class Pause(_Simple):
    """Pause a running guest; it keeps its memory."""

    call = 'pause'


class Unpause(_Simple):
    """Run a paused guest again."""

    call = 'unpause'


class Suspend(as_job.JobCommand):
    """Save a guest's memory to disk and stop it.

    Its memory stays reserved for its resume. Exits 7 if the backend
    cannot save (nothing is changed then).
    """

    def direct(self, args):
        return _show(self.driver().suspend(args.name))

    def plan(self, driver, args):
        info = lifecycle.suspend_check(driver, args.name)
        if info is not None:
            return _show(info)  # suspended already
        store = lifecycle.power_off_store(
            driver, args.name,
            save_path=lifecycle.saved_path(driver, args.name))
        return as_job.Plan(power_off_flow.FLOW_NAME, store, 'suspend',
                           lambda results: _show(lifecycle.guest_info(
                               driver, args.name)))


class Resume(as_job.JobCommand):
    """Restore a suspended guest from its saved memory."""

    def direct(self, args):
        return _show(self.driver().resume(args.name))

    def plan(self, driver, args):
        lifecycle.resume_check(driver, args.name)
        return _power_on_plan(driver, args.name, 'resume')


class Console(base.Command):
    """Print a guest's console output (its last 100 KiB).

    Exits 6 when the toolstack keeps no console log of it.
    """

    def get_parser(self, prog_name):
        return _name(super().get_parser(prog_name))

    def take_action(self, args):
        text = self.driver().console_output(args.name)
        # A guest's bytes must not drive the operator's terminal.
        self.app.stdout.write(''.join(
            c if c.isprintable() or c in '\n\t' else '?' for c in text))
        self.app.stdout.flush()
