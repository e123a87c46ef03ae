"""A Nova compute driver that delegates to xenballoon_driver.

Nova's compute manager calls this class; every call that does something
goes to ``xenballoon_driver.driver.XenBalloonDriver`` (spawn and destroy
flows, the lifecycle of lifecycle.py, host figures, placement
inventory) and our errors come back as Nova's exceptions (errors.py).
A guest has the flavor's memory and vCPUs, its disks as sparse raw files
(disks.py) and its Neutron ports as bridged Xen vifs (vifs.py). Images,
volumes, snapshots, resize and migration are not handled: the base class
raises NotImplementedError for what is not here, and a resize is refused
before anything moves.
"""

import os_resource_classes as orc
from oslo_log import log as logging

from nova.compute import power_state
from nova.compute import utils as compute_utils
import nova.conf
from nova import exception as nova_exc
from nova.virt import driver as nova_driver
from nova.virt import hardware
from nova.virt.xenballoon import diagnostics
from nova.virt.xenballoon import disks
from nova.virt.xenballoon import errors
from nova.virt.xenballoon import host as host_mod
from nova.virt.xenballoon import lifecycle
from nova.virt.xenballoon import vifs as vifs_mod

from xenballoon_driver import driver as xb_driver
from xenballoon_driver import exception as xb_exc
from xenballoon_driver import validation

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# The image's hw_vm_mode -> our guest type ('xen' is Nova's name for PV).
GUEST_TYPES = {None: 'pv', 'xen': 'pv', 'hvm': 'hvm'}


class XenBalloonComputeDriver(lifecycle.LifecycleMixin,
                              diagnostics.DiagnosticsMixin,
                              nova_driver.ComputeDriver):
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
        """Connect to the backend, then finish or undo interrupted flows.

        Our driver keeps this host's ledger and flows under Nova's
        [DEFAULT] host, unless [xenballoon] host is set (host.py).
        """
        if self.driver.host is None:
            self.driver.host = host_mod.name()
        self.driver.init_host(host)
        host_mod.check_reserved_memory(
            self.driver.get_available_resource(CONF.host))

    def get_available_nodes(self, refresh=False):
        return [CONF.host]

    def list_instances(self):
        return [info.name for info in self.driver.list_guests()]

    def list_instance_uuids(self):
        """UUIDs of our guests that have one (spawned with instance.uuid).

        Stopped and suspended guests too: they are this host's. Nova's
        init_host asks this of a new compute host before anything else: it
        must answer, and with no guest at all, an empty list.
        """
        return [info.uuid for info in self.driver.list_guests() if info.uuid]

    def _guest_of(self, instance):
        """Our DomainInfo for ``instance`` (running or not), or None.

        The guest that kept the instance's UUID; else (built before
        UUIDs were kept: none, or one xl or libvirt made up) the guest
        of the instance's name.
        """
        guests = self.driver.list_guests()
        for info in guests:
            if info.uuid == instance.uuid:
                return info
        for info in guests:
            if info.name == instance.name:
                return info
        return None

    def instance_exists(self, instance):
        return self._guest_of(instance) is not None

    def get_info(self, instance, use_cache=True):
        """Nova's power state of the guest (SHUTDOWN when stopped).

        InstanceNotFound when this host holds no such guest.
        """
        info = self._guest_of(instance)
        if info is None:
            raise nova_exc.InstanceNotFound(instance_id=instance.uuid)
        return hardware.InstanceInfo(
            state=errors.POWER_STATES.get(info.state, power_state.NOSTATE),
            internal_id=info.domid)

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        """Build the domain: flavor's memory, vCPUs and disks, its vifs.

        Our flow undoes a failed spawn itself (no domain, dom0 given its
        memory back, no reservation), and the disk files made for it go;
        Nova's destroy() afterwards finds nothing and returns.
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
        with errors.nova_errors(instance, nova_exc.InstanceDeployFailure):
            name = validation.domain_name(instance.name)
        vifs = vifs_mod.from_network_info(instance, network_info)
        spec_disks = disks.create(instance)
        try:
            with errors.nova_errors(instance, nova_exc.InstanceDeployFailure):
                self.driver.spawn(name, flavor.memory_mb, flavor.vcpus,
                                  guest_type=GUEST_TYPES[vm_mode],
                                  uuid=instance.uuid, disks=spec_disks,
                                  vifs=vifs)
        except BaseException:
            disks.remove(instance)
            raise

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        """Destroy the guest (running or stopped), then its disks if asked.

        A guest that is not there is no error.
        """
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
        if destroy_disks:
            disks.remove(instance)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        """After destroy: the disks, if asked (vifs and secrets: none)."""
        if destroy_disks:
            disks.remove(instance)

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
        # Our driver reports no disk; the instances' disks live in
        # [DEFAULT] instances_path, as with Nova's own drivers.
        total_gb, used_gb = disks.host_gb()
        resources.update(local_gb=total_gb, local_gb_used=used_gb,
                         disk_available_least=total_gb - used_gb)
        return resources

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        """Our inventory and traits, with Nova's CPU and disk ratios.

        The driver publishes MEMORY_MB (allocation ratio 1.0: a Xen
        guest's memory cannot be overcommitted), VCPU and its traits,
        keeping traits others set, and the COMPUTE_* traits of host.py.
        DISK_GB is the filesystem of
        [DEFAULT] instances_path less [DEFAULT] reserved_host_disk_mb, as
        Nova's libvirt driver reports it. VCPU and DISK_GB then take
        Nova's allocation ratios (its options, else what placement has,
        else its initial ratios), as Nova's own drivers do.
        """
        ratios = self._get_allocation_ratios(
            provider_tree.data(nodename).inventory)
        self.driver.update_provider_tree(provider_tree, nodename,
                                         allocations)
        provider_tree.add_traits(nodename, *host_mod.traits(
            self.driver.backend.host_info().arch))
        inventory = provider_tree.data(nodename).inventory
        total_gb, _used = disks.host_gb()
        inventory[orc.DISK_GB] = {
            'total': total_gb,
            'reserved': compute_utils.convert_mb_to_ceil_gb(
                CONF.reserved_host_disk_mb),
            'min_unit': 1, 'max_unit': total_gb, 'step_size': 1}
        for rc in (orc.VCPU, orc.DISK_GB):
            if rc in inventory:
                inventory[rc]['allocation_ratio'] = ratios[rc]
        provider_tree.update_inventory(nodename, inventory)
