"""``xenballoon host-status``: the host's memory as the driver sees it."""

from tests.functional import base

FIELDS = ('total_mb', 'free_mb', 'dom0_current_mb', 'dom0_target_mb',
          'dom0_min_mb', 'balloonable_mb', 'reserved_mb', 'available_mb')


def test_default_scenario_figures(default_host):
    result = default_host.run('host-status', '-f', 'json')
    assert result.rc == 0, result
    assert result.stderr == ''
    status = result.json()
    for field in FIELDS:
        assert isinstance(status[field], int), (field, status)
    assert status == base.DEFAULT_FRESH_STATUS
    assert status['total_mb'] == 1048576
    assert status['dom0_current_mb'] == status['dom0_target_mb'] == 983040
    assert status['free_mb'] == 1048576 - 2048 - 983040  # Xen keeps 2 GiB
    assert status['balloonable_mb'] == 983040 - status['dom0_min_mb']
    # The documented relation: available = free + balloonable - reserved.
    assert status['available_mb'] == (status['free_mb'] +
                                      status['balloonable_mb'] -
                                      status['reserved_mb'])
