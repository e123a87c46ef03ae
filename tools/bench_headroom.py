"""Warm headroom on a fleet (issue 13): free_headroom_mb 0 against some.

The shipped fleet (56 hosts of 256 GiB to 2 TiB, 500 requests of 1-512
GiB, log-uniform, a Poisson arrival every 4 s) placed by the reference
scheduler (balloon-aware weigher), once with [xenballoon]
free_headroom_mb = 0 and once with HEADROOM_MB. Each guest is leased
LEASE_S from its arrival and then destroyed, so hosts give memory back
to dom0 and the headroom is re-established between guests.
"""

import math
import os

from oslo_config import cfg

from xenballoon_driver import conf as conf_mod
from xenballoon_driver.simulator import fleet as fleet_mod
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import scenario as scenario_mod

FLEET = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     os.pardir, 'xenballoon_driver', 'simulator',
                     'scenarios', 'fleet.yaml')
# 32 GiB: the median guest of 1-512 GiB log-uniform is 22 GiB, and 5 in
# 9 guests (1-32 GiB) then start with no balloon wait; it keeps 3 % of a
# 1 TiB host's memory out of dom0's page cache (12.5 % of the smallest,
# 256 GiB, hosts).
HEADROOM_MB = 32 * 1024
# Ten minutes: a few of the fleet's balloon times, and 150 guests or so
# alive at once (one arrival per 4 s), a quarter of the fleet's memory.
LEASE_S = 600.0
# As tools/bench_scheduler.py: the first look of each wait is up to this
# late, the same for both runs (1 s is more faithful and 5x slower).
POLL_INTERVAL_S = 5.0
# The random pick among host_subset_size hosts (1 here: none).
SEED = 1


def make_conf(headroom_mb):
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('poll_interval', POLL_INTERVAL_S, 'xenballoon')
    conf.set_override('free_headroom_mb', headroom_mb, 'xenballoon')
    return conf


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def run(headroom_mb, path=FLEET):
    """A summary dict of the fleet run with that headroom."""
    scenario = scenario_mod.load(path)
    ends = {r.name: r.at_s + LEASE_S for r in scenario.requests}
    results, hosts = fleet_mod.run_fleet(scenario, make_conf(headroom_mb),
                                         seed=SEED, ends=ends)
    times = [r.time_to_ready_s for r in results
             if r.time_to_ready_s is not None]
    return {
        'headroom_mb': headroom_mb, 'hosts': len(scenario.hosts),
        'requests': len(results),
        'running': sum(r.outcome == runner.RUNNING for r in results),
        'refused': sum(r.outcome == fleet_mod.REFUSED for r in results),
        'mean_s': sum(times) / len(times) if times else None,
        'p95_s': percentile(times, 0.95) if times else None,
        'max_s': max(times) if times else None,
        # Requests that found their memory ready (no balloon at all).
        'no_wait': sum(1 for r in results if r.balloon_mb == 0 and
                       r.outcome == runner.RUNNING),
        'overcommit_mb': max(h.overcommit_mb for h in hosts),
    }


def table(rows):
    head = ['free_headroom_mb', 'placed and ran', 'refused',
            'no balloon wait', 'mean s', 'p95 s', 'max s']
    body = [['%d' % r['headroom_mb'],
             '%d/%d' % (r['running'], r['requests']),
             '%d' % r['refused'], '%d' % r['no_wait'],
             _f(r['mean_s']), _f(r['p95_s']), _f(r['max_s'])]
            for r in rows]
    return head, body


def checks(rows):
    """(ok, text, misses): equal placement, a lower mean with headroom."""
    none, some = rows
    out = [(none['running'] == some['running'] and not none['refused'] and
            not some['refused'],
            'fleet: equal placement success with and without headroom: '
            '%d/%d and %d/%d ran' % (none['running'], none['requests'],
                                     some['running'], some['requests']),
            [])]
    ok = (none['mean_s'] is not None and some['mean_s'] is not None and
          some['mean_s'] < none['mean_s'])
    out.append((ok, 'fleet: mean arrival-to-running with %d MiB headroom '
                '%s s < %s s without' % (
                    some['headroom_mb'], _f(some['mean_s']),
                    _f(none['mean_s'])), []))
    out.append((not none['overcommit_mb'] and not some['overcommit_mb'],
                'fleet: no host overcommitted: %d and %d MiB' % (
                    none['overcommit_mb'], some['overcommit_mb']), []))
    return out


def _f(value):
    return '-' if value is None else '%.1f' % value
