"""The stored flows as ``xenballoon flows`` lists them, and their states."""

import contextlib
import dataclasses
import datetime

from taskflow import exceptions as tf_exceptions
from taskflow import states

from xenballoon_driver.flows import registry

FINISHED = (states.SUCCESS, states.REVERTED)
# A flow that cannot be rebuilt from its record: reported, never run.
QUARANTINED = 'QUARANTINED'


@dataclasses.dataclass
class FlowRow:
    request: str
    flow_id: str
    kind: str
    state: str
    age_s: float
    progress: float
    host: str = ''


def age(book, now):
    created = book.created_at
    if created is None:
        return 0.0
    if created.tzinfo is None:
        created = created.replace(tzinfo=datetime.timezone.utc)
    return (now - created).total_seconds()


def details(persistence, host=None, unfinished=False):
    """(book, detail) of every stored flow; only ``host``'s if given.

    ``unfinished``: only flows not FINISHED, read from the books that hold
    one (one query on SQL databases: the embedded SQLite store, one
    host's, is read whole).
    """
    with contextlib.closing(persistence.get_connection()) as conn:
        books = conn.get_logbooks()
        if unfinished and hasattr(persistence, 'book_ids_with_flows_not_in'):
            books = read_books(conn, persistence.book_ids_with_flows_not_in(
                FINISHED))
        for book in books:
            for detail in book:
                if unfinished and detail.state in FINISHED:
                    continue
                if host is None or registry.owner(detail) in (host, None):
                    yield book, detail


def read_books(conn, book_ids):
    """The logbooks of ``book_ids`` that are still stored."""
    for book_id in book_ids:
        try:
            yield conn.get_logbook(book_id)
        except tf_exceptions.NotFound:
            continue  # dropped since the ids were read


def state(detail):
    if (detail.meta or {}).get(QUARANTINED):
        return QUARANTINED
    return detail.state or states.PENDING


def list_flows(persistence, host=None):
    """The stored flows of ``host`` (None: every host's), newest first."""
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for book, detail in details(persistence, host):
        atoms = [atom for atom in detail if atom.name != registry.INJECTOR]
        done = sum(1 for atom in atoms if atom.state in (
            states.SUCCESS, states.REVERTED))
        rows.append(FlowRow(
            request=book.name, flow_id=detail.uuid, kind=detail.name,
            state=state(detail), age_s=age(book, now),
            progress=(done / len(atoms)) if atoms else 0.0,
            host=registry.owner(detail) or ''))
    return sorted(rows, key=lambda r: r.age_s)
