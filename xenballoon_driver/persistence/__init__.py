"""Where flows are stored: our SQLite backend or taskflow's SQLAlchemy one."""

import contextlib
import os
import threading

from sqlalchemy import exc as sa_exc
from taskflow import exceptions as tf_exceptions

from xenballoon_driver import exception

SQLITE_PREFIX = 'sqlite:///'
DEFAULT_FILE = 'flows.sqlite'

_backends = {}
_backends_lock = threading.Lock()


def connection_url(conf):
    """The configured URL; empty means flows.sqlite in the state dir."""
    url = conf.persistence.connection
    if not url:
        state_dir = os.path.expanduser(conf.xenballoon.state_dir)
        url = SQLITE_PREFIX + os.path.join(os.path.abspath(state_dir),
                                           DEFAULT_FILE)
    return url


def sqlite_path(url):
    """The file of a sqlite:/// URL, or None for any other URL."""
    if url.startswith(SQLITE_PREFIX):
        return url[len(SQLITE_PREFIX):]
    return None


def _make_backend(url):
    path = sqlite_path(url)
    if path is not None:
        from xenballoon_driver.persistence import sqlite_backend
        return sqlite_backend.SqliteBackend({'database': path})
    from xenballoon_driver.persistence import sql_backend
    return sql_backend.SQLAlchemyBackend({'connection': url})


def get_backend(conf):
    """One backend per URL per process, its schema created on first use."""
    url = connection_url(conf)
    with _backends_lock:
        backend = _backends.get(url)
        if backend is None:
            try:
                backend = _make_backend(url)
                with contextlib.closing(backend.get_connection()) as conn:
                    conn.upgrade()
            except (tf_exceptions.StorageFailure, sa_exc.SQLAlchemyError,
                    ImportError, OSError) as err:
                raise exception.InvalidConfig(
                    option='[persistence] connection',
                    reason='cannot use %s: %s' % (
                        _safe(url), str(err).splitlines()[0]))
            _backends[url] = backend
        return backend


def _safe(url):
    """The URL without its password, for messages."""
    if '@' in url and '://' in url:
        scheme, rest = url.split('://', 1)
        return '%s://***@%s' % (scheme, rest.rsplit('@', 1)[1])
    return url


def cached(url):
    """The backend this process uses for ``url``, if any."""
    with _backends_lock:
        return _backends.get(url)


def forget(url):
    """Close and drop this process's backend for ``url`` (tests)."""
    with _backends_lock:
        backend = _backends.pop(url, None)
    if backend is not None:
        backend.close()
