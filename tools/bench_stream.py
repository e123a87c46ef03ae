"""A mixed stream of requests for one host: seeded, Poisson, leased.

Sizes are log-uniform between 1 and 512 GiB, whole GiB: flavours come in
powers of two, and log-uniform gives each doubling the same share (as
many 1-2 GiB guests as 256-512 GiB ones; uniform sizes would make nine
guests in ten bigger than 50 GiB). Arrivals are a Poisson stream
(exponential gaps). Each guest holds a lease from its arrival: it is
destroyed lease_s after it arrived (or once it runs, if later). A
request that would take the guests still on their lease past what the
host can give (``capacity_mb``) arrives instead when enough leases have
ended, as a tenant at its quota waits: so the stream fits on the host
whatever the order it is served in, as long as no request waits longer
than its lease (the benchmark checks that every request ran).
"""

import math
import random

from xenballoon_driver.hypervisor import footprint

GiB = 1024
# A held-back request arrives this long after the lease it waited for
# ended: the destroy's own toolstack calls (xl list, destroy, mem-set:
# 0.6 s at default.yaml's bare-metal costs), with room to spare.
DESTROY_GRACE_S = 2.0


def vcpus_for(gib):
    """The benchmark's usual guest shape: 2 to 32 vCPUs, 1 per 16 GiB."""
    return max(2, min(32, gib // 16))


def stream(seed, count, mean_interval_s, lease_s, capacity_mb,
           min_gib=1, max_gib=512, prefix='vm'):
    """(requests, ends, moved): a scenario's requests and their leases.

    ``requests``: dicts for a scenario's requests: list, in arrival
    order; ``ends``: request name -> when its guest is destroyed
    (arrival + lease); ``moved``: how many arrivals waited for leases
    to end. The same arguments give the same stream.
    """
    rng = random.Random(seed)
    low, high = math.log(min_gib), math.log(max_gib)
    width = len(str(count))
    at, requests, leases, moved = 0.0, [], [], 0
    for i in range(count):
        drawn = round(math.exp(rng.uniform(low, high)))
        gib = min(max_gib, max(min_gib, drawn))
        vcpus = vcpus_for(gib)
        need = footprint.footprint_mb(gib * GiB, vcpus, 'pv')
        if need > capacity_mb:
            raise ValueError('a %d GiB guest needs %d MiB, more than the '
                             '%d MiB the host can give' % (gib, need,
                                                           capacity_mb))
        when = admit(leases, at, need, capacity_mb)
        moved += when > at
        requests.append({'name': '%s-%0*d' % (prefix, width, i + 1),
                         'memory_mb': gib * GiB, 'vcpus': vcpus,
                         'at_s': round(when, 3)})
        leases.append((round(when + lease_s, 3), need))
        # The next gap follows the drawn arrival, not the admitted one:
        # a held-back tenant does not slow everyone else's clock.
        at += rng.expovariate(1.0 / mean_interval_s)
    ends = {r['name']: end for r, (end, _) in zip(requests, leases)}
    return requests, ends, moved


def admit(leases, at, need_mb, capacity_mb):
    """The first time from ``at`` when ``need_mb`` fits beside the leases.

    ``leases``: (end, MiB) of the guests before it; one holds its MiB
    until DESTROY_GRACE_S after its end.
    """
    ends = [end + DESTROY_GRACE_S for end, _ in leases]
    for when in [at] + sorted(end for end in ends if end > at):
        held = sum(mb for (_, mb), end in zip(leases, ends) if end > when)
        if held + need_mb <= capacity_mb:
            return when
    raise AssertionError('unreachable: every lease ends')


def peak_mb(requests, ends, need_of):
    """The most MiB the leases hold at once (need_of: request -> MiB)."""
    return max(sum(need_of(q) for q in requests
                   if q['at_s'] <= r['at_s'] < ends[q['name']])
               for r in requests)
