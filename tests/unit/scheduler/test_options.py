"""[scheduler] options: defaults, and bad values named at start-up."""

import pytest

from xenballoon_driver.cmd import base
from xenballoon_driver import exception


def test_defaults(conf):
    opts = conf.scheduler
    assert opts.default_release_rate_mb_s == 680.0
    assert opts.balloon_time_weight_multiplier == 1.0
    assert opts.max_balloon_time_s == 0.0
    assert opts.balloon_time_weight_horizon_s == 300.0
    assert opts.host_subset_size == 1
    assert opts.cpu_allocation_ratio == 4.0


def test_a_file_sets_them(tmp_path):
    path = tmp_path / 'ok.conf'
    path.write_text('[scheduler]\nballoon_time_weight_multiplier = 0\n'
                    'host_subset_size = 5\n')
    conf = base.load_conf([str(path)])
    assert conf.scheduler.balloon_time_weight_multiplier == 0.0
    assert conf.scheduler.host_subset_size == 5


@pytest.mark.parametrize('line', [
    'default_release_rate_mb_s = 0',
    'default_release_rate_mb_s = fast',
    'balloon_time_weight_multiplier = -1',
    'max_balloon_time_s = -5',
    'balloon_time_weight_horizon_s = 0',
    'host_subset_size = 0',
    'host_subset_size = 2.5',
    'cpu_allocation_ratio = 0',
])
def test_bad_value_fails_at_start_up_naming_the_option(tmp_path, line):
    path = tmp_path / 'bad.conf'
    path.write_text('[scheduler]\n%s\n' % line)
    with pytest.raises(exception.InvalidConfig) as err:
        base.load_conf([str(path)])
    assert '[scheduler] %s' % line.split(' =')[0] in str(err.value)
    assert '\n' not in str(err.value)
