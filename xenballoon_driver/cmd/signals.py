"""SIGINT, SIGTERM and SIGHUP in commands that change the host.

A closed ssh session sends SIGHUP, a service manager SIGTERM, an operator
Ctrl-C (SIGINT); all three mean "stop", and none may leave the host half
changed. Python's default would kill the process on SIGTERM and SIGHUP
with no revert, and raise KeyboardInterrupt wherever SIGINT lands. So
the handler only records the signal; the command decides when to act on
it (a spawn at its balloon wait, a destroy once it has finished).
"""

import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Received:
    """The first stop signal received, and an event set by any."""

    def __init__(self):
        self.event = threading.Event()
        self.signum = None

    def __call__(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        self.event.set()

    @property
    def name(self):
        return signal.Signals(self.signum).name

    def details(self):
        """Keyword arguments for exception.*Signalled."""
        return {'signum': self.signum, 'signal': self.name}


@contextlib.contextmanager
def caught():
    """Record stop signals inside the block; then restore the handlers."""
    received = Received()
    previous = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, received)
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
