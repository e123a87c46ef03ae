"""taskflow's SQLAlchemy backend, for PostgreSQL and MySQL/MariaDB.

taskflow builds a new Connection (and new table metadata) for every
storage call; the Connection holds no per-call state, so one is kept.
"""

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from taskflow import exceptions as tf_exceptions
from taskflow.persistence.backends import impl_sqlalchemy
from taskflow.persistence.backends.sqlalchemy import tables

_TABLES = tables.fetch(sa.MetaData())
_BOOKS, _FLOWS = _TABLES.logbooks, _TABLES.flowdetails


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

    def book_ids_with_flows_not_in(self, finished):
        """The logbooks holding a flow whose state is not in ``finished``.

        One query on taskflow's own table, where get_logbooks() reads every
        book, flow and task of every host (2000 finished flows: 2.9 s),
        for what a conductor's sweep and start-up recovery look at: the
        few flows still under way.
        """
        query = sa.select(_FLOWS.c.parent_uuid).distinct().where(
            _not_in(finished))
        return self._ids(query, 'the logbooks of unfinished flows')

    def book_ids_settled_before(self, before, finished):
        """Logbooks made before ``before`` with every flow in ``finished``.

        What prune may drop, found without reading every logbook.
        ``before`` is naive UTC, as taskflow stores created_at.
        """
        under_way = sa.select(_FLOWS.c.uuid).where(
            _FLOWS.c.parent_uuid == _BOOKS.c.uuid, _not_in(finished))
        query = sa.select(_BOOKS.c.uuid).where(
            _BOOKS.c.created_at < before, ~sa.exists(under_way))
        return self._ids(query, 'the logbooks to prune')

    def _ids(self, query, what):
        try:
            with self.engine.connect() as conn:
                return [row[0] for row in conn.execute(query)]
        except sa_exc.DBAPIError:
            tf_exceptions.raise_with_cause(
                tf_exceptions.StorageFailure, 'Failed listing %s' % what)


def _not_in(finished):
    return sa.or_(_FLOWS.c.state.is_(None), _FLOWS.c.state.not_in(finished))
