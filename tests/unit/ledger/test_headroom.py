"""Warm headroom in the ledger: what dom0 gives up to keep memory free.

The host of test_ledger: 64 GiB, 8 GiB free, dom0 56 GiB, floor 4 GiB.
"""

import pytest

from tests.unit.ledger import test_ledger
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver.ledger import arithmetic
from xenballoon_driver.ledger import headroom

DOM0 = 57344
FREE = 8192
FLOOR = 4096
H = 10000


class Killed(BaseException):
    """kill -9 at a toolstack call: nothing after it runs."""


class Host(test_ledger.FakeHost):
    """FakeHost whose dom0 takes a target; ``settle`` moves it there."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.domains = {}
        self.sets = []
        self.kill_at_set = False

    def set_dom0_target(self, mb):
        if self.kill_at_set:
            raise Killed()
        self.sets.append(mb)
        self.target = mb

    def settle(self):
        self.free += self.dom0 - self.target
        self.dom0 = self.target

    def build(self, name, mb):
        self.domains[name] = mb
        self.free -= mb

    def gone(self, name):
        self.free += self.domains.pop(name)


def ready(ledger, host):
    """Free memory promised to nobody, with what dom0 is still releasing."""
    fig = ledger.figures(host)
    return fig.available_mb - fig.balloonable_mb


def kept(floor=FLOOR):
    """A ledger and host with H MiB of headroom established, dom0 there."""
    host = Host()
    ledger = test_ledger.make(floor=floor)
    assert ledger.keep_headroom(host, H) == H - FREE
    host.settle()
    return ledger, host


def spawned(ledger, host, name, need):
    res = ledger.reserve(host, name, need)
    ledger.apply_target(host)
    host.settle()
    ledger.mark_building(res.id)
    host.build(name, need)
    ledger.commit(res.id)
    return res


def test_headroom_lowers_dom0_by_what_is_not_free():
    host = Host()
    ledger = test_ledger.make()
    assert ledger.keep_headroom(host, H) == H - FREE
    # Stored before dom0 is asked, part of its derived target.
    assert ledger.target() == DOM0 - (H - FREE) == host.target
    # Counted free while dom0 still releases it.
    assert ready(ledger, host) == H
    host.settle()
    fig = ledger.figures(host)
    assert (fig.ready_mb, fig.headroom_from_dom0_mb) == (H, H - FREE)
    # Nothing moves a second time; the baseline is not swallowed.
    assert ledger.keep_headroom(host, H) == H - FREE
    assert host.sets == [DOM0 - (H - FREE)]
    assert ledger.baseline() == DOM0
    # Placement sees the same host: the headroom is dom0's memory, free.
    assert fig.available_mb == FREE + DOM0 - FLOOR


def test_a_spawn_takes_the_headroom_first():
    ledger, host = kept()
    small = ledger.reserve(host, 'small', 6000)
    assert (small.from_free_mb, small.from_dom0_mb) == (6000, 0)
    big = ledger.reserve(host, 'big', 14000)
    # What is left of the headroom, then dom0 for the rest.
    assert (big.from_free_mb, big.from_dom0_mb) == (H - 6000, 14000 - 4000)
    assert ledger.target() == DOM0 - (H - FREE) - 10000


def test_nothing_moves_while_a_spawn_waits_and_nothing_is_promised_twice():
    ledger, host = kept()
    a = ledger.reserve(host, 'a', 6000)
    assert ledger.keep_headroom(host, H) is None
    assert ledger.keep_headroom(host, 0) is None
    b = ledger.reserve(host, 'b', 6000)
    # Both together took the headroom once: 10000 MiB, not 12000.
    assert a.from_free_mb + b.from_free_mb == H
    assert ledger.figures(host).reserved_mb == 12000


def test_re_established_after_a_spawn_and_given_back_after_a_destroy():
    ledger, host = kept()
    spawned(ledger, host, 'vm', 6000)
    assert ready(ledger, host) == H - 6000
    assert ledger.keep_headroom(host, H) == H - FREE + 6000
    assert host.target == DOM0 - (H - FREE) - 6000
    host.settle()
    assert ledger.figures(host).ready_mb == H
    # The destroy: the domain's memory comes back as free memory.
    ledger.forget_domain('vm', reinflate=True)
    host.gone('vm')
    assert ledger.keep_headroom(host, H) == H - FREE
    assert host.target == DOM0 - (H - FREE)
    host.settle()
    assert ledger.figures(host).ready_mb == H


def test_a_spawn_bigger_than_the_headroom_asks_dom0_for_the_rest_only():
    ledger, host = kept()
    res = spawned(ledger, host, 'big', 30000)
    assert res.from_dom0_mb == 30000 - H
    assert ledger.keep_headroom(host, H) == H - FREE + H
    host.settle()
    assert ledger.figures(host).ready_mb == H
    assert host.target == DOM0 - 30000 - (H - FREE)


def test_given_back_when_the_headroom_is_set_to_0():
    ledger, host = kept()
    assert ledger.keep_headroom(host, 0) == 0
    assert host.target == DOM0
    debt, _ = ledger.debts()
    assert debt is None  # owed, then paid by the same call
    # Nothing live: dom0's size is its own again.
    host.target = host.dom0 = DOM0 - 100
    assert ledger.figures(host).dom0_target_mb == DOM0 - 100
    assert ledger.baseline() == DOM0 - 100
    # With none wanted and none held, the host is not even looked at.
    assert ledger.keep_headroom(None, 0) is None


def test_more_free_than_wanted_gives_nothing_from_dom0():
    host = Host(free=20000, dom0=DOM0 - 20000 + FREE)
    ledger = test_ledger.make()
    assert ledger.keep_headroom(host, H) == 0
    assert host.sets == []


def test_the_floor_is_respected():
    host = Host()
    ledger = test_ledger.make()
    assert ledger.keep_headroom(host, 100000) == DOM0 - FLOOR
    assert host.target == FLOOR
    host.settle()
    # The whole host is free: nothing is left to balloon.
    fig = ledger.figures(host)
    assert (fig.balloonable_mb, fig.ready_mb) == (0, FREE + DOM0 - FLOOR)
    # A shortfall's top-up finds nothing above the floor either.
    res = ledger.reserve(host, 'a', 1000)
    assert ledger.top_up(res.id, 500, 1024) == 0


def test_a_destroy_or_a_stop_under_way_leaves_it_alone():
    ledger, host = kept()
    spawned(ledger, host, 'vm', 6000)
    ledger.hold_for_destroy(host, 'destroy-1', 'vm')
    host.gone('vm')  # half-way: the domain is gone, its entry is not
    assert ledger.keep_headroom(host, H) is None
    ledger.forget_domain('vm', reinflate=True)
    assert ledger.keep_headroom(host, H) == H - FREE


def test_a_stored_document_without_the_figure_reads_as_none_held():
    old = {'baseline_mb': DOM0, 'entries': {}, 'next_seq': 0,
           'dom0_debt': None, 'to_destroy': {}}
    assert arithmetic.upgrade(old)[headroom.KEY] == 0


@pytest.mark.parametrize('want', [H, 0])
def test_killed_at_dom0_leaves_a_document_recovery_finishes(want):
    """kill -9 between the stored figure and dom0's target, either way."""
    storage = ledger_mod.MemoryStorage()
    host = Host()
    ledger = test_ledger.make(storage)
    if want == 0:
        ledger.keep_headroom(host, H)
        host.settle()
    host.kill_at_set = True
    with pytest.raises(Killed):
        ledger.keep_headroom(host, want)
    host.kill_at_set = False
    # Stored first: the ledger already derives the new target.
    wanted = DOM0 - (H - FREE) if want else DOM0
    restarted = test_ledger.make(storage)
    assert restarted.figures(host).dom0_target_mb != wanted
    with storage.snapshot() as state:
        assert arithmetic.derived(state, FLOOR) == wanted
    # Start-up: debts first (recovery), then the headroom (init_host).
    restarted.settle(host)
    restarted.keep_headroom(host, want)
    assert host.target == wanted
    assert restarted.baseline() == DOM0
    host.settle()
    assert restarted.figures(host).ready_mb == (want or FREE)


def test_a_reading_1_mib_short_moves_nothing():
    ledger, host = kept()
    # dom0 half-way through a balloon: each figure rounded down.
    host.free -= 1
    assert ledger.keep_headroom(host, H) == H - FREE
    assert host.sets == [DOM0 - (H - FREE)]
    host.free -= 1
    assert ledger.keep_headroom(host, H) == H - FREE + 2
