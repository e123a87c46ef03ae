"""The reservation ledger and dom0's derived target."""

import multiprocessing

import pytest

from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base
from xenballoon_driver import ledger as ledger_mod
from xenballoon_driver import locks
from xenballoon_driver import persistence


class FakeHost:
    def __init__(self, total=65536, free=8192, dom0=57344, target=None):
        self.total, self.free, self.dom0 = total, free, dom0
        self.target = dom0 if target is None else target

    def host_memory(self):
        return base.HostMemory(total_mb=self.total, free_mb=self.free)

    def dom0_memory(self):
        return base.Dom0Memory(current_mb=self.dom0, target_mb=self.target)

    def snapshot(self):
        return base.Snapshot(host=self.host_memory(), dom0=self.dom0_memory(),
                             domains=dict(self.domains))

    def list_domains(self):
        return [base.DomainInfo(name=name, domid=i + 1, memory_mb=mb,
                                vcpus=1, state='building')
                for i, (name, mb) in enumerate(self.domains.items())]

    domains = {}


def make(storage=None, floor=4096):
    return ledger_mod.Ledger(storage or ledger_mod.MemoryStorage(), floor)


def test_reserve_splits_between_free_and_dom0():
    ledger = make()
    res = ledger.reserve(FakeHost(), 'a', 10000)
    assert (res.from_free_mb, res.from_dom0_mb) == (8192, 1808)
    assert res.dom0_target_mb == 57344 - 1808
    assert ledger.target() == 57344 - 1808


def test_second_reservation_does_not_count_the_same_free_memory():
    ledger = make()
    host = FakeHost()
    ledger.reserve(host, 'a', 6000)
    res = ledger.reserve(host, 'b', 6000)
    assert res.from_free_mb == 2192 and res.from_dom0_mb == 3808
    fig = ledger.figures(host)
    assert fig.reserved_mb == 12000


def test_refusal_names_the_numbers_and_writes_nothing():
    ledger = make()
    with pytest.raises(exception.NotEnoughMemory) as err:
        ledger.reserve(FakeHost(), 'big', 70000)
    assert err.value.available_mb == 8192 + 57344 - 4096
    assert err.value.need_mb == 70000
    assert ledger.entries() == {}


def test_target_never_below_floor():
    ledger = make(floor=4096)
    res = ledger.reserve(FakeHost(), 'all', 8192 + 57344 - 4096)
    assert res.dom0_target_mb == 4096


def test_release_gives_back_only_its_own_share():
    ledger = make()
    host = FakeHost()
    a = ledger.reserve(host, 'a', 10000)
    b = ledger.reserve(host, 'b', 5000)
    both = ledger.target()
    assert both == 57344 - 1808 - 5000
    ledger.release(b.id)
    assert ledger.target() == 57344 - a.from_dom0_mb
    ledger.release(b.id)  # idempotent
    assert ledger.target() == 57344 - a.from_dom0_mb


def test_return_dom0_keeps_the_reservation_but_not_its_dom0_share():
    ledger = make()
    res = ledger.reserve(FakeHost(), 'a', 10000)
    assert 0 < res.from_free_mb < res.need_mb
    ledger.return_dom0(res.id)
    ledger.return_dom0(res.id)
    assert ledger.target() == 57344
    # What dom0 gave goes back to dom0 alone: the entry keeps only what
    # was free, so no MiB is promised to both until it is released.
    entry = ledger.entries()[res.id]
    assert (entry['need_mb'], entry['from_free_mb'],
            entry['from_dom0_mb']) == (res.from_free_mb, res.from_free_mb, 0)


def test_destroy_with_and_without_reinflate():
    host = FakeHost()
    ledger = make()
    res = ledger.reserve(host, 'a', 10000)
    ledger.commit(res.id)
    host.dom0 = host.target = res.dom0_target_mb
    assert ledger.forget_domain('a', reinflate=True) == 57344

    ledger = make()
    host = FakeHost()
    res = ledger.reserve(host, 'a', 10000)
    ledger.commit(res.id)
    host.dom0 = host.target = res.dom0_target_mb
    assert ledger.forget_domain('a', reinflate=False) == res.dom0_target_mb


def test_first_come_first_served():
    ledger = make()
    host = FakeHost()
    first = ledger.reserve(host, 'a', 1000)
    second = ledger.reserve(host, 'b', 3000)
    # The first waits only for its own memory, the second for both.
    assert ledger.free_for(first.id, host.snapshot()) == (8192, False)
    assert ledger.free_for(second.id, host.snapshot()) == (
        8192 - 1000, False)
    assert ledger.figures(host).reserved_mb == 4000


def test_a_build_in_progress_is_not_counted_twice():
    ledger = make()
    host = FakeHost()
    first = ledger.reserve(host, 'a', 5000)
    second = ledger.reserve(host, 'b', 3000)
    ledger.mark_building(first.id)
    host.domains = {'a': 2000}  # 2000 MiB already populated
    host.free = 8192 - 2000
    # ... and knows it waits behind a build in progress.
    assert ledger.free_for(second.id, host.snapshot()) == (
        host.free - 3000, True)
    assert ledger.figures(host).reserved_mb == 3000 + 3000
    ledger.commit(first.id)
    host.domains = {'a': 5000}
    host.free = 8192 - 5000
    assert ledger.free_for(second.id, host.snapshot()) == (
        8192 - 5000, False)
    assert ledger.figures(host).reserved_mb == 3000


def test_duplicate_name_is_refused():
    ledger = make()
    ledger.reserve(FakeHost(), 'a', 1000)
    with pytest.raises(exception.DomainExists):
        ledger.reserve(FakeHost(), 'a', 1000)


def _reserve_in_child(directory, name, queue):
    try:
        ledger = ledger_mod.Ledger(sql_storage(directory), 4096)
        ledger.reserve(FakeHost(), name, 30000)
        queue.put((name, 'ok'))
    except exception.NotEnoughMemory:
        queue.put((name, 'refused'))
    except Exception as err:  # shown by the test, not lost with the child
        queue.put((name, 'error: %r' % err))


def sql_storage(directory, host='host1', url=None):
    """The ledger of ``host`` in the flows' database at ``url``."""
    url = url or 'sqlite:///%s/flows.sqlite' % directory
    return ledger_mod.DocumentStorage(persistence.open_url(url).documents,
                                      host, locks.ledger_path(directory))


def test_sql_ledger_is_shared_by_processes(tmp_path):
    # Room for two 30000 MiB reservations (8192 + 57344 - 4096 = 61440),
    # not three, whichever processes ask.
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_reserve_in_child,
                                     args=(str(tmp_path), 'vm%d' % i, queue))
             for i in range(3)]
    for p in procs:
        p.start()
    # Read before the joins, with a loaded machine's patience: a child
    # that is slow to start is not a failure of the ledger.
    results = sorted(queue.get(timeout=120)[1] for _ in procs)
    for p in procs:
        p.join(30)
    assert results == ['ok', 'ok', 'refused']
    ledger = make(sql_storage(str(tmp_path)))
    assert len(ledger.entries()) == 2


def test_sql_ledger_keeps_one_document_per_host(tmp_path):
    one = make(sql_storage(str(tmp_path), 'host1'))
    two = make(sql_storage(str(tmp_path), 'host2'))
    one.reserve(FakeHost(), 'a', 1000)
    assert len(one.entries()) == 1 and two.entries() == {}


def test_unusable_database_is_a_clear_error(tmp_path):
    with pytest.raises(exception.InvalidConfig, match='persistence'):
        sql_storage(str(tmp_path), 'h', 'nosuchdb://x/y')


# -- a destroy's hold on the name ------------------------------------------


def test_destroy_hold_refuses_a_spawn_of_that_name_meanwhile():
    ledger, host = make(), FakeHost()
    assert ledger.hold_for_destroy(host, 'd1', 'vm1') is False
    with pytest.raises(exception.DomainExists):
        ledger.reserve(host, 'vm1', 1024)
    # Other names, and the memory figures, are untouched by the hold.
    ledger.reserve(host, 'vm2', 1024)
    assert ledger.figures(host).reserved_mb == 1024
    ledger.release('d1')
    ledger.reserve(host, 'vm1', 1024)


def test_destroy_hold_is_busy_while_the_name_spawns():
    ledger, host = make(), FakeHost()
    res = ledger.reserve(host, 'vm1', 1024)
    with pytest.raises(exception.DomainBusy):
        ledger.hold_for_destroy(host, 'd1', 'vm1')
    ledger.mark_building(res.id)
    with pytest.raises(exception.DomainBusy):
        ledger.hold_for_destroy(host, 'd1', 'vm1')
    assert set(ledger.entries()) == {res.id}
    ledger.commit(res.id)
    assert ledger.hold_for_destroy(host, 'd1', 'vm1') is True
    # Resumed after a crash: the same hold, taken again, is harmless.
    assert ledger.hold_for_destroy(host, 'd1', 'vm1') is True
    assert len(ledger.entries()) == 2
    # The domain's entry and the hold go together.
    ledger.forget_domain('vm1', reinflate=True)
    assert ledger.entries() == {}
    assert ledger.target() is None


# -- what the host is owed -------------------------------------------------


class Toolstack(FakeHost):
    """A FakeHost whose mem-set and destroy can fail, hang or lie.

    ``mem_set_fault``: None (works), 'error', 'hang' (a timed-out call, as
    the xl backend raises it), 'ignore' (returns, sets nothing) or
    'garbage' (an error that is not the project's). Only raises of the
    target fail: cutting dom0 for a spawn works throughout.
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self.domains = {}
        self.mem_set_fault = None
        self.destroy_fails = False
        self.mem_sets = []

    def set_dom0_target(self, target_mb):
        self.mem_sets.append(target_mb)
        fault = self.mem_set_fault if target_mb > self.target else None
        if fault == 'error':
            raise exception.ToolstackError(call='mem-set', reason='xl: boom')
        if fault == 'hang':
            raise exception.ToolstackError(call='mem-set',
                                           reason='timed out after 60 s')
        if fault == 'garbage':
            raise ValueError('unparsable xl output: \x00\x01')
        if fault != 'ignore':
            self.target = target_mb

    def destroy_domain(self, name):
        if name not in self.domains:
            raise exception.DomainNotFound(name=name)
        if self.destroy_fails:
            raise exception.ToolstackError(call='destroy %s' % name,
                                           reason='still there')
        self.free += self.domains.pop(name)


def built(ledger, host, name='a', need=10000):
    """A domain of ``need`` MiB, built: dom0 shrank, free memory went."""
    res = ledger.reserve(host, name, need)
    assert ledger.apply_target(host)[0] == res.dom0_target_mb
    host.dom0 = host.target
    ledger.mark_building(res.id)
    ledger.commit(res.id)
    host.free -= res.from_free_mb
    host.domains[name] = need
    return res


def destroyed(ledger, host, name='a'):
    """The domain goes; its memory is free until dom0 grows back."""
    host.destroy_domain(name)
    ledger.forget_domain(name, reinflate=True)
    return ledger.apply_target(host)[0]


@pytest.mark.parametrize('fault', ['error', 'hang', 'ignore', 'garbage'])
def test_a_failed_give_back_is_owed_not_lost(fault, tmp_path):
    host = Toolstack()
    ledger = make(sql_storage(str(tmp_path)))
    fresh = ledger.figures(host)
    res = built(ledger, host)
    host.mem_set_fault = fault
    assert destroyed(ledger, host) == 57344   # not raised: owed
    assert host.target == res.dom0_target_mb  # dom0 did not get it
    # Another process (a new Ledger on the same store) sees the debt; the
    # shrunken target is not taken as the new baseline.
    again = make(sql_storage(str(tmp_path)))
    fig = again.figures(host)
    assert fig.dom0_owed_mb == res.from_dom0_mb == 1808
    assert again.baseline() == 57344
    assert fig.available_mb == fresh.available_mb  # it does not grow
    debt, owed = again.debts()
    assert debt['reason'] == 'the destroy of a'
    assert debt['error'] and '\n' not in debt['error']
    assert owed == {}
    # Still failing: settle reports it owed, and keeps it.
    debt_row, = again.settle(host)
    assert (debt_row.kind, debt_row.owed_mb, debt_row.paid) == (
        ledger_mod.DOM0_DEBT, 1808, False)
    assert again.figures(host).dom0_owed_mb == 1808
    # Healed: the next settle pays it, once.
    host.mem_set_fault = None
    debt_row, = again.settle(host)
    assert (debt_row.owed_mb, debt_row.paid, debt_row.error) == (
        1808, True, '')
    assert host.target == 57344
    assert again.debts() == (None, {})
    assert again.settle(host) == []
    host.free -= host.target - host.dom0  # dom0 grows back
    host.dom0 = host.target
    assert again.figures(host) == fresh


def test_the_next_target_applied_pays_the_debt():
    host = Toolstack()
    ledger = make()
    built(ledger, host)
    host.mem_set_fault = 'error'
    destroyed(ledger, host)
    host.mem_set_fault = None
    # A spawn that needs less than was owed: dom0 still grows, to the
    # derived target, and the debt is closed.
    res = ledger.reserve(host, 'b', 9000)
    assert ledger.apply_target(host)[0] == res.dom0_target_mb == 57344 - (
        9000 - res.from_free_mb)
    assert host.target == res.dom0_target_mb
    assert ledger.debts() == (None, {})
    assert ledger.figures(host).dom0_owed_mb == 0


def test_the_debt_is_written_with_the_change_before_any_mem_set(tmp_path):
    # A kill -9 between forgetting the domain and xl mem-set: the debt is
    # already in the stored document.
    host = Toolstack()
    ledger = make(sql_storage(str(tmp_path)))
    built(ledger, host)
    host.destroy_domain('a')
    ledger.forget_domain('a', reinflate=True)
    after_crash = make(sql_storage(str(tmp_path)))
    assert after_crash.figures(host).dom0_owed_mb == 1808
    assert after_crash.settle(host)[0].paid is True
    assert host.target == 57344


def test_a_release_and_a_returned_share_are_owed_too():
    host = Toolstack()
    ledger = make()
    res = ledger.reserve(host, 'a', 10000)
    ledger.apply_target(host)
    host.mem_set_fault = 'hang'
    ledger.return_dom0(res.id)
    ledger.apply_target(host)
    assert ledger.debts()[0]['reason'] == 'the revert of a'
    ledger.release(res.id)
    ledger.apply_target(host)
    assert ledger.figures(host).dom0_owed_mb == 1808
    host.mem_set_fault = None
    assert [d.paid for d in ledger.settle(host)] == [True]


def test_a_failed_cut_is_raised_and_nothing_is_owed():
    host = Toolstack()
    ledger = make()
    ledger.reserve(host, 'a', 10000)

    def refuse(target_mb):
        raise exception.ToolstackError(call='mem-set', reason='no')
    host.set_dom0_target = refuse
    with pytest.raises(exception.ToolstackError):
        ledger.apply_target(host)
    assert ledger.debts() == (None, {})


def test_without_reinflate_nothing_is_owed():
    host = Toolstack()
    ledger = make()
    res = built(ledger, host)
    host.destroy_domain('a')
    ledger.forget_domain('a', reinflate=False)
    assert ledger.apply_target(host)[0] == res.dom0_target_mb
    assert ledger.debts() == (None, {})
    assert ledger.figures(host).dom0_owed_mb == 0


def test_an_owed_destroy_is_retried_until_done():
    host = Toolstack()
    ledger = make()
    host.domains['p'] = 3000
    host.free -= 3000
    ledger.owe_destroy('p', 'the revert of the spawn of p failed')
    entries, owed, on_host = ledger.census(host)
    assert (entries, owed, on_host) == ({}, {'p'}, {'p'})
    host.destroy_fails = True
    row, = ledger.settle(host)
    assert (row.kind, row.name, row.owed_mb, row.paid) == (
        ledger_mod.DESTROY_DEBT, 'p', 3000, False)
    assert 'still there' in row.error
    host.destroy_fails = False
    row, = ledger.settle(host)
    assert row.paid and 'p' not in host.domains
    assert ledger.settle(host) == []


def test_an_owed_destroy_of_a_domain_already_gone_is_paid():
    host = Toolstack()
    ledger = make()
    ledger.owe_destroy('p', 'why')
    row, = ledger.settle(host)
    assert row.paid
    # And a spawn of that name is not taken for the old one.
    ledger.owe_destroy('q', 'why')
    ledger.reserve(host, 'q', 1000)
    assert ledger.debts() == (None, {})


def test_release_stale_only_if_the_entry_did_not_move_on():
    host = Toolstack()
    ledger = make()
    res = ledger.reserve(host, 'a', 1000)
    seen = ledger.entry(res.id)
    ledger.mark_building(res.id)
    assert ledger.release_stale(res.id, seen) is False
    assert ledger.release_stale(res.id, ledger.entry(res.id)) is True
    assert ledger.entries() == {}


def test_forget_vanished_leaves_a_name_being_destroyed_alone():
    host = Toolstack()
    ledger = make()
    built(ledger, host)
    ledger.hold_for_destroy(host, 'd1', 'a')
    host.domains.clear()
    assert ledger.forget_vanished(host, 'a') is False
    ledger.release('d1')
    assert ledger.forget_vanished(host, 'a') is True
    assert ledger.entries() == {}
    assert ledger.debts()[0] is not None  # dom0 is owed its share back


def test_destroy_unknown_never_touches_a_name_the_ledger_knows():
    host = Toolstack()
    ledger = make()
    host.domains.update({'mine': 100, 'stray': 100})
    ledger.reserve(Toolstack(), 'mine', 100)  # reserved, not yet built
    assert ledger.destroy_unknown(host, 'mine') is False
    assert ledger.destroy_unknown(host, 'stray') is True
    assert set(host.domains) == {'mine'}


def test_an_old_document_without_debts_is_read(tmp_path):
    storage = sql_storage(str(tmp_path))
    storage.documents.write('host1', '{"baseline_mb": 57344, '
                            '"entries": {}, "next_seq": 0}', exists=False)
    ledger = make(storage)
    assert ledger.debts() == (None, {})
    assert ledger.figures(Toolstack()).dom0_owed_mb == 0


def test_a_debt_is_one_warning_line_however_often_it_fails(caplog):
    host = Toolstack()
    ledger = make()
    built(ledger, host)
    host.mem_set_fault = 'error'
    caplog.set_level('INFO', logger=ledger_mod.__name__)
    destroyed(ledger, host)
    ledger.apply_target(host)
    ledger.settle(host)
    failures = [r for r in caplog.records if 'Giving dom0 back' in r.message]
    assert [r.levelname for r in failures] == ['WARNING', 'INFO', 'INFO']
    assert all(r.exc_info is None for r in failures)


def test_placement_view_counts_the_guests_own_memory():
    host, ledger = FakeHost(), make()
    ledger.reserve(host, 'a', 2068, memory_mb=2048)     # HVM 2 GiB/2 vCPU
    ledger.reserve(host, 'b', 514, memory_mb=512)       # PV 512 MiB
    fig, guests_mb = ledger.placement_view(host, max_vcpus=24)
    assert guests_mb == 2048 + 512
    assert fig == ledger.figures(host)
    assert fig.available_mb == 8192 + 57344 - 4096 - 2068 - 514
    assert sorted(e['memory_mb'] for e in ledger.entries().values()) == [
        512, 2048]


def test_an_entry_without_its_memory_counts_as_the_worst_overhead():
    # An entry written before entries kept the guest's memory: its guest
    # counts as small as it can be (HVM with 24 vCPUs: 2 MiB + 4 KiB x
    # (256 x 24 + 2 x 2068) = 42.2, rounded up to 44 MiB of overhead), so
    # placement's reserved is never short.
    host, ledger = FakeHost(), make()
    ledger.reserve(host, 'old', 2068)
    assert ledger.placement_view(host, max_vcpus=24)[1] == 2068 - 44


@pytest.mark.parametrize('policy', ['fifo', 'shortest'])
def test_memory_a_destroy_frees_is_dom0_s_until_its_entry_goes(policy):
    # vm1 took 1808 MiB from dom0. Destroyed, its memory is free before
    # forget_domain raises dom0's target by that much: a spawn reserved in
    # between must not take dom0's share as free (dom0 then grew back
    # into it, and the spawn waited on memory nobody would release).
    ledger = ledger_mod.Ledger(ledger_mod.MemoryStorage(), 4096,
                               ledger_mod.Policy(name=policy))
    host = FakeHost()
    vm1 = ledger.reserve(host, 'vm1', 10000)
    ledger.mark_building(vm1.id)
    host.dom0 = host.target = 57344 - 1808
    host.free, host.domains = 0, {'vm1': 10000}
    ledger.commit(vm1.id)
    ledger.hold_for_destroy(host, 'd1', 'vm1')
    host.free, host.domains = 10000, {}
    vm2 = ledger.reserve(host, 'vm2', 10000)
    assert (vm2.from_free_mb, vm2.from_dom0_mb) == (8192, 1808)
    assert vm2.free_mb == 8192
    mine, _building = ledger.free_for(vm2.id, host.snapshot())
    assert mine == 8192
    ledger.forget_domain('vm1', reinflate=True)
    ledger.release('d1')
    # dom0's target: back up by vm1's share, down by vm2's.
    assert ledger.target() == 57344 - 1808
    # While vm1 is still there (allocated), nothing of it counts.
    host.domains = {'vm1': 10000}
    assert ledger.figures(host).reserved_mb == 10000
