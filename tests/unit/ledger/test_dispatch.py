"""Dispatch: which waiting reservation free memory goes to first."""

import contextlib
import json

from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.ledger import dispatch

from tests.unit.ledger import test_ledger

RATE = 400  # dom0 releases MiB/s in these tests


class Clock:
    def __init__(self):
        self.t = 1000.0

    def now(self):
        return self.t


class Host(test_ledger.FakeHost):
    """No free memory at first; dom0 releases RATE MiB/s on ``run``."""

    def __init__(self):
        super().__init__(total=65536, free=0, dom0=60000)
        self.clock = Clock()

    def run(self, seconds):
        self.clock.t += seconds
        self.dom0 -= RATE * seconds
        self.free += RATE * seconds


def make(name='shortest', budget_s=60.0, budget_pct=25.0):
    return ledger_mod.Ledger(ledger_mod.MemoryStorage(), 4096,
                             dispatch.Policy(name, budget_s, budget_pct))


def big_then_small(ledger, host, small_mb=2000):
    big = ledger.reserve(host, 'big', 40000)
    host.run(10)  # 4000 MiB free, all of it the big one's so far
    small = ledger.reserve(host, 'small', small_mb)
    return big, small


def free_for(ledger, host, res):
    return ledger.free_for(res.id, host.snapshot())[0]


def test_the_default_policy_is_shortest():
    ledger = ledger_mod.Ledger(ledger_mod.MemoryStorage(), 4096)
    assert ledger.policy == dispatch.Policy('shortest', 600.0, 100.0)


def test_small_after_big_is_served_at_once_and_big_waits_its_mib():
    ledger, host = make(), Host()
    big, small = big_then_small(ledger, host)
    # The small one's look at its reserve already covers it.
    assert small.free_mb == 4000
    assert free_for(ledger, host, small) == 4000
    # The big one sees exactly the small one's MiB less.
    assert free_for(ledger, host, big) == 4000 - 2000
    assert ledger.queue() == [small.id, big.id]
    assert ledger.entries()[big.id]['overtaken_mb'] == 2000
    # dom0's target and the split are those of fifo.
    fifo, fifo_host = make('fifo'), Host()
    big_then_small(fifo, fifo_host)
    assert ledger.target() == fifo.target()
    assert [(e['from_free_mb'], e['from_dom0_mb'])
            for e in ledger.entries().values()] == [
        (e['from_free_mb'], e['from_dom0_mb'])
        for e in fifo.entries().values()]


def test_fifo_is_first_come_first_served():
    ledger, host = make('fifo'), Host()
    big, small = big_then_small(ledger, host)
    assert free_for(ledger, host, big) == 4000
    assert free_for(ledger, host, small) == 4000 - 40000
    assert small.free_mb == 4000 - 40000
    assert ledger.queue() == [big.id, small.id]
    assert 'overtaken_mb' not in ledger.entries()[big.id]


def test_the_overtaken_one_is_served_once_the_small_one_is_built():
    ledger, host = make(), Host()
    big, small = big_then_small(ledger, host)
    ledger.mark_building(small.id)
    # Building, its memory is counted before any waiting spawn's.
    assert free_for(ledger, host, big) == 4000 - 2000
    assert ledger.free_for(big.id, host.snapshot())[1] is True
    host.domains = {'small': 2000}
    host.free -= 2000
    ledger.commit(small.id)
    assert ledger.free_for(big.id, host.snapshot()) == (2000, False)


def test_nobody_is_overtaken_by_one_that_would_not_finish_sooner():
    ledger, host = make(), Host()
    big = ledger.reserve(host, 'big', 6000)
    host.run(10)  # the big one lacks 2000 MiB
    later = ledger.reserve(host, 'later', 2000)
    assert ledger.queue() == [big.id, later.id]
    assert free_for(ledger, host, big) == 4000


def test_the_percent_budget_stops_overtaking():
    # 25 % of 40000 MiB: five 2000 MiB spawns, not six.
    ledger, host = make(budget_s=3600), Host()
    big = ledger.reserve(host, 'big', 40000)
    host.run(10)
    small = [ledger.reserve(host, 's%d' % i, 2000) for i in range(6)]
    assert ledger.queue() == [s.id for s in small[:5]] + [
        big.id, small[5].id]
    assert ledger.entries()[big.id]['overtaken_mb'] == 10000


def test_the_seconds_budget_stops_overtaking():
    # 10 s at the 400 MiB/s measured: 4000 MiB, two 2000 MiB spawns.
    ledger, host = make(budget_s=10), Host()
    big = ledger.reserve(host, 'big', 40000)
    host.run(10)
    small = [ledger.reserve(host, 's%d' % i, 2000) for i in range(3)]
    assert ledger.queue() == [small[0].id, small[1].id, big.id,
                              small[2].id]


def test_a_zero_budget_is_fifo():
    for budget in ({'budget_s': 0}, {'budget_pct': 0}):
        ledger, host = make(**budget), Host()
        big, small = big_then_small(ledger, host)
        assert ledger.queue() == [big.id, small.id]


def test_an_unknown_release_rate_allows_no_overtaking():
    # Same instant: no time passed, no rate, no seconds budget.
    ledger, host = make(), Host()
    big = ledger.reserve(host, 'big', 40000)
    host.free = 4000
    small = ledger.reserve(host, 'small', 2000)
    assert ledger.queue() == [big.id, small.id]
    # A backend without a clock: no look is stored at all.
    ledger, host = make(), test_ledger.FakeHost(free=0, dom0=60000)
    big = ledger.reserve(host, 'big', 40000)
    host.dom0, host.free = 56000, 4000
    small = ledger.reserve(host, 'small', 2000)
    assert ledger.queue() == [big.id, small.id]
    assert 'at_s' not in ledger.entries()[big.id]


def test_a_small_one_passes_several_and_each_is_charged():
    ledger, host = make(), Host()
    first = ledger.reserve(host, 'first', 30000)
    host.run(5)
    second = ledger.reserve(host, 'second', 20000)
    host.run(5)
    small = ledger.reserve(host, 'small', 1000)
    assert ledger.queue() == [small.id, first.id, second.id]
    entries = ledger.entries()
    assert entries[first.id]['overtaken_mb'] == 1000
    assert entries[second.id]['overtaken_mb'] == 1000
    # Only the waiting entries were renumbered, in one write.
    assert sorted(e['rank'] for e in entries.values()) == [0, 1, 2]


def test_an_entry_without_rank_ranks_by_its_seq():
    # An entry an older release wrote.
    ledger, host = make(), Host()
    big = ledger.reserve(host, 'big', 40000)
    with ledger.storage.locked() as state:
        entry = state['entries'][big.id]
        for key in ('rank', 'at_s', 'dom0_at_mb'):
            del entry[key]
    host.run(10)
    small = ledger.reserve(host, 'small', 2000)
    # No look stored with it: no rate, so no overtaking.
    assert ledger.queue() == [big.id, small.id]
    assert free_for(ledger, host, big) == 4000


def test_a_power_on_comes_before_waiting_spawns():
    ledger, host = make(), Host()
    res = ledger.reserve(host, 'a', 1000, res_id='flow-a', spec={
        'name': 'a', 'memory_mb': 1000})
    ledger.mark_building(res.id)
    ledger.commit(res.id)
    host.domains = {'a': 1000}
    ledger.stop('a', 'flow-off')
    ledger.stop_done(res.id, 'flow-off')
    host.domains = {}
    waiting = ledger.reserve(host, 'b', 3000)
    ledger.start('a', 'flow-on')
    host.free = 1000
    # The guest's kept memory is its own; the spawn sees none of it.
    assert ledger.free_for(res.id, host.snapshot()) == (1000, False)
    assert free_for(ledger, host, waiting) == 0


class RecordingStorage(ledger_mod.MemoryStorage):
    """Keeps every document written: a crash leaves one of them."""

    def __init__(self):
        super().__init__()
        self.written = []

    @contextlib.contextmanager
    def locked(self):
        with super().locked() as state:
            yield state
        self.written.append(json.loads(json.dumps(self._state)))


def consistent(doc):
    """Ranks distinct; each charge matches who is ranked before it."""
    entries = list(doc['entries'].values())
    ranks = [dispatch.rank(e) for e in entries]
    assert len(set(ranks)) == len(ranks)
    for entry in entries:
        ahead = sum(e['need_mb'] for e in entries
                    if e['seq'] > entry['seq'] and
                    dispatch.rank(e) < dispatch.rank(entry))
        assert entry.get('overtaken_mb', 0) == ahead


def test_every_document_written_is_consistent():
    storage = RecordingStorage()
    ledger = ledger_mod.Ledger(storage, 4096,
                               dispatch.Policy('shortest', 60.0, 25.0))
    host = Host()
    first = ledger.reserve(host, 'first', 30000)
    host.run(5)
    second = ledger.reserve(host, 'second', 20000)
    host.run(5)
    small = ledger.reserve(host, 'small', 1000)
    ledger.mark_building(small.id)
    ledger.commit(small.id)
    medium = ledger.reserve(host, 'medium', 5000)
    # The small one passed both; the medium one was stopped by the
    # second's 25 % budget (5000 MiB, 1000 spent).
    assert ledger.queue() == [first.id, second.id, medium.id]
    assert any(e.get('overtaken_mb') for e in
               storage.written[-1]['entries'].values())
    for doc in storage.written:
        consistent(doc)
