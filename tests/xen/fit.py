"""The simulator fitted to a real Xen host, and checked against it.

``tox -e xen`` runs the driver on a real Xen 4.17 under QEMU and records
what it measured (tests/xen: measurements.json): dom0's balloon rates,
the time of every xl call, and the time each driver flow took. Here:

fit(measurements), fit_many(runs)
    the figures of a scenario that behaves like that host: balloon
    release and re-inflate rates, the toolstack's call latencies, build
    speed, the driver's own time per flow (averaged over several runs:
    under emulation one run's timings vary by a third).
    xenballoon_driver/simulator/scenarios/xen-qemu.yaml was written with
    fit_many.
predict(scenario, measurements)
    replays each recorded driver flow (same host, same request, same
    options) on the simulator with the scenario's figures, and returns
    what the simulator predicts next to what the real host did.

Test and tool code (tools/xen/compare.py, tests/unit/simulator), so it
lives with the Xen tests and replays their flows with their own options
(options.py).
"""

import copy
import dataclasses
import importlib.resources
import re

from tests.xen import options as xen_options
from xenballoon_driver.simulator import runner
from xenballoon_driver.simulator import scenario as scenario_mod

SHIPPED = str(importlib.resources.files('xenballoon_driver.simulator') /
              'scenarios' / 'xen-qemu.yaml')

# The recorded flows (tests/xen/test_xl_driver.py), each with its request,
# what the real run measured, and the driver options the test used.
SPAWN = 'driver_spawn_balloon'
FAILED_CREATE = 'driver_failed_create'
REFUSED = 'driver_refused'
STALL = 'driver_balloon_stall'
# dom0 full of page cache (tests/xen, (e) and (f)): our spawn, and xl
# create with its own freemem, for the same guest.
SPAWN_CACHE = 'driver_spawn_page_cache'
XL_AUTOBALLOON = 'xl_create_autoballoon'
# (g): as (e) with max_retry_count 1, so that the balloon cancels. Not
# replayed: with a balloon that cancels at every failure the simulator's
# physical limit (oracle.release_time) took 250 s of CPU on the recorded
# run (run-2026-11-30a); compare.py prints its real figures alone.
SPAWN_CANCELLED = 'driver_spawn_cancelled'
CACHE_FLOWS = (SPAWN_CACHE, XL_AUTOBALLOON)
# Linux's balloon back-off on Debian 12's kernel when a run did not
# record it (captures a160_sysfs_balloon_all_final: 20 s and 4).
DEBIAN_MAX_SCHEDULE_DELAY_S = 20
DEBIAN_MAX_RETRY_COUNT = 4

# libxl refuses dom0 targets below this (captures: mem-set 0 127m).
MIN_DOM0_TARGET_MB = 128
# xl calls the real flows made that the fit reads latencies from.
FLOW_TESTS = (SPAWN, FAILED_CREATE, REFUSED, STALL)
SPAWN_TASK = 'xenballoon-spawn-'
# taskflow's logging listener: "Task 'NAME' (uuid) transitioned into
# state 'STATE' from state ...".
TASK_STATE = re.compile(r"Task '([\w-]+)' \([\w-]+\) transitioned into "
                        r"state '(\w+)'")


@dataclasses.dataclass
class Prediction:
    flow: str
    what: str
    outcome: str
    real_s: float
    predicted_s: float
    predicted_outcome: str

    @property
    def error(self):
        """(predicted - real) / real."""
        return (self.predicted_s - self.real_s) / self.real_s


def _mean_call_s(tests, sub):
    """Mean seconds of ``xl <sub>`` over every recorded flow."""
    count = total = 0.0
    for name in FLOW_TESTS:
        stats = tests.get(name, {}).get('xl_calls', {}).get(sub)
        if stats:
            count += stats[0]
            total += stats[0] * stats[1]
    return total / count if count else 0.0


def task_times(timeline):
    """{task: (started, ended)} from a flow's recorded state changes."""
    out = {}
    for t, message in timeline:
        m = TASK_STATE.match(message)
        if m and m.group(2) in ('RUNNING', 'SUCCESS'):
            start, end = out.get(m.group(1), (None, None))
            out[m.group(1)] = ((t, end) if m.group(2) == 'RUNNING'
                               else (start, t))
    return out


def fit(measurements):
    """Scenario sections (host, balloon, build, toolstack, driver).

    Call latencies are what each step of the recorded spawn took through
    the driver (xl's fork and the driver's own bookkeeping around it):
    the reserve task is one look, the balloon task one mem-set, the build
    task one create. What the spawn spent outside its tasks is the
    driver's time per flow.
    """
    tests = measurements['tests']
    host, spawn = tests['host'], tests[SPAWN]
    balloon = host['balloon_kb']
    dom0_mb = balloon['target_kb'] // 1024
    tasks = task_times(spawn['spawn_timeline'])
    took = {name[len(SPAWN_TASK):]: end - start
            for name, (start, end) in tasks.items()
            if name.startswith(SPAWN_TASK)}
    # Two creates of different sizes: a fixed cost and a populate rate.
    small_mb, small_s = 64, tests['pvgrub_64']['create_s']
    big_mb, big_s = spawn['guest_mb'], spawn['xl_calls']['create'][1]
    populate = (big_mb - small_mb) / max(big_s - small_s, 0.05)
    list_s, info_s = (_mean_call_s(tests, 'list'),
                      _mean_call_s(tests, 'info'))
    look_s = took['reserve-memory']
    return {
        'host': {'total_mb': host['total_mb'], 'dom0_mb': dom0_mb,
                 'dom0_low_mb': _stall_point_mb(tests),
                 'xen_mb': host['total_mb'] - dom0_mb - host['free_mb']},
        'balloon': {
            # While the driver runs, xl's forks share dom0's CPU with the
            # balloon thread: the rate during driver flows, not alone.
            'release_rate_mb_s': round(spawn['sysfs_down_avg_mb_s'], 1),
            'reinflate_rate_mb_s': round(spawn['sysfs_up_avg_mb_s'], 1)},
        'build': {'populate_rate_mb_s': round(populate, 1)},
        'toolstack': {
            # A look is "xl list" then "xl info" (dom0 from sysfs).
            'list_s': round(look_s * list_s / (list_s + info_s), 3),
            'info_s': round(look_s * info_s / (list_s + info_s), 3),
            'dom0_s': 0.0,
            'mem_set_s': round(took['balloon-dom0'], 3),
            'create_s': round(took['build-domain'] - big_mb / populate, 3),
            'destroy_s': round(_mean_call_s(tests, 'destroy'), 3),
            'reference_s': yardstick_s(measurements)},
        'driver': {'flow_s': round(spawn['time_to_ready_s'] -
                                   sum(took.values()), 3)},
    }


def _stall_point_mb(tests):
    """Where dom0's balloon stalled in the run, in MiB.

    The lowest dom0 size the stall test saw (tests/xen, (d)), read with
    the test's raised watermark_scale_factor, so a little higher than the
    bare balloon would stop. Not sysfs info/low_kb: that is the memory in
    the balloon (captures: 262144 KiB at boot, 786432 after mem-set
    1024m), no floor at all. Without a stall test: libxl's smallest dom0
    target.
    """
    stall = tests.get(STALL)
    if not stall:
        return MIN_DOM0_TARGET_MB
    return int(stall['lowest_dom0_mb'])


def fit_many(runs):
    """fit() of each run, every figure averaged (timings vary by run)."""
    fits = [fit(m) for m in runs]
    out = copy.deepcopy(fits[0])
    for section, figures in out.items():
        if section == 'host':
            continue  # the same machine: the first run's
        for name in figures:
            values = [f[section][name] for f in fits]
            figures[name] = round(sum(values) / len(values), 3)
    return out


def _replay_scenario(fitted, flow, guest_mb, free_mb, dom0_mb, total_mb,
                     fail_at_fraction=None, **balloon):
    data = copy.deepcopy(fitted.to_dict())
    data['name'] = flow
    data['host'].update(total_mb=total_mb, dom0_mb=dom0_mb,
                        xen_mb=total_mb - dom0_mb - free_mb)
    data['balloon'].update(balloon)
    data['requests'] = [{'name': flow.replace('_', '-'),
                         'memory_mb': guest_mb,
                         'fail_at_fraction': fail_at_fraction}]
    return scenario_mod.from_dict(data, fitted.path)


def reclaim_rate_mb_s(series):
    """How fast dom0's page cache fell while the balloon took from it.

    ``series``: a Sampler's back-off samples [t, delay, retry,
    MemAvailable, page cache]. From the sample before the cache first
    fell by more than 1 MiB to the first one within 2 MiB of its lowest:
    reclaim as fast as the balloon drew on it (kswapd and the balloon's
    own direct reclaim together). None if the cache did not fall.
    """
    cache = [row[4] for row in series]
    falls = [i for i in range(1, len(cache)) if cache[i] < cache[i - 1] - 1]
    if not falls:
        return None
    first = falls[0] - 1
    last = next(i for i in range(first, len(cache))
                if cache[i] <= min(cache) + 2)
    if last <= first or cache[first] - cache[last] < 16:
        return None
    span = series[last][0] - series[first][0]
    return round((cache[first] - cache[last]) / span, 1)


def page_cache_knobs(fitted, tests, test):
    """The balloon section's page cache and back-off for a (e)/(f) run.

    The model's dom0 is its low mark, its page cache, and free pages; the
    cache the balloon must reach through is what lies between the low
    mark and dom0's free memory (at most what the run cached). The
    back-off maxima are the run's sysfs (Debian's otherwise), or the
    test's own max_retry_count.
    """
    m = tests[test]
    backoff = tests['host'].get('backoff', {})
    memfree = m['meminfo_before_kb']['MemFree'] / 1024.0
    cache = min(m['page_cache_filled_mb'],
                m['dom0_target_before_mb'] - fitted.host.dom0_low_mb -
                memfree)
    knobs = {'page_cache_mb': round(max(cache, 0.0), 1),
             'max_schedule_delay_s': backoff.get(
                 'max_schedule_delay', DEBIAN_MAX_SCHEDULE_DELAY_S),
             'max_retry_count': m.get('max_retry_count', backoff.get(
                 'max_retry_count', DEBIAN_MAX_RETRY_COUNT))}
    rate = reclaim_rate_mb_s(tests.get(SPAWN_CACHE, m)['backoff_series'])
    if rate:
        knobs['reclaim_rate_mb_s'] = rate
    return knobs


def _flows(fitted, tests):
    """(flow, what, outcome, real_s, scenario, options[, strategy])."""
    total = tests['host']['total_mb']
    spawn = tests.get(SPAWN)
    if spawn:
        yield (SPAWN, 'time to ready', 'running', spawn['time_to_ready_s'],
               _replay_scenario(fitted, SPAWN, spawn['guest_mb'],
                                spawn['free_before_mb'],
                                spawn['dom0_target_before_mb'], total), {})
    failed = tests.get(FAILED_CREATE)
    if failed:
        # The real test's create fails at once (a kernel that is none).
        scenario = _replay_scenario(
            fitted, FAILED_CREATE, failed['guest_mb'],
            tests['host']['free_mb'], tests['host']['dom0_mb'], total,
            fail_at_fraction=0.0)
        yield (FAILED_CREATE, 'time to failure', 'failed',
               failed['time_to_failure_s'], scenario, {})
    refused = tests.get(REFUSED)
    if refused:
        yield (REFUSED, 'time to refusal', 'nomem',
               refused['time_to_refusal_s'],
               _replay_scenario(fitted, REFUSED, refused['guest_mb'],
                                tests['host']['free_mb'],
                                tests['host']['dom0_mb'], total), {})
    stall = tests.get(STALL)
    if stall:
        dom0 = stall['dom0_target_before_mb']
        yield (STALL, 'time to stall error', 'stalled',
               stall['time_to_stall_error_s'],
               _replay_scenario(fitted, STALL, stall['guest_mb'],
                                stall['free_before_mb'], dom0, total,
                                # Where this dom0's balloon stopped: its
                                # floor, a fact of the run, not a rate.
                                stall_after_mb=dom0 - stall['stalled_at_mb']),
               {'dom0_min_memory_mb': xen_options.STALL_DOM0_MIN_MB,
                'stall_timeout': stall['stall_timeout_s'],
                'min_progress_mb_s': stall['min_progress_mb_s']})
    for test, strategy in zip(CACHE_FLOWS, ('progress', 'xl-4.17')):
        m = tests.get(test)
        if not m:
            continue
        options = ({'stall_timeout': m['stall_timeout_s']}
                   if 'stall_timeout_s' in m else {})
        yield (test, 'time to ready', m['outcome'], m['time_to_ready_s'],
               _replay_scenario(fitted, test, m['guest_mb'],
                                m['free_before_mb'],
                                m['dom0_target_before_mb'], total,
                                **page_cache_knobs(fitted, tests, test)),
               options, strategy)


def yardstick_s(measurements):
    """xl create + destroy of a 64 MiB guest (tests/xen test_toolstack).

    Measured before the driver's flows and apart from them: how fast this
    run's machine is.
    """
    pvgrub = measurements['tests'].get('pvgrub_64')
    if not pvgrub:
        return 0.0
    return round(pvgrub['create_s'] + pvgrub['destroy_s'], 3)


def at_speed_of(fitted, measurements):
    """The fitted scenario on the machine of ``measurements``.

    Under emulation everything is CPU (xl's forks, the driver's Python,
    dom0's balloon thread, the build) and the machine's speed varies from
    run to run, by up to 2x here. The run's yardstick against the fitted
    runs' gives the factor: timings times it, rates divided by it.
    Returns (scenario, factor).
    """
    reference, now = fitted.toolstack.reference_s, yardstick_s(measurements)
    if not reference or not now:
        return fitted, 1.0
    factor = now / reference
    data = fitted.to_dict()
    for section in ('balloon', 'build', 'toolstack', 'driver'):
        figures = data[section]
        for name, value in figures.items():
            if name == 'reference_s' or not value:
                continue
            if name.endswith('_mb_s'):
                figures[name] = value / factor
            elif name.endswith('_s'):
                figures[name] = value * factor
    data['toolstack']['reference_s'] = now
    return scenario_mod.from_dict(data, fitted.path), factor


def predict(fitted, measurements, make_conf, scale=True):
    """[Prediction] for every driver flow the real run recorded.

    ``make_conf(**xenballoon_options)`` returns a ConfigOpts with those
    [xenballoon] options set (the test's own). scale=False: at the
    fitted runs' speed, not scaled to this run's yardstick (one create
    and destroy, which a loaded machine can slow more than the rest).
    """
    if scale:
        fitted, _ = at_speed_of(fitted, measurements)
    out = []
    for flow, what, outcome, real_s, scenario, options, *strategy in _flows(
            fitted, measurements['tests']):
        conf = make_conf(**dict(xen_options.DRIVER_OPTIONS, **options))
        result, = runner.run(scenario, (strategy or ['progress'])[0], conf)
        out.append(Prediction(
            flow=flow, what=what, outcome=outcome, real_s=real_s,
            predicted_s=result.ended_at_s - result.at_s,
            predicted_outcome=result.outcome))
    return out
