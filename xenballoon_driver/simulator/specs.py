"""A scenario's sections: a simulated host, its balloon, its builds, the
toolstack's and driver's own times, and the requests.

Each field carries its default and range (fields.field); scenario.py
reads and checks a file into these.
"""

import dataclasses

from xenballoon_driver.hypervisor import footprint
from xenballoon_driver.simulator import fields
from xenballoon_driver import validation

GiB = 1024
MAX_HOST_CPUS = 4096
# At most this many hosts (after count) and generated requests.
MAX_HOSTS = 10000
MAX_GENERATED = 100000


@dataclasses.dataclass
class HostSpec:
    total_mb: int = fields.field(1024 * GiB, 1024, validation.MAX_MEMORY_MB,
                                 int)
    dom0_mb: int = fields.field(960 * GiB, 256, validation.MAX_MEMORY_MB, int)
    # Where dom0's balloon stalls: dom0 cannot shrink below it (what it
    # cannot free: unreclaimable memory and the kernel's reserve; 262-272
    # MiB for the 1.5 GiB dom0 of /work/shared/xenlab/captures, runs b009
    # and c007). Not sysfs info/low_kb: that is the memory IN the balloon
    # (262144 KiB at boot, a031; 786432 after mem-set 1024m, a160).
    dom0_low_mb: int = fields.field(2048, 128, validation.MAX_MEMORY_MB, int)
    # Memory Xen keeps for itself (heap, frame table): never free.
    xen_mb: int = fields.field(0, 0, validation.MAX_MEMORY_MB, int)
    # Physical CPUs, as the host reports them (resource figures only).
    cpus: int = fields.field(64, 1, MAX_HOST_CPUS, int)


@dataclasses.dataclass
class BalloonSpec:
    release_rate_mb_s: float = fields.field(680.0, 0.001, 1.0e6)
    reinflate_rate_mb_s: float = fields.field(1400.0, 0.001, 1.0e6)
    # Each simulated second's rate is multiplied by 1 +/- jitter.
    jitter: float = fields.field(0.0, 0.0, 0.95)
    start_delay_s: float = fields.field(0.0, 0.0, 3600.0)
    # Stop releasing after this many MiB in all (a stuck balloon).
    stall_after_mb: float = fields.field(None, 0.0, 1.0e9, optional=True)
    # Someone raises dom0's target by grow_back_mb, grow_back_after_s after
    # the first balloon request; dom0 grows back towards it.
    grow_back_after_s: float = fields.field(None, 0.0, 1.0e6, optional=True)
    grow_back_mb: float = fields.field(0.0, 0.0, 1.0e9)
    # Pages Xen loses while dom0 balloons (IOMMU large-page splits): free
    # memory dips by dip_mb for dip_duration_s, from dip_at_s.
    dip_at_s: float = fields.field(None, 0.0, 1.0e6, optional=True)
    dip_mb: float = fields.field(0.0, 0.0, 1.0e9)
    dip_duration_s: float = fields.field(0.0, 0.0, 1.0e6)
    seed: int = fields.field(1, 0, 2 ** 31, int)
    # dom0's page cache (simulator/balloon_driver.py; None: not modelled,
    # dom0 frees at release_rate_mb_s down to dom0_low_mb as before).
    # The balloon takes free pages only; kswapd turns cache into free
    # pages at reclaim_rate_mb_s while dom0 must shrink. 200 MiB/s is an
    # assumption (clean page cache; no figure was measured in the lab).
    page_cache_mb: float = fields.field(None, 0.0, 1.0e9, optional=True)
    reclaim_rate_mb_s: float = fields.field(200.0, 0.0, 1.0e6)
    # kswapd reclaims from this long after dom0 first runs out of free
    # pages (dirty cache written back first; an assumption, 0 by default).
    reclaim_delay_s: float = fields.field(0.0, 0.0, 1.0e6)
    # Linux's balloon thread backs off and cancels (balloon_driver.py);
    # None: not modelled (it never pauses) and balloon_state() is None.
    # The lab's Debian 12 dom0 shows max_schedule_delay 20 and
    # max_retry_count 4 (captures a160_sysfs_balloon_all_final);
    # max_retry_count 0 never cancels.
    max_schedule_delay_s: int = fields.field(None, 1, 3600, int,
                                             optional=True)
    max_retry_count: int = fields.field(4, 0, 1000000, int)
    # -- issue 12 (simulator/release.py; the oracle counts them all) --
    # A stall_after_mb stall ends stall_resume_after_s after the balloon
    # stopped, and dom0 releases again at its rate (stall-then-resume);
    # None: the stall lasts. While stalled, what dom0 holds above
    # stall_after_mb is not reclaimable (pinned): with the balloon thread
    # modelled, MemAvailable shows none of it and the thread's passes
    # fail (back-off, then cancel); it is reclaimable again once the
    # stall ends, and a cancelled thread then waits for a new target.
    # No real figure: a case for the stall verdict.
    stall_resume_after_s: float = fields.field(None, 0.0, 1.0e6,
                                               optional=True)
    # A decaying rate: the rate halves with every decay_half_mb MiB dom0
    # has released in all (since its first request: what it released
    # before counts), integrated exactly within a step. None: constant.
    # An assumption for a dom0 whose free pages get scarcer as it
    # shrinks; the 2014 report saw a steady 680 MiB/s (no decay).
    decay_half_mb: float = fields.field(None, 1.0, 1.0e9, optional=True)
    # A persistent shortfall: Xen keeps shortfall_per_gib_mb MiB of each
    # GiB dom0 releases for itself, up to shortfall_mb in all, and never
    # gives it back (dom0 growing again does not return it). Free memory
    # then ends short of what dom0 released, and dom0 must be asked for
    # more. 2 MiB per GiB: one 4 KiB IOMMU page table per 2 MiB
    # superpage split as dom0's pages go (512 tables per GiB); it is the
    # issue's report too, 192 MiB missing after 98 GiB ballooned
    # (whose cap is 192). 0: none.
    shortfall_mb: float = fields.field(0.0, 0.0, 1.0e9)
    shortfall_per_gib_mb: float = fields.field(2.0, 0.0, 1024.0)
    # dom0 grows drift_mb above its target on its own at drift_at_s (the
    # scenario's clock, like dip_at_s; once), taking free memory (what is
    # free at most); its target is not changed, so the balloon gives the
    # growth back at its rate, woken as for a changed credit. None:
    # never. No real figure: a case for the driver's wait.
    drift_at_s: float = fields.field(None, 0.0, 1.0e6, optional=True)
    drift_mb: float = fields.field(0.0, 0.0, 1.0e9)


@dataclasses.dataclass
class BuildSpec:
    populate_rate_mb_s: float = fields.field(8192.0, 0.001, 1.0e7)
    # A build fails once this fraction of its memory is populated: every
    # build, or (fail_domains) the domains named, each at its fraction.
    # Fault injection lives here, by domain name, not in the driver's API.
    fail_at_fraction: float = fields.field(None, 0.0, 1.0, optional=True)
    fail_domains: dict = fields.field(None, 0.0, 1.0, dict, optional=True)
    # While a build contends with a running balloon, the balloon runs at
    # this fraction of its rate.
    contention_slowdown: float = fields.field(0.5, 0.01, 1.0)


@dataclasses.dataclass
class ToolstackSpec:
    """Seconds each toolstack call takes (xl forks, reads xenstore).

    Zero by default. A scenario fitted to a real host (scenarios/
    xen-qemu.yaml) sets them, so that looking at the host costs what it
    costs there: with xl a full look is ``xl list``, ``xl info`` and two
    calls for dom0 (``xl list 0``, ``xl list -l 0``).
    """

    info_s: float = fields.field(0.0, 0.0, 600.0)
    dom0_s: float = fields.field(0.0, 0.0, 600.0)
    list_s: float = fields.field(0.0, 0.0, 600.0)
    mem_set_s: float = fields.field(0.0, 0.0, 600.0)
    # Before the guest's memory is populated (and when a create fails).
    create_s: float = fields.field(0.0, 0.0, 600.0)
    destroy_s: float = fields.field(0.0, 0.0, 600.0)
    # A yardstick of the machine the figures come from: how long creating
    # and destroying a tiny guest with xl took there (0: not said). The
    # simulator does not use it: tests/xen/fit.py scales the scenario to
    # another run's machine with it (an emulated machine's speed varies).
    reference_s: float = fields.field(0.0, 0.0, 600.0)
    # Faults, for tests of what is owed (none by default). The first
    # reinflate_faults mem-set calls that raise dom0's target fail, as
    # reinflate_fault says: 'error' (xl exits 1), 'hang' (fails as a
    # timed-out call after fault_hang_s), 'ignore' (exits 0, sets
    # nothing). The first destroy_faults destroys exit 0 and leave the
    # domain, which the xl backend reports as a toolstack error. Counted
    # on the host: each command sees the next one.
    reinflate_faults: int = fields.field(0, 0, 1000000, int)
    reinflate_fault: str = fields.field('error', kind=str)
    fault_hang_s: float = fields.field(60.0, 0.0, 3600.0)
    destroy_faults: int = fields.field(0, 0, 1000000, int)


@dataclasses.dataclass
class DriverSpec:
    """The driver's own time on the host's CPU, outside toolstack calls.

    Zero by default. On a slow CPU (Xen under QEMU's emulation runs
    Python some fifty times slower) creating and storing a flow, and
    each task's ledger and logbook writes, take seconds: the fitted
    scenario charges them once per flow.
    """

    flow_s: float = fields.field(0.0, 0.0, 600.0)


@dataclasses.dataclass
class GuestSpec:
    """What a running guest does when asked to stop, save or restore.

    shutdown_s: from the shutdown request to the domain gone. A small
    Debian 12 guest's systemd shutdown takes about 3-10 s (stopping
    units, syncing, unmounting): an estimate, 5 s by default; no clean
    shutdown was captured on the lab's Xen. Its memory is free as soon as
    the domain is gone, as the lab saw after xl destroy of a 1200 MiB
    guest (xenlab captures, REPORT.md). ignore_shutdown: the guests, by
    name, that never act on a request, as the lab's pvgrub guests did
    (captures d014 and a114: still listed 30 and 60 s after xl
    shutdown), so a power-off's timeout runs out. A paused guest acts on
    a request only once unpaused. save_rate_mb_s and
    restore_rate_mb_s: how fast ``xl save`` writes a guest's memory to
    disk and ``xl restore`` reads it back; 500 MiB/s is a SATA SSD's
    sequential rate (an NVMe disk does 2000-3000).
    """

    shutdown_s: float = fields.field(5.0, 0.0, 3600.0)
    ignore_shutdown: list = fields.field((), kind=list)
    save_rate_mb_s: float = fields.field(500.0, 0.001, 1.0e6)
    restore_rate_mb_s: float = fields.field(500.0, 0.001, 1.0e6)


@dataclasses.dataclass
class RequestSpec:
    name: str = fields.field(None, kind=str)
    memory_mb: int = fields.field(None, 1, validation.MAX_MEMORY_MB, int)
    vcpus: int = fields.field(1, 1, validation.MAX_VCPUS, int)
    guest_type: str = fields.field('pv', kind=str)
    at_s: float = fields.field(0.0, 0.0, 1.0e7)
    # This request's build fails there: the runner puts it in the build
    # section's fail_domains under the request's name.
    fail_at_fraction: float = fields.field(None, 0.0, 1.0, optional=True)

    @property
    def footprint_mb(self):
        return footprint.footprint_mb(self.memory_mb, self.vcpus,
                                      self.guest_type)


@dataclasses.dataclass
class GenerateSpec:
    """Requests made up from a seed (the ``generate:`` section).

    ``count`` requests named ``<prefix>-<n>``; sizes log-uniform between
    min_memory_mb and max_memory_mb (as many 1-2 GiB guests as 256-512
    GiB ones), rounded to round_mb; arrivals from start_s with
    exponential gaps of mean mean_interval_s (a Poisson stream).
    """

    count: int = fields.field(None, 1, MAX_GENERATED, int)
    seed: int = fields.field(1, 0, 2 ** 31, int)
    prefix: str = fields.field('req', kind=str)
    min_memory_mb: int = fields.field(1024, 1, validation.MAX_MEMORY_MB, int)
    max_memory_mb: int = fields.field(512 * GiB, 1, validation.MAX_MEMORY_MB,
                                      int)
    round_mb: int = fields.field(1024, 1, validation.MAX_MEMORY_MB, int)
    start_s: float = fields.field(0.0, 0.0, 1.0e7)
    mean_interval_s: float = fields.field(1.0, 0.0, 1.0e6)
    vcpus: int = fields.field(1, 1, validation.MAX_VCPUS, int)
    guest_type: str = fields.field('pv', kind=str)


@dataclasses.dataclass
class HostEntry:
    """One item of ``hosts:`` (its sections are read separately)."""

    name: str = fields.field(None, kind=str)
    count: int = fields.field(None, 1, MAX_HOSTS, int, optional=True)


# The sections a ``hosts:`` item may override, and their specs.
HOST_SECTIONS = (('host', HostSpec), ('balloon', BalloonSpec),
                 ('build', BuildSpec), ('toolstack', ToolstackSpec))


@dataclasses.dataclass
class Scenario:
    name: str
    host: HostSpec
    balloon: BalloonSpec
    build: BuildSpec
    requests: list
    path: str = ''
    toolstack: ToolstackSpec = dataclasses.field(
        default_factory=ToolstackSpec)
    driver: DriverSpec = dataclasses.field(default_factory=DriverSpec)
    guest: GuestSpec = dataclasses.field(default_factory=GuestSpec)
    # A multi-host scenario: one Scenario per host (its name, its own
    # sections, no requests), in the order given; empty for one host.
    hosts: list = dataclasses.field(default_factory=list)

    def to_dict(self):
        data = {'name': self.name,
                'host': dataclasses.asdict(self.host),
                'balloon': dataclasses.asdict(self.balloon),
                'build': dataclasses.asdict(self.build),
                'toolstack': dataclasses.asdict(self.toolstack),
                'driver': dataclasses.asdict(self.driver),
                'guest': dataclasses.asdict(self.guest),
                'requests': [dataclasses.asdict(r) for r in self.requests]}
        if self.hosts:
            # Expanded: one item per host, every section in full.
            data['hosts'] = [dict({'name': h.name}, **{
                key: dataclasses.asdict(getattr(h, key))
                for key, _ in HOST_SECTIONS}) for h in self.hosts]
        return data
