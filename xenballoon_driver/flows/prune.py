"""Dropping finished flows once they are older than the retention."""

import contextlib
import datetime

from xenballoon_driver.flows import listing
from xenballoon_driver.flows import registry


def prune(persistence, retention_hours, host=None):
    """Drop finished flows older than the retention; return how many.

    With ``host``, only that host's (and ownerless old) flows.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    dropped = 0
    with contextlib.closing(persistence.get_connection()) as conn:
        if hasattr(persistence, 'book_ids_settled_before'):
            # SQL: only the candidates (one query), checked as below.
            cutoff = now - datetime.timedelta(hours=retention_hours)
            books = list(listing.read_books(
                conn, persistence.book_ids_settled_before(
                    cutoff.replace(tzinfo=None), listing.FINISHED)))
        else:
            books = list(conn.get_logbooks())
        for book in books:
            details = list(book)
            if not details or not all(d.state in listing.FINISHED
                                      for d in details):
                continue
            if host is not None and any(
                    registry.owner(d) not in (host, None) for d in details):
                continue
            if listing.age(book, now) > retention_hours * 3600:
                conn.destroy_logbook(book.uuid)
                dropped += 1
    return dropped
