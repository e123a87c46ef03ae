"""The driver with ``[hypervisor] driver = xl`` against real Xen, in dom0.

The machine (tools/xen/run.sh): QEMU with 2048 MiB, Xen 4.17, dom0 booted
with 1536 MiB (max 1792), about 488 MiB free. Guests are pvgrub: a 2 MiB
PV kernel that sits at its prompt, so a big guest costs only the time to
populate its memory.

Sizes keep dom0 far above its balloon floor, except in the stall test,
which aims a little below it (see REPORT.md in the Xen captures: the
balloon stalls at its low mark; a target far below it kills dom0).

Each test checks the host with xl and sysfs itself, not through the
driver, and records what it measured (balloon rate, time to ready).
"""

import logging
import time

import pytest

from xenballoon_driver.balloon import verdict as verdict_mod
from xenballoon_driver import driver as driver_mod
from xenballoon_driver import exception
from xenballoon_driver import hypervisor
from xenballoon_driver.hypervisor import footprint
from xenballoon_driver.hypervisor import xl_exec

from tests.xen import options
from tests.xen import pagecache
from tests.xen import xenhost

PVGRUB = '/guest/pvgrub.bin'
# MiB dom0 gives for the guest of test (a) and (b): hundreds, not GiB.
# (a) takes several looks at the host (~3 s of ballooning under TCG), so
# that its time does not hang on whether the balloon beat the first one.
GIVE_A_MB = 768
GIVE_B_MB = 256
# dom0's floor in tests (a)-(c) (options.py).
SAFE_MIN_MB = options.SAFE_MIN_MB
# The stall test aims this far below dom0's estimated floor: enough for
# the estimate's error (it came within 1-7 MiB of where the balloon
# stopped; REPORT.md: 8 MiB below the floor stalled). A stall is seen
# after STALL_TIMEOUT_S with less than STALL_MIN_PROGRESS_MB_S: short,
# because every look costs two xl calls (~1 s each under TCG) and
# dom0 sits at its floor until the revert.
STALL_GAP_MB = 24
STALL_TIMEOUT_S = 5.0
STALL_MIN_PROGRESS_MB_S = 4.0
# At the floor the balloon leaves dom0 only its memory reserve (~12 MiB
# free: it takes all of MemAvailable). Then the few MiB the test process
# grows by when the flow fails (traceback, taskflow's failure) were enough
# for the revert's first fork of xl to run dom0 out of memory: the OOM
# killer took the test runner and dom0 stayed ballooned down. Raising
# dom0's watermark_scale_factor during the stall test widens the reserve
# between the high watermark (where the balloon stops: it never takes
# the reserve) and the min watermark (down to which processes can still
# allocate): about 2 x 2% of dom0's memory. The balloon still stalls for
# real, just higher: at 464 MiB with ~118 MiB free (watermarks min 4.6,
# high 60 MiB) where it had stalled at 404-406 MiB with ~12 MiB free.
WATERMARK_SCALE_FACTOR = 200
# MemAvailable the balloon left at its stalls (REPORT.md: 2.5-5 MiB).
# With the wider reserve the balloon stops higher than this estimate
# says, so the target is only further below the real floor: a safe error.
FLOOR_AVAILABLE_MB = 6


class XlCalls:
    """Every xl call the backend makes, timed (wraps xl_exec.run)."""

    def __init__(self, monkeypatch):
        self.calls = []  # (start since t0, seconds, subcommand, exit code)
        self.echo = False
        self.t0 = time.monotonic()
        real = xl_exec.run

        def run(command, args, timeout):
            start = time.monotonic()
            if self.echo:
                print('XL %.2f start %s' % (start - self.t0, ' '.join(
                    map(str, args))), flush=True)
            status = real(command, args, timeout)
            took = time.monotonic() - start
            self.calls.append((round(start - self.t0, 3), round(took, 3),
                               str(args[0]) if args else '', status[1]))
            if self.echo:
                print('XL %.2f done %.2fs rc=%s' % (
                    time.monotonic() - self.t0, took, status[1]), flush=True)
            return status
        monkeypatch.setattr(xl_exec, 'run', run)

    def summary(self):
        """{subcommand: [count, mean s, max s]} and the total."""
        out = {}
        for _, took, sub, _ in self.calls:
            out.setdefault(sub, []).append(took)
        stats = {sub: [len(t), round(sum(t) / len(t), 3), round(max(t), 3)]
                 for sub, t in out.items()}
        stats['all'] = [len(self.calls),
                        round(sum(c[1] for c in self.calls), 2), None]
        return stats


@pytest.fixture
def xl_calls(monkeypatch):
    return XlCalls(monkeypatch)


@pytest.fixture
def xl_driver(conf, tmp_path, xl_calls):
    """factory(**[xenballoon] options) -> a driver on the real xl backend."""
    if 'xl' not in hypervisor.available():
        pytest.skip('the xl hypervisor backend is not installed')

    def make(guest_kernel=PVGRUB, **xenballoon):
        conf.flags(group='hypervisor', driver='xl')
        # Root boots files only from these (test (b)'s is in tmp_path).
        conf.flags(group='xl', guest_kernel=guest_kernel,
                   guest_image_dirs=['/guest', str(tmp_path)],
                   command_timeout=60.0, create_timeout=180.0,
                   destroy_timeout=120.0)
        settings = dict(options.DRIVER_OPTIONS,
                        state_dir=str(tmp_path / 'state'))
        settings.update(xenballoon)
        conf.flags(group='xenballoon', **settings)
        return driver_mod.XenBalloonDriver(conf).init_host()
    return make


class FlowTimeline(logging.Handler):
    """When each task of a flow changed state (taskflow's listener log)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.t0 = time.monotonic()
        self.events = []
        self.logger = logging.getLogger('xenballoon_driver.flows.engine')

    def emit(self, record):
        self.events.append((round(time.monotonic() - self.t0, 3),
                            record.getMessage()[:160]))

    def __enter__(self):
        self.old_level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.old_level)


class Progress:
    """The driver's progress callback: the balloon wait's updates, timed."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.events = []

    def __call__(self, task_name, details):
        if 'released_mb' in details:
            self.events.append(dict(details, t=time.monotonic() - self.t0))

    def last(self, key, default=None):
        return self.events[-1].get(key, default) if self.events else default

    def peak_rate(self):
        return max((e.get('rate_mb_s') or 0.0 for e in self.events),
                   default=0.0)


class Verdicts:
    """Every look's verdict in the balloon wait, timed (a spy on judge).

    The driver acts on the verdict as before; this only records what it
    said, with what dom0's balloon showed at that look.
    """

    def __init__(self, monkeypatch):
        self.t0 = time.monotonic()
        self.seen = []  # [t, verdict, reason, dom0, target, delay, retry,
        #                  MemAvailable]
        real = verdict_mod.Verdict.judge
        spy = self

        def judge(self, t, prog, state, current_mb, target_mb):
            verdict = real(self, t, prog, state, current_mb, target_mb)
            spy.seen.append([
                round(time.monotonic() - spy.t0, 2), verdict, self.reason,
                current_mb, target_mb,
                state.schedule_delay_s if state else None,
                state.retry_count if state else None,
                state.available_mb if state else None])
            return verdict
        monkeypatch.setattr(verdict_mod.Verdict, 'judge', judge)

    def stall_at(self):
        """When (since t0) the first STALL verdict was given."""
        return next(v[0] for v in self.seen if v[1] == verdict_mod.STALL)

    def count(self, verdict):
        return sum(1 for v in self.seen if v[1] == verdict)

    def excused(self):
        """Looks that waited because of the balloon's back-off or idling."""
        return [v for v in self.seen if v[1] == verdict_mod.WAIT and
                v[2].startswith(('backing off', 'idle for'))]


@pytest.fixture
def verdicts(monkeypatch):
    return Verdicts(monkeypatch)


class DriverLog(logging.Handler):
    """The balloon tasks' log lines (verdicts, nudges), timed."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.t0 = time.monotonic()
        self.lines = []
        self.logger = logging.getLogger('xenballoon_driver.tasks.dom0')

    def emit(self, record):
        line = [round(time.monotonic() - self.t0, 2),
                record.getMessage()[:300]]
        self.lines.append(line)
        print('DRIVER %.2f %s' % tuple(line), flush=True)

    def matching(self, text):
        return [line for line in self.lines if text in line[1]]

    def __enter__(self):
        self.old_level = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.old_level)


def guest_memory_for(dom0_gives_mb, free_mb):
    """A pv guest's memory for which dom0 must give dom0_gives_mb."""
    overhead = footprint.overhead_mb(1, 1, 'pv')
    return free_mb + dom0_gives_mb - overhead


def assert_host_back(before, name, timeout=120):
    """dom0's target as before and its memory back; no domain ``name``."""
    target = before['target_kb'] // 1024
    assert abs(xenhost.dom0_target_mb() - target) <= 1, xenhost.balloon()
    assert xenhost.wait_dom0_settled(target, timeout=timeout, slack_mb=4), (
        'dom0 did not grow back to %d MiB: %s' % (target, xenhost.balloon()))
    assert name not in xenhost.domains()


def test_spawn_balloons_dom0_down_for_a_guest(xl_driver, measure,
                                              dom0_restored, xl_calls):
    """(a) dom0 gives a few hundred MiB, the guest runs, destroy gives back."""
    drv = xl_driver()
    # The first flow of a process loads the rest of taskflow (1-2 s under
    # TCG); a compute service pays that once, not per spawn: warm up with
    # a request refused before dom0 is touched.
    with pytest.raises(exception.NotEnoughMemory):
        drv.spawn('xbg-warm', int(xenhost.xl_info()['total_memory']))
    free0 = xenhost.free_mb()
    dom0_target0 = dom0_restored['target_kb'] // 1024
    memory = guest_memory_for(GIVE_A_MB, free0)
    progress = Progress()
    timeline = FlowTimeline()
    try:
        with xenhost.Sampler(0.2) as sampler, timeline:
            t0 = time.monotonic()
            xl_calls.t0 = timeline.t0 = t0
            before = len(xl_calls.calls)
            info = drv.spawn('xbg-a', memory, progress=progress)
            t_ready = time.monotonic() - t0
            spawn_calls = xl_calls.calls[before:]
            # Xen's view, not the driver's: the guest is there and runs.
            doms = xenhost.domains()
            assert 'xbg-a' in doms, doms
            assert doms['xbg-a'][1] == memory
            assert info.name == 'xbg-a' and info.memory_mb == memory
            target_during = xenhost.dom0_target_mb()
            current_during = xenhost.dom0_current_mb()
            assert xenhost.wait_for(
                lambda: xenhost.domains()['xbg-a'][2] != '--p---', 30)
            t1 = time.monotonic()
            drv.destroy('xbg-a')
            t_destroy = time.monotonic() - t1
            assert 'xbg-a' not in xenhost.domains()
            assert xenhost.wait_dom0_settled(dom0_target0, timeout=120,
                                             slack_mb=4)
            t_reinflated = time.monotonic() - t1
    finally:
        xenhost.destroy_quietly('xbg-a')
    # dom0 was asked for exactly what the guest lacked, and gave it.
    assert abs(target_during - (dom0_target0 - GIVE_A_MB)) <= 2
    assert current_during <= target_during + 8
    assert xenhost.dom0_target_mb() == dom0_target0
    assert drv.ledger.entries() == {}
    rates = sampler.rates()
    measure.record(
        'driver_spawn_balloon', guest_mb=memory, dom0_gave_mb=GIVE_A_MB,
        free_before_mb=free0, dom0_target_before_mb=dom0_target0,
        dom0_target_during_mb=target_during,
        time_to_ready_s=round(t_ready, 2),
        balloon_wait_s=round(progress.last('elapsed_s', 0.0), 2),
        driver_rate_mb_s=round(progress.last('rate_mb_s', 0.0) or 0.0, 1),
        driver_peak_rate_mb_s=round(progress.peak_rate(), 1),
        progress_updates=len(progress.events),
        destroy_s=round(t_destroy, 2),
        destroy_to_reinflated_s=round(t_reinflated, 2),
        sysfs_down_avg_mb_s=rates.get('down_avg_mb_s'),
        sysfs_down_peak_mb_s=rates.get('down_peak_mb_s'),
        sysfs_up_avg_mb_s=rates.get('up_avg_mb_s'),
        xl_calls=xl_calls.summary(), dom0_series=sampler.series(),
        spawn_xl_calls=spawn_calls, spawn_timeline=timeline.events)


def test_failed_create_reinflates_dom0(xl_driver, measure, dom0_restored,
                                       tmp_path, xl_calls):
    """(b) xl create fails after dom0 ballooned: dom0 back, no domain."""
    # A file that exists but is no kernel: xl itself refuses it, after
    # the balloon (a missing path is refused before xl even runs).
    bad = tmp_path / 'not-a-kernel'
    bad.write_bytes(b'\x7fELF this is not a kernel\n' * 512)
    drv = xl_driver(guest_kernel=str(bad))
    free0 = xenhost.free_mb()
    memory = guest_memory_for(GIVE_B_MB, free0)
    try:
        with xenhost.Sampler(0.2) as sampler:
            t0 = time.monotonic()
            with pytest.raises(exception.BuildFailed) as err:
                drv.spawn('xbg-b', memory)
            t_failed = time.monotonic() - t0
            assert_host_back(dom0_restored, 'xbg-b')
            t_back = time.monotonic() - t0
    finally:
        xenhost.destroy_quietly('xbg-b')
    lowest = min(c for _, c, _ in sampler.samples)
    dom0_0 = dom0_restored['current_kb'] / 1024.0
    # dom0 really gave the memory before the create was tried ...
    assert lowest <= dom0_0 - GIVE_B_MB + 4, (lowest, dom0_0)
    # ... and everything was given back.
    assert drv.ledger.entries() == {}
    measure.record(
        'driver_failed_create', guest_mb=memory, dom0_gave_mb=GIVE_B_MB,
        error=str(err.value)[:300], lowest_dom0_mb=lowest,
        time_to_failure_s=round(t_failed, 2),
        time_to_reinflated_s=round(t_back, 2),
        xl_calls=xl_calls.summary(), dom0_series=sampler.series())


def test_too_big_request_refused_before_dom0_is_touched(xl_driver, measure,
                                                        dom0_restored,
                                                        xl_calls):
    """(c) More than dom0 can give: refused, dom0's target never moves."""
    drv = xl_driver()
    total = int(xenhost.xl_info()['total_memory'])
    memory = total - SAFE_MIN_MB + 64
    target0 = dom0_restored['target_kb']
    with xenhost.Sampler(0.1) as sampler:
        t0 = time.monotonic()
        with pytest.raises(exception.NotEnoughMemory) as err:
            drv.spawn('xbg-c', memory)
        t_refused = time.monotonic() - t0
    assert {t for _, _, t in sampler.samples} == {target0 // 1024}
    assert xenhost.balloon()['target_kb'] == target0
    assert 'xbg-c' not in xenhost.domains()
    assert drv.ledger.entries() == {}
    assert err.value.need_mb > err.value.available_mb
    measure.record('driver_refused', guest_mb=memory, total_mb=total,
                   need_mb=err.value.need_mb,
                   available_mb=err.value.available_mb,
                   time_to_refusal_s=round(t_refused, 2),
                   xl_calls=xl_calls.summary())


def zone_watermarks_mb():
    """dom0's watermarks, summed over its memory zones: {min, low, high}."""
    out = {'min': 0, 'low': 0, 'high': 0}
    with open('/proc/zoneinfo') as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] in out:
                out[parts[0]] += int(parts[1])
    return {k: round(v * 4 / 1024.0, 1) for k, v in out.items()}


@pytest.fixture
def dom0_headroom():
    """Widen dom0's memory reserve for the test (see above); restore it."""
    path = '/proc/sys/vm/watermark_scale_factor'
    with open(path) as f:
        old = f.read().strip()
    before = zone_watermarks_mb()
    with open(path, 'w') as f:
        f.write(str(WATERMARK_SCALE_FACTOR))
    try:
        yield {'before': before, 'during': zone_watermarks_mb()}
    finally:
        with open(path, 'w') as f:
            f.write(old)


def dom0_floor_estimate_mb():
    """Where dom0's balloon will stall, in MiB.

    The balloon takes at most what the kernel calls available: free
    memory above the reserve, and what it could reclaim (little: no swap,
    and the initramfs is unreclaimable shmem).
    """
    available = xenhost.meminfo()['MemAvailable'] / 1024.0
    return xenhost.dom0_current_mb() - available + FLOOR_AVAILABLE_MB


def test_balloon_stall_is_reported_and_reverted(xl_driver, measure,
                                                dom0_restored, xl_calls,
                                                dom0_headroom, verdicts):
    """(d) dom0 asked below what it can free: BalloonStalled, reverted."""
    drv = xl_driver(dom0_min_memory_mb=options.STALL_DOM0_MIN_MB,
                    stall_timeout=STALL_TIMEOUT_S,
                    min_progress_mb_s=STALL_MIN_PROGRESS_MB_S)
    # Import everything the flow needs before measuring dom0's floor.
    drv.host_status()
    floor = dom0_floor_estimate_mb()
    target = int(max(options.STALL_DOM0_MIN_MB + 8, floor - STALL_GAP_MB))
    free0 = xenhost.free_mb()
    dom0_target0 = dom0_restored['target_kb'] // 1024
    memory = guest_memory_for(dom0_target0 - target, free0)
    meminfo0 = xenhost.meminfo()
    progress = Progress()
    print('STALL: floor estimate %.0f MiB, asking dom0 for %d MiB (guest '
          '%d MiB, %d MiB free)' % (floor, target, memory, free0), flush=True)
    xl_calls.echo = True
    try:
        with xenhost.Sampler(0.25, echo=True) as sampler, \
                DriverLog() as log:
            t0 = time.monotonic()
            with pytest.raises(exception.BalloonStalled) as err:
                drv.spawn('xbg-d', memory, progress=progress)
            t_stalled = time.monotonic() - t0
            # From when dom0 stopped making progress (sysfs: less than
            # stall_timeout x min_progress_mb_s from then on) to the
            # verdict (the flow reverts before it raises: dom0 grows).
            said_at = verdicts.t0 + verdicts.stall_at() - sampler.t0
            began = sampler.stall_began_s(
                STALL_TIMEOUT_S * STALL_MIN_PROGRESS_MB_S, said_at)
            seen_after = said_at - began
            assert_host_back(dom0_restored, 'xbg-d')
            t_back = time.monotonic() - t0
    finally:
        xenhost.destroy_quietly('xbg-d')
    stalled = err.value
    lowest = min(c for _, c, _ in sampler.samples)
    assert not isinstance(stalled, exception.BalloonTimeout)
    # The balloon went most of the way, then stuck above the target.
    assert stalled.target_mb == target
    assert stalled.current_mb > target
    assert stalled.missing_mb > 0
    assert lowest < dom0_target0 - 0.8 * (dom0_target0 - target)
    assert drv.ledger.entries() == {}
    # Below the low mark dom0 has nothing left to reclaim: the verdict is
    # the plain stall, not a back-off it waits out (no budget spent), and
    # it logged why. (The time it took is recorded, not asserted: a look
    # costs 1-4 xl calls' time under TCG.)
    said = log.matching('Balloon verdict for xbg-d')
    assert said and 'budget' not in said[-1][1], said
    summary = sampler.backoff_summary()
    measure.record(
        'driver_balloon_stall',
        stall_began_s=round(sampler.t0 + began - t0, 2),
        stall_seen_after_s=round(seen_after, 2),
        verdict_log=log.lines, verdicts=verdicts.seen[-40:],
        verdict_counts={v: verdicts.count(v) for v in (
            verdict_mod.WAIT, verdict_mod.NUDGE, verdict_mod.STALL)},
        backoff=summary, backoff_series=sampler.backoff_series(),
        guest_mb=memory, free_before_mb=free0,
        dom0_target_before_mb=dom0_target0, floor_estimate_mb=round(floor),
        dom0_target_asked_mb=target, stalled_at_mb=stalled.current_mb,
        lowest_dom0_mb=lowest, missing_mb=stalled.missing_mb,
        stall_timeout_s=STALL_TIMEOUT_S,
        min_progress_mb_s=STALL_MIN_PROGRESS_MB_S, error=str(stalled),
        time_to_stall_error_s=round(t_stalled, 2),
        time_to_reinflated_s=round(t_back, 2),
        driver_peak_rate_mb_s=round(progress.peak_rate(), 1),
        released_mb=progress.last('released_mb'),
        meminfo_before_kb=meminfo0,
        lowest_memfree_mb=min(sampler.memfree_mb),
        watermark_scale_factor=WATERMARK_SCALE_FACTOR,
        watermarks_mb=dom0_headroom,
        xl_calls=xl_calls.summary(), dom0_series=sampler.series())


# (e) and (f): dom0's memory mostly page cache (tests/xen/pagecache.py):
# the page cache is filled until only CACHE_FREE_LEFT_MB of dom0 stays
# free, and dom0 must give GIVE_E_MB, so the balloon must take most of it
# from the cache. Same guest size and dom0 starting state for our spawn
# (e) and for xl create with its own freemem (f).
GIVE_E_MB = 768
CACHE_FREE_LEFT_MB = 256
# squeezed's; the issue asks for a default of 5 s or less.
BACKOFF_STALL_TIMEOUT_S = 5.0


def page_cache_mb():
    """How much cache to read so that about CACHE_FREE_LEFT_MB stay free."""
    free = xenhost.meminfo()['MemFree'] / 1024.0
    return int(max(128, min(1024, free - CACHE_FREE_LEFT_MB)))


def filled(cache):
    """The cache as filled, checked: the premise of (e) and (f)."""
    assert cache.filled_mb >= 0.8 * cache.mb, (
        'reading %s filled %.0f of %d MiB of page cache'
        % (cache.device, cache.filled_mb, cache.mb))
    return xenhost.meminfo()


def spawn_into_page_cache(drv, name, dom0_restored, xl_calls, verdicts):
    """Our spawn of a guest for which dom0 gives GIVE_E_MB into its cache.

    Checks what holds whatever the balloon did; returns the figures.
    """
    opts = drv.conf.xenballoon
    drv.host_status()
    dom0_target0 = dom0_restored['target_kb'] // 1024
    progress = Progress()
    timeline = FlowTimeline()
    try:
        with pagecache.PageCache(page_cache_mb()) as cache:
            meminfo0 = filled(cache)
            free0 = xenhost.free_mb()
            memory = guest_memory_for(GIVE_E_MB, free0)
            print('PAGECACHE: %.0f MiB cached in %.1f s; dom0 MemFree %d '
                  'MiB, must give %d MiB (guest %d MiB)' % (
                      cache.filled_mb, cache.fill_s,
                      meminfo0['MemFree'] // 1024, GIVE_E_MB, memory),
                  flush=True)
            with xenhost.Sampler(0.5, echo=True) as sampler, timeline, \
                    DriverLog() as log:
                t0 = time.monotonic()
                xl_calls.t0 = timeline.t0 = verdicts.t0 = log.t0 = t0
                before = len(xl_calls.calls)
                drv.spawn(name, memory, progress=progress)
                t_ready = time.monotonic() - t0
                spawn_calls = len(xl_calls.calls) - before
                doms = xenhost.domains()
                target_during = xenhost.dom0_target_mb()
                meminfo1 = xenhost.meminfo()
        assert name in doms and doms[name][1] == memory, doms
        t1 = time.monotonic()
        drv.destroy(name)
        assert xenhost.wait_dom0_settled(dom0_target0, timeout=120,
                                         slack_mb=4)
        t_reinflated = time.monotonic() - t1
    finally:
        xenhost.destroy_quietly(name)
    summary = sampler.backoff_summary()
    # The premise: dom0 had less free than it gave, so the rest came out
    # of its page cache.
    from_cache = GIVE_E_MB - meminfo0['MemFree'] / 1024.0
    assert from_cache > 64, meminfo0
    assert xenhost.page_cache_kb(meminfo1) / 1024.0 <= (
        xenhost.page_cache_kb(meminfo0) / 1024.0 - from_cache + 64), (
            meminfo0, meminfo1)
    # No false stall with a 5 s stall_timeout, whatever the balloon did:
    # the spawn ran, and dom0's target is the ledger's (never left at a
    # nudged one).
    assert target_during == dom0_target0 - GIVE_E_MB
    assert xenhost.dom0_target_mb() == dom0_target0
    assert drv.ledger.entries() == {}
    nudges = verdicts.count(verdict_mod.NUDGE)
    if summary['cancels']:
        # The balloon gave up on its own: only a nudge restarted it.
        assert nudges >= 1, (summary, verdicts.seen)
    assert nudges == len(log.matching('nudging it')) <= opts.max_nudges
    return dict(
        guest_mb=memory, dom0_gave_mb=GIVE_E_MB,
        free_before_mb=free0, dom0_target_before_mb=dom0_target0,
        page_cache_mb=cache.mb, page_cache_filled_mb=cache.filled_mb,
        page_cache_fill_s=cache.fill_s, meminfo_before_kb=meminfo0,
        meminfo_ready_kb=meminfo1, from_cache_mb=round(from_cache),
        stall_timeout_s=opts.stall_timeout,
        backoff_budget_s=opts.backoff_budget_s, max_nudges=opts.max_nudges,
        time_to_ready_s=round(t_ready, 2), outcome='running',
        balloon_wait_s=round(progress.last('elapsed_s', 0.0), 2),
        sysfs_down_avg_mb_s=sampler.rates().get('down_avg_mb_s'),
        backoff=summary, waited_out_pause_over_stall_timeout=(
            summary['longest_pause_s'] > opts.stall_timeout),
        nudges=nudges, excused_looks=len(verdicts.excused()),
        verdict_counts={v: verdicts.count(v) for v in (
            verdict_mod.WAIT, verdict_mod.NUDGE, verdict_mod.STALL)},
        verdicts=verdicts.seen[-60:], verdict_log=log.lines,
        spawn_xl_calls=spawn_calls, xl_calls=xl_calls.summary(),
        destroy_to_reinflated_s=round(t_reinflated, 2),
        dom0_series=sampler.series(), backoff_series=sampler.backoff_series(),
        spawn_timeline=timeline.events)


def test_spawn_into_page_cache_waits_out_backoff(xl_driver, measure,
                                                 dom0_restored, xl_calls,
                                                 verdicts):
    """(e) dom0 balloons into its page cache: no false stall at 5 s.

    With Debian's back-off (max_retry_count 4) the balloon may back off
    (it did: schedule_delay 2, pauses of 1-3 s) and perhaps cancel
    (then it is nudged); either way the spawn runs.
    """
    drv = xl_driver(stall_timeout=BACKOFF_STALL_TIMEOUT_S)
    figures = spawn_into_page_cache(drv, 'xbg-e', dom0_restored, xl_calls,
                                    verdicts)
    measure.record('driver_spawn_page_cache', **figures)


@pytest.fixture
def max_retry_count():
    """Sets the balloon's max_retry_count (sysfs, 0644) for the test."""
    path = xenhost.BALLOON + '/max_retry_count'
    with open(path) as f:
        old = f.read().strip()

    def set_to(count):
        with open(path, 'w') as f:
            f.write(str(count))
        return xenhost.backoff()['max_retry_count']
    yield set_to
    with open(path, 'w') as f:
        f.write(old)


def test_cancelled_balloon_is_nudged(xl_driver, measure, dom0_restored,
                                     xl_calls, verdicts, max_retry_count):
    """(g) As (e), but the balloon cancels at its first failed pass.

    With Debian's max_retry_count 4 the balloon never failed twice in a
    row into clean page cache (retry_count peaked at 2), so it never
    cancelled; with 1 (an admin's knob: update_schedule() cancels once
    retry_count exceeds it) its first failure cancels, and it then sleeps
    until dom0's target changes. Our verdict must see the idle balloon
    above its target with memory left and nudge it.
    """
    assert max_retry_count(1) == 1
    drv = xl_driver(stall_timeout=BACKOFF_STALL_TIMEOUT_S)
    figures = spawn_into_page_cache(drv, 'xbg-g', dom0_restored, xl_calls,
                                    verdicts)
    # A pause longer than stall_timeout with the thread idle (delay 1,
    # retry 1) above its target is a cancellation: between passes it
    # never sleeps. Only a changed target wakes it: ours must nudge.
    cancelled = [p for p in figures['backoff']['idle_pauses_s']
                 if p[1] > BACKOFF_STALL_TIMEOUT_S]
    if cancelled:
        assert figures['nudges'] >= 1, figures['verdicts']
    measure.record('driver_spawn_cancelled', max_retry_count=1,
                   cancelled_pauses_s=cancelled, **figures)


@pytest.fixture
def xl_autoballoon():
    """xl.conf with autoballoon on for the test (xl has no option for it).

    With dom0_mem= on Xen's command line xl's default ("auto") does not
    balloon; "on" makes xl create run its own freemem.
    """
    path = '/etc/xen/xl.conf'
    with open(path) as f:
        old = f.read()
    with open(path, 'w') as f:
        f.write(old + '\nautoballoon="on"\n')
    try:
        yield path
    finally:
        with open(path, 'w') as f:
            f.write(old)


def test_xl_create_autoballoon_into_page_cache(measure, dom0_restored,
                                               tmp_path, xl_autoballoon):
    """(f) The same guest with xl create's own ballooning, for comparison.

    xl 4.17's freemem: dom0's target lowered by what is missing, then
    libxl_wait_for_memory_target (a look every 2 s, given up after 10 s
    without progress), three tries. Its outcome is recorded, not judged.
    """
    dom0_target0 = dom0_restored['target_kb'] // 1024
    try:
        with pagecache.PageCache(page_cache_mb()) as cache:
            meminfo0 = filled(cache)
            free0 = xenhost.free_mb()
            memory = guest_memory_for(GIVE_E_MB, free0)
            cfg = xenhost.write_guest_config(str(tmp_path / 'xbg-f.cfg'),
                                             'xbg-f', memory)
            with xenhost.Sampler(0.5, echo=True) as sampler:
                t0 = time.monotonic()
                proc = xenhost.xl('create', cfg, check=False, timeout=300)
                t_create = time.monotonic() - t0
                doms = xenhost.domains()
                target_after = xenhost.dom0_target_mb()
                meminfo1 = xenhost.meminfo()
    finally:
        xenhost.destroy_quietly('xbg-f')
    running = proc.returncode == 0 and 'xbg-f' in doms
    if running:
        assert doms['xbg-f'][1] == memory
    else:
        assert 'xbg-f' not in doms
    assert target_after <= dom0_target0
    measure.record(
        'xl_create_autoballoon', guest_mb=memory, dom0_gave_mb=GIVE_E_MB,
        free_before_mb=free0, dom0_target_before_mb=dom0_target0,
        page_cache_mb=cache.mb, page_cache_filled_mb=cache.filled_mb,
        meminfo_before_kb=meminfo0, meminfo_after_kb=meminfo1,
        outcome='running' if running else 'failed', rc=proc.returncode,
        stderr=proc.stderr[-600:], time_to_ready_s=round(t_create, 2),
        dom0_target_after_mb=target_after,
        sysfs_down_avg_mb_s=sampler.rates().get('down_avg_mb_s'),
        backoff=sampler.backoff_summary(), dom0_series=sampler.series(),
        backoff_series=sampler.backoff_series())
