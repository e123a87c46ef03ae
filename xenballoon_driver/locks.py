"""Inter-process locks on files, and the names of every lock file.

Two kinds: ``locked`` blocks until the lock is free (short critical
sections: a database write, the ledger, the simulated host), ``try_hold``
raises Held at once (a running flow's ownership: recovery skips it).

Both flock() a file. oslo.concurrency's external locks (fasteners) wait
by polling, sleeping up to 0.1 s between tries: with dozens of spawns
polling the host at once, those sleeps, not the work, set the pace.
flock() blocks in the kernel and wakes the next waiter at once; the
kernel drops it when its holder dies. It locks an open file description,
so threads of one process exclude each other too.
"""

import contextlib
import fcntl
import os

# The ledger's lock, in the state directory: held across a read-modify-
# write of the host's ledger, toolstack calls included.
LEDGER_FILE = 'xenballoon-ledger.lock'


class Held(Exception):
    """Another open of the file holds its lock."""


def ledger_path(state_dir):
    return os.path.join(state_dir, LEDGER_FILE)


def flow_path(lock_dir, flow_id):
    """Held by the process running the flow, for as long as it runs."""
    return os.path.join(lock_dir, 'flow-%s.lock' % flow_id)


def write_path(database):
    """Taken first by every writer of this SQLite file."""
    return database + '.write-lock'


def file_path(path):
    """Held while reading and rewriting the file at ``path``."""
    return path + '.lock'


@contextlib.contextmanager
def _flock(path, flags):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            raise Held(path)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def locked(path):
    """Hold ``path``'s lock, waiting for it as long as it takes."""
    return _flock(path, fcntl.LOCK_EX)


def try_hold(path):
    """Hold ``path``'s lock, or raise Held at once if another holds it."""
    return _flock(path, fcntl.LOCK_EX | fcntl.LOCK_NB)
