"""dom0's balloon as its own Linux balloon driver shows it in sysfs.

Reading two small files costs microseconds where ``xl list 0`` and
``xl list -l 0`` cost two forks of xl (about a second each on a Xen
under QEMU, tens of milliseconds on hardware), and a balloon wait reads
dom0 at every look. Only dom0 has this view, and the xl backend runs in
dom0, as xl itself does.

    <dir>/target_kb         the balloon's target (dom0's memory/target)
    <dir>/info/current_kb   what dom0 holds now

Nothing else is read. In particular info/low_kb is no floor and no stall
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


def available(directory):
    """Whether ``directory`` holds a balloon driver's files."""
    return bool(directory) and all(
        os.path.isfile(os.path.join(directory, name))
        for name in ('target_kb', os.path.join('info', 'current_kb')))


def _read_kb(path):
    try:
        with open(path, encoding='ascii') as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        raise exception.ToolstackError(call='read %s' % path,
                                       reason=str(err))
    if not text.isdigit() or int(text) > MAX_KB:
        raise exception.ToolstackError(
            call='read %s' % path,
            reason='expected a size in KiB, got %r' % text[:80])
    return int(text)


def dom0_memory(directory):
    """Dom0Memory in whole MiB (current rounded down, target up)."""
    current = _read_kb(os.path.join(directory, 'info', 'current_kb'))
    target = _read_kb(os.path.join(directory, 'target_kb'))
    return base.Dom0Memory(current_mb=units.kib_to_mib_floor(current),
                           target_mb=units.kib_to_mib_ceil(target))
