"""This compute host as Nova sees it: its name, traits, reserved memory.

The name: Nova's [DEFAULT] host (the service's and compute node's name)
unless [xenballoon] host is set; our ledger and flows are kept under it.
A name stored by an earlier start outside Nova (<state_dir>/host-id) that
differs is refused: the guests' ledger is kept under that one.

The traits we can truly claim, beyond those Nova sets itself
(COMPUTE_NODE, OWNER_NOVA and one per driver capability, all False
here): the host's CPU architecture, Xen's netfront vif model and Xen's PV
disk bus (our vifs and xvd* disks). No image type trait: a guest boots
the kernel configured for the backend, never the image.

Memory: Nova's resource tracker overwrites our ``memory_mb_used`` with
its own count, [DEFAULT] reserved_host_memory_mb plus the flavor memory
of every instance of the host (stopped ones too); placement keeps our
MEMORY_MB ``reserved``. So Nova's own free RAM (os-hypervisors, its RAM
weigher) is right only if reserved_host_memory_mb holds dom0's floor and
Xen's own memory: start-up says so when it does not.
"""

import os_traits
from oslo_log import log as logging

import nova.conf
from nova import exception as nova_exc

from xenballoon_driver import host_identity

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# Our vifs are Xen netfront devices; our disks are xvd* on Xen's PV bus.
STATIC_TRAITS = (os_traits.COMPUTE_NET_VIF_MODEL_NETFRONT,
                 os_traits.COMPUTE_STORAGE_BUS_XEN)


def name():
    """Our host name under Nova; InvalidConfiguration if it cannot be."""
    chosen = CONF.xenballoon.host or CONF.host
    reason = host_identity.problem(chosen)
    if reason:
        raise nova_exc.InvalidConfiguration(
            'host name %r: %s' % (chosen, reason))
    before = None if CONF.xenballoon.host else host_identity.stored(CONF)
    if before is not None and before != chosen:
        raise nova_exc.InvalidConfiguration(
            'this host\'s ledger was kept under the name %r (%s), not '
            'Nova\'s [DEFAULT] host %r: set [xenballoon] host = %s to '
            'keep its guests' % (before, host_identity.path(CONF), chosen,
                                 before))
    return chosen


def traits(arch):
    """COMPUTE_* traits for a host of CPU architecture ``arch``."""
    found = set(STATIC_TRAITS)
    arch_trait = 'COMPUTE_ARCH_%s' % (arch or '').upper()
    if arch_trait in os_traits.get_traits('COMPUTE_ARCH_'):
        found.add(arch_trait)
    return found


def check_reserved_memory(resources):
    """Warn when Nova's count of the host's own memory is short.

    ``resources``: our available_resource (its ``xenballoon`` figures).
    Returns the MiB Nova's reserved_host_memory_mb should at least be.
    """
    figures = resources['xenballoon']
    wanted = figures['dom0_min_mb'] + figures['xen_mb']
    if CONF.reserved_host_memory_mb < wanted:
        LOG.warning(
            'Nova counts [DEFAULT] reserved_host_memory_mb = %(nova)d MiB '
            'as this host\'s own memory; dom0 keeps %(dom0)d MiB and Xen '
            'holds %(xen)d: Nova\'s free RAM (os-hypervisors, its RAM '
            'weigher) is %(short)d MiB too high. Set it to %(wanted)d. '
            '(Placement is not affected: MEMORY_MB reserved is ours.)',
            {'nova': CONF.reserved_host_memory_mb,
             'dom0': figures['dom0_min_mb'], 'xen': figures['xen_mb'],
             'short': wanted - CONF.reserved_host_memory_mb,
             'wanted': wanted})
    return wanted
