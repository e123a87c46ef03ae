#!/usr/bin/env python3
"""Placement against the ledger: hosts filled until placement says no.

    python tools/bench_placement.py [--hosts "64 GiB,1 TiB"]

For each host shape and guest kind of tests/unit/test_resources.py (PV
512 MiB, PV 1 GiB, HVM 2 GiB/2 vCPU, HVM 8 GiB/4 vCPU on 64 GiB and
1 TiB simulated hosts), fills the host as placement would
(``fill_as_placement``: admit iff used + memory <= total - reserved, the
inventory re-read after every spawn, each admitted guest spawned through
the driver) and prints one row: guests admitted, built, reschedules (the
ledger refusing what placement admitted), the ledger's memory left when
placement said no, and the guests (and MiB) the ledger could still have
built: what placement strands. Exits 1 if any row has a reschedule or
strands more than one guest.
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from oslo_config import cfg  # noqa: E402

from tests import conftest  # noqa: E402
from tests.unit import test_resources as cases  # noqa: E402
from xenballoon_driver import conf as conf_mod  # noqa: E402

COLUMNS = ('host', 'guest', 'admitted', 'built', 'resched', 'left MiB',
           'extra', 'stranded MiB', 'footprint MiB')


def make_conf(state_dir):
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('state_dir', state_dir, group='xenballoon')
    return conf


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', default=','.join(cases.HOSTS),
                        help='comma-separated host shapes (%s)' %
                        ', '.join(cases.HOSTS))
    args = parser.parse_args()
    fmt = '%-7s %-17s %8s %6s %7s %9s %5s %12s %13s'
    print(fmt % COLUMNS)
    bad = 0
    for shape in args.hosts.split(','):
        for name, memory_mb, vcpus, guest_type in cases.GUESTS:
            with tempfile.TemporaryDirectory() as tmp:
                conf = make_conf(tmp)
                host = conftest.SimHost(
                    conf, conftest.make_scenario(host=cases.HOSTS[shape]))
                row = cases.fill_as_placement(host, memory_mb, vcpus,
                                              guest_type)
            print(fmt % (shape, name, row['admitted'], row['built'],
                         row['reschedules'], row['left_mb'], row['extra'],
                         row['stranded_mb'], row['footprint_mb']),
                  flush=True)
            bad += row['reschedules'] > 0 or row['extra'] > 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
