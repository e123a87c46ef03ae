"""What a host reports to a scheduler, in Nova's shapes.

``available_resource`` is the dict Nova's resource tracker reads from
``get_available_resource``; ``inventory`` and ``traits`` are what
``update_provider_tree`` publishes to placement. All memory is MiB.

The point of it all: a Xen host whose dom0 holds most of the RAM is not
full. Nova's own Xen drivers either reported only what was free
(xenapi) or counted dom0 as used (libvirt-xen). Here dom0 counts as used
only down to its floor ([xenballoon] dom0_min_memory_mb): what it can give
back is available, and the ``xenballoon`` extras say how much of that
needs ballooning and how fast dom0 gives memory back, for the balloon
aware filter and weigher (xenballoon_driver.scheduler).

Placement tells the truth: whatever placement admits, the ledger builds.
Placement counts a guest by its flavor's RAM, but Xen takes more: libxl's
per-guest overhead (hypervisor/footprint.py: 2 MiB for PV; for HVM and
PVH 2 MiB plus shadow memory of 4 KiB x (256 x vCPUs + 2 x MiB), rounded
up to 2 MiB). So MEMORY_MB ``reserved`` (memory_inventory) is

    dom0's floor + Xen's own memory
    + the overhead of every guest the ledger holds (spawns in flight too)
    + the worst-case overhead of ONE more guest: HVM, as many vCPUs as
      the host has CPUs, as big as all that is left

computed exactly as ``total - G - A + W``: A is the ledger's own
``available_mb`` (what ``Ledger.reserve`` compares a footprint with: free
memory and dom0 down to its floor, less what spawns in flight are
promised), G the guests' own memory the ledger holds (what placement
counts as used), W = overhead_mb(A, host CPUs, 'hvm'). Placement then
admits a guest of m MiB iff G + m <= total - reserved, i.e. m <= A - W;
its footprint m + overhead(m, vCPUs, type) <= m + W <= A, since the
overhead grows with memory and vCPUs, is largest for HVM, and placement
never gives a guest more vCPUs than the host has (VCPU max_unit). When
placement says no, at most W (one guest's overhead) is stranded.

``reserved`` changes with every guest: it is recomputed each time Nova
calls update_provider_tree (periodically, and after each claim). It is
exact when each guest's claim reaches the ledger (the spawn's
reservation) before the next claim on the host: a claim Nova makes before
the previous claim's spawn has reserved is covered only by W.
"""

import json
import threading

from xenballoon_driver.hypervisor import footprint

# Our traits: os-traits' custom namespace (CUSTOM_ + A-Z, 0-9, _).
TRAIT_PREFIX = 'CUSTOM_XENBALLOON_'
TRAITS = (TRAIT_PREFIX + 'BALLOONING',)
# (arch, hv_type, vm_mode): Nova's vm_mode for a PV guest is "xen"; Nova
# has no mode for PVH, which the driver also builds.
VM_MODES = ('xen', 'hvm')

# A spawn that released less than this from dom0, or waited less than
# MIN_RATE_SAMPLE_POLLS x [xenballoon] poll_interval, says too little
# about the rate: the wait's first look after the start comes a whole
# poll_interval later (no rate is known yet), so a short balloon looks
# slow. It is not counted.
MIN_RATE_SAMPLE_MB = 512
MIN_RATE_SAMPLE_POLLS = 2
# Weight of the newest sample in the release rate's moving average.
RATE_WEIGHT = 0.5


class ReleaseRate:
    """dom0's measured release rate on one host, MiB/s.

    An exponentially weighted moving average of what each spawn saw while
    it waited for the balloon: MiB released / seconds waited (dom0's start
    delay included, since a request waits for it too). None until a spawn
    has waited for at least MIN_RATE_SAMPLE_MB. Kept in the driver's
    process: a long-running compute service learns its host's rate; a new
    process starts from [scheduler] default_release_rate_mb_s.
    """

    def __init__(self):
        self.mb_s = None
        self.samples = 0
        self._lock = threading.Lock()

    def observe(self, released_mb, waited_s, poll_interval=0.0):
        """Count one wait; returns the estimate (None if still unknown)."""
        if (released_mb < MIN_RATE_SAMPLE_MB or waited_s <= 0 or
                waited_s < MIN_RATE_SAMPLE_POLLS * poll_interval):
            return self.mb_s
        sample = released_mb / waited_s
        with self._lock:
            if self.mb_s is None:
                self.mb_s = sample
            else:
                self.mb_s += RATE_WEIGHT * (sample - self.mb_s)
            self.samples += 1
            return self.mb_s


def _cpu_info(info):
    cores = info.cores_per_socket or info.cpus
    threads = info.threads_per_core or 1
    return json.dumps({
        'arch': info.arch,
        'topology': {'sockets': max(1, info.cpus // (cores * threads)),
                     'cores': cores, 'threads': threads},
        'features': []}, sort_keys=True)


def available_resource(driver, nodename=None):
    """Nova's resource-tracker dict for the driver's host.

    ``memory_mb`` is the host's RAM; ``memory_mb_used`` is memory_mb
    minus what can still be had (``xenballoon.available_mb``): Xen's own
    memory, dom0 down to its floor, guests, and memory promised to spawns
    in flight. No local disk is reported (0 GB).
    """
    backend = driver.backend
    fig = driver.ledger.figures(backend)
    info = backend.host_info()
    domains = backend.list_domains()
    guests_mb = sum(d.memory_mb for d in domains)
    # Xen's own memory (heap, frame table), as measured now.
    xen_mb = max(0, fig.total_mb - fig.free_mb - fig.dom0_current_mb -
                 guests_mb)
    measured = driver.release_rate.mb_s
    rate = measured or driver.conf.scheduler.default_release_rate_mb_s
    return {
        'vcpus': info.cpus,
        'vcpus_used': sum(d.vcpus for d in domains),
        'memory_mb': fig.total_mb,
        'memory_mb_used': fig.total_mb - fig.available_mb,
        'local_gb': 0,
        'local_gb_used': 0,
        'disk_available_least': 0,
        'hypervisor_type': 'xen',
        'hypervisor_version': info.hypervisor_version,
        'hypervisor_hostname': nodename or driver.host,
        'cpu_info': _cpu_info(info),
        'numa_topology': None,
        'supported_instances': [(info.arch, 'xen', mode)
                                for mode in VM_MODES],
        'xenballoon': {
            'backend': backend.hypervisor_type,
            'free_mb': fig.free_mb,
            'balloonable_mb': fig.balloonable_mb,
            'reserved_mb': fig.reserved_mb,
            'available_mb': fig.available_mb,
            # Free memory promised to nobody: a guest up to this size
            # builds with no balloon wait (the warm headroom, when kept).
            'ready_mb': fig.ready_mb,
            'headroom_from_dom0_mb': fig.headroom_from_dom0_mb,
            'release_rate_mb_s': float(rate),
            'release_rate_measured': measured is not None,
            'dom0_current_mb': fig.dom0_current_mb,
            'dom0_target_mb': fig.dom0_target_mb,
            'dom0_min_mb': fig.dom0_min_mb,
            'xen_mb': xen_mb,
            'guests': len(domains),
        },
    }


def memory_inventory(driver, cpus):
    """(total, reserved) MiB for placement's MEMORY_MB (see above).

    ``cpus``: the host's CPUs, the most vCPUs placement gives one guest.
    """
    fig, guests_mb = driver.ledger.placement_view(driver.backend, cpus)
    total = fig.total_mb
    left = max(0, fig.available_mb)
    # The worst overhead of one more guest placement may admit: no guest
    # bigger than what is left, none with more vCPUs than the host's.
    headroom = footprint.overhead_mb(left, max(1, cpus), 'hvm')
    reserved = total - guests_mb - left + headroom
    return total, min(total, max(0, reserved))


def inventory(driver, nodename=None):
    """Placement inventory: MEMORY_MB and VCPU (no disk is reported).

    MEMORY_MB ``reserved`` is what no guest placement admits can have:
    dom0's floor, Xen's own memory and libxl's per-guest overhead, for
    the guests the ledger holds and one more (memory_inventory). Memory
    dom0 holds above its floor is capacity: the driver balloons it back
    for a guest. Never overcommitted.
    """
    # Only the CPU count: memory_inventory takes its own look at the host
    # (a whole available_resource here would read it twice).
    cpus = driver.backend.host_info().cpus
    total, reserved = memory_inventory(driver, cpus)
    return {
        'MEMORY_MB': {'total': total, 'reserved': reserved, 'min_unit': 1,
                      'max_unit': max(1, total - reserved), 'step_size': 1,
                      'allocation_ratio': 1.0},
        'VCPU': {'total': cpus, 'reserved': 0, 'min_unit': 1,
                 'max_unit': cpus, 'step_size': 1,
                 'allocation_ratio':
                     driver.conf.scheduler.cpu_allocation_ratio},
    }


def traits():
    return list(TRAITS)


def update_provider_tree(driver, provider_tree, nodename,
                         allocations=None):
    """Publish inventory and traits through Nova's ProviderTree API.

    Traits others set on the provider are kept; ours (CUSTOM_XENBALLOON_*)
    are replaced by what the driver reports now. ``allocations`` is
    accepted for Nova's signature; nothing needs reshaping.
    """
    provider_tree.update_inventory(nodename, inventory(driver, nodename))
    existing = set(provider_tree.data(nodename).traits)
    keep = {t for t in existing if not t.startswith(TRAIT_PREFIX)}
    provider_tree.update_traits(nodename, sorted(keep | set(traits())))
