"""Shortfall top-ups in the ledger (ledger/shortfall.py): persisted with
the reservation, given back by a revert, a release or an unneeded-top-up
check, never below dom0's floor, bounded per spawn.
"""

from tests.unit.ledger import test_ledger as base_tests
from xenballoon_driver.hypervisor import base

FakeHost = base_tests.FakeHost
# FakeHost: 8192 MiB free, dom0 57344 MiB; the ledger's floor 4096 MiB.
NEED = 10000             # 1808 MiB of it from dom0


class Host(base_tests.FakeHost):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.domains = {}

    def set_dom0_target(self, target_mb):
        self.target = target_mb


def reserved(storage=None, need=NEED, floor=4096):
    ledger = base_tests.make(storage, floor)
    host = Host()
    res = ledger.reserve(host, 'vm1', need)
    return ledger, host, res


def test_top_up_lowers_the_derived_target_and_is_persisted(tmp_path):
    storage = base_tests.sql_storage(str(tmp_path))
    ledger, host, res = reserved(storage)
    assert ledger.top_up(res.id, 192, bound_mb=1024) == 192
    # Another process (a recovery) reads it from the database.
    again = base_tests.make(base_tests.sql_storage(str(tmp_path)))
    entry = again.entry(res.id)
    assert entry['from_dom0_mb'] == 1808 + 192
    assert entry['topup_mb'] == 192
    assert again.target() == 57344 - 1808 - 192


def test_top_ups_are_bounded_per_spawn():
    ledger, host, res = reserved()
    assert ledger.top_up(res.id, 700, bound_mb=1000) == 700
    assert ledger.top_up(res.id, 700, bound_mb=1000) == 300
    assert ledger.top_up(res.id, 700, bound_mb=1000) == 0
    assert ledger.target() == 57344 - 1808 - 1000


def test_a_bound_of_zero_never_tops_up():
    ledger, host, res = reserved()
    assert ledger.top_up(res.id, 64, bound_mb=0) == 0
    assert ledger.target() == 57344 - 1808


def test_top_up_never_goes_below_the_floor():
    # dom0 57344 MiB, floor 56000: 1344 MiB above it, of which the
    # reservation takes 1000; 344 are left for top-ups.
    ledger, host, res = reserved(need=8192 + 1000, floor=56000)
    assert ledger.top_up(res.id, 500, bound_mb=1024) == 344
    assert ledger.target() == 56000
    assert ledger.top_up(res.id, 500, bound_mb=1024) == 0


def test_revert_gives_the_top_up_back_with_the_rest():
    ledger, host, res = reserved()
    ledger.top_up(res.id, 192, bound_mb=1024)
    ledger.apply_target(host)
    assert host.target == 57344 - 2000
    ledger.return_dom0(res.id)           # BalloonDom0's revert
    ledger.apply_target(host)
    assert host.target == 57344


def test_release_gives_the_top_up_back():
    ledger, host, res = reserved()
    ledger.top_up(res.id, 192, bound_mb=1024)
    ledger.release(res.id)
    assert ledger.apply_target(host)[0] == 57344


def test_no_top_up_once_the_build_started():
    ledger, host, res = reserved()
    ledger.mark_building(res.id)
    assert ledger.top_up(res.id, 192, bound_mb=1024) == 0


def built(host, ledger, res, free_after):
    ledger.mark_building(res.id)
    host.domains = {'vm1': NEED}
    ledger.commit(res.id)
    host.free = free_after


def test_unneeded_top_up_goes_back_to_dom0_after_the_build():
    # A dip made 192 MiB look missing; it passed: they are free again.
    ledger, host, res = reserved()
    ledger.top_up(res.id, 192, bound_mb=1024)
    ledger.apply_target(host)
    built(host, ledger, res, free_after=192)
    assert ledger.return_top_up(host, res.id) == 192
    assert host.target == 57344 - 1808
    assert ledger.entry(res.id)['topup_mb'] == 0
    # Nothing more to give a second time (a resumed build).
    assert ledger.return_top_up(host, res.id) == 0


def test_a_persistent_shortfall_stays_with_the_guest():
    # Xen kept the 192 MiB: nothing free, the top-up stays until the
    # guest goes.
    ledger, host, res = reserved()
    ledger.top_up(res.id, 192, bound_mb=1024)
    ledger.apply_target(host)
    built(host, ledger, res, free_after=0)
    assert ledger.return_top_up(host, res.id) == 0
    assert host.target == 57344 - 2000
    ledger.forget_domain('vm1', reinflate=True)
    assert ledger.apply_target(host)[0] == 57344


def test_only_free_memory_promised_to_nobody_is_given_back():
    ledger, host, res = reserved()
    ledger.top_up(res.id, 192, bound_mb=1024)
    built(host, ledger, res, free_after=100)
    host.free = 100
    assert ledger.return_top_up(host, res.id) == 100
    assert ledger.entry(res.id)['topup_mb'] == 92


def test_return_top_up_does_not_look_without_a_top_up():
    ledger, host, res = reserved()

    def no_look():
        raise AssertionError('looked')
    host.snapshot = no_look
    assert ledger.return_top_up(host, res.id) == 0
    assert isinstance(host.dom0_memory(), base.Dom0Memory)
