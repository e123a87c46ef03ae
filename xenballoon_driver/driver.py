"""The compute driver: validates, builds a flow, runs it.

Shaped like a Nova virt driver (init_host, spawn, destroy, list_instances,
get_available_resource, update_provider_tree), loaded with stevedore from
``xenballoon_driver.compute_drivers``.
"""

import dataclasses
import os

from oslo_log import log as logging

from xenballoon_driver import conf as conf_mod
from xenballoon_driver import exception
from xenballoon_driver.flows import destroy as destroy_flow
from xenballoon_driver.flows import engine
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import names
from xenballoon_driver.flows import recovery
from xenballoon_driver.flows import registry
from xenballoon_driver.flows import resume
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver import host_identity
from xenballoon_driver import hypervisor
from xenballoon_driver.hypervisor import base
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver import lifecycle
from xenballoon_driver import locks
from xenballoon_driver import persistence as persistence_mod
from xenballoon_driver import resources
from xenballoon_driver import validation

LOG = logging.getLogger(__name__)


class XenBalloonDriver:
    def __init__(self, conf=None, backend=None, ledger=None,
                 persistence=None, lock_dir=None):
        self.conf = conf or conf_mod.CONF
        self.backend = backend
        self.ledger = ledger
        self.persistence = persistence
        # Running flows hold a lock file here; None: no locks (simulate).
        self.lock_dir = lock_dir
        # The name that owns this host's flows and ledger in the store.
        self.host = None
        # dom0's release rate as this process has measured it.
        self.release_rate = resources.ReleaseRate()

    def init_host(self, host=None, recover=True):
        """Check the configuration, connect to the backend and the store.

        Then, unless ``recover`` is false, finish or undo every flow a
        crash interrupted (see flows/recovery.py).
        """
        conf_mod.validate(self.conf)
        if self.host is None:
            self.host = host_identity.resolve(self.conf)
        if self.backend is None:
            self.backend = hypervisor.load(self.conf)
        state_dir = os.path.expanduser(self.conf.xenballoon.state_dir)
        if self.persistence is None or self.ledger is None:
            stores = persistence_mod.open(self.conf)
            if self.persistence is None:
                self.persistence = stores.flows
            if self.ledger is None:
                self.ledger = ledger_mod.Ledger(
                    ledger_mod.DocumentStorage(stores.documents, self.host,
                                               locks.ledger_path(state_dir)),
                    self.conf.xenballoon.dom0_min_memory_mb,
                    ledger_mod.Policy.from_conf(self.conf))
        if self.lock_dir is None:
            self.lock_dir = os.path.join(state_dir, 'locks')
        if recover:
            self.recover()
        return self

    def recover(self):
        """Resume or revert interrupted flows; report what is out of step.

        Then the warm headroom is set up again (keep_headroom): a kill
        may have stored it without asking dom0 for it. Returns (list of
        resume.Recovered, list of reconcile.Orphan).
        """
        found = recovery.recover(self)
        self.keep_headroom()
        return found

    def discard_flow(self, flow_id):
        """Close a quarantined flow of this host (see flows/resume.py)."""
        resume.discard_quarantined(self, flow_id)

    def list_flows(self):
        return listing.list_flows(self.persistence, self.host)

    def spawn(self, name, memory_mb, vcpus=1, guest_type='pv',
              progress=None, cancel=None, uuid=None, disks=(), vifs=()):
        """Create a domain, ballooning dom0 as far as it needs.

        ``uuid``: the instance UUID kept with the domain (Nova's
        instance.uuid), reported back by list_domains; None for none.
        ``disks`` and ``vifs``: see DomainSpec. The spec is kept in the
        ledger entry, so power_on can build the guest again.

        Returns the domain's DomainInfo. Every failure leaves the host as
        it was: no domain, dom0 re-inflated, no reservation held. Setting
        the ``cancel`` event (threading.Event) stops the balloon wait with
        SpawnCancelled.
        """
        spec = base.DomainSpec(
            name=validation.domain_name(name),
            memory_mb=validation.memory_mb(memory_mb),
            vcpus=validation.vcpus(vcpus),
            guest_type=validation.guest_type(guest_type),
            uuid=None if uuid is None else validation.instance_uuid(uuid),
            disks=validation.disks(disks), vifs=validation.vifs(vifs))
        flow = registry.build(self, spawn_flow.FLOW_NAME, cancel=cancel)
        try:
            # Flow inputs are plain data: persisted logbooks store them
            # as JSON.
            results = engine.run(flow, {names.SPEC: spec.to_dict()},
                                 progress=progress,
                                 persistence=self.persistence,
                                 request='spawn %s' % spec.name,
                                 lock_dir=self.lock_dir,
                                 meta=registry.meta(spawn_flow.FLOW_NAME,
                                                    self.host))
        finally:
            self.keep_headroom()
        report = results.get(names.BALLOON_REPORT) or {}
        self.release_rate.observe(report.get('released_mb', 0),
                                  report.get('waited_s', 0),
                                  self.conf.xenballoon.poll_interval)
        return base.DomainInfo(**results[names.DOMAIN])

    def destroy(self, name):
        validation.domain_name(name)
        args = {'reinflate': self.conf.xenballoon.reinflate_on_destroy}
        flow = registry.build(self, destroy_flow.FLOW_NAME, **args)
        try:
            results = engine.run(flow, {names.NAME: name},
                                 persistence=self.persistence,
                                 request='destroy %s' % name,
                                 lock_dir=self.lock_dir,
                                 meta=registry.meta(destroy_flow.FLOW_NAME,
                                                    self.host, **args))
        finally:
            self.keep_headroom()
        return results[names.DOM0_TARGET_AFTER]

    def keep_headroom(self):
        """Keep [xenballoon] free_headroom_mb free while nothing waits.

        See ledger/headroom.py. Called after every spawn, destroy and
        power change, at start-up and on each resource report. A failure
        is logged, never raised: the caller's own work is done, and the
        next call tries again. Returns the MiB dom0 gives up for the
        headroom, or None when nothing was done.
        """
        want = self.conf.xenballoon.free_headroom_mb
        try:
            return self.ledger.keep_headroom(self.backend, want)
        except exception.XenBalloonException as err:
            LOG.warning('Could not keep %d MiB of headroom free: %s; tried '
                        'again after the next spawn or destroy, or on the '
                        'next resource report', want, err)
            return None

    # -- the guest lifecycle (see lifecycle.py) ----------------------------

    def power_off(self, name, timeout=0, retry_interval=0):
        """Stop the guest; its memory stays reserved for its power_on.

        timeout 0: destroy at once; else ask for a clean shutdown, again
        every retry_interval s, and destroy when timeout runs out.
        Returns True if it shut down cleanly. Already stopped: no-op.
        """
        return lifecycle.power_off(self, name, timeout, retry_interval)

    def power_on(self, name):
        """Start a stopped (or suspended) guest; returns its DomainInfo."""
        return lifecycle.power_on(self, name)

    def reboot(self, name, hard=False, timeout=60, retry_interval=10):
        return lifecycle.reboot(self, name, hard, timeout, retry_interval)

    def pause(self, name):
        return lifecycle.pause(self, name)

    def unpause(self, name):
        return lifecycle.unpause(self, name)

    def suspend(self, name):
        return lifecycle.suspend(self, name)

    def resume(self, name):
        return lifecycle.resume(self, name)

    def console_output(self, name):
        return lifecycle.console_output(self, name)

    def host_uptime(self):
        return self.backend.host_uptime()

    def list_guests(self):
        """Every guest of this host: running, stopped and suspended."""
        return lifecycle.list_guests(self)

    def set_vifs(self, name, vifs):
        """Record the guest's vifs, used from its next start."""
        lifecycle.set_vifs(self, name, vifs)

    def list_instances(self):
        return [info.name for info in self.backend.list_domains()]

    def list_domains(self):
        return self.backend.list_domains()

    def host_status(self):
        """The host's memory as the driver sees it, in MiB."""
        return dataclasses.asdict(self.ledger.figures(self.backend))

    # -- what the host reports to a scheduler (see resources.py) ---------

    def get_available_resource(self, nodename=None):
        """Nova's resource-tracker dict, plus our figures (``xenballoon``).

        Nova calls it periodically: the headroom is set up again first.
        """
        self.keep_headroom()
        return resources.available_resource(self, nodename)

    def get_inventory(self, nodename=None):
        """Placement inventory: MEMORY_MB and VCPU."""
        return resources.inventory(self, nodename)

    def get_traits(self):
        return resources.traits()

    def update_provider_tree(self, provider_tree, nodename,
                             allocations=None):
        """Publish inventory and traits through Nova's ProviderTree."""
        resources.update_provider_tree(self, provider_tree, nodename,
                                       allocations)
