#!/usr/bin/env python3
"""The crash harness with larger counts; prints figures per database.

    python tools/crash_soak.py [--points N] [--concurrent-runs R]
                               [--shared-cases C] [--seed S] [-n WORKERS]

Runs tests/functional/test_kill_random.py (N random kill points per
database, plus its fixed cases), test_kill_concurrent_recover.py (R runs
of 16 spawns while recover loops, per database) and test_shared_db.py
(C cases of two hosts sharing a server database) under pytest-xdist,
then prints, per kind of case (random kills by the command killed:
spawn, spawn-revert, destroy, stop, start, suspend, resume) and
database, how many were tried and how many ended consistent, the seed
(XENBALLOON_KILL_SEED replays the run) and the first lines of each
failure. Exits 1 if any case failed.
Run it from the repository root, in the tox py3 environment.
"""

import argparse
import collections
import os
import random
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

FILES = ['tests/functional/test_kill_random.py',
         'tests/functional/test_kill_concurrent_recover.py',
         'tests/functional/test_shared_db.py']
DATABASES = ('sqlite', 'postgresql', 'mysql')
CASE = re.compile(r'(?P<test>\w+)\[(?P<params>[^\]]*)\]')
# test_random_kill's ids name what was killed: 7_stop, 12_spawn_revert.
KIND = re.compile(r'\d+_(?P<kind>[a-z_]+)')


def database(params):
    for part in params.split('-'):
        if part in DATABASES:
            return part
    return '?'


def case_kind(test, params):
    """The row a case counts in: random kills by what they killed."""
    for part in params.split('-'):
        match = KIND.fullmatch(part)
        if match:
            return '%s %s' % (test, match['kind'].replace('_', '-'))
    return test


def tally(junit):
    """{(test, database): [tried, consistent, [failures]]} from JUnit XML."""
    figures = collections.defaultdict(lambda: [0, 0, []])
    for case in ET.parse(junit).getroot().iter('testcase'):
        match = CASE.fullmatch(case.get('name', ''))
        if not match or case.find('skipped') is not None:
            continue
        row = figures[(case_kind(match['test'], match['params']),
                       database(match['params']))]
        row[0] += 1
        failed = case.find('failure')
        if failed is None:
            failed = case.find('error')
        if failed is None:
            row[1] += 1
        else:
            lines = [line.strip() for line in (
                failed.get('message') or failed.text or '').splitlines()]
            row[2].append('%s: %s' % (case.get('name'),
                                      ' | '.join(lines[:4])))
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--points', type=int, default=200,
                        help='random kill points per database')
    parser.add_argument('--concurrent-runs', type=int, default=3)
    parser.add_argument('--shared-cases', type=int, default=12)
    parser.add_argument('--seed', type=int,
                        default=random.SystemRandom().randrange(10 ** 9))
    parser.add_argument('-n', '--workers', type=int, default=2)
    args = parser.parse_args(argv)
    env = dict(os.environ,
               XENBALLOON_KILL_POINTS=str(args.points),
               XENBALLOON_CONCURRENT_RUNS=str(args.concurrent_runs),
               XENBALLOON_SHARED_CASES=str(args.shared_cases),
               XENBALLOON_KILL_SEED=str(args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        junit = os.path.join(tmp, 'junit.xml')
        subprocess.run(
            [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
             '-n', str(args.workers), '--junitxml', junit] + FILES,
            env=env, stdout=subprocess.DEVNULL, check=False)
        figures = tally(junit)
    print('seed %d (XENBALLOON_KILL_SEED)' % args.seed)
    print('%-36s %-11s %6s %11s' % ('case', 'database', 'tried',
                                    'consistent'))
    failures = []
    for (test, db), (tried, ok, failed) in sorted(figures.items()):
        print('%-36s %-11s %6d %11d' % (test, db, tried, ok))
        failures += failed
    for db in DATABASES:
        rows = [v for (_, d), v in figures.items() if d == db]
        if rows:
            print('%-36s %-11s %6d %11d' % (
                'all', db, sum(r[0] for r in rows), sum(r[1] for r in rows)))
    if failures:
        print('\nfailures:')
        for line in failures:
            print('  ' + line)
    return 1 if failures or not figures else 0


if __name__ == '__main__':
    sys.exit(main())
