"""What every command shares: config loading, the driver, error mapping."""

import logging
import os

from oslo_config import cfg

from xenballoon_driver import conf as conf_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception

LOG = logging.getLogger(__name__)


def load_conf(config_files):
    """A fresh ConfigOpts from the given files; checked in full."""
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    missing = [f for f in config_files if not os.path.isfile(f)]
    if missing:
        raise exception.InvalidConfig(option='--config-file',
                                      reason='%s: no such file' % missing[0])
    try:
        conf(args=[], project='xenballoon',
             default_config_files=config_files or None)
    except cfg.Error as err:
        raise exception.InvalidConfig(option='file',
                                      reason=str(err).splitlines()[0])
    conf_mod.validate(conf)
    return conf


class ErrorMapping:
    """Mix into a cliff command: our errors print one line and exit."""

    def run(self, parsed_args):
        try:
            return super().run(parsed_args) or 0
        except exception.XenBalloonException as err:
            LOG.debug('Command failed', exc_info=True)
            self.app.stderr.write('error: %s\n' % err)
            return err.exit_code

    def conf(self):
        return load_conf(self.app.options.config_file)

    def driver(self, recover=True):
        return driver_mod.XenBalloonDriver(self.conf()).init_host(
            recover=recover)
