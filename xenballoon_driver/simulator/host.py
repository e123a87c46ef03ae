"""A simulated host's driver: the wiring the runner, the fleet and the
benchmark share.

The driver as init_host would build it for the ``simulated`` backend,
but over a host kept in this process (a MemoryStore: the model on a
given clock) and with the ledger in memory: nothing touches the disk.
"""

import threading

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.simulator import backend as backend_mod

# How often a thread waiting for the ledger looks again, in simulated
# seconds: far below any toolstack call's time.
LOCK_POLL_S = 0.001


class ClockLock:
    """A re-entrant lock for threads taking turns on a VirtualClock.

    The ledger holds its lock across toolstack calls, which sleep on the
    clock when they cost time. A thread that then blocked on a real lock
    would keep the clock's only running thread from handing over, and
    every request would wait forever. Here a thread that finds the lock
    held sleeps on the clock, in simulated time, until the holder lets
    go. Threads on a VirtualClock run one at a time: no real lock is
    needed to check and take it.
    """

    def __init__(self, clock):
        self.clock = clock
        self._owner = None
        self._depth = 0

    def __enter__(self):
        me = threading.get_ident()
        while self._owner not in (None, me):
            self.clock.sleep(LOCK_POLL_S)
        self._owner = me
        self._depth += 1
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if not self._depth:
            self._owner = None


def build_driver(conf, store, persistence=None):
    """A XenBalloonDriver on the simulated host in ``store``.

    ``persistence``: where its flows are kept (None: taskflow keeps them
    in memory, uncopied).
    """
    backend = backend_mod.SimulatedHypervisor(conf, store=store)
    storage = ledger_mod.MemoryStorage()
    if isinstance(store.clock, clock_mod.VirtualClock):
        # pylint: disable=protected-access
        storage._lock = ClockLock(store.clock)
    ledger = ledger_mod.Ledger(storage, conf.xenballoon.dom0_min_memory_mb)
    return driver_mod.XenBalloonDriver(conf, backend, ledger, persistence)
