"""``xenballoon spawn``, ``destroy`` and ``list``."""

import dataclasses
import signal
import threading

from cliff import lister
from cliff import show

from xenballoon_driver.balloon import footprint
from xenballoon_driver import clock as clock_mod
from xenballoon_driver.cmd import base
from xenballoon_driver.cmd import progress
from xenballoon_driver import exception


class Spawn(base.ErrorMapping, show.ShowOne):
    """Create a guest, ballooning dom0 down as far as it needs.

    Exits 2 on bad input, 3 when the host cannot fit the guest, 4 when
    dom0's balloon stalls, 5 when the build fails. On every failure dom0
    is re-inflated and nothing is left behind.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', help='domain name: a letter, then '
                                         'letters, digits, "_", "." or "-"')
        parser.add_argument('--memory-mb', required=True,
                            help='guest memory in MiB (whole number)')
        parser.add_argument('--vcpus', default='1', help='vCPU count')
        parser.add_argument('--type', dest='guest_type', default='pv',
                            choices=footprint.GUEST_TYPES,
                            help='guest type (sets Xen\'s overhead)')
        return parser

    def take_action(self, parsed_args):
        driver = self.driver()
        display = progress.BalloonProgress(parsed_args.name,
                                           self.app.stderr)
        stop = threading.Event()
        clock = driver.backend.clock = clock_mod.Interruptible(
            driver.backend.clock, stop,
            lambda: exception.Interrupted(name=parsed_args.name))
        started = clock.now()
        handlers = {sig: signal.signal(sig, lambda *args: stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            info = driver.spawn(parsed_args.name, parsed_args.memory_mb,
                                parsed_args.vcpus, parsed_args.guest_type,
                                progress=display)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            display.close()
        row = dataclasses.asdict(info)
        row['ready_after_s'] = round(clock.now() - started, 2)
        names = sorted(row)
        return names, [row[n] for n in names]


class Destroy(base.ErrorMapping, show.ShowOne):
    """Destroy a guest; dom0 grows back if reinflate_on_destroy is set."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', help='domain name')
        return parser

    def take_action(self, parsed_args):
        target = self.driver().destroy(parsed_args.name)
        return ('name', 'dom0_target_mb'), (parsed_args.name, target)


class ListDomains(base.ErrorMapping, lister.Lister):
    """List guest domains (dom0 excluded)."""

    COLUMNS = ('name', 'domid', 'memory_mb', 'vcpus', 'state')

    def take_action(self, parsed_args):
        rows = [tuple(getattr(info, c) for c in self.COLUMNS)
                for info in self.driver().list_domains()]
        return self.COLUMNS, rows
