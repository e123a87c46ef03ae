"""Nova's functional harness with our adapter as the compute driver.

Nova's own ProviderUsageBaseTestCase (nova.tests.functional.
integrated_helpers): its API, conductor, scheduler and compute services,
real placement (PlacementFixture), Glance and Neutron fakes, nothing of
Nova patched. The compute service loads our adapter through
``[DEFAULT] compute_driver``. Our driver's backend is the simulator on a
virtual clock, injected where the driver loads its backend
(``xenballoon_driver.hypervisor.load``), so no test waits real seconds
for a balloon or a guest's shutdown. The host outlives a compute
restart, as a real one would; the ledger and flows live in the state
directory, as in production.
"""

import dataclasses
import os
import sys
import time

import fixtures
import nova.conf
from nova.tests.functional import integrated_helpers

from tests import conftest as base
from xenballoon_driver import clock as clock_mod
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import store as store_mod

GiB = base.GiB
HOST = 'compute1'


class XenBalloonTestCase(integrated_helpers.ProviderUsageBaseTestCase):
    compute_driver = 'xenballoon.XenBalloonComputeDriver'
    # Nova's external locks (oslo.concurrency) get a lock_path.
    REQUIRES_LOCKING = True
    # The simulated guests' behaviour (simulator/specs.py GuestSpec).
    GUEST = {}

    def setUp(self):
        # Nova's api-paste.ini is installed under the environment's prefix.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'))
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.flags(state_dir=os.path.join(self.tmp, 'state'),
                   group='xenballoon')
        # Nova's default quotas (50 GiB of RAM) would refuse first.
        self.flags(ram=-1, cores=-1, instances=-1, group='quota')
        self.flags(instances_path=os.path.join(self.tmp, 'instances'))
        scenario = base.make_scenario()
        if self.GUEST:
            scenario = dataclasses.replace(scenario, guest=dataclasses.replace(
                scenario.guest, **self.GUEST))
        self.model = model_mod.HostModel(scenario)
        self.clock = clock_mod.VirtualClock()
        self.backend = simulated.SimulatedHypervisor(
            nova.conf.CONF,
            store=store_mod.MemoryStore(self.model, self.clock))
        self.useFixture(fixtures.MockPatch(
            'xenballoon_driver.hypervisor.load', return_value=self.backend))
        self.compute = self._start_compute(HOST)

    def _clear_attrs(self):
        # Nova's cleanup deletes every public attribute; pytest's own (the
        # test method it set on the instance) must survive until it does.
        method = self.__dict__.pop(self._testMethodName, None)
        super()._clear_attrs()
        if method is not None:
            self.__dict__[self._testMethodName] = method

    # -- helpers ---------------------------------------------------------

    @property
    def xb(self):
        """Our driver inside the running compute service."""
        return self.compute.manager.driver.driver

    def flavor(self, memory_mb, vcpus=1, disk=0, ephemeral=0, swap=0):
        """A flavor's id; no disk unless asked."""
        return self._create_flavor(
            name='m%d-%d-%d-%d-%d' % (memory_mb, vcpus, disk, ephemeral,
                                      swap),
            memory_mb=memory_mb, vcpu=vcpus, disk=disk, ephemeral=ephemeral,
            swap=swap)

    def boot(self, flavor_id, expected_state='ACTIVE'):
        return self._create_server(flavor_id=flavor_id, networks='none',
                                   expected_state=expected_state)

    def boot_until_settled(self, flavor_id):
        """Post a server; return it once ACTIVE or ERROR (with its fault)."""
        server = self.api.post_server({'server': self._build_server(
            flavor_id=flavor_id, networks='none')})
        for _ in range(100):
            server = self.api.get_server(server['id'])
            if server['status'] == 'ACTIVE' or 'fault' in server:
                return server
            time.sleep(0.1)
        self.fail('server %s still %s' % (server['id'], server['status']))

    def action_events(self, server, action):
        """The events of the server's one ``action`` (instance_actions)."""
        actions = [a for a in self.api.get_instance_actions(server['id'])
                   if a['action'] == action]
        self.assertEqual(1, len(actions), actions)
        return self.api.get_instance_action_details(
            server['id'], actions[0]['request_id'])['events']

    def domain(self, server):
        """The simulated host's domain of ``server``, or None."""
        for info in self.backend.list_domains():
            if info.uuid == server['id']:
                return info
        return None

    def restart(self):
        """nova-compute restarts: a new manager and driver, the same host."""
        self.compute = self.restart_compute_service(
            self.compute, keep_hypervisor_state=False)
        self.computes[HOST] = self.compute
        return self.compute

    def entry(self, server):
        """The ledger's entry of ``server`` (read afresh), or None."""
        for entry in self.xb.ledger.entries().values():
            if (entry.get('spec') or {}).get('uuid') == server['id']:
                return entry
        return None

    def memory_usage(self):
        rp = self._get_provider_uuid_by_host(HOST)
        return self._get_provider_usages(rp)['MEMORY_MB']
