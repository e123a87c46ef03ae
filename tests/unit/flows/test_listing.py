"""listing.details(unfinished=True): the flows still under way, by query.

On every database: the same flows as the whole listing filtered, for one
host and for all, over random states (SQL databases answer it with one
query on taskflow's flow table instead of reading every logbook).
"""

import contextlib
import random
import uuid

from taskflow.persistence import models
from taskflow import states

from xenballoon_driver.flows import listing
from xenballoon_driver import persistence

STATES = [None, states.PENDING, states.RUNNING, states.SUSPENDED,
          states.REVERTING, states.SUCCESS, states.REVERTED,
          states.FAILURE]


def _store(backend, rng, books=40):
    with contextlib.closing(backend.get_connection()) as conn:
        for i in range(books):
            book = models.LogBook('request %d' % i)
            for _ in range(rng.choice((1, 1, 2))):
                flow = models.FlowDetail('xenballoon-spawn', uuid.uuid4().hex)
                flow.meta = {'factory': 'xenballoon-spawn', 'args': {},
                             'host': rng.choice(('host-a', 'host-b'))}
                flow.state = rng.choice(STATES)
                book.add(flow)
            conn.save_logbook(book)


def _ids(pairs):
    return sorted(detail.uuid for _book, detail in pairs)


def test_unfinished_is_the_listing_less_what_finished(db_url):
    backend = persistence.open_url(db_url).flows
    seed = random.randrange(1 << 30)
    _store(backend, random.Random(seed))
    for host in ('host-a', 'host-b', None):
        everything = [(book, detail) for book, detail in
                      listing.details(backend, host)
                      if detail.state not in listing.FINISHED]
        assert everything, seed
        assert _ids(listing.details(backend, host, unfinished=True)) == \
            _ids(everything), seed


def test_a_book_gone_since_the_query_is_skipped(db_url, monkeypatch):
    backend = persistence.open_url(db_url).flows
    _store(backend, random.Random(7), books=5)
    expected = _ids(listing.details(backend, unfinished=True))
    if hasattr(backend, 'book_ids_with_flows_not_in'):
        found = backend.book_ids_with_flows_not_in
        monkeypatch.setattr(backend, 'book_ids_with_flows_not_in',
                            lambda finished: found(finished) +
                            [uuid.uuid4().hex])
    assert _ids(listing.details(backend, unfinished=True)) == expected
