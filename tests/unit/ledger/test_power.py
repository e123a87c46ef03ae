"""A stopped guest in the ledger: its memory stays promised to it."""

import pytest

from tests.unit.ledger import test_ledger
from xenballoon_driver import exception
from xenballoon_driver.ledger import arithmetic
from xenballoon_driver.ledger import reconcile

FakeHost = test_ledger.FakeHost
SPEC = {'name': 'a', 'memory_mb': 9998, 'vcpus': 1, 'guest_type': 'pv',
        'uuid': None, 'disks': [], 'vifs': []}


class Host(FakeHost):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.domains = {}

    def run(self, name, mb):
        """``name``'s domain is built: it holds ``mb`` from free memory."""
        self.domains[name] = mb
        self.free -= mb

    def gone(self, name):
        self.free += self.domains.pop(name)

    def balloon_done(self, target):
        self.free += self.dom0 - target
        self.dom0 = self.target = target


def running_guest(ledger, host, name='a', need=10000, spec=SPEC):
    """A guest spawned as the spawn flow does: reserve, balloon, build."""
    res = ledger.reserve(host, name, need, res_id='flow-' + name,
                         memory_mb=need - 2, spec=spec)
    host.balloon_done(ledger.target())
    ledger.mark_building(res.id)
    host.run(name, need)
    ledger.commit(res.id)
    return res


def stop(ledger, host, name='a', saved=None):
    """A power-off as its flow does it: mark, shut down, done."""
    res_id, _was = ledger.stop(name, 'flow-off')
    host.gone(name)
    ledger.stop_done(res_id, 'flow-off', saved)


def test_reserve_keeps_the_spec_for_power_on():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    entry, = ledger.entries().values()
    assert entry['spec'] == SPEC and entry['state'] == 'domain'


def test_stopped_guest_counts_what_its_domain_lets_go_of():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    available = ledger.figures(host).available_mb
    assert ledger.stop('a', 'flow-off') == ('flow-a', 'domain')
    # Shutting down: the domain still holds it all, nothing more promised.
    assert ledger.figures(host).reserved_mb == 0
    host.domains['a'] = 4000  # half let go
    host.free += 6000
    assert ledger.figures(host).reserved_mb == 6000
    host.gone('a')
    ledger.stop_done('flow-a', 'flow-off')
    fig = ledger.figures(host)
    # All of it free in Xen, all of it promised: nobody else's.
    assert fig.free_mb == 10000 and fig.reserved_mb == 10000
    assert fig.available_mb == available
    # dom0 keeps its target: the memory is not lent to dom0.
    assert ledger.target() == 57344 - 1808


def test_stopped_guests_memory_is_never_given_to_another_spawn():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    stop(ledger, host)
    # What is left is dom0's, down to its floor; free memory is a's.
    crowd = ledger.reserve(host, 'b', ledger.figures(host).available_mb)
    assert crowd.from_free_mb == 0
    with pytest.raises(exception.NotEnoughMemory):
        ledger.reserve(host, 'c', 1)
    # The power-on finds its memory free, ahead of the crowd.
    started = ledger.start('a', 'flow-on')
    assert started['id'] == 'flow-a' and started['was'] == 'stopped'
    free, ahead = ledger.free_for('flow-a', host.snapshot())
    assert (free, ahead) == (10000, False)


def test_start_keeps_id_and_seq_and_failure_goes_back_to_stopped():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    stop(ledger, host)
    before = ledger.entries()['flow-a']
    started = ledger.start('a', 'flow-on')
    assert started['spec'] == SPEC and started['need_mb'] == 10000
    entry = ledger.entries()['flow-a']
    assert entry['state'] == 'building' and entry['seq'] == before['seq']
    assert entry['starting'] == 'flow-on'
    # The same start run again (a resumed flow) is a no-op.
    assert ledger.start('a', 'flow-on')['was'] == 'stopped'
    # Another start meanwhile is refused.
    with pytest.raises(exception.DomainBusy, match='being started'):
        ledger.start('a', 'flow-other')
    ledger.unstart('flow-a', 'flow-on')
    ledger.unstart('flow-a', 'flow-on')
    assert ledger.entries()['flow-a'] == before
    # dom0 was never given the memory back.
    assert ledger.target() == 57344 - 1808
    # The reverts of a spawn never take a stopped guest's memory.
    ledger.return_dom0('flow-a')
    ledger.release('flow-other')
    assert ledger.entries()['flow-a'] == before


def test_start_commit_makes_it_a_domain_again():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    stop(ledger, host, saved='/var/lib/xenballoon/saved/a.save')
    assert ledger.start('a', 'flow-on')['saved'].endswith('a.save')
    host.run('a', 10000)
    ledger.commit('flow-a')
    entry = ledger.entries()['flow-a']
    assert entry['state'] == 'domain'
    assert 'starting' not in entry and 'saved' not in entry
    # Running already: start says so and changes nothing.
    assert ledger.start('a', 'flow-2')['was'] == 'domain'
    assert ledger.entries()['flow-a'] == entry


def test_entry_of_an_older_release_cannot_be_started():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host, spec=None)
    stop(ledger, host)
    before = ledger.entries()
    with pytest.raises(exception.InvalidInput, match='older release'):
        ledger.start('a', 'flow-on')
    with pytest.raises(exception.InvalidInput, match='older release'):
        ledger.set_vifs('a', [])
    assert ledger.entries() == before


def test_stop_and_start_of_unknown_or_busy_guests():
    ledger, host = test_ledger.make(), Host()
    for call in (lambda: ledger.stop('ghost', 'f'),
                 lambda: ledger.start('ghost', 'f')):
        with pytest.raises(exception.DomainNotFound):
            call()
    ledger.reserve(host, 'b', 1000, res_id='flow-b')
    with pytest.raises(exception.DomainBusy):
        ledger.stop('b', 'f')
    running_guest(ledger, host)
    ledger.stop('a', 'flow-off')
    # Still shutting down: no start, no second stop.
    with pytest.raises(exception.DomainBusy, match='being stopped'):
        ledger.start('a', 'flow-on')
    with pytest.raises(exception.DomainBusy):
        ledger.stop('a', 'flow-off-2')
    assert ledger.stop('a', 'flow-off') == ('flow-a', 'stopped')
    host.gone('a')
    ledger.stop_done('flow-a', 'flow-off')
    ledger.hold_for_destroy(host, 'flow-destroy', 'a')
    with pytest.raises(exception.DomainBusy, match='being destroyed'):
        ledger.start('a', 'flow-on')


def test_unstop_only_by_the_power_off_that_stopped_it():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    ledger.stop('a', 'flow-off')
    ledger.unstop('flow-a', 'flow-other')
    assert ledger.entries()['flow-a']['state'] == 'stopped'
    ledger.unstop('flow-a', 'flow-off')
    entry = ledger.entries()['flow-a']
    assert entry['state'] == 'domain' and 'stopping' not in entry


def test_reconcile_drops_the_mark_of_a_power_off_whose_flow_is_gone():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    ledger.stop('a', 'flow-off')
    host.gone('a')
    states = {'flow-a': 'SUCCESS', 'flow-off': None}
    assert reconcile.reconcile(ledger, host, lambda ids: states,
                               lambda flow_id: False, clean=True) == []
    states['flow-off'] = 'SUCCESS'
    orphan, = reconcile.reconcile(ledger, host, lambda ids: states,
                                  lambda flow_id: False, clean=True)
    assert 'flow-off' in orphan.detail
    entry = ledger.entries()['flow-a']
    assert entry['state'] == 'stopped' and 'stopping' not in entry
    ledger.start('a', 'flow-on')  # no longer held


def test_destroy_of_a_stopped_guest_drops_it_and_owes_dom0():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    stop(ledger, host)
    assert ledger.hold_for_destroy(host, 'flow-destroy', 'a') is True
    assert ledger.forget_domain('a', reinflate=True) == 57344
    assert ledger.entries() == {}
    assert ledger.debts()[0]['reason'] == 'the destroy of a'


def test_placement_still_counts_a_stopped_guest():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    stop(ledger, host)
    with ledger.storage.locked() as state:
        assert arithmetic.guest_memory_mb(state, 64) == 9998


def test_set_vifs_changes_the_stored_spec():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    vifs = [{'mac': 'fa:16:3e:00:00:01', 'bridge': 'br100'}]
    ledger.set_vifs('a', vifs)
    assert ledger.entries()['flow-a']['spec']['vifs'] == vifs
    with pytest.raises(exception.DomainNotFound):
        ledger.set_vifs('ghost', vifs)


def test_reconcile_leaves_a_stopped_guest_alone():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    stop(ledger, host)
    before = ledger.entries()
    orphans = reconcile.reconcile(ledger, host,
                                  lambda ids: {'flow-a': 'SUCCESS'},
                                  lambda flow_id: False, clean=True)
    assert orphans == [] and ledger.entries() == before


def test_reconcile_puts_a_start_whose_flow_is_gone_back_to_stopped():
    ledger, host = test_ledger.make(), Host()
    running_guest(ledger, host)
    stop(ledger, host)
    stopped = ledger.entries()['flow-a']
    ledger.start('a', 'flow-on')
    # The spawn's flow is long finished; the start's is alive: left alone.
    states = {'flow-a': 'SUCCESS', 'flow-on': None}
    assert reconcile.reconcile(ledger, host, lambda ids: states,
                               lambda flow_id: False, clean=True) == []
    # The start's flow finished without undoing it (a lost record).
    states['flow-on'] = 'REVERTED'
    orphan, = reconcile.reconcile(ledger, host, lambda ids: states,
                                  lambda flow_id: flow_id == 'flow-a',
                                  clean=True)
    assert (orphan.kind, orphan.action) == ('stale-reservation', 'released')
    assert 'flow-on' in orphan.detail
    assert ledger.entries()['flow-a'] == stopped
