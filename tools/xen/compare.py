#!/usr/bin/env python3
"""Simulated vs real: the fitted scenario's predictions next to a Xen run.

usage: compare.py MEASUREMENTS.json [--scenario FILE] [--fit] [--check]

Replays every driver flow the run recorded (tests/xen: same host, same
request, same options) on the simulator with the scenario's figures
(default: the shipped xen-qemu scenario) and prints predicted and real
times side by side: scaled to the run's machine by its yardstick, and
unscaled (at the fitted runs' speed; a loaded machine slows the
yardstick's one create and destroy more than the rest). The page cache
runs (tests/xen (e), (f)) are replayed with the page cache, reclaim rate
and back-off the run showed; (f) with the xl-4.17 baseline. --fit
prints the scenario figures this run gives (how scenarios/xen-qemu.yaml
was made). --check exits 1 when the
predicted time to ready is not within 20 % of the real one or an outcome
differs.
"""

import argparse
import json
import os
import sys

import yaml

from oslo_config import cfg

from xenballoon_driver import conf as conf_mod
from xenballoon_driver.simulator import scenario as scenario_mod

# The fit lives with the Xen tests (tests/xen/fit.py): import it from
# this source tree.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.xen import fit as xen_fit  # noqa: E402

LIMIT = 0.20


def make_conf(**options):
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    for name, value in options.items():
        conf.set_override(name, value, 'xenballoon')
    return conf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('measurements')
    parser.add_argument('--scenario', default=xen_fit.SHIPPED)
    parser.add_argument('--fit', action='store_true')
    parser.add_argument('--check', action='store_true')
    args = parser.parse_args(argv)
    with open(args.measurements, encoding='utf-8') as f:
        measurements = json.load(f)
    if args.fit:
        print(yaml.safe_dump(xen_fit.fit(measurements), sort_keys=False))
    if 'host' not in measurements.get('tests', {}):
        # A selection without test_toolstack's host figures: nothing to
        # compare the simulator with.
        print('no host figures in %s (a selection of tests/xen?): nothing '
              'to compare' % args.measurements)
        return 0
    scenario = scenario_mod.load(args.scenario)
    rows = xen_fit.predict(scenario, measurements, make_conf)
    unscaled = xen_fit.predict(scenario, measurements, make_conf,
                               scale=False)
    _, factor = xen_fit.at_speed_of(scenario, measurements)
    print('simulated (%s) vs real Xen (%s); this machine took %.2f x the '
          'fitted runs\' time to create and destroy a tiny guest' % (
              scenario.name, args.measurements, factor))
    print('%-23s %-19s %8s %8s %7s %9s  %s' % (
        'flow', 'figure', 'real s', 'sim s', 'error', 'unscaled', 'outcome'))
    ok = True
    for row, fit_speed in zip(rows, unscaled):
        same = row.outcome == row.predicted_outcome
        print('%-23s %-19s %8.2f %8.2f %+6.0f%% %9.2f  %s%s' % (
            row.flow, row.what, row.real_s, row.predicted_s,
            100 * row.error, fit_speed.predicted_s, row.predicted_outcome,
            '' if same else ' (real: %s)' % row.outcome))
        ok = ok and same
        if row.flow == xen_fit.SPAWN:
            ok = ok and abs(row.error) <= LIMIT
    cancelled = measurements['tests'].get(xen_fit.SPAWN_CANCELLED)
    if cancelled:
        print('%-23s %-19s %8.2f %8s %7s %9s  %s (not replayed; %d nudges)'
              % (xen_fit.SPAWN_CANCELLED, 'time to ready',
                 cancelled['time_to_ready_s'], '-', '', '-',
                 cancelled['outcome'],
                 cancelled['nudges']))
    print('time to ready within %d %%, outcomes alike: %s' % (
        100 * LIMIT, 'yes' if ok else 'NO'))
    return 0 if ok or not args.check else 1


if __name__ == '__main__':
    sys.exit(main())
