"""taskflow's SQLAlchemy backend, for PostgreSQL and MySQL/MariaDB.

taskflow builds a new Connection (and new table metadata) for every
storage call; the Connection holds no per-call state, so one is kept.
"""

from taskflow.persistence.backends import impl_sqlalchemy


class SQLAlchemyBackend(impl_sqlalchemy.SQLAlchemyBackend):
    def __init__(self, conf, engine=None):
        super().__init__(conf, engine=engine)
        self._connection = None

    def get_connection(self):
        if self._connection is None:
            self._connection = super().get_connection()
        return self._connection

    def close(self):
        self._connection = None
        super().close()
