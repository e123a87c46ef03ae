"""A blocking inter-process lock on a file, for short critical sections.

oslo.concurrency's external locks (fasteners) wait by polling, sleeping
up to 0.1 s between tries: with dozens of spawns polling the host at
once, those sleeps, not the work, set the pace. flock() blocks in the
kernel and wakes the next waiter at once. It locks an open file
description, so threads of one process exclude each other too.
"""

import contextlib
import fcntl
import os


class Held(Exception):
    """Another open of the file holds its lock."""


@contextlib.contextmanager
def locked(path, blocking=True):
    """Hold ``path``'s lock; without ``blocking``, raise Held at once."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            raise Held(path)
        yield
    finally:
        os.close(fd)  # closing releases the lock
