"""What Nova can ask about one guest: diagnostics and its disk files.

From what the host says of the guest (our DomainInfo: state, memory the
domain holds, vCPUs) and its disk files as they are on disk. No CPU time,
block or network counters: the backend contract has none.
"""

from oslo_serialization import jsonutils

from nova.compute import power_state
from nova import exception as nova_exc
from nova.objects import diagnostics as diagnostics_obj

from nova.virt.xenballoon import disks
from nova.virt.xenballoon import errors


class DiagnosticsMixin:
    """Diagnostics of XenBalloonComputeDriver (needs _guest_of)."""

    def _known_guest(self, instance):
        info = self._guest_of(instance)
        if info is None:
            raise nova_exc.InstanceNotFound(instance_id=instance.uuid)
        return info

    def get_diagnostics(self, instance):
        """Nova's legacy diagnostics dict: memory in KiB, as libvirt's."""
        info = self._known_guest(instance)
        return {'state': info.state, 'vcpus': info.vcpus,
                'memory': info.memory_mb * 1024,
                'memory-flavor': instance.flavor.memory_mb * 1024}

    def get_instance_diagnostics(self, instance):
        info = self._known_guest(instance)
        state = errors.POWER_STATES.get(info.state, power_state.NOSTATE)
        diags = diagnostics_obj.Diagnostics(
            # driver: Nova's enum names its own drivers only; left unset.
            state=power_state.STATE_MAP[state], hypervisor='xen',
            hypervisor_os='linux', config_drive=False)
        # No CPU times: one entry per vCPU.
        for vcpu in range(info.vcpus):
            diags.add_cpu(id=vcpu)
        # Maximum: the flavor's; used: what the domain holds (MiB), with
        # libxl's overhead while it runs, none while stopped.
        used = info.memory_mb if info.domid >= 0 else 0
        diags.memory_details = diagnostics_obj.MemoryDiagnostics(
            maximum=instance.flavor.memory_mb, used=used)
        # No I/O counters: one entry per disk file.
        for _disk in disks.info(instance):
            diags.add_disk()
        return diags

    def get_instance_disk_info(self, instance, block_device_info=None):
        """The instance's disk files, JSON, in Nova's libvirt shape."""
        self._known_guest(instance)
        return jsonutils.dumps(disks.info(instance))
