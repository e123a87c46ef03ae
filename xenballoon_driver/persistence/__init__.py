"""The database of flows and ledgers, opened once per URL per process.

``open(conf)`` gives both stores over the [persistence] URL: the flows'
taskflow backend (our SQLite one, or taskflow's SQLAlchemy one) and the
documents the ledger keeps there. They share one connection policy: on
SQLite one connection and one write lock (sqlite_db.py), elsewhere one
pooled engine.
"""

import contextlib
import dataclasses
import os
import sqlite3
import threading

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from taskflow import exceptions as tf_exceptions

from xenballoon_driver import exception

SQLITE_PREFIX = 'sqlite:///'
DEFAULT_FILE = 'flows.sqlite'
OPTION = '[persistence] connection'

_opened = {}
_opened_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Stores:
    flows: object       # a taskflow persistence backend
    documents: object   # documents.SqliteDocuments or AlchemyDocuments


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


def safe_url(url):
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return url  # not a URL at all: no password to hide in it


def _open_flows(url):
    # Imported when used: a SQLite host never loads taskflow's SQLAlchemy
    # backend.
    path = sqlite_path(url)
    if path is not None:
        from xenballoon_driver.persistence import sqlite_backend
        from xenballoon_driver.persistence import sqlite_db
        return sqlite_backend.SqliteBackend({'database': path},
                                            sqlite_db.Database(path))
    from xenballoon_driver.persistence import sql_backend
    # A connection the server dropped is replaced, not failed on.
    return sql_backend.SQLAlchemyBackend({
        'connection': url, 'engine_args': {'pool_pre_ping': True}})


def _open_documents(flows):
    from xenballoon_driver.persistence import documents
    if getattr(flows, 'db', None) is not None:
        return documents.SqliteDocuments(flows.db)
    return documents.AlchemyDocuments(flows.engine)


def _open(url):
    try:
        flows = _open_flows(url)
        with contextlib.closing(flows.get_connection()) as conn:
            conn.upgrade()
    except (tf_exceptions.StorageFailure, sa_exc.SQLAlchemyError,
            ImportError, OSError) as err:
        raise exception.InvalidConfig(
            option=OPTION, reason='cannot use %s: %s' % (
                safe_url(url), str(err).splitlines()[0]))
    try:
        docs = _open_documents(flows)
    except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as err:
        raise exception.InvalidConfig(
            option=OPTION,
            reason='ledger table: %s' % str(err).splitlines()[0])
    return Stores(flows=flows, documents=docs)


def open(conf):
    """The stores at ``conf``'s URL: one per URL per process."""
    return open_url(connection_url(conf))


def open_url(url):
    """The stores at ``url``, opened on first use in this process."""
    with _opened_lock:
        stores = _opened.get(url)
        if stores is None:
            stores = _opened[url] = _open(url)
        return stores


def cached(url):
    """The flow backend this process uses for ``url``, if any."""
    with _opened_lock:
        stores = _opened.get(url)
    return stores and stores.flows


def forget(url):
    """Close and drop this process's stores for ``url`` (tests)."""
    with _opened_lock:
        stores = _opened.pop(url, None)
    if stores is not None:
        stores.flows.close()
