"""Nova's generic virt driver tests against our adapter, strictly.

nova/tests/unit/virt/test_virt_drivers.py's _VirtDriverTestCase runs the
same calls against every driver, but its ``catch_notimplementederror``
turns a NotImplementedError into a log line and a pass. Here every such
test runs unwrapped: a call we do not implement fails. Those we do not
pass, and why, are in NOT_PASSING (each is checked to fail: a test that
starts passing must leave the list). Our backend is the simulator on a
virtual clock, injected where the driver loads it.
"""

import os

import pytest

pytest.importorskip('nova.tests.unit.virt.test_virt_drivers')

import fixtures  # noqa: E402
import nova.conf  # noqa: E402
from nova import exception  # noqa: E402
from nova import test  # noqa: E402
from nova.tests.unit.virt import test_virt_drivers as generic  # noqa: E402

from tests import conftest as base  # noqa: E402
from xenballoon_driver import clock as clock_mod  # noqa: E402
from xenballoon_driver.simulator import backend as simulated  # noqa: E402
from xenballoon_driver.simulator import model as model_mod  # noqa: E402
from xenballoon_driver.simulator import store as store_mod  # noqa: E402

CONF = nova.conf.CONF
# The code of catch_notimplementederror's wrapper: what to take off.
CATCHER = generic.catch_notimplementederror(lambda self: None).__code__

NOT_IMPLEMENTED = 'not implemented: %s'
# Every generic test we do not pass, and why.
NOT_PASSING = {
    'test_snapshot_not_running': NOT_IMPLEMENTED % 'snapshots (no images)',
    'test_snapshot_running': NOT_IMPLEMENTED % 'snapshots (no images)',
    'test_set_admin_password': NOT_IMPLEMENTED % 'no guest agent',
    'test_rescue': NOT_IMPLEMENTED % 'rescue (no images)',
    'test_unrescue_unrescued_instance': NOT_IMPLEMENTED % 'rescue',
    'test_unrescue_rescued_instance': NOT_IMPLEMENTED % 'rescue',
    'test_migrate_disk_and_power_off': (
        'refused: InstanceFaultRollback (no resize or migration)'),
    'test_trigger_crash_dump': NOT_IMPLEMENTED % 'NMI to a guest',
    'test_get_volume_connector': NOT_IMPLEMENTED % 'volumes',
    'test_get_volume_connector_storage_ip': NOT_IMPLEMENTED % 'volumes',
    'test_attach_detach_volume': NOT_IMPLEMENTED % 'volumes',
    'test_swap_volume': NOT_IMPLEMENTED % 'volumes',
    'test_attach_detach_different_power_states': NOT_IMPLEMENTED % (
        'volumes'),
    'test_block_stats': NOT_IMPLEMENTED % 'block stats',
    'test_get_device_name_for_instance': NOT_IMPLEMENTED % (
        'volumes (device names are for attachments)'),
    'test_get_vnc_console': NOT_IMPLEMENTED % 'graphical consoles',
    'test_get_spice_console': NOT_IMPLEMENTED % 'graphical consoles',
    'test_get_serial_console': NOT_IMPLEMENTED % 'serial console proxy',
    'test_get_mks_console': NOT_IMPLEMENTED % 'graphical consoles',
    'test_live_migration': NOT_IMPLEMENTED % 'live migration',
    'test_live_migration_force_complete': (
        'live migration: the test sets libvirt\'s active_migrations, '
        'which we have not'),
    'test_live_migration_abort': NOT_IMPLEMENTED % 'live migration',
    'test_get_host_cpu_stats': NOT_IMPLEMENTED % 'host CPU stats',
    'test_set_host_enabled': NOT_IMPLEMENTED % 'host maintenance',
    'test_host_power_action_reboot': NOT_IMPLEMENTED % 'host power',
    'test_host_power_action_shutdown': NOT_IMPLEMENTED % 'host power',
    'test_host_power_action_startup': NOT_IMPLEMENTED % 'host power',
}

# The tests that fail otherwise than with NotImplementedError.
ERRORS = {
    'test_migrate_disk_and_power_off': exception.InstanceFaultRollback,
    'test_live_migration_force_complete': AttributeError,
}


def _strict(cls):
    """Each test of the generic case, without catch_notimplementederror."""
    for name, func in vars(generic._VirtDriverTestCase).items():
        if not name.startswith('test_'):
            continue
        if getattr(func, '__code__', None) is CATCHER:
            func = func.__wrapped__
        if name in NOT_PASSING:
            func = _expect_failure(func, NOT_PASSING[name])
        setattr(cls, name, func)
    return cls


def _expect_failure(func, reason):
    # Not implemented: Nova's base class raises NotImplementedError.
    error = ERRORS.get(func.__name__, NotImplementedError)

    def test(self, *args, **kwargs):
        # Fails for the reason given; one that passes leaves NOT_PASSING.
        self.assertRaises(error, func, self, *args, **kwargs)
    test.__name__ = func.__name__
    test.__doc__ = 'Expected to fail: %s' % reason
    return test


@_strict
class XenBalloonVirtDriverTest(generic._VirtDriverTestCase, test.TestCase):
    driver_module = 'nova.virt.xenballoon.XenBalloonComputeDriver'

    def setUp(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        self.flags(state_dir=os.path.join(tmp, 'state'), group='xenballoon')
        self.clock = clock_mod.VirtualClock()
        self.backend = simulated.SimulatedHypervisor(
            CONF, store=store_mod.MemoryStore(
                model_mod.HostModel(base.make_scenario()), self.clock))
        self.useFixture(fixtures.MockPatch(
            'xenballoon_driver.hypervisor.load', return_value=self.backend))
        super().setUp()
        # Nova's compute manager starts every driver with init_host.
        self.connection.init_host(CONF.host)

    def _clear_attrs(self):
        # Nova's cleanup deletes every public attribute; pytest's own (the
        # test method it set on the instance) must survive until it does.
        method = self.__dict__.pop(self._testMethodName, None)
        super()._clear_attrs()
        if method is not None:
            self.__dict__[self._testMethodName] = method


def test_generic_count():
    """How many of Nova's generic tests we pass for real (printed)."""
    names = [n for n in vars(generic._VirtDriverTestCase)
             if n.startswith('test_')]
    passing = len(names) - len(NOT_PASSING)
    print('\nNova generic virt driver tests: %d of %d pass strictly' % (
        passing, len(names)))
    assert set(NOT_PASSING) <= set(names)
    assert len(names) == 64
    assert passing >= 35
