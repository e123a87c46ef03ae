"""What a simulated guest does besides holding memory: it boots, prints to
its console, shuts down when asked (in its own time), and pauses.

A part of HostModel (model.py). A shutdown request takes the scenario's
guest.shutdown_s of the guest's own time; then the domain is gone (xl's
on_poweroff=destroy). A guest named in guest.ignore_shutdown never acts
on one. A paused guest does not run, so its shutdown waits until it is
unpaused. Each guest's console log outlives its domain, as xenconsoled's
log file does, and is cut to its last CONSOLE_MAX bytes.
"""

import math

CONSOLE_MAX = 100 * 1024
# (seconds after the domain starts, line): a Debian 12 PV guest's boot.
BOOT_LINES = (
    (0.0, 'Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) '
          '(Debian 6.1.119-1)'),
    (0.0, 'Memory: %(kib)dK/%(kib)dK available'),
    (0.21, 'xen:balloon: Initialising balloon driver'),
    (0.93, 'Run /sbin/init as init process'),
    (2.61, 'systemd[1]: Reached target multi-user.target - Multi-User '
           'System.'),
    (2.74, 'Debian GNU/Linux 12 %(name)s hvc0'),
    (2.74, '%(name)s login:'),
)
SHUTDOWN_LINES = (
    'systemd-logind[412]: System is powering down.',
    'systemd-shutdown[1]: Syncing filesystems and block devices.',
    'reboot: Power down',
)


def uptime_text(up_s, now_s):
    """``up_s`` as ``uptime`` prints it, at time of day ``now_s``."""
    clock = int(now_s) % 86400
    days, rest = divmod(int(up_s), 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    span = '%d:%02d' % (hours, minutes) if hours else '%d min' % minutes
    if days:
        span = '%d day%s, %s' % (days, '' if days == 1 else 's', span)
    return ' %02d:%02d:%02d up %s,  0 users,  load average: 0.00, 0.00, ' \
        '0.00' % (clock // 3600, clock % 3600 // 60, clock % 60, span)


class GuestOps:
    """Needs the model's ``domains``, ``now``, ``guest`` and ``consoles``."""

    def console_write(self, name, lines, **values):
        """Append ``lines`` (text, or (seconds later, text)) to the log."""
        dom = self.domains.get(name) or {}
        since = self.now - dom.get('booted_at', self.now)
        values['name'] = name
        text = ''.join('[%12.6f] %s\n' % (
            since + (line[0] if isinstance(line, tuple) else 0.0),
            (line[1] if isinstance(line, tuple) else line) % values)
            for line in lines)
        self.consoles[name] = (self.consoles.get(name, '') +
                               text)[-CONSOLE_MAX:]

    def booted(self, name):
        """The domain runs its OS: the boot lines."""
        dom = self.domains[name]
        dom['booted_at'] = self.now
        self.console_write(name, BOOT_LINES,
                           kib=int(dom['footprint_mb']) * 1024)

    def request_shutdown(self, name):
        """The toolstack asks the guest to shut down; returns at once."""
        dom = self.domains[name]
        if name in self.guest.ignore_shutdown or dom['state'] not in (
                'running', 'paused') or self._shutting_down(dom):
            return
        if dom['state'] == 'paused':
            dom['shutdown_left_s'] = self.guest.shutdown_s
        else:
            dom['shutdown_at'] = self.now + self.guest.shutdown_s

    @staticmethod
    def _shutting_down(dom):
        return (dom.get('shutdown_at') is not None or
                dom.get('shutdown_left_s') is not None)

    def pause(self, name):
        dom = self.domains[name]
        dom['state'] = 'paused'
        if dom.get('shutdown_at') is not None:
            dom['shutdown_left_s'] = max(0.0, dom['shutdown_at'] - self.now)
            dom['shutdown_at'] = None

    def unpause(self, name):
        dom = self.domains[name]
        dom['state'] = 'running'
        if dom.get('shutdown_left_s') is not None:
            dom['shutdown_at'] = self.now + dom['shutdown_left_s']
            dom['shutdown_left_s'] = None

    def next_guest_event(self):
        """When the next guest finishes its shutdown (inf: none will)."""
        times = [d['shutdown_at'] for d in self.domains.values()
                 if d.get('shutdown_at') is not None]
        return min(times) if times else math.inf

    def guest_events(self):
        """Guests whose shutdown is over by now: their domains go."""
        for name, dom in sorted(self.domains.items()):
            at = dom.get('shutdown_at')
            if at is not None and at <= self.now + 1e-9:
                self.console_write(name, SHUTDOWN_LINES)
                del self.domains[name]
