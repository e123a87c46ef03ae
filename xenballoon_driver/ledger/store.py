"""Where the ledger's document is kept, always behind a host-wide lock.

MemoryStorage: this process only (``simulate``, tests). DocumentStorage:
one JSON document per host in the flows' database (persistence.open's
documents), read, changed and written back under an inter-process lock,
so concurrent spawns from several processes never count the same MiB
twice. Every ledger writer holds that lock, so reading the document and
writing it back need not be one database transaction: the write is one
atomic statement, committed or not at all (a process killed before it
leaves the previous document).
"""

import contextlib
import json
import threading

from xenballoon_driver.ledger import arithmetic
from xenballoon_driver import locks


class MemoryStorage:
    """The document in this process; each change works on a copy.

    The document is JSON-shaped (DocumentStorage stores it as JSON), so
    a copy of its dicts and lists is a whole copy: about three times
    faster than copy.deepcopy on a host with thousands of entries.
    """

    def __init__(self, lock=None):
        self._state = None
        # A simulated host's jobs share a VirtualClock: clock.ClockLock.
        self._lock = lock or threading.RLock()

    snapshot = property(lambda self: self.locked)

    @contextlib.contextmanager
    def locked(self):
        with self._lock:
            state = arithmetic.upgrade(_copy(self._state) or
                                       arithmetic.empty())
            yield state
            self._state = state


def _copy(doc):
    if isinstance(doc, dict):
        return {key: _copy(value) for key, value in doc.items()}
    if isinstance(doc, list):
        return [_copy(value) for value in doc]
    return doc


def _dump(state):
    return json.dumps(state, sort_keys=True)


def _load(doc):
    return arithmetic.upgrade(json.loads(doc) if doc else arithmetic.empty())


class DocumentStorage:
    """The ledger of ``host`` in ``documents``, locked by ``lock_path``."""

    def __init__(self, documents, host, lock_path):
        self.documents = documents
        self.host = host
        self.lock_path = lock_path

    @contextlib.contextmanager
    def snapshot(self):
        """The state as committed, for reading: no lock needed."""
        yield _load(self.documents.read(self.host))

    @contextlib.contextmanager
    def locked(self):
        with locks.locked(self.lock_path):
            doc = self.documents.read(self.host)
            state = _load(doc)
            # Unchanged (most reads under the lock): no write at all.
            before = doc or _dump(arithmetic.empty())
            yield state
            after = _dump(state)
            if after != before:
                self.documents.write(self.host, after,
                                     exists=doc is not None)
