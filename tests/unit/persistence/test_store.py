"""Flows and the ledger stored on SQLite, PostgreSQL and MariaDB."""

import contextlib

import pytest
from taskflow import states

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver import persistence
from xenballoon_driver.persistence import sqlite_backend

GiB = conftest.GiB


@pytest.fixture
def stored(conf, db_url):
    """A simulated host whose driver stores flows and ledger at db_url."""
    conf.flags('persistence', connection=db_url)

    def factory(**kw):
        host = conftest.SimHost(conf, conftest.make_scenario(**kw),
                                persisted=True)
        return host
    return factory


def test_spawn_and_destroy_are_stored(stored):
    host = stored()
    host.driver.spawn('vm1', 20 * GiB)
    host.driver.destroy('vm1')
    rows = host.driver.list_flows()
    assert sorted((r.request, r.state) for r in rows) == [
        ('destroy vm1', states.SUCCESS), ('spawn vm1', states.SUCCESS)]
    assert all(r.progress == 1.0 for r in rows)


def test_reverted_spawn_is_stored_as_reverted(stored):
    host = stored(build={'fail_at_fraction': 0.5})
    with pytest.raises(exception.BuildFailed):
        host.driver.spawn('vm1', 20 * GiB)
    row, = host.driver.list_flows()
    assert row.state == states.REVERTED
    assert host.ledger.entries() == {}


def test_ledger_lives_in_the_same_database(stored):
    host = stored()
    host.driver.spawn('vm1', 20 * GiB)
    again = conftest.SimHost(host.driver.conf, host.scenario, persisted=True)
    entry, = again.ledger.entries().values()
    assert entry['name'] == 'vm1' and entry['state'] == 'domain'


def test_recovery_finds_nothing_to_do_after_clean_runs(stored):
    host = stored()
    host.driver.spawn('vm1', 20 * GiB)
    recovered, orphans = host.driver.recover()
    assert recovered == [] and orphans == []


def test_unusable_connection_is_a_clear_error(conf):
    conf.flags('persistence', connection='postgresql+psycopg2://nobody@'
                                         '127.0.0.1:1/none')
    with pytest.raises(exception.InvalidConfig, match='persistence'):
        persistence.open(conf)


def test_sqlite_backend_survives_reopening(tmp_path):
    path = str(tmp_path / 'f.sqlite')
    from taskflow.persistence import models
    one = sqlite_backend.SqliteBackend({'database': path})
    book = models.LogBook('b')
    detail = models.FlowDetail('f', uuid='u1')
    book.add(detail)
    with contextlib.closing(one.get_connection()) as conn:
        conn.upgrade()
        conn.save_logbook(book)
    one.close()
    two = sqlite_backend.SqliteBackend({'database': path})
    with contextlib.closing(two.get_connection()) as conn:
        books = list(conn.get_logbooks())
        assert [b.name for b in books] == ['b']
        assert [d.uuid for d in books[0]] == ['u1']
        conn.destroy_logbook(books[0].uuid)
        assert list(conn.get_logbooks()) == []


def test_flows_and_ledger_share_one_opened_database(conf, db_url):
    conf.flags('persistence', connection=db_url)
    stores = persistence.open(conf)
    assert persistence.open(conf) is stores
    assert persistence.cached(db_url) is stores.flows
    if db_url.startswith('sqlite'):
        # One connection, one write lock for both.
        assert stores.documents.db is stores.flows.db
    else:
        assert stores.documents.engine is stores.flows.engine


def test_messages_never_show_the_password(conf):
    conf.flags('persistence', connection='postgresql+psycopg2://nobody:'
                                         'secret@127.0.0.1:1/none')
    with pytest.raises(exception.InvalidConfig) as err:
        persistence.open(conf)
    assert 'secret' not in str(err.value)
    assert 'nobody:***@127.0.0.1:1/none' in str(err.value)
