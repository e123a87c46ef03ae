"""The CLI's base command: the driver by entry point, errors, logging."""

import io
import logging
import sys

import pytest

from xenballoon_driver.cmd import base
from xenballoon_driver.cmd import logs
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver.simulator import backend as simulated


def test_the_driver_comes_from_its_entry_point(conf):
    drv = base.load_driver(conf)
    assert type(drv) is driver_mod.XenBalloonDriver
    assert drv.conf is conf and drv.backend is None   # not started yet
    drv.init_host()
    assert isinstance(drv.backend, simulated.SimulatedHypervisor)


def test_report_prints_one_line_and_gives_the_exit_code():
    stream = io.StringIO()
    code = base.report(stream, exception.DomainNotFound(name='g1'))
    assert stream.getvalue() == 'error: No domain named g1\n'
    assert code == exception.EXIT_NOT_FOUND


@pytest.fixture
def root_logging():
    """Put the root logger (and sys.excepthook) back as they were."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.excepthook
    yield root
    for handler in set(root.handlers) - set(saved[0]):
        handler.close()
    root.handlers[:], hook = saved[0], saved[2]
    root.setLevel(saved[1])
    sys.excepthook = hook


def _stderr_levels(root):
    return [h.level for h in root.handlers
            if getattr(h, 'stream', None) is sys.stderr]


@pytest.mark.parametrize('verbose, console, root_level', [
    (0, logging.WARNING, logging.INFO),
    (1, logging.INFO, logging.INFO),
    (2, logging.DEBUG, logging.DEBUG),
    (3, logging.DEBUG, logging.DEBUG),
])
def test_verbosity_sets_what_reaches_stderr(tmp_path, root_logging, verbose,
                                            console, root_level):
    conf = base.load_conf([])
    logs.setup(conf, verbose)
    assert _stderr_levels(root_logging) == [console]
    assert root_logging.level == root_level


def test_log_options_in_a_config_file_are_known_and_used(tmp_path,
                                                         root_logging):
    path = tmp_path / 'x.conf'
    log_file = tmp_path / 'x.log'
    path.write_text('[DEFAULT]\nlogging_default_format_string = '
                    'X %%(levelname)s %%(message)s\nuse_stderr = false\n'
                    'log_file = %s\n' % log_file)
    conf = base.load_conf([str(path)])
    logs.setup(conf, 0)
    assert _stderr_levels(root_logging) == []
    logging.getLogger('xenballoon_driver.test').info('hello')
    assert log_file.read_text() == 'X INFO hello\n'


def test_the_cli_log_file_option_wins(tmp_path, root_logging):
    log_file = tmp_path / 'cli.log'
    conf = base.load_conf([])
    logs.setup(conf, 0, str(log_file))
    logging.getLogger('xenballoon_driver.test').warning('careful')
    assert log_file.read_text() == 'careful\n'
