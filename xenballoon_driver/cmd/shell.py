"""The ``xenballoon`` operator CLI (cliff)."""

import sys

from cliff import app
from cliff import commandmanager

from xenballoon_driver.cmd import base
from xenballoon_driver import exception


class XenBalloonApp(app.App):
    # Quiet by default: errors are one line; -v shows the flows' logs.
    # cliff logs to stderr at that level until the command has read its
    # config files; oslo.log then takes over, at the same level
    # (cmd/logs.py).
    DEFAULT_VERBOSE_LEVEL = 0
    # cliff takes the name from argv[0], which is "shell" under python -m.
    NAME = 'xenballoon'

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
        parser.prog = self.NAME
        return base.one_line_usage_errors(parser)

    def run_subcommand(self, argv):
        # cliff answers an unknown command (or an unknown option before
        # it, which its parser leaves in argv) with several lines on
        # stdout.
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            word = argv[0]
            if word.startswith('-'):
                reason = 'unrecognized option %s' % word
            else:
                matches = self.get_fuzzy_matches(word)
                reason = 'unknown command %r%s' % (
                    word, '; did you mean %s?' % ' or '.join(matches)
                    if matches else '')
            return base.report(self.stderr, exception.UsageError(
                prog=self.NAME, reason=reason))
        return super().run_subcommand(argv)


def main(argv=None):
    # A command's errors are caught once, in cmd/base.Command.run.
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ['--help']
    return XenBalloonApp().run(argv)


if __name__ == '__main__':
    sys.exit(main())
