#!/usr/bin/env python3
"""Benchmark: the balloon-aware weigher against no weigher and random.

Runs one multi-host scenario (default: the shipped fleet, 56 hosts of
256 GiB to 2 TiB and 500 requests of 1-512 GiB arriving over half an
hour) through ``xenballoon_driver.simulator.fleet.run_fleet`` three
times, on a virtual clock, with the same filter and three placements:

- balloon-aware: BalloonTimeWeigher (multiplier 1), the best host;
- weigher off: multiplier 0, so the first host that passes (in the
  scenario's order);
- random: multiplier 0 and host_subset_size 1000, a random host among
  those that pass (seeded).

Prints, side by side, how many requests were placed and ran, and the
total, mean, 95th percentile and worst time-to-ready (seconds from a
request's arrival to its guest running), plus the GiB every dom0 gave
back in all and any overcommit. Exits 1 unless the balloon-aware weigher
lowers both the total and the 95th percentile against each of the
others, with no fewer requests running.

    python tools/bench_scheduler.py [--scenario FILE] [--poll-interval S]
                                    [--json FILE]

--poll-interval ([xenballoon] poll_interval, default 5 s here) bounds how
long the wait sleeps before it knows dom0's rate: each placement pays up
to that much on its first look, the same for all three. 1 s (the
service's default) is more faithful and takes about five times longer.
"""

import argparse
import collections
import json
import math
import os
import sys
import time

from oslo_config import cfg

from xenballoon_driver import conf as conf_mod
from xenballoon_driver.simulator import fleet as fleet_mod
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import scenario as scenario_mod

FLEET = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     os.pardir, 'xenballoon_driver', 'simulator',
                     'scenarios', 'fleet.yaml')
OURS = 'balloon-aware'
POLICIES = (
    (OURS, {'balloon_time_weight_multiplier': 1.0, 'host_subset_size': 1}),
    ('weigher off', {'balloon_time_weight_multiplier': 0.0,
                     'host_subset_size': 1}),
    ('random', {'balloon_time_weight_multiplier': 0.0,
                'host_subset_size': 1000}),
)
RANDOM_SEED = 1


def make_conf(scheduler_options, poll_interval):
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('poll_interval', poll_interval, group='xenballoon')
    for key, value in scheduler_options.items():
        conf.set_override(key, value, group='scheduler')
    return conf


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarise(name, scenario, requests, hosts, wall_s):
    times = [r.time_to_ready_s for r in requests
             if r.time_to_ready_s is not None]
    outcomes = collections.Counter(r.outcome for r in requests)
    return {
        'policy': name,
        'requests': len(requests),
        'running': outcomes.get(runner.RUNNING, 0),
        'refused': outcomes.get(fleet_mod.REFUSED, 0),
        'failed': sum(n for o, n in outcomes.items()
                      if o not in (runner.RUNNING, fleet_mod.REFUSED)),
        'total_s': sum(times),
        'mean_s': sum(times) / len(times) if times else None,
        'p95_s': percentile(times, 0.95) if times else None,
        'max_s': max(times) if times else None,
        # What every dom0 gave back in all, start to end.
        'dom0_gave_gib': (sum(h.host.dom0_mb for h in scenario.hosts) -
                          sum(h.dom0_mb for h in hosts)) / 1024,
        'overcommit_mb': max(h.overcommit_mb for h in hosts),
        'wall_s': wall_s,
    }


def table(rows):
    columns = (('policy', '%-13s'), ('running', '%7d'), ('refused', '%7d'),
               ('failed', '%6d'), ('total_s', '%10.0f'),
               ('mean_s', '%8.1f'), ('p95_s', '%8.1f'), ('max_s', '%8.1f'),
               ('dom0_gave_gib', '%13.0f'), ('overcommit_mb', '%13d'),
               ('wall_s', '%6.1f'))
    lines = ['  '.join('%*s' % (len(fmt % row[key]), key)
                       for key, fmt in columns) for row in rows[:1]]
    for row in rows:
        lines.append('  '.join(fmt % row[key] for key, fmt in columns))
    return '\n'.join(lines)


def check(rows):
    """Messages for each way ours fails to beat another policy."""
    ours = rows[0]
    problems = []
    for other in rows[1:]:
        if ours['running'] < other['running']:
            problems.append('%s runs fewer requests than %s (%d < %d)' % (
                OURS, other['policy'], ours['running'], other['running']))
        for key in ('total_s', 'p95_s'):
            if ours[key] >= other[key]:
                problems.append('%s %s %.1f is not below %s\'s %.1f' % (
                    OURS, key, ours[key], other['policy'], other[key]))
    if any(row['overcommit_mb'] or row['failed'] for row in rows):
        problems.append('a host was overcommitted or a placed request '
                        'failed')
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenario', default=FLEET,
                        help='a multi-host scenario (default: %(default)s)')
    parser.add_argument('--poll-interval', type=float, default=5.0,
                        help='[xenballoon] poll_interval for the run')
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    scenario = scenario_mod.load(args.scenario)
    print('%s: %d hosts, %d requests; poll_interval %.1f s' % (
        scenario.name, len(scenario.hosts), len(scenario.requests),
        args.poll_interval))
    rows = []
    for name, options in POLICIES:
        conf = make_conf(options, args.poll_interval)
        start = time.monotonic()
        requests, hosts = fleet_mod.run_fleet(scenario, conf,
                                              seed=RANDOM_SEED)
        rows.append(summarise(name, scenario, requests, hosts,
                              time.monotonic() - start))
        print('  %s: done in %.1f s' % (name, rows[-1]['wall_s']),
              flush=True)
    print()
    print('time to ready, seconds from arrival (over requests running):')
    print(table(rows))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(rows, f, indent=2)
    problems = check(rows)
    for problem in problems:
        print('FAIL: %s' % problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
