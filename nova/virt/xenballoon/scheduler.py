"""Our balloon-aware filter and weigher as Nova scheduler plugins.

In nova.conf of the scheduler::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = nova.virt.xenballoon.scheduler.BalloonMemoryFilter
    enabled_filters = ComputeFilter,BalloonMemoryFilter
    weight_classes = nova.scheduler.weights.all_weighers,
        nova.virt.xenballoon.scheduler.BalloonTimeWeigher

    [scheduler]
    balloon_time_weight_multiplier = 300

(README.rst, "Nova" section, explains the numbers.) They read the
figures that XenBalloonComputeDriver.get_available_resource puts in the
compute node's stats (``xenballoon_*``) and hand them to
xenballoon_driver.scheduler. Hosts without those stats (other drivers)
pass the filter and weigh as a host that needs no ballooning.
"""

import nova.conf
from nova.scheduler import filters as nova_filters
from nova.scheduler import weights as nova_weights

from nova.virt.xenballoon import driver
from xenballoon_driver.hypervisor import base
from xenballoon_driver.scheduler import filters
from xenballoon_driver.scheduler import host_state
from xenballoon_driver.scheduler import weighers

CONF = nova.conf.CONF
PREFIX = 'xenballoon_'
FIGURES = {'free_mb': int, 'balloonable_mb': int, 'reserved_mb': int,
           'available_mb': int, 'release_rate_mb_s': float}


def our_state(nova_state, spec):
    """Our HostState from Nova's, or None for a host that is not ours.

    The figures are those of the host's last periodic report. What Nova
    has counted on the host since is taken off as the host's ledger will:
    requests this scheduling pass placed there (num_instances beyond the
    report's), and memory claimed since (nova_left).
    """
    stats = getattr(nova_state, 'stats', None) or {}
    if not all(PREFIX + key in stats for key in FIGURES):
        return None
    figures = {key: kind(stats[PREFIX + key]) for key, kind in FIGURES.items()}
    state = host_state.HostState(
        name=nova_state.host, total_mb=nova_state.total_usable_ram_mb,
        vcpus=nova_state.vcpus_total, vcpus_used=nova_state.vcpus_used,
        **figures)
    placed = nova_state.num_instances - int(stats.get('num_instances', 0))
    for _ in range(max(0, placed)):
        state.consume_from_request(spec)
    left = nova_left(nova_state, stats)
    if left is not None and state.available_mb > left:
        state.promise_mb(state.available_mb - left)
    return state


def nova_left(nova_state, stats):
    """MiB a guest can still have by Nova's count, or None if unknown.

    Nova's free_ram_mb is the compute node's memory_mb less what the
    resource tracker counts ([DEFAULT] reserved_host_memory_mb plus every
    instance's memory), lowered at each claim and by each placement in a
    scheduling pass; our stats change only at the periodic update. Of the
    memory Nova calls free, Xen's own and dom0's floor are not a guest's
    (dom0 above its floor is: that is what it balloons back). It counts
    no per-guest Xen overhead, so it is never below what the ledger
    leaves, except by what was claimed since the report: the figure the
    filter and weigher need between two reports.
    """
    try:
        fixed = (int(stats[PREFIX + 'xen_mb']) +
                 int(stats[PREFIX + 'dom0_min_mb']))
        free = int(nova_state.free_ram_mb)
    except (KeyError, TypeError, ValueError):
        return None
    return free + CONF.reserved_host_memory_mb - fixed


def our_spec(spec_obj):
    """The request as our filter sees it: memory, vCPUs and guest type."""
    vm_mode = None
    if spec_obj.obj_attr_is_set('image') and spec_obj.image:
        vm_mode = spec_obj.image.properties.get('hw_vm_mode')
    # A mode we do not run is refused at spawn; weigh it as HVM, the
    # larger overhead, meanwhile.
    return base.DomainSpec(name='request', memory_mb=spec_obj.memory_mb,
                           vcpus=spec_obj.vcpus,
                           guest_type=driver.GUEST_TYPES.get(vm_mode, 'hvm'))


class BalloonMemoryFilter(nova_filters.BaseHostFilter):
    """Free + balloonable - reserved must cover the request's footprint."""

    def host_passes(self, host_state, spec_obj):
        spec = our_spec(spec_obj)
        state = our_state(host_state, spec)
        if state is None:
            return True
        return filters.BalloonMemoryFilter(CONF).host_passes(state, spec)


class BalloonTimeWeigher(nova_weights.BaseHostWeigher):
    """Prefer hosts where dom0 must release less, faster, for the request.

    Raw weight: minus the predicted seconds of ballooning, at most
    [scheduler] balloon_time_weight_horizon_s (H). Nova normalises it on
    the fixed scale -H..0 (minval, maxval), not across the hosts weighed:
    a host weighs 1 - t/H, so each second costs multiplier/H whatever the
    other hosts are, and hosts with the memory free now all weigh 1.

    Multiplier: [scheduler] balloon_time_weight_multiplier.
    """

    def weight_multiplier(self, host_state):
        return CONF.scheduler.balloon_time_weight_multiplier

    def weigh_objects(self, weighed_obj_list, weight_properties):
        self.minval = -CONF.scheduler.balloon_time_weight_horizon_s
        self.maxval = 0.0
        return super().weigh_objects(weighed_obj_list, weight_properties)

    def _weigh_object(self, host_state, weight_properties):
        spec = our_spec(weight_properties)
        state = our_state(host_state, spec)
        if state is None:
            return 0.0
        raw = weighers.BalloonTimeWeigher(CONF).weigh(state, spec)
        return max(-CONF.scheduler.balloon_time_weight_horizon_s, raw)
