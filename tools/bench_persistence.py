"""Per-spawn overhead of persisted flows, against the bare engine.

    python tools/bench_persistence.py [--spawns N] [--rounds R]

Spawns that need no ballooning on a simulated host (virtual clock), so
what is measured is the flow machinery: the bare taskflow engine (no
persistence), our SQLite backend (the default), the same with the
reservation ledger in that file (what a spawn pays by default), and
taskflow's stock SQLAlchemy backend on the same kind of SQLite file.
Prints median and 95th percentile milliseconds per spawn, side by side,
from one run.
"""

import argparse
import contextlib
import itertools
import statistics
import sys
import tempfile
import time

from oslo_config import cfg
from taskflow.persistence.backends import impl_sqlalchemy

from xenballoon_driver import clock as clock_mod
from xenballoon_driver import conf as conf_mod
from xenballoon_driver.flows import engine
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver import locks
from xenballoon_driver import persistence as persistence_mod
from xenballoon_driver.simulator import backend as simulated
from xenballoon_driver.simulator import model as model_mod
from xenballoon_driver.simulator import scenario as scenario_mod
from xenballoon_driver.simulator import store as store_mod


def make_host(conf, documents=None, lock_dir=None):
    scenario = scenario_mod.from_dict({
        'host': {'total_mb': 16 * 1024 * 1024, 'dom0_mb': 4096,
                 'dom0_low_mb': 1024}})
    model = model_mod.HostModel(scenario)
    backend = simulated.SimulatedHypervisor(
        conf, store=store_mod.MemoryStore(model, clock_mod.VirtualClock()))
    storage = (ledger_mod.DocumentStorage(documents, 'bench',
                                          locks.ledger_path(lock_dir))
               if documents else ledger_mod.MemoryStorage())
    return backend, ledger_mod.Ledger(storage, 1024)


def spawner(conf, persistence, tag, documents=None, lock_dir=None):
    """A function that runs one more spawn and returns its milliseconds."""
    backend, ledger = make_host(conf, documents, lock_dir)
    count = itertools.count()

    def spawn():
        name = '%s%d' % (tag, next(count))
        flow = spawn_flow.get_flow(backend, ledger, conf.xenballoon)
        start = time.perf_counter()
        engine.run(flow, {'spec': {'name': name, 'memory_mb': 64}},
                   persistence=persistence, request='spawn ' + name)
        return (time.perf_counter() - start) * 1000
    return spawn


def summary(times):
    times = sorted(times)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--spawns', type=int, default=100,
                        help='spawns per row (a quarter of it for the '
                             'stock backend)')
    parser.add_argument('--rounds', type=int, default=10,
                        help='turns the first three rows take')
    args = parser.parse_args(argv)
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    with tempfile.TemporaryDirectory() as tmp:
        stores = persistence_mod.open_url('sqlite:///%s/ours.db' % tmp)
        ours = stores.flows
        stock = impl_sqlalchemy.SQLAlchemyBackend(
            {'connection': 'sqlite:///%s/stock.db' % tmp})
        for backend in (ours, stock):
            with contextlib.closing(backend.get_connection()) as conn:
                conn.upgrade()
        runs = [
            ('bare engine (no persistence)', spawner(conf, None, 'b')),
            ('SQLite, our path-based backend (default)',
             spawner(conf, ours, 'o')),
            ('  + the ledger in the same SQLite file',
             spawner(conf, ours, 'l', stores.documents, tmp)),
        ]
        # Taken in turns, a few spawns at a time, so that a busy moment
        # on a shared machine weighs on every row alike.
        times = {name: [] for name, _ in runs}
        for _ in range(args.rounds):
            for name, spawn in runs:
                times[name] += [spawn() for _ in range(
                    max(1, args.spawns // args.rounds))]
        rows = [(name, summary(times[name])) for name, _ in runs]
        # Far slower: fewer spawns are enough.
        stock_spawn = spawner(conf, stock, 's')
        rows.append(("SQLite, taskflow's SQLAlchemy backend", summary(
            [stock_spawn() for _ in range(max(1, args.spawns // 4))])))
    bare = rows[0][1][0]
    print('%-42s %9s %9s %8s' % ('per spawn, no ballooning', 'median ms',
                                 'p95 ms', 'x bare'))
    for name, (median, p95) in rows:
        print('%-42s %9.1f %9.1f %8.2f' % (name, median, p95, median / bare))


if __name__ == '__main__':
    main(sys.argv[1:])
