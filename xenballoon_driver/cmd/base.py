"""The base command: config, logging, the driver, and one error line.

Every ``xenballoon`` command derives from ShowOne or Lister here. The
command reads its config files (and sets up logging from them) on first
use, loads the compute driver by its entry point as Nova loads
``compute_driver``, and is the one place where a failure is caught:
cmd/errors.py says what it becomes, report() prints it.
"""

import functools
import os
import sys

from cliff import command
from cliff import lister
from cliff import show
from oslo_config import cfg
from oslo_log import log as logging
from stevedore import driver as stevedore_driver

from xenballoon_driver.cmd import errors
from xenballoon_driver.cmd import logs
from xenballoon_driver.cmd import state_dir
from xenballoon_driver import conf as conf_mod
from xenballoon_driver.conf import files as conf_files
from xenballoon_driver import exception
from xenballoon_driver import persistence

LOG = logging.getLogger(__name__)

COMPUTE_DRIVERS = 'xenballoon_driver.compute_drivers'
# No option chooses another compute driver: the CLI drives this one.
COMPUTE_DRIVER = 'xenballoon'


def load_conf(config_files):
    """A fresh ConfigOpts from the given files; checked in full."""
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    logs.register_opts(conf)
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


def _reraise(manager, entrypoint, err):
    # stevedore would log the import error and then say "no such driver".
    raise err


def load_driver(conf, name=COMPUTE_DRIVER):
    """The compute driver ``name``, from its entry point, not started."""
    return stevedore_driver.DriverManager(
        COMPUTE_DRIVERS, name, invoke_on_load=True, invoke_args=(conf,),
        on_load_failure_callback=_reraise).driver


def report(stream, err):
    """Print ``err`` (a XenBalloonException) as one line; its exit code."""
    stream.write('error: %s\n' % err)
    stream.flush()
    return errors.exit_code(err)


def _usage_error(parser, message):
    # argparse would print its whole usage, then the message, and exit 2.
    err = exception.UsageError(prog=parser.prog, reason=message)
    raise SystemExit(report(sys.stderr, err))


def one_line_usage_errors(parser):
    """Make ``parser`` report a bad command line as one error: line."""
    parser.error = functools.partial(_usage_error, parser)
    return parser


class Command(command.Command):
    """What every command shares; derive from ShowOne or Lister below.

    Any failure of a command prints one line and exits with its code;
    --debug shows the traceback of an unexpected one as well.
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
            return report(self.app.stderr, mapped)

    def _where(self):
        """(flow database, state directory) for error messages."""
        if self._conf is None:
            return 'the flow database', 'the state directory'
        return (errors.database_name(persistence.connection_url(self._conf)),
                'state directory %s' % os.path.expanduser(
                    self._conf.xenballoon.state_dir))

    def conf(self):
        """The config files' options; logging is set up from them."""
        if self._conf is None:
            options = self.app.options
            conf = load_conf(options.config_file)
            logs.setup(conf, options.verbose_level, options.log_file)
            self._conf = conf
        return self._conf

    def driver(self, recover=True):
        """The compute driver, started (init_host) for this command."""
        conf = self.conf()
        state_dir.check(conf)
        return load_driver(conf).init_host(recover=recover)


class ShowOne(Command, show.ShowOne):
    """A command that shows one record (cliff's ShowOne)."""


class Lister(Command, lister.Lister):
    """A command that shows a table (cliff's Lister)."""
