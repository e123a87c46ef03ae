"""What a command's failure prints: our exceptions, and storage faults.

The one place where the CLI turns an exception into its ``error:`` line
and exit code. Faults of the state directory and the flow database come
up from sqlite3, SQLAlchemy, taskflow or the OS, often wrapped in each
other; they are mapped here to exception.StorageError with what the
operator can do.
"""

import errno
import os
import sqlite3

from sqlalchemy import exc as sa_exc
from taskflow import exceptions as tf_exceptions

from xenballoon_driver import exception
from xenballoon_driver import persistence

OS_HINTS = {
    errno.ENOSPC: 'free some space there, then run "xenballoon recover"',
    errno.EDQUOT: 'raise the quota or free space, then run "xenballoon '
                  'recover"',
    errno.EROFS: 'the file system is read-only: set [xenballoon] state_dir '
                 'to a writable directory',
    errno.EACCES: 'give this user write access, or set [xenballoon] '
                  'state_dir to a directory it owns',
    errno.EPERM: 'give this user write access, or set [xenballoon] '
                 'state_dir to a directory it owns',
    errno.EISDIR: 'a directory is where a file belongs: remove it (the '
                  'driver recreates the file)',
    errno.ENOTDIR: 'a file is where a directory belongs: move it away or '
                   'set [xenballoon] state_dir elsewhere',
    errno.EEXIST: 'a file is where a directory belongs: move it away or '
                  'set [xenballoon] state_dir elsewhere',
}
DB_HINT = ('it is not a readable SQLite database: move it aside to start '
           'with no stored flows and an empty ledger, or restore a backup')
# The lifecycle's refusals that are no defect (exit 1): no console log
# of that guest is "not found"; a backend that cannot do it at all is the
# toolstack's limit.
EXIT_CODES = ((exception.ConsoleUnavailable, exception.EXIT_NOT_FOUND),
              (exception.Unsupported, exception.EXIT_TOOLSTACK))


def exit_code(err):
    """What the CLI exits with for ``err`` (a XenBalloonException)."""
    for cls, code in EXIT_CODES:
        if isinstance(err, cls):
            return code
    return err.exit_code


def _causes(err):
    """err and what it wraps (taskflow keeps the cause in .cause)."""
    seen = []
    while err is not None and err not in seen:
        seen.append(err)
        err = (getattr(err, 'cause', None) or err.__cause__ or
               err.__context__)
        if not isinstance(err, BaseException):
            break
    return seen


def _os_error(err, state_dir):
    # A write that fails (ENOSPC) names no file: the state directory is
    # where we write.
    path = err.filename or state_dir
    if err.filename2:
        path = '%s -> %s' % (path, err.filename2)
    reason = '%s (%s)' % (err.strerror or err,
                          errno.errorcode.get(err.errno, err.errno))
    hint = OS_HINTS.get(err.errno, 'check the path and its permissions')
    return exception.StorageError(what=os.fspath(path), reason=reason,
                                  hint=hint)


def _db_error(err, database):
    reason = str(getattr(err, 'orig', None) or err).splitlines()[0]
    if 'disk is full' in reason or 'database or disk is full' in reason:
        return exception.StorageError(what=database, reason=reason,
                                      hint=OS_HINTS[errno.ENOSPC])
    if 'readonly' in reason or 'read-only' in reason:
        return exception.StorageError(what=database, reason=reason,
                                      hint=OS_HINTS[errno.EROFS])
    return exception.StorageError(what=database, reason=reason,
                                  hint=DB_HINT)


def database_name(url):
    """The flow database for messages: its file, or its URL sans password."""
    path = persistence.sqlite_path(url)
    if path is not None:
        return path
    scheme, _sep, rest = url.partition('://')
    return '%s://%s' % (scheme, rest.rsplit('@', 1)[-1])


def mapped(err, database='the flow database',
           state_dir='the state directory'):
    """The XenBalloonException to report for ``err``."""
    causes = _causes(err)
    for i, cause in enumerate(causes):
        if isinstance(cause, exception.XenBalloonException):
            if getattr(cause, 'option', None) == '[persistence] connection':
                # The store could not be opened: a fault of a file in the
                # state directory is not a configuration error.
                beneath = [c for c in causes[i + 1:]
                           if isinstance(c, OSError) and c.errno]
                if beneath:
                    return _os_error(beneath[0], state_dir)
            return cause
    for cause in causes:
        if isinstance(cause, OSError) and cause.errno is not None:
            return _os_error(cause, state_dir)
        if isinstance(cause, (sqlite3.DatabaseError,
                              sa_exc.DatabaseError)):
            return _db_error(cause, database)
    if isinstance(err, tf_exceptions.StorageFailure):
        return exception.StorageError(what=database,
                                      reason=str(err).splitlines()[0],
                                      hint=DB_HINT)
    return exception.UnexpectedError(kind=type(err).__name__,
                                     reason=str(err).splitlines()[0]
                                     if str(err) else 'no message')
