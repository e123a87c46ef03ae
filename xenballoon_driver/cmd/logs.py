"""The CLI's logging, set up by oslo.log as an OpenStack service does.

oslo.log makes the handlers, the formats and the per-library levels from
the [DEFAULT] logging options of our config files, as under nova-compute.
The CLI gives it defaults of its own (bare messages on stderr) and keeps
cliff's switches: quiet unless -v (-vv: debug), --log-file.
"""

import logging
import sys

from oslo_log import log

PROJECT = 'xenballoon'
# Lines on a terminal: the message alone, as cliff printed them.
CLI_DEFAULTS = {
    'use_stderr': True,
    'logging_default_format_string': '%(message)s',
    'logging_context_format_string': '%(message)s',
    'logging_debug_format_suffix': '',
    'logging_exception_prefix': '',
}
# cliff's verbose_level -> the least a line on stderr must be (-vv and up:
# everything).
CONSOLE_LEVELS = {0: logging.WARNING, 1: logging.INFO}


def register_opts(conf):
    """oslo.log's options, with the CLI's defaults, on ``conf``."""
    log.register_options(conf)
    for name, value in CLI_DEFAULTS.items():
        conf.set_default(name, value)


def setup(conf, verbose_level, log_file=None):
    """Log as ``conf`` says; stderr shows what -v asks for."""
    if log_file:
        conf.set_override('log_file', log_file)
    if verbose_level > 1:
        conf.set_default('debug', True)
    log.setup(conf, PROJECT)
    console = CONSOLE_LEVELS.get(verbose_level, logging.DEBUG)
    for handler in logging.getLogger().handlers:
        if getattr(handler, 'stream', None) is sys.stderr:
            handler.setLevel(console)
