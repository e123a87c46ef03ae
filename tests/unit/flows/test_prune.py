"""prune: drops exactly the old, finished books of its host, on every store.

SQL databases find the candidates with one query (sql_backend); the
embedded SQLite store reads every book. Both must drop the same books:
old enough, holding flows, every flow finished, none another host's.
"""

import contextlib
import datetime
import random
import uuid

from taskflow.persistence import models
from taskflow import states

from xenballoon_driver.flows import prune
from xenballoon_driver import persistence

RETENTION_H = 24
STATES = [None, states.PENDING, states.RUNNING, states.SUCCESS,
          states.SUCCESS, states.REVERTED, states.FAILURE]
OWNERS = ['host-a', 'host-a', 'host-b', None]


def _store(backend, rng, books=60):
    """Random books; {book id: (settled, whether prune(host-a) drops it)}.

    settled: old, and every flow finished (a book with none too).
    """
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    expected = {}
    with contextlib.closing(backend.get_connection()) as conn:
        for i in range(books):
            book = models.LogBook('request %d' % i)
            old = rng.random() < 0.6
            book.created_at = now - datetime.timedelta(
                hours=RETENTION_H + 1 if old else RETENTION_H - 1)
            flows = []
            for _ in range(rng.choice((0, 1, 1, 2))):
                flow = models.FlowDetail('xenballoon-spawn', uuid.uuid4().hex)
                owner = rng.choice(OWNERS)
                flow.meta = {} if owner is None else {
                    'factory': 'xenballoon-spawn', 'args': {},
                    'host': owner}
                flow.state = rng.choice(STATES)
                book.add(flow)
                flows.append((flow.state, owner))
            conn.save_logbook(book)
            settled = old and all(state in (states.SUCCESS, states.REVERTED)
                                  for state, _owner in flows)
            expected[book.uuid] = (settled, bool(
                settled and flows and
                all(owner in ('host-a', None) for _state, owner in flows)))
    return expected


def _stored(backend):
    with contextlib.closing(backend.get_connection()) as conn:
        return {book.uuid for book in conn.get_logbooks(lazy=True)}


def test_prune_drops_exactly_the_old_finished_books_of_its_host(db_url):
    backend = persistence.open_url(db_url).flows
    seed = random.randrange(1 << 30)
    expected = _store(backend, random.Random(seed))
    dropped = {book_id for book_id, (_, drop) in expected.items() if drop}
    assert dropped, seed
    if hasattr(backend, 'book_ids_settled_before'):  # the SQL query
        cutoff = (datetime.datetime.now(datetime.timezone.utc) -
                  datetime.timedelta(hours=RETENTION_H)).replace(tzinfo=None)
        assert set(backend.book_ids_settled_before(
            cutoff, (states.SUCCESS, states.REVERTED))) == {
            book_id for book_id, (settled, _) in expected.items()
            if settled}, seed
    assert prune.prune(backend, RETENTION_H, 'host-a') == len(dropped), seed
    assert _stored(backend) == set(expected) - dropped, seed
    assert prune.prune(backend, RETENTION_H, 'host-a') == 0, seed
