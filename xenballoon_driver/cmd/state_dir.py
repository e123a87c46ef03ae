"""The state directory, looked at before a command changes anything.

A fault found half-way through a spawn (a lock file that is a directory,
a read-only or full disk) would leave a stored flow to revert, or a
temporary file behind. The faults that can be seen from outside are
refused here first, with exception.StorageError (exit 9); cmd/errors.py
maps the rest when they surface.
"""

import errno
import os

from xenballoon_driver.cmd import errors

# Below this much free space a spawn's flow and ledger writes may fail
# half-way: refuse before starting.
MIN_FREE_BYTES = 1024 * 1024
# The driver's directory of per-flow lock files (driver.init_host).
LOCK_DIR = 'locks'


def _fault(code, path):
    return errors.mapped(OSError(code, os.strerror(code), path))


def check(conf):
    """StorageError for a state directory we could not use; else None."""
    state_dir = os.path.abspath(os.path.expanduser(
        conf.xenballoon.state_dir))
    if not os.path.exists(state_dir):
        return  # created on first use
    if not os.path.isdir(state_dir):
        raise _fault(errno.ENOTDIR, state_dir)
    if not os.access(state_dir, os.W_OK | os.X_OK):
        # For root too on a read-only file system (access(2) says EROFS).
        code = errno.EROFS if _read_only(state_dir) else errno.EACCES
        raise _fault(code, state_dir)
    lock_dir = os.path.join(state_dir, LOCK_DIR)
    if os.path.exists(lock_dir) and not os.path.isdir(lock_dir):
        raise _fault(errno.ENOTDIR, lock_dir)
    with os.scandir(state_dir) as entries:
        for entry in entries:
            # Lock files are plain files that others lock (*.lock,
            # *.write-lock); a directory there fails the flow half-way.
            if entry.name.endswith('lock') and entry.is_dir():
                raise _fault(errno.EISDIR, entry.path)
    fs = os.statvfs(state_dir)
    if fs.f_bavail * fs.f_frsize < MIN_FREE_BYTES:
        raise _fault(errno.ENOSPC, state_dir)


def _read_only(path):
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
