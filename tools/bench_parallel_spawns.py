#!/usr/bin/env python3
"""Makespan of many spawns from several processes, against dom0's release.

    python tools/bench_parallel_spawns.py [--connection URL] [--runs N]
                                          [--processes P] [--per-process S]

The run of tests/functional/test_parallel_spawns.py (P processes of
tests/functional/spawn_batch.py, S spawns of 20 GiB each, on a 512 GiB
simulated host whose dom0 releases 4096 MiB/s, in scaled real time),
measured: prints, per run, the makespan from dom0's first balloon request
to the last admitted guest running, the time dom0 needs to release what
the admitted guests take, and their ratio (1.0: the waits overlap
perfectly). Measured 1.008-1.032 on a machine at load 5-6, more on a
busier one: scaled real time multiplies the machine's delays, which is
why the test asserts behaviour and this script prints the ratio.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import yaml

from xenballoon_driver.cmd import base
from xenballoon_driver import driver as driver_mod

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = os.path.join(ROOT, 'tests', 'functional', 'spawn_batch.py')
GiB = 1024
RATE = 4096          # dom0 releases MiB/s
GUEST = 20 * GiB


def write_config(root, connection):
    scenario = {
        'host': {'total_mb': 512 * GiB, 'dom0_mb': 480 * GiB,
                 'dom0_low_mb': 1024},
        'balloon': {'release_rate_mb_s': RATE},
        'build': {'populate_rate_mb_s': 64 * GiB},
    }
    with open(os.path.join(root, 'scenario.yaml'), 'w') as f:
        yaml.safe_dump(scenario, f)
    path = os.path.join(root, 'xenballoon.conf')
    with open(path, 'w') as f:
        f.write('[xenballoon]\nstate_dir = %s\n'
                'poll_interval = 5\nmin_poll_interval = 0.5\n'
                '[persistence]\nconnection = %s\n'
                '[simulator]\nscenario_file = %s\ntime_scale = 10\n' % (
                    os.path.join(root, 'state'), connection,
                    os.path.join(root, 'scenario.yaml')))
    return path


def one_run(connection, processes, per_process):
    """{makespan_s, release_s, ratio, admitted, startup_s} of one run."""
    with tempfile.TemporaryDirectory() as root:
        conf_path = write_config(root, connection)
        drv = driver_mod.XenBalloonDriver(
            base.load_conf([conf_path])).init_host()
        before = drv.host_status()
        procs = [subprocess.Popen(
            [sys.executable, BATCH, conf_path] +
            ['p%dvm%d:%d' % (p, i, GUEST) for i in range(per_process)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for p in range(processes)]
        for proc in procs:
            if proc.stdout.readline() != 'ready\n':
                sys.exit(proc.communicate()[1])
        for proc in procs:
            proc.stdin.write('go\n')
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            if proc.returncode:
                sys.exit(err)
            results += [json.loads(line) for line in out.splitlines()]
        admitted = [r for r in results if r['outcome'] == 'running']
        drv = driver_mod.XenBalloonDriver(
            base.load_conf([conf_path])).init_host(recover=False)
        with drv.backend.store.session() as model:
            first_request_s = model.first_request_at
        need = GUEST + 2
        release_s = (len(admitted) * need - before['free_mb']) / RATE
        makespan = max(r['ended_s'] for r in admitted) - first_request_s
        return {'makespan_s': makespan, 'release_s': release_s,
                'ratio': makespan / release_s, 'admitted': len(admitted),
                'startup_s': first_request_s - min(
                    r['started_s'] for r in results)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--connection', default='',
                        help='[persistence] connection (default: SQLite '
                             'in the state dir)')
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--processes', type=int, default=4)
    parser.add_argument('--per-process', type=int, default=8)
    args = parser.parse_args(argv)
    ratios = []
    print('%-4s %9s %10s %9s %6s %10s' % (
        'run', 'admitted', 'makespan_s', 'release_s', 'ratio', 'startup_s'))
    for run in range(args.runs):
        r = one_run(args.connection, args.processes, args.per_process)
        ratios.append(r['ratio'])
        print('%-4d %9d %10.1f %9.1f %6.3f %10.1f' % (
            run + 1, r['admitted'], r['makespan_s'], r['release_s'],
            r['ratio'], r['startup_s']))
    print('makespan / dom0 release: median %.3f, worst %.3f (%s, %d x %d '
          'spawns)' % (statistics.median(ratios), max(ratios),
                       args.connection or 'sqlite default', args.processes,
                       args.per_process))


if __name__ == '__main__':
    main()
