"""Host weighers, shaped like Nova's.

Each weigher gives every host a raw weight (higher is better); the raw
weights are normalised to 0..1 across the hosts (the lowest 0, the
highest 1; all 0 when they are equal) and multiplied by the weigher's
multiplier, and the sums rank the hosts. As nova.weights.normalize.
"""

import dataclasses


def normalize(values):
    values = list(values)
    if not values:
        return []
    low, high = min(values), max(values)
    if low == high:
        return [0.0] * len(values)
    return [(v - low) / (high - low) for v in values]


@dataclasses.dataclass
class WeighedHost:
    weight: float
    host_state: object


class BalloonTimeWeigher:
    """Prefer hosts where the request is ready sooner.

    Raw weight: minus the predicted balloon time, MiB dom0 must still
    release before the request's memory is free (its own, and what was
    promised to requests placed before it) over the host's release rate.
    A host where the request fits in free memory weighs the most.
    """

    def __init__(self, conf):
        self.multiplier = conf.scheduler.balloon_time_weight_multiplier

    def weigh(self, host_state, spec):
        return -host_state.balloon_time_s(spec.footprint_mb)


def weigh_hosts(weighers, host_states, spec):
    """WeighedHost for every host, best first (ties keep their order)."""
    totals = [0.0] * len(host_states)
    for weigher in weighers:
        if not weigher.multiplier:
            continue
        raw = [weigher.weigh(state, spec) for state in host_states]
        for i, norm in enumerate(normalize(raw)):
            totals[i] += weigher.multiplier * norm
    weighed = [WeighedHost(w, s) for w, s in zip(totals, host_states)]
    return sorted(weighed, key=lambda wh: -wh.weight)
