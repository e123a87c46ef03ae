"""taskflow persistence in one SQLite file, as a table of path -> JSON.

taskflow's SQLAlchemy backend costs ~200 ms per 4-task flow on SQLite: it
builds new table metadata for every write, opens a new connection each
time (NullPool) and does a SELECT and an UPDATE per atom change. This is
taskflow's own path-based backend (the one behind its directory and
ZooKeeper backends) on a single SQLite table in WAL mode with one
connection (see sqlite_db.py): one small write per change, each an
atomic commit, so a process killed at any point leaves the last committed
state.
"""

import contextlib
import sqlite3

from oslo_serialization import jsonutils
from taskflow import exceptions as tf_exceptions
from taskflow.persistence import path_based

from xenballoon_driver.persistence import sqlite_db

ROOT = 'taskflow'
SCHEMA = '''
CREATE TABLE IF NOT EXISTS taskflow_nodes (
    path TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    value TEXT
);
CREATE INDEX IF NOT EXISTS taskflow_nodes_parent ON taskflow_nodes (parent);
'''


def _parent(path):
    return path.rsplit('/', 1)[0]


class SqliteBackend(path_based.PathBasedBackend):
    """Configuration: ``{'path': ROOT, 'database': '/path/to/file'}``.

    ``db``: the file's sqlite_db.Database, when it is shared.
    """

    def __init__(self, conf, db=None):
        conf = dict(conf)
        conf.setdefault('path', ROOT)
        super().__init__(conf)
        self.db = db or sqlite_db.Database(conf['database'])
        self.db.executescript(SCHEMA)

    def get_connection(self):
        return Connection(self)

    def close(self):
        self.db.close()


class Connection(path_based.PathBasedConnection):
    def _join_path(self, *parts):
        return '/'.join(parts)

    def _execute(self, sql, args=()):
        try:
            return self.backend.db.execute(sql, args)
        except sqlite3.Error as err:
            raise tf_exceptions.StorageFailure(
                'SQLite persistence failed: %s' % err) from err

    def _get_item(self, path):
        rows = self._execute(
            'SELECT value FROM taskflow_nodes WHERE path = ?', (path,))
        if not rows or rows[0][0] is None:
            raise tf_exceptions.NotFound('No item at %s' % path)
        return jsonutils.loads(rows[0][0])

    def _set_item(self, path, value, transaction):
        self._execute(
            'INSERT OR REPLACE INTO taskflow_nodes (path, parent, value) '
            'VALUES (?, ?, ?)', (path, _parent(path), jsonutils.dumps(value)))

    def _del_tree(self, path, transaction):
        self._execute('DELETE FROM taskflow_nodes WHERE path = ? OR '
                      'substr(path, 1, ?) = ?',
                      (path, len(path) + 1, path + '/'))

    def _get_children(self, path):
        rows = self._execute(
            'SELECT path FROM taskflow_nodes WHERE parent = ?', (path,))
        return [row[0].rsplit('/', 1)[1] for row in rows]

    def _ensure_path(self, path):
        pass  # paths are keys: nothing to create

    def _create_link(self, src_path, dest_path, transaction):
        # A link is a child entry; readers find the target by its uuid.
        self._execute(
            'INSERT OR IGNORE INTO taskflow_nodes (path, parent, value) '
            'VALUES (?, ?, NULL)', (dest_path, _parent(dest_path)))

    @contextlib.contextmanager
    def _transaction(self):
        with self.backend.db.writing():
            self._execute('BEGIN IMMEDIATE')
            try:
                yield
            except BaseException:
                self._execute('ROLLBACK')
                raise
            self._execute('COMMIT')

    def validate(self):
        self._execute('SELECT 1')
