"""The options, their generated sample, and start-up validation."""

import filecmp
import os
import subprocess
import sys

from oslo_config import cfg
import pytest

from xenballoon_driver.cmd import base
from xenballoon_driver import conf as conf_mod
from xenballoon_driver.conf import opts
from xenballoon_driver import exception

TOP = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SAMPLE = os.path.join(TOP, 'etc', 'xenballoon-driver.conf.sample')
GENERATOR = os.path.join(TOP, 'etc', 'oslo-config-generator',
                         'xenballoon-driver.conf')


def test_every_option_has_help_and_a_type():
    for group, group_opts in opts.list_opts():
        assert group.help, group.name
        for opt in group_opts:
            assert opt.help and len(opt.help) > 20, opt.name
            assert opt.type is not None, opt.name


def test_sample_is_up_to_date(tmp_path):
    fresh = tmp_path / 'sample.conf'
    subprocess.run(
        [sys.executable, '-m', 'oslo_config.generator', '--config-file',
         GENERATOR, '--output-file', str(fresh)],
        check=True, cwd=TOP)
    assert filecmp.cmp(fresh, SAMPLE, shallow=False), (
        'etc/xenballoon-driver.conf.sample is stale: run tox -e genconfig')


def test_sample_loads_and_every_option_reads():
    conf = base.load_conf([SAMPLE])
    for group, group_opts in opts.list_opts():
        for opt in group_opts:
            getattr(conf[group.name], opt.dest)
    assert conf.hypervisor.driver == 'simulated'
    assert conf.xenballoon.max_wait == 0.0


def test_sample_with_every_option_uncommented_loads(tmp_path):
    # The defaults printed in the sample are valid values themselves
    # (except "sample defaults", which describe a value for the reader).
    lines, described = [], False
    for line in open(SAMPLE).read().splitlines():
        if 'has a sample default set' in line:
            described = True
        elif line.startswith('#') and (' = ' in line or line.endswith(' =')):
            if not described:
                line = line[1:]
            described = False
        lines.append(line)
    path = tmp_path / 'full.conf'
    path.write_text('\n'.join(lines) + '\n')
    conf = base.load_conf([str(path)])
    assert conf.xenballoon.stall_timeout == 5.0
    assert conf.simulator.time_scale == 1.0


@pytest.mark.parametrize('group,line,option', [
    ('xenballoon', 'poll_interval = -1', '[xenballoon] poll_interval'),
    ('xenballoon', 'stall_timeout = abc', '[xenballoon] stall_timeout'),
    ('xenballoon', 'dom0_min_memory_mb = 10',
     '[xenballoon] dom0_min_memory_mb'),
    ('xenballoon', 'dom0_min_memory_mb = 4G',
     '[xenballoon] dom0_min_memory_mb'),
    ('xenballoon', 'reinflate_on_destroy = maybe',
     '[xenballoon] reinflate_on_destroy'),
    ('simulator', 'time_scale = 0', '[simulator] time_scale'),
    ('hypervisor', 'driver = "x y"', '[hypervisor] driver'),
])
def test_bad_value_fails_at_start_up_naming_the_option(
        tmp_path, group, line, option):
    path = tmp_path / 'bad.conf'
    path.write_text('[%s]\n%s\n' % (group, line))
    with pytest.raises(exception.InvalidConfig) as err:
        base.load_conf([str(path)])
    assert option in str(err.value)
    assert '\n' not in str(err.value)


def test_min_poll_above_poll_interval_is_refused(tmp_path):
    path = tmp_path / 'bad.conf'
    path.write_text('[xenballoon]\npoll_interval = 1\n'
                    'min_poll_interval = 2\n')
    with pytest.raises(exception.InvalidConfig, match='min_poll_interval'):
        base.load_conf([str(path)])


def test_missing_and_unparsable_files_are_clear(tmp_path):
    with pytest.raises(exception.InvalidConfig, match='no such file'):
        base.load_conf([str(tmp_path / 'nope.conf')])
    path = tmp_path / 'garbage.conf'
    path.write_text('this is not ini\n[[[\n')
    with pytest.raises(exception.InvalidConfig):
        base.load_conf([str(path)])


def test_validate_reads_registered_groups_only():
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    conf_mod.validate(conf)  # defaults are valid
    assert conf.xenballoon.dom0_min_memory_mb == 4096


def test_overrides_do_not_leak_between_option_sets():
    one, two = cfg.ConfigOpts(), cfg.ConfigOpts()
    for conf in (one, two):
        conf_mod.register_opts(conf)
        conf([], default_config_files=[])
    one.set_override('stall_timeout', 99.0, group='xenballoon')
    assert one.xenballoon.stall_timeout == 99.0
    assert two.xenballoon.stall_timeout == 5.0
