"""What a domain really takes from Xen: its memory plus libxl's overhead.

libxl asks Xen for more than the guest's memory: about 1 MiB for a PV guest
(LIBXL_MAXMEM_CONSTANT), 2 MiB for HVM/PVH plus shadow/p2m memory of
4 KiB x (256 x vCPUs + 2 x MiB of guest memory). We round the overhead up
to whole 2 MiB so that our accounting never falls short of Xen's.
"""

from xenballoon_driver import units
from xenballoon_driver import validation

PV_OVERHEAD_KIB = 1024
HVM_OVERHEAD_KIB = 2048
ROUND_MB = 2


def shadow_kib(memory_mb, vcpus):
    return 4 * (256 * vcpus + 2 * memory_mb)


def overhead_mb(memory_mb, vcpus=1, guest_type='pv'):
    if guest_type not in validation.GUEST_TYPES:
        raise ValueError('unknown guest type %r' % guest_type)
    if guest_type == 'pv':
        kib = PV_OVERHEAD_KIB
    else:
        kib = HVM_OVERHEAD_KIB + shadow_kib(memory_mb, vcpus)
    return units.round_up(units.kib_to_mib_ceil(kib), ROUND_MB)


def footprint_mb(memory_mb, vcpus=1, guest_type='pv'):
    return memory_mb + overhead_mb(memory_mb, vcpus, guest_type)
