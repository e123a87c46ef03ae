"""Where the reservation ledger is kept, always behind a host-wide lock.

MemoryStorage: this process only (``simulate``, tests). SqlStorage: one
JSON document per host in the flows' database, written under an
inter-process lock (see filelock.py), so concurrent spawns from several
processes never count the same MiB twice. Every ledger writer holds that
lock, so reading the document and writing it back need not be one
database transaction: the write is one atomic statement, committed or
not at all (a process killed before it leaves the previous document).
"""

import contextlib
import copy
import json
import os
import sqlite3
import threading

import sqlalchemy as sa

from xenballoon_driver.balloon import ledger
from xenballoon_driver import exception
from xenballoon_driver import filelock
from xenballoon_driver import persistence
from xenballoon_driver.persistence import sqlite_backend

TABLE = 'xenballoon_ledger'
LOCK_FILE = 'xenballoon-ledger.lock'
metadata = sa.MetaData()
LEDGER = sa.Table(
    TABLE, metadata,
    sa.Column('host', sa.String(255), primary_key=True),
    sa.Column('doc', sa.Text, nullable=False))


class MemoryStorage:
    def __init__(self):
        self._state = None
        self._lock = threading.RLock()

    snapshot = property(lambda self: self.locked)

    @contextlib.contextmanager
    def locked(self):
        with self._lock:
            state = ledger.upgrade(copy.deepcopy(self._state) or
                                   ledger.empty())
            yield state
            self._state = state


def _dump(state):
    return json.dumps(state, sort_keys=True)


class SqlStorage:
    """The ledger in the flows' database (any [persistence] URL)."""

    def __init__(self, url, host, lock_dir):
        self.lock_path = os.path.join(lock_dir, LOCK_FILE)
        path = persistence.sqlite_path(url)
        try:
            if path is not None:
                self.table = _SqliteTable(path, host)
            else:
                self.table = _AlchemyTable(url, host)
        except (sa.exc.SQLAlchemyError, sqlite3.Error, ImportError,
                OSError) as err:
            raise exception.InvalidConfig(
                option='[persistence] connection',
                reason='ledger table: %s' % str(err).splitlines()[0])

    @contextlib.contextmanager
    def snapshot(self):
        """The state as committed, for reading: no lock needed."""
        doc = self.table.read()
        yield ledger.upgrade(json.loads(doc) if doc else ledger.empty())

    @contextlib.contextmanager
    def locked(self):
        with filelock.locked(self.lock_path):
            doc = self.table.read()
            state = ledger.upgrade(json.loads(doc) if doc else
                                   ledger.empty())
            # Unchanged (most reads under the lock): no write at all.
            before = doc or _dump(ledger.empty())
            yield state
            after = _dump(state)
            if after != before:
                self.table.write(after, exists=doc is not None)


class _SqliteTable:
    """The ledger row through the stdlib sqlite3 module.

    SQLAlchemy costs a few milliseconds per transaction here, several
    times a spawn; one cached connection (per process: a connection must
    not cross a fork) makes a write about a tenth of a millisecond. The
    file is the flows', in WAL mode, so readers never wait for writers;
    writers take the flows' write lock first, as theirs do.
    """

    def __init__(self, path, host):
        self.path = path
        self.host = host
        self.write_lock = sqlite_backend.write_lock_path(path)
        self._lock = threading.Lock()
        self._db = self._inherited = None
        self._pid = None
        with filelock.locked(self.write_lock), self._lock:
            self._connection().execute(
                'CREATE TABLE IF NOT EXISTS %s (host VARCHAR(255) NOT NULL '
                'PRIMARY KEY, doc TEXT NOT NULL)' % TABLE)

    def _connection(self):
        if self._pid != os.getpid():
            # Made before a fork: closing it here could disturb the
            # parent's locks, so it is left open, unused.
            self._inherited = self._db
            os.makedirs(os.path.dirname(os.path.abspath(self.path)),
                        exist_ok=True)
            # Autocommit (isolation_level=None): each statement is its
            # own transaction.
            self._db = sqlite3.connect(self.path, timeout=60.0,
                                       isolation_level=None,
                                       check_same_thread=False)
            self._db.execute('PRAGMA journal_mode=WAL')
            # As for the flows: a commit survives a kill -9.
            self._db.execute('PRAGMA synchronous=NORMAL')
            self._pid = os.getpid()
        return self._db

    def read(self):
        with self._lock:
            # fetchall: the statement ends here, and its read snapshot.
            rows = self._connection().execute(
                'SELECT doc FROM %s WHERE host = ?' % TABLE,
                (self.host,)).fetchall()
        return rows[0][0] if rows else None

    def write(self, doc, exists):
        with filelock.locked(self.write_lock), self._lock:
            self._connection().execute(
                'INSERT OR REPLACE INTO %s (host, doc) VALUES (?, ?)' %
                TABLE, (self.host, doc))


class _AlchemyTable:
    """The ledger row on PostgreSQL or MariaDB, through a pooled engine."""

    def __init__(self, url, host):
        self.host = host
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        self._pid = os.getpid()
        metadata.create_all(self.engine, checkfirst=True)

    def _connect(self):
        if self._pid != os.getpid():
            # A pooled connection must not be shared with the parent.
            self.engine.dispose(close=False)
            self._pid = os.getpid()
        return self.engine.connect()

    def read(self):
        with self._connect() as conn:
            return conn.execute(sa.select(LEDGER.c.doc).where(
                LEDGER.c.host == self.host)).scalar()

    def write(self, doc, exists):
        with self._connect() as conn, conn.begin():
            if exists:
                conn.execute(LEDGER.update().where(
                    LEDGER.c.host == self.host).values(doc=doc))
            else:
                conn.execute(LEDGER.insert().values(host=self.host, doc=doc))
