"""What every command shares: config loading, the driver, error mapping."""

import functools
import logging
import os
import sys

from oslo_config import cfg

from xenballoon_driver.cmd import errors
from xenballoon_driver.cmd import state_dir
from xenballoon_driver import conf as conf_mod
from xenballoon_driver.conf import files as conf_files
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver import persistence

LOG = logging.getLogger(__name__)


def load_conf(config_files):
    """A fresh ConfigOpts from the given files; checked in full."""
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    missing = [f for f in config_files if not os.path.isfile(f)]
    if missing:
        raise exception.InvalidConfig(option='--config-file',
                                      reason='%s: no such file' % missing[0])
    for path in config_files:
        # Garbage bytes or a broken line, named with the file, before
        # oslo.config meets them.
        conf_files.read(path)
    try:
        conf(args=[], project='xenballoon',
             default_config_files=config_files or None)
    except (cfg.Error, ValueError) as err:
        raise exception.InvalidConfig(option='file',
                                      reason=str(err).splitlines()[0])
    conf_files.check(conf, conf.config_file)
    conf_mod.validate(conf)
    return conf


def _usage_error(parser, message):
    # argparse would print its whole usage, then the message, and exit 2.
    err = exception.UsageError(prog=parser.prog, reason=message)
    sys.stderr.write('error: %s\n' % err)
    raise SystemExit(err.exit_code)


def one_line_usage_errors(parser):
    """Make ``parser`` report a bad command line as one error: line."""
    parser.error = functools.partial(_usage_error, parser)
    return parser


class ErrorMapping:
    """Mix into a cliff command: any failure prints one line and exits.

    The one place where the CLI catches errors (cmd/errors.py says what
    each becomes); --debug shows the traceback as well.
    """

    _conf = None

    def get_parser(self, prog_name):
        return one_line_usage_errors(super().get_parser(prog_name))

    def run(self, parsed_args):
        try:
            return super().run(parsed_args) or 0
        except Exception as err:
            LOG.debug('Command failed', exc_info=True)
            mapped = errors.mapped(err, *self._where())
            if (isinstance(mapped, exception.UnexpectedError) and
                    self.app.options.debug):
                raise
            self.app.stderr.write('error: %s\n' % mapped)
            self.app.stderr.flush()
            return mapped.exit_code

    def _where(self):
        """(flow database, state directory) for error messages."""
        if self._conf is None:
            return 'the flow database', 'the state directory'
        return (errors.database_name(persistence.connection_url(self._conf)),
                'state directory %s' % os.path.expanduser(
                    self._conf.xenballoon.state_dir))

    def conf(self):
        if self._conf is None:
            self._conf = load_conf(self.app.options.config_file)
        return self._conf

    def driver(self, recover=True):
        conf = self.conf()
        state_dir.check(conf)
        return driver_mod.XenBalloonDriver(conf).init_host(recover=recover)
