"""Where the reservation ledger is kept, always behind a host-wide lock.

MemoryStorage: this process only (``simulate``, tests). SqlStorage: one
JSON document per host in the flows' database, read and written under an
inter-process lock (oslo.concurrency, as OpenStack services do) inside one
transaction, so concurrent spawns from several processes never count the
same MiB twice.
"""

import contextlib
import copy
import json
import os
import threading

from oslo_concurrency import lockutils
import sqlalchemy as sa

from xenballoon_driver.balloon import ledger
from xenballoon_driver import exception

metadata = sa.MetaData()
LEDGER = sa.Table(
    'xenballoon_ledger', metadata,
    sa.Column('host', sa.String(255), primary_key=True),
    sa.Column('doc', sa.Text, nullable=False))


class MemoryStorage:
    def __init__(self):
        self._state = None
        self._lock = threading.RLock()

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
        if url.startswith('sqlite'):
            kwargs['connect_args'] = {'timeout': 60}
        try:
            self.engine = sa.create_engine(url, **kwargs)
            metadata.create_all(self.engine, checkfirst=True)
        except (sa.exc.SQLAlchemyError, ImportError) as err:
            raise exception.InvalidConfig(
                option='[persistence] connection',
                reason='ledger table: %s' % str(err).splitlines()[0])

    @contextlib.contextmanager
    def locked(self):
        os.makedirs(self.lock_dir, exist_ok=True)
        with lockutils.lock('ledger', lock_file_prefix='xenballoon-',
                            external=True, lock_path=self.lock_dir):
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
