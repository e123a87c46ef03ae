"""Time sources for waits.

Waits never call time.sleep() directly: they ask the backend's clock. Real
toolstacks use RealClock; the simulator uses a VirtualClock in tests and
benchmarks (a 2.5-minute balloon takes milliseconds) and a ScaledClock in
the CLI (simulated seconds run time_scale times faster than real ones).

``sleep(seconds, wake=event)``: a clock that really waits returns as soon
as ``event`` is set (the CLI's Ctrl-C cancels a spawn's balloon wait at
once); a virtual clock just advances.
"""

import collections
import heapq
import itertools
import threading
import time


def _wait(seconds, wake):
    """Wall-clock sleep, cut short when ``wake`` is set."""
    if seconds <= 0:
        return
    if wake is None:
        time.sleep(seconds)
    else:
        wake.wait(seconds)


class RealClock:
    def now(self):
        return time.monotonic()

    def sleep(self, seconds, wake=None):
        _wait(seconds, wake)


class ScaledClock:
    """Simulated time that runs ``scale`` times faster than wall time.

    ``now()`` is derived from the wall clock, so separate processes that
    share an ``epoch`` agree on the simulated time.
    """

    def __init__(self, scale=1.0, epoch=None):
        self.scale = scale
        self.epoch = time.time() if epoch is None else epoch

    def now(self):
        return (time.time() - self.epoch) * self.scale

    def sleep(self, seconds, wake=None):
        _wait(seconds / self.scale, wake)


class VirtualClock:
    """A clock that only moves when someone sleeps.

    Alone, ``sleep(dt)`` just adds dt. Under ``run()`` several jobs run in
    threads but only one at a time: a job that sleeps hands over to the job
    whose wake-up time comes first, and the clock jumps to that time. The
    order is fixed by (wake time, arrival), so runs are deterministic.
    """

    def __init__(self, start=0.0):
        self._now = float(start)
        self._cond = threading.Lock()
        self._sleepers = []
        self._seq = itertools.count()
        self._jobs = 0

    def now(self):
        return self._now

    def sleep(self, seconds, wake=None):
        # ``wake`` is not waited on: simulated time does not pass anyway.
        seconds = max(0.0, float(seconds))
        if not self._jobs:
            self._now += seconds
            return
        wake = threading.Event()
        with self._cond:
            heapq.heappush(self._sleepers,
                           (self._now + seconds, next(self._seq), wake))
            self._hand_over()
        wake.wait()

    def park(self, wake):
        """Under run(): stop this job until unpark(wake); others run.

        For a ClockLock's waiter: it sleeps on this clock without a
        wake-up time, so whoever unparks it must exist, or the run never
        ends.
        """
        if not self._jobs:
            raise RuntimeError('park() outside run(): nobody can unpark')
        with self._cond:
            if not self._sleepers:
                raise RuntimeError('park(): every other job is parked')
            self._hand_over()
        wake.wait()

    def unpark(self, wake):
        """Let a parked job go on at the current time (after the caller)."""
        with self._cond:
            heapq.heappush(self._sleepers, (self._now, next(self._seq), wake))

    def _hand_over(self):
        if self._sleepers:
            when, _, wake = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            wake.set()

    def run(self, jobs):
        """Run ``(start_time, callable)`` jobs on this clock, one at a time.

        Returns a list of ``(result, exception)`` in the order given.
        """
        results = [(None, None)] * len(jobs)
        threads = []

        def body(index, fn, start_event):
            start_event.wait()
            try:
                results[index] = (fn(), None)
            except Exception as err:  # reported to the caller
                results[index] = (None, err)
            finally:
                with self._cond:
                    self._jobs -= 1
                    self._hand_over()

        with self._cond:
            self._jobs = len(jobs)
            for index, (start, fn) in enumerate(jobs):
                start_event = threading.Event()
                heapq.heappush(self._sleepers,
                               (float(start), next(self._seq), start_event))
                thread = threading.Thread(target=body,
                                          args=(index, fn, start_event),
                                          daemon=True)
                threads.append(thread)
                thread.start()
            self._hand_over()
        for thread in threads:
            thread.join()
        return results


class ClockLock:
    """A reentrant lock for the jobs of one clock.

    On a VirtualClock under run(), a job that waits for it parks on the
    clock, so its holder may sleep while holding it (a simulated
    toolstack call costs time): a real lock there would stop the whole
    run, since the waiting thread would never hand the clock over.
    Waiters get it first come, first served. On other clocks: an RLock.
    """

    def __init__(self, clock):
        self.clock = clock
        self.virtual = isinstance(clock, VirtualClock)
        self._rlock = threading.RLock()
        self.owner = None
        self._depth = 0
        self.waiters = collections.deque()

    def acquire(self):
        if not self.virtual:
            self._rlock.acquire()
            return
        me = threading.get_ident()
        if self.owner in (None, me):
            self.owner = me
            self._depth += 1
            return
        wake = threading.Event()
        self.waiters.append((me, wake))
        # release() makes this job the owner before it unparks it.
        self.clock.park(wake)

    def release(self):
        if not self.virtual:
            self._rlock.release()
            return
        self._depth -= 1
        if self._depth:
            return
        if self.waiters:
            self.owner, wake = self.waiters.popleft()
            self._depth = 1
            self.clock.unpark(wake)
        else:
            self.owner = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
