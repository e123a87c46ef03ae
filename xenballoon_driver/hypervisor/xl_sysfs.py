"""dom0's balloon as its own Linux balloon driver shows it in sysfs.

Reading two small files costs microseconds where ``xl list 0`` and
``xl list -l 0`` cost two forks of xl (about a second each on a Xen
under QEMU, tens of milliseconds on hardware), and a balloon wait reads
dom0 at every look. Only dom0 has this view, and the xl backend runs in
dom0, as xl itself does.

    <dir>/target_kb         the balloon's target (dom0's memory/target)
    <dir>/info/current_kb   what dom0 holds now

For the balloon wait's verdict (``balloon_state``), also the driver's
back-off (Linux's drivers/xen/balloon.c, balloon_stats; captures a160:
1, 20, 1, 4 at rest on Debian 12's kernel):

    <dir>/schedule_delay, max_schedule_delay    seconds
    <dir>/retry_count, max_retry_count          failures in a row (0: no cap)

and MemAvailable from /proc/meminfo. Nothing else is read. In particular
info/low_kb is no floor and no stall
point: it is the memory IN the balloon (captures a031: 262144 KiB at
boot, the 256 MiB between dom0_mem and its max; a160: 786432 after
mem-set 1024m). Where the balloon stalls is not shown anywhere.

The backend checks a directory against xl before trusting it (see
XlHypervisor._check_balloon_dir): one that exists but does not follow
dom0 would mislead every process that never calls mem-set.
"""

import os

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver import units

DEFAULT_DIR = '/sys/devices/system/xen_memory/xen_memory0'
# A KiB figure larger than this (16 EiB / 1 KiB) is not a real one.
MAX_KB = 2 ** 54
# A delay or count larger than this is no real one (the kernel's default
# max_schedule_delay is 32 s, Debian 12's 20; max_retry_count 0 or 4).
MAX_COUNT = 2 ** 31
BACKOFF_FILES = ('schedule_delay', 'max_schedule_delay', 'retry_count',
                 'max_retry_count')
MEMINFO = '/proc/meminfo'


def available(directory):
    """Whether ``directory`` holds a balloon driver's files."""
    return bool(directory) and all(
        os.path.isfile(os.path.join(directory, name))
        for name in ('target_kb', os.path.join('info', 'current_kb')))


def _read_text(path):
    try:
        with open(path, encoding='ascii') as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise exception.ToolstackError(call='read %s' % path,
                                       reason=str(err))


def _read_kb(path, limit=MAX_KB, what='a size in KiB'):
    text = _read_text(path).strip()
    if not text.isdigit() or int(text) > limit:
        raise exception.ToolstackError(
            call='read %s' % path,
            reason='expected %s, got %r' % (what, text[:80]))
    return int(text)


def dom0_memory(directory):
    """Dom0Memory in whole MiB (current rounded down, target up)."""
    current = _read_kb(os.path.join(directory, 'info', 'current_kb'))
    target = _read_kb(os.path.join(directory, 'target_kb'))
    return base.Dom0Memory(current_mb=units.kib_to_mib_floor(current),
                           target_mb=units.kib_to_mib_ceil(target))


def balloon_state(directory, meminfo=MEMINFO):
    """BalloonState from the back-off files and meminfo; None without them.

    A kernel without the back-off files (older than Linux 3.x) gives
    None; a meminfo without MemAvailable (before Linux 3.14) or none at
    all gives available_mb None. Present but unreadable: ToolstackError.
    """
    paths = [os.path.join(directory, name) for name in BACKOFF_FILES]
    if not all(os.path.isfile(path) for path in paths):
        return None
    delay, max_delay, retries, max_retries = (
        _read_kb(path, MAX_COUNT, 'a whole number') for path in paths)
    if not 1 <= delay or not 1 <= retries:
        # The kernel starts both at 1 and resets them to 1, never to 0.
        raise exception.ToolstackError(
            call='read %s' % directory,
            reason='schedule_delay %d, retry_count %d: both start at 1'
            % (delay, retries))
    return base.BalloonState(
        schedule_delay_s=delay, max_schedule_delay_s=max_delay,
        retry_count=retries, max_retry_count=max_retries,
        available_mb=mem_available_mb(meminfo))


def mem_available_mb(meminfo=MEMINFO):
    """MemAvailable in whole MiB (rounded down); None if not shown."""
    if not os.path.isfile(meminfo):
        return None
    for line in _read_text(meminfo).splitlines():
        if line.startswith('MemAvailable:'):
            fields = line.split()
            if (len(fields) != 3 or fields[2] != 'kB' or
                    not fields[1].isdigit() or int(fields[1]) > MAX_KB):
                raise exception.ToolstackError(
                    call='read %s' % meminfo,
                    reason='expected "MemAvailable: <n> kB", got %r'
                    % line[:80])
            return units.kib_to_mib_floor(int(fields[1]))
    return None
