"""The ``xenballoon`` operator CLI (cliff)."""

import sys

from cliff import app
from cliff import commandmanager

from xenballoon_driver import exception


class XenBalloonApp(app.App):
    # Quiet by default: errors are one line; -v shows the flows' logs.
    DEFAULT_VERBOSE_LEVEL = 0

    def __init__(self):
        super().__init__(
            description='Operate a balloon-aware Xen compute host: spawn and '
                        'destroy guests, show host memory, compare balloon '
                        'strategies on simulated scenarios.',
            version='1.0',
            command_manager=commandmanager.CommandManager('xenballoon.cli'),
            deferred_help=True)

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        parser.add_argument(
            '--config-file', action='append', default=[], metavar='PATH',
            help='oslo.config ini file (repeatable). Without it, '
                 '/etc/xenballoon/xenballoon.conf is read if present.')
        return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ['--help']
    try:
        return XenBalloonApp().run(argv)
    except exception.XenBalloonException as err:
        sys.stderr.write('error: %s\n' % err)
        return err.exit_code


if __name__ == '__main__':
    sys.exit(main())
