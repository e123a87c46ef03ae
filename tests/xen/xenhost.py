"""Looking at the real Xen host from inside dom0, for tests/xen.

Only what the tests need to check the driver's work independently of it:
``xl`` run directly, dom0's balloon read from sysfs (cheap: no process),
waits, and a sampler that records dom0's size over time.
"""

import os
import re
import shutil
import subprocess
import threading
import time

BALLOON = '/sys/devices/system/xen_memory/xen_memory0'
XL_TIMEOUT = 120


def in_dom0():
    """(True, '') inside a Xen dom0 with xl, else (False, why not)."""
    try:
        with open('/proc/xen/capabilities') as f:
            caps = f.read()
    except OSError:
        return False, 'not a Xen dom0: /proc/xen/capabilities is missing'
    if 'control_d' not in caps:
        return False, 'not a Xen dom0: /proc/xen/capabilities has no control_d'
    if not shutil.which('xl'):
        return False, 'no xl toolstack on PATH'
    return True, ''


class XlError(Exception):
    pass


def xl(*args, check=True, timeout=XL_TIMEOUT):
    proc = subprocess.run(['xl'] + [str(a) for a in args],
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode:
        raise XlError('xl %s: rc=%d\n%s' % (' '.join(map(str, args)),
                                            proc.returncode, proc.stderr))
    return proc


def xl_info():
    info = {}
    for line in xl('info').stdout.splitlines():
        key, sep, value = line.partition(':')
        if sep:
            info[key.strip()] = value.strip()
    return info


def free_mb():
    return int(xl_info()['free_memory'])


def domains():
    """{name: (domid, mem_mb, state)} from ``xl list``, dom0 included."""
    out = {}
    for line in xl('list').stdout.splitlines()[1:]:
        m = re.match(r'(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+[\d.]+$', line)
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(5))
    return out


def _read_int(path):
    with open(path) as f:
        return int(f.read().strip())


def balloon():
    """dom0's balloon from sysfs, in KiB: current, target, low, high.

    low_kb and high_kb are what the balloon holds (from low and high
    memory; high is 0 on 64-bit), not marks: low_kb is 262144 at boot and
    786432 after mem-set 1024m (captures a031, a160).
    """
    return {
        'current_kb': _read_int(BALLOON + '/info/current_kb'),
        'target_kb': _read_int(BALLOON + '/target_kb'),
        'low_kb': _read_int(BALLOON + '/info/low_kb'),
        'high_kb': _read_int(BALLOON + '/info/high_kb'),
    }


BACKOFF = ('schedule_delay', 'retry_count', 'max_schedule_delay',
           'max_retry_count')


def backoff():
    """The balloon thread's back-off from sysfs: {name: int} (BACKOFF).

    Linux's drivers/xen/balloon.c: schedule_delay doubles (up to
    max_schedule_delay) and retry_count grows with each failed pass; both
    go back to 1 on success, and on cancellation (retry_count past
    max_retry_count: BP_ECANCELED).
    """
    return {name: _read_int(BALLOON + '/' + name) for name in BACKOFF}


def dom0_current_mb():
    return _read_int(BALLOON + '/info/current_kb') / 1024.0


def dom0_target_mb():
    return _read_int(BALLOON + '/target_kb') // 1024


def meminfo():
    """dom0's /proc/meminfo figures that bear on its floor, in KiB."""
    keep = ('MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached',
            'Shmem',
            'AnonPages', 'Slab', 'SUnreclaim', 'KernelStack',
            'PageTables')
    out = {}
    with open('/proc/meminfo') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in keep:
                out[key] = int(value.split()[0])
    return out


def page_cache_kb(mem=None):
    """dom0's page cache: Cached (files, shmem) + Buffers (block devices).

    A block device's cached blocks count as Buffers, not Cached
    (nr_blockdev_pages in Linux's meminfo_proc_show).
    """
    mem = mem or meminfo()
    return mem['Cached'] + mem['Buffers']


def wait_for(predicate, timeout, interval=0.25):
    """Poll until predicate() is true; return it, or False on timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


def wait_dom0_settled(target_mb, timeout=120, slack_mb=2):
    """Wait until dom0's allocation is within slack of target_mb."""
    return wait_for(lambda: abs(dom0_current_mb() - target_mb) <= slack_mb,
                    timeout)


class Sampler:
    """Samples dom0's balloon (sysfs) every ``interval`` s in a thread."""

    def __init__(self, interval=0.2, echo=False):
        self.interval = interval
        # echo: print a line whenever dom0 moved 1 MiB or 2 s passed, so
        # that the console shows what happened even if dom0 dies.
        self.echo = echo
        self._echoed = (-10.0, 0.0)
        self.samples = []  # (t, current_mb, target_mb)
        self.memfree_mb = []  # dom0's MemFree at each sample
        # (t, schedule_delay, retry_count, MemAvailable MiB, page cache
        # MiB: Cached + Buffers, where a block device's cache counts)
        self.backoff = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = None

    def _run(self):
        while not self._stop.is_set():
            try:
                b = balloon()
                mem = meminfo()
                bo = backoff()
            except OSError:
                break
            free = mem['MemFree']
            self.memfree_mb.append(round(free / 1024.0, 1))
            sample = (round(time.monotonic() - self.t0, 3),
                      round(b['current_kb'] / 1024.0, 1),
                      b['target_kb'] // 1024)
            self.samples.append(sample)
            self.backoff.append((sample[0], bo['schedule_delay'],
                                 bo['retry_count'],
                                 round(mem['MemAvailable'] / 1024.0, 1),
                                 round(page_cache_kb(mem) / 1024.0, 1)))
            changed = (len(self.backoff) > 1 and
                       self.backoff[-1][1:3] != self.backoff[-2][1:3])
            if self.echo and (abs(sample[1] - self._echoed[1]) >= 1 or
                              sample[0] - self._echoed[0] >= 2 or changed):
                self._echoed = sample[:2]
                print('SAMPLE t=%.2f dom0=%.1f target=%d memfree=%.1f '
                      'delay=%d retry=%d avail=%.1f cached=%.1f'
                      % (sample + (free / 1024.0,) + self.backoff[-1][1:]),
                      flush=True)
            self._stop.wait(self.interval)

    def __enter__(self):
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def rates(self):
        """Average and peak MiB/s while dom0 was moving, both directions."""
        moves = []
        for (t1, c1, _), (t2, c2, _) in zip(self.samples, self.samples[1:]):
            if t2 > t1 and abs(c2 - c1) >= 1:
                moves.append((t1, t2, c2 - c1))
        if not moves:
            return {'down_avg_mb_s': 0.0, 'down_peak_mb_s': 0.0}
        down = [(t1, t2, d) for t1, t2, d in moves if d < 0]
        out = {}
        if down:
            span = down[-1][1] - down[0][0]
            out['down_avg_mb_s'] = round(-sum(d for *_, d in down) / span, 1)
            out['down_peak_mb_s'] = round(max(-d / (t2 - t1)
                                              for t1, t2, d in down), 1)
        up = [(t1, t2, d) for t1, t2, d in moves if d > 0]
        if up:
            span = up[-1][1] - up[0][0]
            out['up_avg_mb_s'] = round(sum(d for *_, d in up) / span, 1)
            out['up_peak_mb_s'] = round(max(d / (t2 - t1)
                                            for t1, t2, d in up), 1)
        return out

    def backoff_summary(self, min_pause_s=1.0, slack_mb=2):
        """What dom0's balloon thread did while sampled.

        Pauses: spans of at least min_pause_s in which dom0 stayed above
        its target by more than slack_mb and did not move by 1 MiB; idle
        pauses: the longest run within each pause in which the thread
        showed no back-off (delay 1, retry 1: cancelled, or between
        passes).
        Resets: retry_count falling from above 1 back to 1 (success or
        cancellation); cancels: such a reset from max_retry_count
        (update_schedule() cancels on the failure after it) after which
        dom0 did not move until its target changed or sampling ended.
        """
        out = {'max_schedule_delay_seen': 1, 'max_retry_count_seen': 1,
               'backoff_s': 0.0, 'pauses_s': [], 'idle_pauses_s': [],
               'resets': 0, 'cancels': 0}
        if not self.samples:
            return out
        cap = backoff()['max_retry_count']
        prev = None
        for (t, delay, retry, _, _), (_, current, target) in zip(
                self.backoff, self.samples):
            out['max_schedule_delay_seen'] = max(
                out['max_schedule_delay_seen'], delay)
            out['max_retry_count_seen'] = max(out['max_retry_count_seen'],
                                              retry)
            if prev is not None:
                if delay > 1 or retry > 1:
                    out['backoff_s'] += t - prev[0]
                if prev[2] > 1 and retry == 1:
                    out['resets'] += 1
                    if cap and prev[2] >= cap and self._idle_after(t):
                        out['cancels'] += 1
            prev = (t, delay, retry)
        start, n = None, len(self.samples)  # start: where a still span began
        for i in range(n + 1):
            t, current, target = self.samples[min(i, n - 1)]
            if start is not None and (
                    i == n or current <= target + slack_mb or
                    abs(current - self.samples[start][1]) >= 1):
                # Seen still from start to the sample before this one.
                span = self.samples[i - 1][0] - self.samples[start][0]
                if span >= min_pause_s:
                    pause = [round(self.samples[start][0], 2),
                             round(span, 2)]
                    out['pauses_s'].append(pause)
                    idle = self._idle_run(start, i)
                    if idle and idle[1] >= min_pause_s:
                        out['idle_pauses_s'].append(idle)
                start = None
            if start is None and i < n and current > target + slack_mb:
                start = i
        out['backoff_s'] = round(out['backoff_s'], 2)
        out['longest_pause_s'] = max((p[1] for p in out['pauses_s']),
                                     default=0.0)
        return out

    def _idle_run(self, start, end):
        """The longest run of idle samples (delay 1, retry 1) in a span."""
        best, run = None, None
        for t, delay, retry, _, _ in self.backoff[start:end]:
            if delay == 1 and retry == 1:
                run = [run[0] if run else t, round(t - (run[0] if run
                                                        else t), 2)]
                if not best or run[1] > best[1]:
                    best = [round(run[0], 2), run[1]]
            else:
                run = None
        return best

    def _idle_after(self, t):
        """dom0 did not move after t until its target changed (or the end)."""
        after = [s for s in self.samples if s[0] >= t]
        if not after:
            return False
        first = after[0]
        for _, current, target in after:
            if target != first[2]:
                break
            if abs(current - first[1]) >= 1:
                return False
        return True

    def stall_began_s(self, min_mb, until):
        """When dom0 began to move less than min_mb in all until ``until``.

        The earliest sample from which dom0 shrank by less than min_mb
        (min_progress_mb_s x stall_timeout: what the verdict calls no
        progress) up to the last sample before ``until``, in sampler
        time (``until`` too).
        """
        before = [s for s in self.samples if s[0] <= until]
        end = before[-1][1]
        began = before[-1][0]
        for t, current, _ in reversed(before):
            if current - end >= min_mb:
                break
            began = t
        return began

    def backoff_series(self, max_points=120):
        """The back-off samples, thinned (first, last, every change kept)."""
        s = self.backoff
        keep = [i for i in range(len(s))
                if i in (0, len(s) - 1) or s[i][1:3] != s[i - 1][1:3]]
        rest = max_points - len(keep)
        if rest > 0 and len(s) > len(keep):
            step = max(1, len(s) // rest)
            keep = sorted(set(keep) | set(range(0, len(s), step)))
        return [list(s[i]) for i in keep]

    def series(self, max_points=80):
        """The samples, thinned to at most max_points (first and last kept)."""
        s = self.samples
        if len(s) <= max_points:
            return [list(x) for x in s]
        step = (len(s) - 1) / (max_points - 1)
        return [list(s[round(i * step)]) for i in range(max_points)]


def write_guest_config(path, name, memory_mb, kernel='/guest/pvgrub.bin'):
    with open(path, 'w') as f:
        f.write('name = "%s"\ntype = "pv"\nkernel = "%s"\nmemory = %d\n'
                'vcpus = 1\non_crash = "preserve"\n' % (name, kernel,
                                                        memory_mb))
    return path


def destroy_quietly(name):
    if name in domains():
        xl('destroy', name, check=False)


def env_path():
    return os.environ.get('XENBALLOON_XEN_MEASUREMENTS', '')
