"""Where the balloon wait's next look goes, and what kind of look it is.

Two kinds of look. A full one (backend.snapshot(): free memory, dom0 and
the domains; with xl, ``xl list`` and ``xl info``: about 0.12 s on bare
metal, 1.35 s on Xen under QEMU, scenarios/xen-qemu.yaml) and a cheap one
(backend.dom0_memory(): sysfs for xl, microseconds). Only a full look
proves the guest's memory free or the balloon stalled; cheap ones follow
dom0 in between. The sample of a look is taken as of its answer: xl
reads the hypervisor at the end of its run, after its start-up, which is
most of its cost (an assumption for real xl; what the simulator does).

- Looks of either kind answer at most [xenballoon] poll_interval apart
  (0.45 s by default), so the last look that saw dom0 move is at most
  that after it stopped; with the deadline's look below, a stall is seen
  within stall_timeout + STALL_SLACK_S (stall_timeout + poll_interval
  + 0.05 s where an operator sets poll_interval longer).
- A full look starts so that its answer arrives when it matters: just
  after the ETA says free memory covers the guest (late by LATE_FRACTION
  of the ETA: a look that comes too early costs a whole look more), and
  just after the stall deadline (so that the window reaches back to the
  look that last saw progress).
- Where a full look costs (next to) nothing, every look is full.
- Otherwise a cheap look comes at once before each full one (prelude):
  the look before the full one's answer is then at most its cost older,
  and a stall that begins during a full look is seen within stall_timeout
  + that cost (0.12 s on bare metal; under QEMU, 1.35 s: the one case a
  stall can be seen later than stall_timeout + STALL_SLACK_S).
"""

import math

# verdict.py's promise, with poll_interval at its default (0.45 s): a
# stall is seen within stall_timeout + this.
STALL_SLACK_S = 0.5
# The stall deadline's look answers this long after the deadline.
DUE_EPS_S = 1e-3
# A full look costing less than this is free: all looks are full.
FREE_LOOK_S = 0.01
# A full look meant to prove the memory free answers this much after the
# ETA: the rate can be this much lower than measured (dom0's rate varies
# by +/- 10 % from one second to the next on the 2014 report's host, the
# benchmark's jitter 0.1). Late by 10 % of a short ETA costs less than a
# look too early, which costs a whole look more.
LATE_FRACTION = 0.1
LATE_S = 0.01
# Without a reason to look fully, still one in this many full looks'
# time, and at least every REFRESH_S (free memory can come from
# elsewhere: a destroy, a scrub).
REFRESH_LOOKS = 10
REFRESH_S = 10.0
# The reserve's own look serves as the wait's first while at most this
# old (plus its own cost): BalloonDom0's mem-set call comes in between.
REUSE_S = 1.0


def plan(prog, timeout, poll_interval, full_s, cheap_s, since_full_s,
         at_target):
    """(seconds to sleep, whether the next look is full).

    ``prog``: the last look's Progress; ``timeout``: the stall timeout in
    force; ``full_s``/``cheap_s``: what the last look of each kind took
    (None: none taken yet); ``since_full_s``: seconds since the last full
    look's answer; ``at_target``: dom0 is at its target.
    """
    gap = min(prog.next_poll_s, poll_interval)
    due = timeout - prog.idle_s
    if full_s is not None and full_s < FREE_LOOK_S:
        if due > 0:
            gap = min(gap, due + DUE_EPS_S)
        return max(0.0, gap), True
    if full_s is None or (at_target and prog.estimated):
        # Nothing more to learn from dom0: what is free, now.
        return 0.0, True
    starts = [max(REFRESH_LOOKS * full_s, REFRESH_S) - since_full_s]
    if math.isfinite(prog.eta_s):
        starts.append(prog.eta_s * (1 + LATE_FRACTION) + LATE_S - full_s)
    if due > 0:
        starts.append(due + DUE_EPS_S - full_s)
    full_in = min(starts)
    cheap_gap = poll_interval - (cheap_s or 0.0)
    if full_in <= cheap_gap or cheap_gap <= 0:
        return max(0.0, full_in), True
    return cheap_gap, False


def prelude(full_s, cheap_s):
    """Whether a cheap look should come at once before a full one."""
    return (full_s is not None and cheap_s is not None and
            full_s >= FREE_LOOK_S and cheap_s < full_s)
