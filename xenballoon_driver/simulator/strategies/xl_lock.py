"""xl's global lock (/var/lock/xl), for the xl baselines.

``xl create`` takes it before freemem and releases it once the domain is
created (tools/libxl/xl_cmdimpl.c create_domain in 4.4;
tools/xl/xl_vmcontrol.c create_domain in 4.17, with autoballoon on), so
concurrent creates on one host queue: the second's freemem starts after
the first's domain is built. fcntl(F_SETLKW) blocks in the kernel until
the holder lets go; the queue here is first come, first served (an
assumption: POSIX does not order the waiters).

On a VirtualClock a waiter parks on the clock, so simulated time goes on
for the holder; on a real clock it is a plain lock.
"""

import collections
import contextlib
import threading


class XlLock:
    def __init__(self, clock):
        self.clock = clock
        self.virtual = hasattr(clock, 'park')
        self.real = threading.Lock()
        self.held = False
        self.waiters = collections.deque()

    def acquire(self):
        if not self.virtual:
            self.real.acquire()
        elif not self.held:
            self.held = True
        else:
            wake = threading.Event()
            self.waiters.append(wake)
            # Woken by release(), which hands the lock over as it stands.
            self.clock.park(wake)

    def release(self):
        if not self.virtual:
            self.real.release()
        elif self.waiters:
            self.clock.unpark(self.waiters.popleft())
        else:
            self.held = False

    @contextlib.contextmanager
    def held_for(self):
        self.acquire()
        try:
            yield
        finally:
            self.release()
