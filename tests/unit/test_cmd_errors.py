"""The CLI's one place for errors: what each failure prints."""

import errno
import sqlite3

from taskflow import exceptions as tf_exceptions

from xenballoon_driver.cmd import errors
from xenballoon_driver import exception


def _wrapped(inner):
    """inner raised, then wrapped by taskflow as a store would."""
    try:
        raise inner
    except Exception as err:
        return tf_exceptions.StorageFailure('Failed saving logbook', err)


def test_disk_full_names_the_file_and_what_to_do():
    full = OSError(errno.ENOSPC, 'No space left on device',
                   '/var/lib/xenballoon/simulated-host.json')
    err = errors.mapped(full)
    assert isinstance(err, exception.StorageError)
    assert err.exit_code == exception.EXIT_STORAGE
    assert str(err) == (
        'Cannot use /var/lib/xenballoon/simulated-host.json: No space left '
        'on device (ENOSPC); free some space there, then run "xenballoon '
        'recover"')


def test_sqlite_disk_full_inside_taskflow():
    err = errors.mapped(_wrapped(sqlite3.OperationalError(
        'database or disk is full')), '/s/flows.sqlite')
    assert str(err).startswith('Cannot use /s/flows.sqlite: database or '
                               'disk is full; free some space')


def test_a_corrupt_database():
    err = errors.mapped(sqlite3.DatabaseError('file is not a database'),
                        '/s/flows.sqlite')
    assert 'Cannot use /s/flows.sqlite: file is not a database; ' in str(err)
    assert 'move it aside' in str(err)


def test_read_only_state_dir():
    err = errors.mapped(OSError(errno.EROFS, 'Read-only file system',
                                '/ro/x.lock'))
    assert 'Cannot use /ro/x.lock: Read-only file system (EROFS); the ' \
           'file system is read-only' in str(err)


def test_our_own_errors_pass_through():
    mine = exception.DomainNotFound(name='g1')
    assert errors.mapped(mine) is mine


def test_a_store_that_cannot_open_is_a_storage_error_not_config():
    try:
        try:
            raise IsADirectoryError(errno.EISDIR, 'Is a directory',
                                    '/s/flows.sqlite.write-lock')
        except OSError as inner:
            raise exception.InvalidConfig(
                option='[persistence] connection', reason=str(inner))
    except exception.InvalidConfig as outer:
        err = errors.mapped(outer)
    assert isinstance(err, exception.StorageError)
    assert '/s/flows.sqlite.write-lock: Is a directory (EISDIR)' in str(err)


def test_anything_else_is_one_line_naming_its_type():
    err = errors.mapped(KeyError('spec'))
    assert isinstance(err, exception.UnexpectedError)
    assert str(err).startswith("KeyError: 'spec' (a defect: run again "
                               "with --debug")
    assert err.exit_code == exception.EXIT_ERROR


def test_database_names_hide_passwords():
    assert errors.database_name('sqlite:////s/f.sqlite') == '/s/f.sqlite'
    assert errors.database_name(
        'postgresql+psycopg2://u:secret@db:5432/x') == (
        'postgresql+psycopg2://db:5432/x')


def test_lifecycle_refusals_are_no_defect():
    assert errors.exit_code(exception.ConsoleUnavailable(
        name='vm1', reason='none')) == exception.EXIT_NOT_FOUND
    assert errors.exit_code(exception.Unsupported(
        what='suspend', backend='xl')) == exception.EXIT_TOOLSTACK
    assert errors.exit_code(exception.DomainNotFound(
        name='vm1')) == exception.EXIT_NOT_FOUND
    assert errors.exit_code(exception.UnexpectedError(
        kind='KeyError', reason='x')) == exception.EXIT_ERROR
