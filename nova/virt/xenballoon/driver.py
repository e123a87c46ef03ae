"""A Nova compute driver that delegates to xenballoon_driver.

Nova's compute manager calls this class; every call that does something
goes to ``xenballoon_driver.driver.XenBalloonDriver`` (spawn and destroy
flows, host figures, placement inventory) and our errors come back as
Nova's exceptions. Guests are memory and vCPUs only: images, disks,
networks, volumes, consoles and migrations are not handled (the base
class raises NotImplementedError for what is not here).
"""

import contextlib

import os_resource_classes as orc
from oslo_log import log as logging

from nova.compute import power_state
import nova.conf
from nova import exception as nova_exc
from nova.virt import driver as nova_driver
from nova.virt import hardware

from xenballoon_driver import driver as xb_driver
from xenballoon_driver import exception as xb_exc
from xenballoon_driver import validation

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# Our backends' domain states (xl, libvirt, the simulator) -> Nova's.
POWER_STATES = {
    'running': power_state.RUNNING,
    'blocked': power_state.RUNNING,
    'paused': power_state.PAUSED,
    'shutdown': power_state.SHUTDOWN,
    'shutoff': power_state.SHUTDOWN,
    'dying': power_state.SHUTDOWN,
    'crashed': power_state.CRASHED,
    'pmsuspended': power_state.SUSPENDED,
    'building': power_state.NOSTATE,
}

# The image's hw_vm_mode -> our guest type ('xen' is Nova's name for PV).
GUEST_TYPES = {None: 'pv', 'xen': 'pv', 'hvm': 'hvm'}

# The host has no room for the guest: Nova reschedules to another host.
NO_ROOM = (xb_exc.NotEnoughMemory, xb_exc.OutOfMemory,
           xb_exc.BalloonStalled)


@contextlib.contextmanager
def nova_errors(instance, failure):
    """Raise our errors as Nova's; ``failure`` for the ones Nova lacks."""
    try:
        yield
    except xb_exc.InvalidInput as err:
        raise nova_exc.InvalidInput(reason=err.message) from err
    except NO_ROOM as err:
        raise nova_exc.ComputeResourcesUnavailable(
            reason=err.message) from err
    except xb_exc.DomainExists as err:
        raise nova_exc.InstanceExists(name=instance.name) from err
    except xb_exc.DomainNotFound as err:
        raise nova_exc.InstanceNotFound(instance_id=instance.uuid) from err
    except xb_exc.XenBalloonException as err:
        raise failure(reason=err.message) from err


class XenBalloonComputeDriver(nova_driver.ComputeDriver):
    # Every key of Nova 34's ComputeDriver.capabilities, said out loud.
    capabilities = {
        'has_imagecache': False,
        'supports_evacuate': False,
        'supports_migrate_to_same_host': False,
        'supports_attach_interface': False,
        'supports_device_tagging': False,
        'supports_tagged_attach_interface': False,
        'supports_tagged_attach_volume': False,
        'supports_extend_volume': False,
        'supports_multiattach': False,
        'supports_trusted_certs': False,
        'supports_pcpus': False,
        'supports_accelerators': False,
        'supports_bfv_rescue': False,
        'supports_vtpm': False,
        'supports_secure_boot': False,
        'supports_socket_pci_numa_affinity': False,
        'supports_remote_managed_ports': False,
        'supports_address_space_passthrough': False,
        'supports_address_space_emulated': False,
        'supports_virtio_fs': False,
        'supports_mem_backing_file': False,
        'supports_ephemeral_encryption': False,
        'supports_ephemeral_encryption_luks': False,
        'supports_ephemeral_encryption_plain': False,
        # Guests boot the kernel configured for the backend; the image is
        # not used, so no image type is claimed.
        'supports_image_type_aki': False,
        'supports_image_type_ami': False,
        'supports_image_type_ari': False,
        'supports_image_type_iso': False,
        'supports_image_type_qcow2': False,
        'supports_image_type_raw': False,
        'supports_image_type_vdi': False,
        'supports_image_type_vhd': False,
        'supports_image_type_vhdx': False,
        'supports_image_type_vmdk': False,
        'supports_image_type_ploop': False,
    }

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi)
        # Our options ([xenballoon], [hypervisor], ...) are registered on
        # the same global CONF as Nova's: they are read from nova.conf.
        self.driver = xb_driver.XenBalloonDriver()

    def init_host(self, host):
        """Connect to the backend, then finish or undo interrupted flows."""
        self.driver.init_host(host)

    def get_available_nodes(self, refresh=False):
        return [CONF.host]

    def list_instances(self):
        return self.driver.list_instances()

    def list_instance_uuids(self):
        """UUIDs of our domains that have one (spawned with instance.uuid).

        Nova's init_host asks this of a new compute host before anything
        else: it must answer, and with no domain at all, an empty list.
        """
        return [info.uuid for info in self.driver.list_domains() if info.uuid]

    def _domain_of(self, instance):
        """Our DomainInfo for ``instance``, or None.

        The domain that kept the instance's UUID; else (built before
        UUIDs were kept: none, or one xl or libvirt made up) the domain
        of the instance's name.
        """
        domains = self.driver.list_domains()
        for info in domains:
            if info.uuid == instance.uuid:
                return info
        for info in domains:
            if info.name == instance.name:
                return info
        return None

    def instance_exists(self, instance):
        return self._domain_of(instance) is not None

    def get_info(self, instance, use_cache=True):
        """Nova's power state; InstanceNotFound when the domain is gone."""
        info = self._domain_of(instance)
        if info is None:
            raise nova_exc.InstanceNotFound(instance_id=instance.uuid)
        return hardware.InstanceInfo(
            state=POWER_STATES.get(info.state, power_state.NOSTATE),
            internal_id=info.domid)

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        """Build the domain: flavor's memory and vCPUs, instance.name.

        Our flow undoes a failed spawn itself (no domain, dom0 given its
        memory back, no reservation); Nova's destroy() afterwards finds
        nothing and returns.
        """
        if not power_on:
            raise nova_exc.InstanceDeployFailure(
                reason='xenballoon cannot create a stopped domain '
                       '(power_on=False)')
        vm_mode = image_meta.properties.get('hw_vm_mode')
        if vm_mode not in GUEST_TYPES:
            raise nova_exc.InvalidInput(
                reason='image property hw_vm_mode=%s: xenballoon runs xen '
                       '(PV) or hvm guests' % vm_mode)
        flavor = instance.flavor
        with nova_errors(instance, nova_exc.InstanceDeployFailure):
            self.driver.spawn(validation.domain_name(instance.name),
                              flavor.memory_mb, flavor.vcpus,
                              guest_type=GUEST_TYPES[vm_mode],
                              uuid=instance.uuid)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        """Destroy the domain; a domain that is not there is no error."""
        try:
            name = validation.domain_name(instance.name)
            self.driver.destroy(name)
        except (xb_exc.DomainNotFound, xb_exc.InvalidInput):
            # Nova destroys after a failed spawn, which our flow has
            # already undone; a name we refuse was never built.
            LOG.info('No domain %s on this host: nothing to destroy',
                     instance.name, instance=instance)
        except xb_exc.XenBalloonException as err:
            raise nova_exc.InstanceTerminationFailure(
                reason=err.message) from err

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        """Nothing outlives the domain: no disks, vifs or secrets."""

    def get_available_resource(self, nodename):
        """Our host figures in the resource tracker's shape.

        Our extra figures (free, balloonable, reserved MiB, release rate)
        go into ``stats`` as ``xenballoon_<name>`` strings: the compute
        node stores them and the scheduler's HostState.stats carries them
        to the filter and weigher in nova.virt.xenballoon.scheduler.
        """
        resources = dict(self.driver.get_available_resource(nodename))
        stats = dict(resources.get('stats') or {})
        for key, value in resources.pop('xenballoon', {}).items():
            stats['xenballoon_%s' % key] = str(value)
        resources['stats'] = stats
        resources['hypervisor_hostname'] = nodename
        resources.setdefault(
            'disk_available_least',
            resources['local_gb'] - resources['local_gb_used'])
        return resources

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        """Our inventory and traits, with Nova's CPU and disk ratios.

        The driver publishes MEMORY_MB (allocation ratio 1.0: a Xen
        guest's memory cannot be overcommitted), VCPU and its traits,
        keeping traits others set. VCPU and DISK_GB then take Nova's
        allocation ratios (its options, else what placement has, else
        its initial ratios), as Nova's own drivers do.
        """
        ratios = self._get_allocation_ratios(
            provider_tree.data(nodename).inventory)
        self.driver.update_provider_tree(provider_tree, nodename,
                                         allocations)
        inventory = provider_tree.data(nodename).inventory
        for rc in (orc.VCPU, orc.DISK_GB):
            if rc in inventory:
                inventory[rc]['allocation_ratio'] = ratios[rc]
        provider_tree.update_inventory(nodename, inventory)
