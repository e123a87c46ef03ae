"""Run a xenballoon command and SIGKILL it at a named point.

    python fault_runner.py POINT -- xenballoon args...

Used by test_crash_recovery.py: the point is reached through the real
code (a wrapper around one method), and the process dies there as if the
machine had killed it, leaving whatever it had stored.
"""

import os
import signal
import sys

from xenballoon_driver.balloon import ledger
from xenballoon_driver.balloon import progress
from xenballoon_driver import clock
from xenballoon_driver.cmd import shell
from xenballoon_driver.hypervisor import simulated

# point: (class, method, 'before' or 'after' the call, on which call)
POINTS = {
    'reserve-before': (ledger.Ledger, 'reserve', 'before', 1),
    'reserve-after': (ledger.Ledger, 'reserve', 'after', 1),
    'balloon-after-target': (simulated.SimulatedHypervisor,
                             'set_dom0_target', 'after', 1),
    'wait-middle': (progress.ProgressWatcher, 'observe', 'after', 3),
    'build-before-create': (ledger.Ledger, 'mark_building', 'after', 1),
    'build-inside-create': None,  # see below
    'build-before-commit': (ledger.Ledger, 'commit', 'before', 1),
    'build-after-commit': (ledger.Ledger, 'commit', 'after', 1),
    'revert-destroying-domain': (simulated.SimulatedHypervisor,
                                 'destroy_domain', 'after', 1),
    'revert-returning-dom0': (ledger.Ledger, 'return_dom0', 'after', 1),
    'revert-releasing': (ledger.Ledger, 'release', 'before', 1),
    'destroy-before-release': (ledger.Ledger, 'forget_domain', 'before', 1),
}


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def arm(cls, method, when, nth):
    real = getattr(cls, method)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if when == 'before' and calls[0] == nth:
            die()
        result = real(*args, **kwargs)
        if when == 'after' and calls[0] == nth:
            die()
        return result
    setattr(cls, method, wrapper)


def arm_inside_create():
    # Die at the first wait inside create_domain: the domain exists, half
    # populated, and the host's state file already says so.
    real_create = simulated.SimulatedHypervisor.create_domain
    real_sleep = clock.ScaledClock.sleep
    inside = [False]

    def create(self, spec):
        inside[0] = True
        return real_create(self, spec)

    def sleep(self, seconds):
        if inside[0]:
            die()
        return real_sleep(self, seconds)
    simulated.SimulatedHypervisor.create_domain = create
    clock.ScaledClock.sleep = sleep


def main(argv):
    point, sep, rest = argv[0], argv[1], argv[2:]
    assert sep == '--'
    if point == 'build-inside-create':
        arm_inside_create()
    else:
        arm(*POINTS[point])
    return shell.main(rest)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
