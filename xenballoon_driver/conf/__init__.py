"""Configuration: one module per option group, registered on CONF."""

import re

from oslo_config import cfg

from xenballoon_driver.conf import hypervisor
from xenballoon_driver.conf import jobboard
from xenballoon_driver.conf import libvirt
from xenballoon_driver.conf import persistence
from xenballoon_driver.conf import scheduler
from xenballoon_driver.conf import simulator
from xenballoon_driver.conf import xenballoon
from xenballoon_driver.conf import xl

CONF = cfg.CONF

MODULES = (hypervisor, xenballoon, persistence, simulator, xl, libvirt,
           scheduler, jobboard)


def register_opts(conf):
    for module in MODULES:
        module.register_opts(conf)


register_opts(CONF)


def _where(group, opt, err):
    """'[group] option', with the file that set it when there is one."""
    where = '[%s] %s' % (group, opt.name)
    # oslo.config says "Value for option X from LocationInfo(...,
    # detail='FILE') is not valid: REASON" (get_location() would read the
    # bad value again and fail).
    match = re.search(r"detail='([^']+)'", str(err))
    if match:
        where += ' in %s' % match.group(1)
    return where


def _reason(err):
    text = str(err).splitlines()[0]
    return text.split(' is not valid: ', 1)[-1]


def validate(conf):
    """Read every option once, so that a bad value fails at start-up.

    oslo.config parses lazily: a mistyped or out-of-range value in a file
    would otherwise surface in the middle of a spawn.
    """
    from xenballoon_driver import exception

    for module in MODULES:
        for group, group_opts in module.list_opts().items():
            for opt in group_opts:
                try:
                    getattr(conf[group.name], opt.dest)
                except (cfg.ConfigFileValueError, ValueError) as err:
                    raise exception.InvalidConfig(
                        option=_where(group.name, opt, err),
                        reason=_reason(err))
    xb = conf.xenballoon
    if xb.min_poll_interval > xb.poll_interval:
        raise exception.InvalidConfig(
            option='[xenballoon] min_poll_interval',
            reason='%s is above poll_interval %s' % (
                xb.min_poll_interval, xb.poll_interval))
    jb = conf.jobboard
    for option, check in (
            ('url', lambda url: jobboard.check_url(url, jb.backend)),
            ('board_name', jobboard.check_board_name)):
        try:
            check(getattr(jb, option))
        except ValueError as err:
            raise exception.InvalidConfig(option='[jobboard] ' + option,
                                          reason=str(err))
