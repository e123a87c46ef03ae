"""The server lifecycle through Nova's REST API on our driver.

Stop, start, reboots, pause, suspend and resume, the console log, a
refused resize and a compute restart with running and stopped guests,
each checked on the simulated host and in our ledger: a stopped or
suspended guest keeps its memory reserved (the entry STOPPED, its
allocation in placement, dom0 not given it back).
"""

import copy
import os
import uuid

import pytest

pytest.importorskip('nova.tests.functional.integrated_helpers')

from nova.compute import instance_actions  # noqa: E402
from nova.compute import power_state  # noqa: E402

from tests.nova import functional_base  # noqa: E402
from xenballoon_driver import ledger as ledger_mod  # noqa: E402

GiB = functional_base.GiB


class LifecycleTest(functional_base.XenBalloonTestCase):

    def setUp(self):
        super().setUp()
        self.server = self.boot(self.flavor(12 * GiB, vcpus=2))
        self.dom0_target = self.backend.dom0_memory().target_mb

    def assert_held_while_stopped(self, state='shutoff'):
        """Stopped: no domain, its memory promised to it, not to dom0."""
        self.assertIsNone(self.domain(self.server))
        self.assertEqual(ledger_mod.STOPPED, self.entry(self.server)['state'])
        self.assertEqual(12 * GiB, self.memory_usage())
        self.assertEqual(self.dom0_target,
                         self.backend.dom0_memory().target_mb)
        info = self.compute.manager.driver.get_info(
            self._get_instance(self.server))
        self.assertEqual({'shutoff': power_state.SHUTDOWN,
                          'suspended': power_state.SUSPENDED}[state],
                         info.state)

    def _get_instance(self, server):
        from nova import context
        from nova import objects
        return objects.Instance.get_by_uuid(context.get_admin_context(),
                                            server['id'])

    def test_stop_then_start(self):
        domid = self.domain(self.server).domid
        server = self._stop_server(self.server)
        self.assertEqual(power_state.SHUTDOWN,
                         server['OS-EXT-STS:power_state'])
        self.assert_held_while_stopped()

        server = self._start_server(server)
        self.assertEqual(power_state.RUNNING,
                         server['OS-EXT-STS:power_state'])
        dom = self.domain(server)
        self.assertNotEqual(domid, dom.domid)
        self.assertEqual((12 * GiB + 2, 2), (dom.memory_mb, dom.vcpus))
        self.assertEqual(ledger_mod.DOMAIN, self.entry(server)['state'])
        self.assertEqual(self.dom0_target,
                         self.backend.dom0_memory().target_mb)

    def test_delete_of_a_suspended_server(self):
        server = self._suspend_server(self.server)
        saved = self.entry(server)['saved']
        self._delete_server(server)
        self.assertEqual({}, self.xb.ledger.entries())
        self.assertFalse(os.path.exists(saved), saved)
        self.assertEqual(0, self.memory_usage())

    def test_delete_of_a_stopped_server(self):
        self._stop_server(self.server)
        self._delete_server(self.server)
        self.assertEqual({}, self.xb.ledger.entries())
        self.assertEqual(0, self.memory_usage())

    def test_soft_and_hard_reboot_build_a_new_domain(self):
        for hard in (False, True):
            domid = self.domain(self.server).domid
            server = self._reboot_server(self.server, hard=hard)
            self.assertEqual(power_state.RUNNING,
                             server['OS-EXT-STS:power_state'])
            self.assertNotEqual(domid, self.domain(server).domid)
            self.assertEqual(ledger_mod.DOMAIN, self.entry(server)['state'])
            self.assertEqual(12 * GiB, self.memory_usage())

    def test_pause_and_unpause(self):
        self.api.post_server_action(self.server['id'], {'pause': None})
        server = self._wait_for_state_change(self.server, 'PAUSED')
        self.assertEqual(power_state.PAUSED,
                         server['OS-EXT-STS:power_state'])
        self.assertEqual('paused', self.domain(server).state)
        self.api.post_server_action(server['id'], {'unpause': None})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('running', self.domain(server).state)

    def test_suspend_saves_memory_and_resume_restores_it(self):
        server = self._suspend_server(self.server)
        self.assert_held_while_stopped('suspended')
        saved = self.entry(server)['saved']
        self.assertTrue(os.path.isfile(saved), saved)
        server = self._resume_server(server)
        self.assertEqual(power_state.RUNNING,
                         server['OS-EXT-STS:power_state'])
        self.assertEqual('running', self.domain(server).state)
        self.assertNotIn('saved', self.entry(server))

    def test_rebuild_is_destroy_then_spawn(self):
        # Nova's own rebuild for a driver without one: destroy, spawn.
        domid = self.domain(self.server).domid
        self.api.post_server_action(self.server['id'], {'rebuild': {
            'imageRef': '155d900f-4e14-4e4c-a73d-069cbf4541e6'}})
        server = self._wait_for_state_change(self.server, 'ACTIVE')
        self._wait_for_instance_action_event(
            server, instance_actions.REBUILD, 'compute_rebuild_instance',
            'Success')
        self.assertNotEqual(domid, self.domain(server).domid)
        self.assertEqual(ledger_mod.DOMAIN, self.entry(server)['state'])
        self.assertEqual(12 * GiB, self.memory_usage())

    def test_console_log(self):
        output = self.api.post_server_action(
            self.server['id'], {'os-getConsoleOutput': {'length': 5}})
        full = self.xb.console_output(self.domain(self.server).name)
        # Nova keeps the last 5 pieces split at newlines: the log ends with
        # one, so its last 4 lines.
        self.assertEqual('\n'.join(full.split('\n')[-5:]), output['output'])
        self.assertEqual(4, len(output['output'].splitlines()))
        self.assertIn('login:', full)

    def test_resize_is_refused_and_the_server_kept(self):
        self.flags(allow_resize_to_same_host=True)
        domid = self.domain(self.server).domid
        bigger = self.flavor(16 * GiB, vcpus=2)
        self.api.post_server_action(self.server['id'],
                                    {'resize': {'flavorRef': bigger}})
        self._wait_for_migration_status(self.server, ['error'])
        server = self._wait_for_state_change(self.server, 'ACTIVE')
        self.assertEqual(12 * GiB, server['flavor']['ram'])
        event = self._wait_for_instance_action_event(
            server, instance_actions.RESIZE, 'compute_resize_instance',
            'Error')
        self.assertEqual(domid, self.domain(server).domid)
        self.assertEqual(ledger_mod.DOMAIN, self.entry(server)['state'])
        self.assertEqual(12 * GiB, self.memory_usage())
        self.assertIsNotNone(event)

    def test_restart_with_a_running_and_a_stopped_guest(self):
        stopped = self._stop_server(
            self.boot(self.flavor(4 * GiB, vcpus=1)))
        suspended = self._suspend_server(
            self.boot(self.flavor(2 * GiB, vcpus=1)))
        self.restart()
        suspended = self._show_server(suspended)
        self.assertEqual(('SUSPENDED', power_state.SUSPENDED), (
            suspended['status'], suspended['OS-EXT-STS:power_state']))
        suspended = self._resume_server(suspended)
        self.assertEqual('running', self.domain(suspended).state)
        self._delete_server(suspended)
        server = self._show_server(self.server)
        self.assertEqual(('ACTIVE', power_state.RUNNING), (
            server['status'], server['OS-EXT-STS:power_state']))
        stopped = self._show_server(stopped)
        self.assertEqual(('SHUTOFF', power_state.SHUTDOWN), (
            stopped['status'], stopped['OS-EXT-STS:power_state']))
        self.assertIsNone(self.domain(stopped))
        # Both this host's, for the restarted service too.
        self.assertEqual(
            sorted([self.server['id'], stopped['id']]),
            sorted(self.compute.manager.driver.list_instance_uuids()))
        self.assertEqual(16 * GiB, self.memory_usage())
        stopped = self._start_server(stopped)
        self.assertEqual('running', self.domain(stopped).state)


class GuestIgnoringShutdownTest(functional_base.XenBalloonTestCase):
    # The first server's guest never acts on a shutdown request.
    GUEST = {'ignore_shutdown': ['instance-00000001']}

    def test_soft_reboot_falls_back_to_hard_after_the_timeout(self):
        self.flags(shutdown_timeout=30)
        server = self.boot(self.flavor(4 * GiB))
        domid = self.domain(server).domid
        started = self.clock.now()
        server = self._reboot_server(server)
        self.assertEqual(power_state.RUNNING,
                         server['OS-EXT-STS:power_state'])
        self.assertNotEqual(domid, self.domain(server).domid)
        # Waited the whole timeout (virtual seconds), then destroyed.
        self.assertGreaterEqual(self.clock.now() - started, 30)
        self.assertEqual(ledger_mod.DOMAIN, self.entry(server)['state'])

    def test_stop_destroys_after_the_timeout(self):
        self.flags(shutdown_timeout=20)
        server = self.boot(self.flavor(4 * GiB))
        started = self.clock.now()
        server = self._stop_server(server)
        self.assertGreaterEqual(self.clock.now() - started, 20)
        self.assertIsNone(self.domain(server))
        self.assertEqual(ledger_mod.STOPPED, self.entry(server)['state'])
        self.assertEqual('SHUTOFF', server['status'])


class DisksAndVifsTest(functional_base.XenBalloonTestCase):

    def test_flavor_disks_are_sparse_files_removed_with_the_server(self):
        server = self.boot(self.flavor(2 * GiB, disk=2, ephemeral=1,
                                       swap=256))
        path = os.path.join(self.tmp, 'instances', server['id'])
        sizes = {name: os.stat(os.path.join(path, name)).st_size
                 for name in os.listdir(path)}
        self.assertEqual({'disk': 2 << 30, 'disk.local': 1 << 30,
                          'disk.swap': 256 << 20}, sizes)
        for name in sizes:
            # Sparse: nothing of the host's disk taken yet.
            self.assertEqual(0, os.stat(os.path.join(path, name)).st_blocks)
        self.assertEqual(
            [{'path': os.path.join(path, name), 'vdev': vdev}
             for name, vdev in (('disk', 'xvda'), ('disk.local', 'xvdb'),
                                ('disk.swap', 'xvdc'))],
            self.entry(server)['spec']['disks'])
        rp = self._get_provider_uuid_by_host(functional_base.HOST)
        # Placement counts swap in whole GiB: 2 + 1 + 1.
        self.assertEqual(4, self._get_provider_usages(rp)['DISK_GB'])
        # Stopped, the disks stay; deleted, they go.
        self._stop_server(server)
        self.assertTrue(os.path.isdir(path))
        self._delete_server(server)
        self.assertFalse(os.path.exists(path))

    def test_ports_are_vifs_on_their_bridge(self):
        port = self.neutron.port_1
        server = self._create_server(
            flavor_id=self.flavor(GiB), networks=[{'port': port['id']}])
        self.assertEqual([{'mac': port['mac_address'], 'bridge': 'br-int'}],
                         self.entry(server)['spec']['vifs'])
        # Kept across a stop and start.
        server = self._start_server(self._stop_server(server))
        self.assertEqual([{'mac': port['mac_address'], 'bridge': 'br-int'}],
                         self.entry(server)['spec']['vifs'])

    def test_a_port_that_is_no_bridge_is_refused(self):
        # A vhost-user port (an OVS-DPDK socket): nothing a Xen vif names.
        port = copy.deepcopy(self.neutron.port_2)
        port.update(id=str(uuid.uuid4()),
                    **{'binding:vif_type': 'vhostuser'})
        self.neutron._ports[port['id']] = port
        server = self._create_server(
            flavor_id=self.flavor(GiB), networks=[{'port': port['id']}],
            expected_state='ERROR')
        self.assertIn('cannot be a Xen vif', server['fault']['message'])
        self.assertEqual([], self.backend.list_domains())
        self.assertEqual({}, self.xb.ledger.entries())
