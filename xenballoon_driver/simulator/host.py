"""A simulated host's driver: the wiring the runner, the fleet and the
benchmark share.

The driver as init_host would build it for the ``simulated`` backend,
but over a host kept in this process (a MemoryStore: the model on a
given clock) and with the ledger in memory: nothing touches the disk.
"""

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.simulator import backend as backend_mod


def build_driver(conf, store, persistence=None):
    """A XenBalloonDriver on the simulated host in ``store``.

    ``persistence``: where its flows are kept (None: taskflow keeps them
    in memory, uncopied).
    """
    backend = backend_mod.SimulatedHypervisor(conf, store=store)
    # The ledger holds its lock across toolstack calls, which sleep on
    # the clock when they cost time: a waiter must wait on the clock too.
    storage = ledger_mod.MemoryStorage(clock_mod.ClockLock(store.clock))
    ledger = ledger_mod.Ledger(storage, conf.xenballoon.dom0_min_memory_mb,
                               ledger_mod.Policy.from_conf(conf))
    return driver_mod.XenBalloonDriver(conf, backend, ledger, persistence)
