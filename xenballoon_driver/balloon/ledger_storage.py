"""Where the reservation ledger is kept, always behind a host-wide lock.

MemoryStorage: this process only (``simulate``, tests). SqlStorage: one
JSON document per host in the flows' database, read and written under an
inter-process lock (see filelock.py) inside one
transaction, so concurrent spawns from several processes never count the
same MiB twice.
"""

import contextlib
import copy
import json
import os
import threading

import sqlalchemy as sa

from xenballoon_driver.balloon import ledger
from xenballoon_driver import exception
from xenballoon_driver import filelock
from xenballoon_driver import persistence
from xenballoon_driver.persistence import sqlite_backend

metadata = sa.MetaData()
LEDGER = sa.Table(
    'xenballoon_ledger', metadata,
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
            state = copy.deepcopy(self._state) or ledger.empty()
            yield state
            self._state = state


class SqlStorage:
    def __init__(self, url, host, lock_dir):
        self.host = host
        self.lock_dir = lock_dir
        kwargs = {}
        self.write_lock = None
        path = persistence.sqlite_path(url)
        if path is not None:
            kwargs['connect_args'] = {'timeout': 60}
            self.write_lock = sqlite_backend.write_lock_path(path)
        try:
            self.engine = sa.create_engine(url, **kwargs)
            metadata.create_all(self.engine, checkfirst=True)
        except (sa.exc.SQLAlchemyError, ImportError) as err:
            raise exception.InvalidConfig(
                option='[persistence] connection',
                reason='ledger table: %s' % str(err).splitlines()[0])

    @contextlib.contextmanager
    def snapshot(self):
        """The state as committed, for reading: no lock needed."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(LEDGER.c.doc).where(
                LEDGER.c.host == self.host)).first()
        yield json.loads(row[0]) if row else ledger.empty()

    @contextlib.contextmanager
    def locked(self):
        with filelock.locked(os.path.join(self.lock_dir,
                                          'xenballoon-ledger.lock')), (
                filelock.locked(self.write_lock) if self.write_lock
                else contextlib.nullcontext()):
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(LEDGER.c.doc).where(
                    LEDGER.c.host == self.host)).first()
                state = json.loads(row[0]) if row else ledger.empty()
                before = copy.deepcopy(state)
                yield state
                if state == before:
                    return
                doc = json.dumps(state, sort_keys=True)
                if row is None:
                    conn.execute(LEDGER.insert().values(host=self.host,
                                                        doc=doc))
                else:
                    conn.execute(LEDGER.update().where(
                        LEDGER.c.host == self.host).values(doc=doc))
