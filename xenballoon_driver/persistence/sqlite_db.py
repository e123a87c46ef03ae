"""One SQLite file: its connection policy and its write lock.

The flows (sqlite_backend.py) and the documents (documents.py) stored in
the file share one Database per process: one connection, one lock.

One connection per process (a connection must not cross a fork), in WAL
mode so readers never wait for writers. Writers queue on a blocking file
lock taken before BEGIN, rather than in SQLite's busy handler, which
sleeps (up to 100 ms a try) when contended.
"""

import contextlib
import os
import sqlite3
import threading

from xenballoon_driver import locks


class Database:
    def __init__(self, path):
        self.path = path
        self.write_lock = locks.write_path(path)
        # Held around each statement and each write transaction: the
        # connection is shared by this process's threads.
        self.lock = threading.RLock()
        self._db = self._inherited = None
        self._pid = None

    def _connection(self):
        if self._pid != os.getpid():
            # Made before a fork: closing it here could disturb the
            # parent's locks, so it is left open, unused.
            self._inherited = self._db
            os.makedirs(os.path.dirname(os.path.abspath(self.path)),
                        exist_ok=True)
            # isolation_level=None: autocommit, each statement its own
            # transaction unless a writer issues BEGIN.
            self._db = sqlite3.connect(self.path, timeout=60.0,
                                       isolation_level=None,
                                       check_same_thread=False)
            self._db.execute('PRAGMA journal_mode=WAL')
            # WAL + NORMAL: a commit survives the process being killed;
            # only an OS crash may lose the last commits (never corrupts).
            self._db.execute('PRAGMA synchronous=NORMAL')
            self._pid = os.getpid()
        return self._db

    def execute(self, sql, args=()):
        """Run one statement; its rows (fetched: its snapshot ends here)."""
        with self.lock:
            return self._connection().execute(sql, args).fetchall()

    def executescript(self, script):
        with self.lock:
            self._connection().executescript(script)

    @contextlib.contextmanager
    def writing(self):
        """Hold the file's write lock (this process's thread lock first)."""
        with self.lock, locks.locked(self.write_lock):
            yield

    def close(self):
        with self.lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
            self._pid = None
