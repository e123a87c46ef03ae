"""Servers booted and deleted through Nova's REST API on our driver.

See functional_base.py for the harness: Nova's API, conductor, scheduler
and compute services, real placement, the simulator on a virtual clock.
"""

import pytest

pytest.importorskip('nova.tests.functional.integrated_helpers')

from nova.compute import instance_actions  # noqa: E402

from tests.nova import functional_base  # noqa: E402

GiB = functional_base.GiB
HOST = functional_base.HOST


class BootDeleteTest(functional_base.XenBalloonTestCase):

    def test_boot_waits_active_then_delete_gives_it_all_back(self):
        dom0_before = self.backend.dom0_memory().target_mb
        server = self.boot(self.flavor(12 * GiB, vcpus=2))
        self.assertEqual(HOST, server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(1, server['OS-EXT-STS:power_state'])  # RUNNING
        dom = self.domain(server)
        self.assertEqual('instance-%08x' % 1, dom.name)
        # The flavor's memory plus libxl's 2 MiB PV overhead, its vCPUs.
        self.assertEqual((12 * GiB + 2, 2), (dom.memory_mb, dom.vcpus))
        # Free memory (8 GiB) was not enough: dom0 gave the rest.
        self.assertLess(self.backend.dom0_memory().target_mb, dom0_before)
        self.assertEqual(12 * GiB, self.memory_usage())

        self._delete_server(server)
        self.assertIsNone(self.domain(server))
        self.assertEqual({}, self.xb.ledger.entries())
        self.assertEqual(dom0_before, self.backend.dom0_memory().target_mb)
        self.assertEqual(0, self.memory_usage())

    def test_flavor_bigger_than_the_host_is_no_valid_host(self):
        server = self.boot(self.flavor(80 * GiB), expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        # Refused by placement: the compute host never saw it.
        self.assertIsNone(server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual([], self.backend.list_domains())
        self.assertEqual({}, self.xb.ledger.entries())

    def test_host_filled_until_placement_says_no_without_reschedules(self):
        flavor = self.flavor(10 * GiB)
        servers = []
        for _ in range(10):
            server = self.boot_until_settled(flavor)
            if server['status'] == 'ERROR':
                break
            servers.append(server)
        # 64 GiB, dom0's 1 GiB floor, guests' overhead: five fit.
        self.assertEqual(5, len(servers))
        self.assertIn('No valid host', server['fault']['message'])
        self.assertNotIn('Exceeded max scheduling attempts',
                         server['fault']['message'])
        self.assertIsNone(server['OS-EXT-SRV-ATTR:host'])
        # Every guest built at its first attempt: no compute failure, no
        # reschedule.
        for ok in servers:
            events = self.action_events(ok, instance_actions.CREATE)
            self.assertEqual(
                ['compute__do_build_and_run_instance'],
                [e['event'] for e in events if e['event'].startswith(
                    'compute')])
            self.assertEqual({'Success'}, {e['result'] for e in events})
        self.assertEqual(5, len(self.backend.list_domains()))
        self.assertEqual(50 * GiB, self.memory_usage())

    def test_restart_with_running_guests(self):
        flavor = self.flavor(4 * GiB)
        servers = [self.boot(flavor) for _ in range(2)]
        self.restart()
        for server in servers:
            server = self._show_server(server)
            self.assertEqual(('ACTIVE', 1, None), (
                server['status'], server['OS-EXT-STS:power_state'],
                server['OS-EXT-STS:task_state']))
            self.assertIsNotNone(self.domain(server))
        # The restarted service's driver knows them from its own ledger.
        self.assertEqual(sorted(s['id'] for s in servers),
                         sorted(self.compute.manager.driver.
                                list_instance_uuids()))
        self.assertEqual(8 * GiB, self.memory_usage())
        for server in servers:
            self._delete_server(server)
        self.assertEqual([], self.backend.list_domains())
        self.assertEqual({}, self.xb.ledger.entries())


class HostAsNovaSeesItTest(functional_base.XenBalloonTestCase):

    def test_nova_counts_memory_its_own_way_and_placement_ours(self):
        running = self.boot(self.flavor(12 * GiB))
        self._stop_server(self.boot(self.flavor(4 * GiB)))
        self._run_periodics()
        from nova import context
        from nova import objects
        node = objects.ComputeNode.get_by_host_and_nodename(
            context.get_admin_context(), HOST, HOST)
        # Nova's resource tracker drops our memory_mb_used and counts its
        # own: [DEFAULT] reserved_host_memory_mb plus every instance's
        # flavor, the stopped one too.
        self.assertEqual(512 + 16 * GiB, node.memory_mb_used)
        ours = self.xb.get_available_resource(HOST)['memory_mb_used']
        self.assertNotEqual(ours, node.memory_mb_used)
        # Placement keeps ours: dom0's floor and libxl's overheads.
        rp = self._get_provider_uuid_by_host(HOST)
        reserved = self._get_provider_inventory(rp)['MEMORY_MB']['reserved']
        self.assertGreater(reserved, self.xb.ledger.dom0_min_mb)
        self.assertIsNotNone(self.domain(running))

    def test_traits_of_the_compute_node(self):
        rp = self._get_provider_uuid_by_host(HOST)
        traits = set(self._get_provider_traits(rp))
        self.assertLessEqual(
            {'COMPUTE_NODE', 'COMPUTE_ARCH_X86_64',
             'COMPUTE_NET_VIF_MODEL_NETFRONT', 'COMPUTE_STORAGE_BUS_XEN',
             'CUSTOM_XENBALLOON_BALLOONING'}, traits)
        # No image type: our guests never boot the image.
        self.assertEqual([], [t for t in traits
                              if t.startswith('COMPUTE_IMAGE_TYPE_')])
