"""Documents by key (one JSON text per host's ledger), in the flows' database.

Raw rows only: what a document means, and the lock its writers hold, are
the ledger's (see ledger/store.py). Each write is one atomic statement,
committed or not at all (a process killed before it leaves the previous
document).
"""

import os

import sqlalchemy as sa

TABLE = 'xenballoon_ledger'
metadata = sa.MetaData()
LEDGER = sa.Table(
    TABLE, metadata,
    sa.Column('host', sa.String(255), primary_key=True),
    sa.Column('doc', sa.Text, nullable=False))


class SqliteDocuments:
    """The rows through the stdlib sqlite3 module, on the flows' connection.

    SQLAlchemy costs a few milliseconds per transaction here, several
    times a spawn; the shared connection (sqlite_db.Database) makes a
    write about a tenth of a millisecond. Writers take the file's write
    lock first, as the flows' do.
    """

    def __init__(self, db):
        self.db = db
        with db.writing():
            db.execute('CREATE TABLE IF NOT EXISTS %s (host VARCHAR(255) '
                       'NOT NULL PRIMARY KEY, doc TEXT NOT NULL)' % TABLE)

    def read(self, key):
        rows = self.db.execute('SELECT doc FROM %s WHERE host = ?' % TABLE,
                               (key,))
        return rows[0][0] if rows else None

    def write(self, key, doc, exists):
        with self.db.writing():
            self.db.execute('INSERT OR REPLACE INTO %s (host, doc) VALUES '
                            '(?, ?)' % TABLE, (key, doc))


class AlchemyDocuments:
    """The rows on PostgreSQL or MariaDB, on the flows' pooled engine."""

    def __init__(self, engine):
        self.engine = engine
        self._pid = os.getpid()
        metadata.create_all(self.engine, checkfirst=True)

    def _connect(self):
        if self._pid != os.getpid():
            # A pooled connection must not be shared with the parent.
            self.engine.dispose(close=False)
            self._pid = os.getpid()
        return self.engine.connect()

    def read(self, key):
        with self._connect() as conn:
            return conn.execute(sa.select(LEDGER.c.doc).where(
                LEDGER.c.host == key)).scalar()

    def write(self, key, doc, exists):
        with self._connect() as conn, conn.begin():
            if exists:
                conn.execute(LEDGER.update().where(
                    LEDGER.c.host == key).values(doc=doc))
            else:
                conn.execute(LEDGER.insert().values(host=key, doc=doc))
