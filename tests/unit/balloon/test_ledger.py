"""The reservation ledger and dom0's derived target."""

import multiprocessing

import pytest

from xenballoon_driver.balloon import ledger as ledger_mod
from xenballoon_driver.balloon import ledger_storage
from xenballoon_driver import exception
from xenballoon_driver.hypervisor import base


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
    return ledger_mod.Ledger(storage or ledger_storage.MemoryStorage(), floor)


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
    ledger.return_dom0(res.id)
    ledger.return_dom0(res.id)
    assert ledger.target() == 57344
    assert ledger.entries()[res.id]['need_mb'] == 10000


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
    ledger = ledger_mod.Ledger(sql_storage(directory), 4096)
    try:
        ledger.reserve(FakeHost(), name, 30000)
        queue.put((name, 'ok'))
    except exception.NotEnoughMemory:
        queue.put((name, 'refused'))


def sql_storage(directory):
    url = 'sqlite:///%s/flows.sqlite' % directory
    return ledger_storage.SqlStorage(url, 'host1', directory)


def test_sql_ledger_is_shared_by_processes(tmp_path):
    # Room for two 30000 MiB reservations (8192 + 57344 - 4096 = 61440),
    # not three, whichever processes ask.
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_reserve_in_child,
                                     args=(str(tmp_path), 'vm%d' % i, queue))
             for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    results = sorted(queue.get(timeout=5)[1] for _ in procs)
    assert results == ['ok', 'ok', 'refused']
    ledger = make(sql_storage(str(tmp_path)))
    assert len(ledger.entries()) == 2


def test_sql_ledger_keeps_one_document_per_host(tmp_path):
    url = 'sqlite:///%s/flows.sqlite' % tmp_path
    one = make(ledger_storage.SqlStorage(url, 'host1', str(tmp_path)))
    two = make(ledger_storage.SqlStorage(url, 'host2', str(tmp_path)))
    one.reserve(FakeHost(), 'a', 1000)
    assert len(one.entries()) == 1 and two.entries() == {}


def test_unusable_database_is_a_clear_error(tmp_path):
    with pytest.raises(exception.InvalidConfig, match='persistence'):
        ledger_storage.SqlStorage('nosuchdb://x/y', 'h', str(tmp_path))


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
