"""The host's uptime as ``uptime`` prints it, from /proc (Nova shows it).

Read in the service's own process: /proc/uptime and /proc/loadavg are
world-readable, and dom0's uptime is the host's as Nova means it.
"""

import time

from xenballoon_driver import exception

PROC_UPTIME = '/proc/uptime'
PROC_LOADAVG = '/proc/loadavg'


def read(uptime_path=PROC_UPTIME, loadavg_path=PROC_LOADAVG):
    """This host's uptime line; ToolstackError if /proc cannot be read."""
    try:
        with open(uptime_path, encoding='ascii') as f:
            up_s = float(f.read().split()[0])
        with open(loadavg_path, encoding='ascii') as f:
            loads = [float(v) for v in f.read().split()[:3]]
        if len(loads) != 3:
            raise ValueError('%s has fewer than 3 figures' % loadavg_path)
    except (OSError, ValueError, IndexError) as err:
        raise exception.ToolstackError(call='read %s' % uptime_path,
                                       reason=str(err))
    return render(up_s, loads, time.localtime())


def render(up_s, loads, now):
    """What ``uptime`` prints, from /proc's figures.

    busybox's format (procps's without the user count, which busybox
    built without utmp leaves out too):

     10:31:12 up 2 days,  3:04,  load average: 0.00, 0.01, 0.05
    """
    minutes = int(up_s) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    text = ' %02d:%02d:%02d up ' % (now.tm_hour, now.tm_min, now.tm_sec)
    if days:
        text += '%d day%s, ' % (days, '' if days == 1 else 's')
    if hours:
        text += '%2d:%02d' % (hours, minutes)
    else:
        text += '%d min' % minutes
    return text + ',  load average: %.2f, %.2f, %.2f' % tuple(loads)
