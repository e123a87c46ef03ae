"""``xenballoon simulate``: the strategies compared on the default scenario.

simulate runs on a virtual clock and touches no host state.
"""

import pytest

from tests.functional import base
from xenballoon_driver.simulator import scenario as scenario_mod

STRATEGIES = ('progress', 'xl-4.4', 'libvirt-2014', 'xl-4.17')
FIELDS = ('outcome', 'time_to_ready_s', 'lower_bound_s', 'contention_s',
          'soft_lockups', 'dom0_final_mb')
REQUESTS = {'big-160g': 163840, 'small-8g': 8192}
# The toolstack's own create time on the default host (its scenario's).
CREATE_S = scenario_mod.load().toolstack.create_s


@pytest.fixture(scope='module')
def table(tmp_path_factory):
    """simulate --strategy all on a host whose state dir does not exist."""
    host = base.Host(tmp_path_factory.mktemp('simulate'))
    result = host.run('simulate', '-f', 'json', '--strategy', 'all')
    assert result.rc == 0, result
    rows = {(row['strategy'], row['request']): row for row in result.json()}
    return host, rows


def test_every_strategy_and_request_has_a_row(table):
    host, rows = table
    assert sorted(rows) == sorted((s, r) for s in STRATEGIES
                                  for r in REQUESTS)
    for (strategy, request), row in rows.items():
        for field in FIELDS:
            assert field in row, (strategy, request, field)
        assert row['memory_mb'] == REQUESTS[request]
        assert row['outcome'] in ('running', 'nomem', 'stalled', 'failed')
        assert row['lower_bound_s'] > 0
        assert row['contention_s'] >= 0
        assert isinstance(row['soft_lockups'], int)
        assert 0 < row['dom0_final_mb'] <= base.DEFAULT_DOM0_MB
        if row['outcome'] == 'running':
            assert row['time_to_ready_s'] >= row['lower_bound_s'] - 1e-3
        else:
            assert row['time_to_ready_s'] is None


@pytest.mark.parametrize('request_name', sorted(REQUESTS))
def test_progress_is_close_to_the_physical_limit(table, request_name):
    row = table[1][('progress', request_name)]
    assert row['outcome'] == 'running'
    # The limit, and the create call no driver can avoid.
    assert row['time_to_ready_s'] <= 1.02 * (row['lower_bound_s'] +
                                             CREATE_S) + 0.2
    assert row['contention_s'] == 0
    assert row['soft_lockups'] == 0


def test_progress_balloons_dom0_exactly_as_far_as_needed(table):
    row = table[1][('progress', 'big-160g')]
    free = (base.DEFAULT_TOTAL_MB - base.DEFAULT_XEN_MB -
            base.DEFAULT_DOM0_MB)
    need = base.pv_footprint(163840)
    assert row['dom0_final_mb'] == base.DEFAULT_DOM0_MB - (need - free)


def test_xl_4_4_refuses_the_big_guest(table):
    row = table[1][('xl-4.4', 'big-160g')]
    assert row['outcome'] == 'nomem'
    assert row['time_to_ready_s'] is None


def test_libvirt_2014_builds_while_dom0_still_balloons(table):
    row = table[1][('libvirt-2014', 'big-160g')]
    assert row['outcome'] == 'running'
    assert row['contention_s'] > 0
    assert row['soft_lockups'] > 0


def test_simulate_creates_no_state(table):
    host = table[0]
    assert not host.state_dir.exists()


def test_simulate_leaves_host_state_alone(default_host):
    before = default_host.status()
    files = default_host.state_files()
    assert 'simulated-host.json' in files
    result = default_host.run('simulate', '-f', 'json', '--strategy',
                              'progress')
    assert result.rc == 0, result
    assert {row['strategy'] for row in result.json()} == {'progress'}
    assert default_host.state_files() == files
    assert before['dom0_target_mb'] == base.DEFAULT_DOM0_MB
