"""Watching dom0's balloon: progress, release rate, ETA, stalls.

Pure arithmetic over samples; the caller takes the samples and sleeps.
Progress is "MiB released": the larger of how far dom0's allocation has
come down and how far free memory has come up since the wait began, each
measured from its best value so far. Either moving counts, and a passing
dip in free memory (Xen loses pages splitting IOMMU large pages while dom0
balloons) does not undo progress already seen.

A look may see dom0 alone (a cheap look: sysfs, where a full look costs
toolstack calls; see placement.py). Free memory is then carried from the
last full look, and what is missing is estimated from how far dom0 came
down since: such a look never says done, and only a full look proves a
stall (``estimated``).
"""

import bisect
import dataclasses
import math

# How far back the release rate is measured.
RATE_WINDOW_S = 1.0
# Smallest movement, in MiB, that counts as progress at all.
MIN_STEP_MB = 1.0
# Poll at this fraction of the ETA, so that a rate up to 1/POLL_FRACTION
# times the estimate still does not overshoot the finish by a whole gap.
POLL_FRACTION = 0.25
# dom0 this many MiB above its lowest point has grown back.
GROW_BACK_MB = 2


@dataclasses.dataclass(frozen=True)
class Progress:
    elapsed_s: float
    released_mb: float
    missing_mb: int
    rate_mb_s: float
    eta_s: float
    next_poll_s: float
    done: bool
    stalled: bool
    timed_out: bool
    grew_back: bool
    # Seconds since a look last saw progress (stall_threshold_mb moved
    # since the one before that saw it); 0 when this look did.
    idle_s: float = 0.0
    # Free memory not seen by this look: missing_mb and eta_s estimated.
    estimated: bool = False

    @property
    def fraction(self):
        total = self.released_mb + self.missing_mb
        return 1.0 if total <= 0 else min(1.0, self.released_mb / total)


class ProgressWatcher:
    def __init__(self, need_mb, stall_timeout, min_rate_mb_s, poll_interval,
                 min_poll_interval, max_wait=0.0):
        self.need_mb = need_mb
        self.stall_timeout = stall_timeout
        self.stall_threshold_mb = max(min_rate_mb_s * stall_timeout,
                                      MIN_STEP_MB)
        self.poll_interval = poll_interval
        self.min_poll_interval = min_poll_interval
        self.max_wait = max_wait
        self._times = []
        # Per sample, how far each signal has moved: dom0 down from its
        # start, free memory up from its start (each its best so far).
        self._dom0_moved = []
        self._free_moved = []
        # Per sample, how far free memory has come up beyond what dom0's
        # fall explains (best so far, as of the last full look): free
        # memory's own progress (a scrub, a guest gone). A full look after
        # cheap ones sees at once what dom0 gave before them; only this
        # tells whether free memory moved on its own since.
        self._extra = []
        # Full looks' times and free memory's movement then.
        self._full_times = []
        self._full_free = []
        self._start = None
        self._mark = None

    def observe(self, t, dom0_mb, free_mb=None):
        """Take one sample: dom0's allocation, and free memory ours to use.

        ``free_mb`` None: dom0 alone was seen (the first sample must have
        both).
        """
        estimated = free_mb is None
        if estimated:
            seen_t, seen_dom0, seen_free = self._full
            # What dom0 gave since the last full look is on its way to
            # free memory (less what Xen keeps: a full look tells).
            guess = seen_free + max(0, seen_dom0 - dom0_mb)
            free_mb = self._highest_free
        else:
            self._full = (t, dom0_mb, free_mb)
            guess = free_mb
        if self._start is None:
            self._start = (t, dom0_mb, free_mb)
            self._lowest_dom0 = dom0_mb
            self._highest_free = free_mb
        t0, dom0_0, free_0 = self._start
        self._lowest_dom0 = min(self._lowest_dom0, dom0_mb)
        self._highest_free = max(self._highest_free, free_mb)
        self._times.append(t)
        self._dom0_moved.append(dom0_0 - self._lowest_dom0)
        self._free_moved.append(self._highest_free - free_0)
        extra = self._extra[-1] if self._extra else 0
        if not estimated:
            extra = max(extra, self._free_moved[-1] - self._dom0_moved[-1])
        self._extra.append(extra)
        released = max(self._dom0_moved[-1], self._free_moved[-1], 0)
        moved = (self._dom0_moved[-1], extra)
        if self._mark is None or any(
                now - then >= self.stall_threshold_mb
                for now, then in zip(moved, self._mark[1])):
            self._mark = (t, moved)

        elapsed = t - t0
        missing = max(0, self.need_mb - guess)
        done = missing == 0 and not estimated
        rate = self._rate(self._times, self._dom0_moved, t - RATE_WINDOW_S,
                          t)
        if not estimated:
            # Free memory's rate between full looks only: carried over
            # cheap ones, it jumps at the next full look.
            self._full_times.append(t)
            self._full_free.append(self._free_moved[-1])
            rate = max(rate, self._rate(self._full_times, self._full_free,
                                        t - RATE_WINDOW_S, t))
        eta = missing / rate if rate > 0 else math.inf
        # Either signal moving is progress; each is judged on its own, so
        # that a jump in one (memory promised to an earlier spawn coming
        # free) does not hide the other moving on.
        stalled = (not done and elapsed >= self.stall_timeout and all(
            series[-1] - series[self._index_at(t - self.stall_timeout)] <
            self.stall_threshold_mb
            for series in (self._dom0_moved, self._extra)))
        timed_out = bool(not done and self.max_wait and
                         elapsed >= self.max_wait)
        next_poll = min(self.poll_interval,
                        max(self.min_poll_interval, eta * POLL_FRACTION))
        return Progress(elapsed_s=elapsed, released_mb=released,
                        missing_mb=missing, rate_mb_s=rate, eta_s=eta,
                        next_poll_s=next_poll, done=done, stalled=stalled,
                        timed_out=timed_out,
                        grew_back=dom0_mb > self._lowest_dom0 + GROW_BACK_MB,
                        idle_s=t - self._mark[0], estimated=estimated)

    def _index_at(self, when, times=None):
        """Index of the last sample taken at or before ``when``."""
        times = self._times if times is None else times
        return max(0, bisect.bisect_right(times, when) - 1)

    def _rate(self, times, series, when, t):
        i = self._index_at(when, times)
        dt = t - times[i]
        if dt <= 0:
            return 0.0
        return (series[-1] - series[i]) / dt
