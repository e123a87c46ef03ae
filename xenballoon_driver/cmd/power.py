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
"""

import dataclasses

from xenballoon_driver.cmd import base

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
    names = sorted(row)
    return names, [row[n] for n in names]


class Stop(base.ShowOne):
    """Power a guest off; its memory stays reserved for its start.

    The guest is asked to shut down cleanly; after --timeout seconds its
    domain is destroyed. ``clean`` says which. A stopped guest: no-op.
    """

    def get_parser(self, prog_name):
        return _shutdown_options(_name(super().get_parser(prog_name)))

    def take_action(self, args):
        clean = self.driver().power_off(args.name, args.timeout,
                                        args.retry_interval)
        return ('name', 'clean', 'state'), (args.name, clean, 'shutoff')


class Start(base.ShowOne):
    """Start a stopped guest from the spec kept with it; no-op if running.

    Its memory was kept for it: normally nothing is waited for. On any
    failure the guest stays stopped and keeps its memory.
    """

    def get_parser(self, prog_name):
        return _name(super().get_parser(prog_name))

    def take_action(self, args):
        return _show(self.driver().power_on(args.name))


class Reboot(base.ShowOne):
    """Reboot a guest; its memory stays reserved throughout.

    A clean shutdown (destroyed after --timeout), or with --hard a
    destroy, then a start.
    """

    def get_parser(self, prog_name):
        parser = _shutdown_options(_name(super().get_parser(prog_name)))
        parser.add_argument('--hard', action='store_true',
                            help='destroy the domain, no clean shutdown')
        return parser

    def take_action(self, args):
        return _show(self.driver().reboot(
            args.name, hard=args.hard, timeout=args.timeout,
            retry_interval=args.retry_interval))


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


class Suspend(_Simple):
    """Save a guest's memory to disk and stop it.

    Its memory stays reserved for its resume. Exits 7 if the backend
    cannot save (nothing is changed then).
    """

    call = 'suspend'


class Resume(_Simple):
    """Restore a suspended guest from its saved memory."""

    call = 'resume'


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
