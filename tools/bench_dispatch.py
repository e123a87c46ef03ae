"""Who is served first (issue 13): fifo, shortest and the offline optimum.

Runs ``progress`` (the driver) with [xenballoon] dispatch_policy fifo and
shortest on the multi-request scenarios and on mixed streams
(bench_stream.py), next to the offline optimum of the same requests
(bench_optimum.py), and checks the issue's targets. Each check is
returned as (ok, text, misses) for benchmark.py's table of targets.
"""

import math

from oslo_config import cfg

import bench_optimum
from xenballoon_driver import conf as conf_mod
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import strategies

POLICIES = ('fifo', 'shortest')
# Shortest with the widest budget the options allow: not a target, it
# shows how much of the gap to the optimum is the budget's doing.
WIDE = 'shortest-wide'
WIDE_BUDGET = {'overtake_budget_s': 86400.0, 'overtake_budget_pct': 1000.0}
OPTIMUM = 'optimum'
COLUMNS = POLICIES + (WIDE, OPTIMUM)
# multi-small-after-big: the small guest is ready within this of its
# arrival (issue 13; alone it takes 3 s: create 1 s + populate 2 s).
SMALL_READY_S = 5.0
# A request may be later than its fifo time by its overtaking budget in
# seconds and this much more: the looks and polls of the spawns that
# overtook it (a look 0.12 s at bare-metal costs, poll_interval 1 s),
# and dom0's jitter against the nominal rate the budget is converted at.
BUDGET_SLACK_S = 2.0
# The stream's mean time-to-ready with shortest, against the optimum's.
OPTIMUM_FACTOR = 1.10


def make_conf(policy, **options):
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('dispatch_policy', policy, 'xenballoon')
    for key, value in options.items():
        conf.set_override(key, value, 'xenballoon')
    return conf


def budget_s(need_mb, release_rate_mb_s, conf):
    """A request's overtaking budget in seconds.

    The smaller of overtake_budget_s and overtake_budget_pct % of its own
    need at the host's (nominal) release rate: how long dom0 takes to
    release that share of it.
    """
    x = conf.xenballoon
    return min(x.overtake_budget_s,
               x.overtake_budget_pct / 100.0 * need_mb / release_rate_mb_s)


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def stats(times):
    """(mean, p95, max) of the times that are not None, or Nones."""
    done = [t for t in times if t is not None]
    if not done:
        return None, None, None
    return sum(done) / len(done), percentile(done, 0.95), max(done)


def run(scenario, ends=None):
    """{policy or OPTIMUM: {request: time-to-ready or None}}, and conf."""
    out = {}
    for label, conf in ((p, make_conf(p)) for p in POLICIES):
        out[label] = _times(scenario, conf, ends)
    out[WIDE] = _times(scenario, make_conf('shortest', **WIDE_BUDGET), ends)
    floor = conf.xenballoon.dom0_min_memory_mb
    out[OPTIMUM] = {name: plan.time_to_ready_s for name, plan in
                    bench_optimum.schedule(scenario, floor, ends).items()}
    return out


def _times(scenario, conf, ends):
    return {r.request: r.time_to_ready_s
            for r in runner.run(scenario, strategies.OURS, conf, ends=ends)}


def cell(times):
    mean, p95, worst = stats(times.values())
    if mean is None:
        return '-'
    ran = sum(t is not None for t in times.values())
    text = '%.1f / %.1f / %.1f' % (mean, p95, worst)
    if ran < len(times):
        text += ' (%d/%d ran)' % (ran, len(times))
    return text


def table(results, label='scenario', extra=None):
    """(head, body): mean / p95 / max time-to-ready per policy."""
    head = [label] + ['%s mean / p95 / max s' % p for p in COLUMNS]
    head += [title for title, _ in extra or ()]
    body = []
    for name, res in results:
        row = [name] + [cell(res[p]) for p in COLUMNS]
        row += [fn(name) for _, fn in extra or ()]
        body.append(row)
    return head, body


def check_budget(what, scenario, res, conf):
    """Each request under shortest: ready by its fifo time + budget.

    The budget in seconds, overtake_budget_s: what bounds every request's
    delay. Its own overtake_budget_pct bounds only the MiB of the spawns
    that pass it; a request queued behind an earlier one that was passed
    also waits out that one's delay (within the earlier one's budget),
    which its own percent does not bound: stream-s1's vm-44 (37 GiB,
    ready in 6 s in fifo) arrived with a 5 GiB and a 25 GiB guest behind
    an overtaken big one and was ready after 83 s, past its own 100 %
    (56 s at 680 MiB/s) and within 600 s.
    """
    late, worst = [], None
    for name, fifo in res['fifo'].items():
        mine = res['shortest'][name]
        if fifo is None:
            continue
        allowed = fifo + conf.xenballoon.overtake_budget_s + BUDGET_SLACK_S
        over = math.inf if mine is None else mine - allowed
        worst = over if worst is None else max(worst, over)
        if over > 1e-9:
            late.append('%s/%s: %s, fifo %.1f s, allowed %.1f s' % (
                what, name, 'not ready' if mine is None else
                'ready after %.1f s' % mine, fifo, allowed))
    return late, worst


def multi_checks(cases_results, conf):
    """The targets on the multi-request scenarios."""
    checks = []
    by_name = {c.scenario.name: (c.scenario, res)
               for c, res in cases_results}
    scen, res = by_name['multi-small-after-big']
    small = res['shortest']['small16g']
    checks.append((small is not None and small <= SMALL_READY_S,
                   'shortest: multi-small-after-big/small16g ready within '
                   '%.0f s of its arrival: %s s' % (
                       SMALL_READY_S, '-' if small is None else
                       '%.2f' % small), []))
    big = {r.name: r for r in scen.requests}['big400g']
    budget = budget_s(big.footprint_mb, scen.balloon.release_rate_mb_s,
                      conf)
    fifo, mine = res['fifo']['big400g'], res['shortest']['big400g']
    ok = (fifo is not None and mine is not None and
          mine <= fifo + budget + BUDGET_SLACK_S)
    checks.append((ok, 'shortest: multi-small-after-big/big400g no later '
                   'than its fifo time %s s + its budget %.1f s (min of '
                   'overtake_budget_s %g and %g %% of %d MiB at %g MiB/s) '
                   '+ %.0f s: %s s' % (
                       _f(fifo), budget, conf.xenballoon.overtake_budget_s,
                       conf.xenballoon.overtake_budget_pct, big.footprint_mb,
                       scen.balloon.release_rate_mb_s, BUDGET_SLACK_S,
                       _f(mine)), []))
    misses, worst = [], None
    for case_, res in cases_results:
        late, w = check_budget(case_.scenario.name, case_.scenario, res,
                               conf)
        misses += late
        if w is not None:
            worst = w if worst is None else max(worst, w)
    checks.append((not misses, 'shortest: every multi-scenario request no '
                   'later than its fifo time + overtake_budget_s %.0f s + '
                   '%.0f s: %d late, worst excess %s s' % (
                       conf.xenballoon.overtake_budget_s, BUDGET_SLACK_S,
                       len(misses), _f(worst)), misses))
    return checks


def stream_checks(seed_results, conf):
    """The targets on the mixed streams, for each seed."""
    checks = []
    for label, scen, res in seed_results:
        opt = stats(res[OPTIMUM].values())[0]
        mine = stats(res['shortest'].values())[0]
        ran = {p: sum(t is not None for t in res[p].values())
               for p in POLICIES}
        n = len(scen.requests)
        checks.append((all(v == n for v in ran.values()),
                       '%s: every request ran (the stream fits): %s' % (
                           label, ', '.join('%s %d/%d' % (p, ran[p], n)
                                            for p in POLICIES)), []))
        ok = mine is not None and opt and mine <= OPTIMUM_FACTOR * opt
        wide = stats(res[WIDE].values())[0]
        checks.append((ok, '%s: shortest mean %s s <= %.2f x the offline '
                       'optimum\'s %s s (%s x; %s with the widest budget: '
                       '%s x)' % (label, _f(mine), OPTIMUM_FACTOR, _f(opt),
                                  _ratio(mine, opt), WIDE, _ratio(wide,
                                                                  opt)),
                       []))
        late, worst = check_budget(label, scen, res, conf)
        checks.append((not late, '%s: no request later than its fifo time '
                       '+ overtake_budget_s %.0f s + %.0f s: %d late, worst '
                       'excess %s s' % (label,
                                        conf.xenballoon.overtake_budget_s,
                                        BUDGET_SLACK_S, len(late), _f(worst)),
                       late))
    return checks


def waiting_at_arrival(scenario, times):
    """(mean, max) requests arrived and not yet ready, at each arrival."""
    ready = {r.name: r.at_s + times[r.name] for r in scenario.requests
             if times.get(r.name) is not None}
    counts = [sum(1 for q in scenario.requests
                  if q.at_s < r.at_s and ready.get(q.name, math.inf) >
                  r.at_s) for r in scenario.requests]
    return sum(counts) / len(counts), max(counts)


def _ratio(value, base):
    return '-' if value is None or not base else '%.2f' % (value / base)


def _f(value):
    return '-' if value is None else '%.1f' % value
