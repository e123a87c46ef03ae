"""What a failed give-back, destroy or revert step leaves: a debt, paid.

The real engine runs the real flows on a simulated host (virtual clock);
the backend's toolstack calls are made to fail, hang or do nothing, then
to work again, and recover() must leave the host as if nothing failed.
"""

import contextlib
import subprocess
import sys

import pytest

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.flows import recovery
from xenballoon_driver import ledger as ledger_mod

GiB = conftest.GiB
NEED_MB = 20 * GiB + 2           # a 20 GiB PV guest's footprint
FROM_DOM0_MB = NEED_MB - 8 * GiB  # the small host has 8 GiB free
FRESH_DOM0_MB = 56 * GiB


class Faults:
    """Makes the simulated backend's raises of dom0's target fail.

    'hang' sleeps on the virtual clock first, as a call timing out does.
    """

    def __init__(self, host):
        self.host = host
        self.mode = None
        self.destroy_fails = False
        backend = host.backend
        real_set, real_destroy = backend.set_dom0_target, \
            backend.destroy_domain

        def set_dom0_target(target_mb):
            raising = target_mb > host.dom0().target_mb
            if raising and self.mode == 'error':
                raise exception.ToolstackError(call='mem-set', reason='boom')
            if raising and self.mode == 'hang':
                host.clock.sleep(60)
                raise exception.ToolstackError(call='mem-set',
                                               reason='timed out after 60 s')
            if raising and self.mode == 'ignore':
                return
            real_set(target_mb)

        def destroy_domain(name):
            if self.destroy_fails:
                raise exception.ToolstackError(call='destroy %s' % name,
                                               reason='still there')
            real_destroy(name)
        backend.set_dom0_target = set_dom0_target
        backend.destroy_domain = destroy_domain


def consistent(host):
    """Ledger + guests + Xen within the host, nothing promised twice."""
    model = host.model
    used = model.dom0_mb + model.xen_mb + model.used_by_domains_mb()
    assert used <= model.total_mb + 1e-6
    fig = host.ledger.figures(host.backend)
    assert fig.available_mb + fig.reserved_mb <= (
        fig.free_mb + fig.dom0_current_mb - fig.dom0_min_mb)


@contextlib.contextmanager
def held_elsewhere(lock_dir, flow_id):
    """The flow's lock held by another process (a running destroy)."""
    script = ('import sys\n'
              'from xenballoon_driver.flows import engine\n'
              'with engine.owning(sys.argv[1], sys.argv[2]):\n'
              '    print("held", flush=True)\n'
              '    sys.stdin.read()\n')
    proc = subprocess.Popen([sys.executable, '-c', script, lock_dir,
                             flow_id], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == 'held\n'
        yield
    finally:
        proc.communicate('', timeout=60)


def rows(outcome):
    recovered, orphans = outcome
    assert recovered == []
    return [(o.kind, o.name, o.action) for o in orphans]


@pytest.mark.parametrize('mode', ['error', 'hang', 'ignore'])
def test_destroy_whose_reinflate_fails_owes_dom0_until_recover(sim, mode):
    host = sim()
    faults = Faults(host)
    fresh = host.ledger.figures(host.backend)
    host.driver.spawn('vm1', 20 * GiB)
    host.settle()
    faults.mode = mode
    host.driver.destroy('vm1')  # the domain is gone: the destroy succeeds
    assert host.backend.list_domains() == []
    assert host.dom0().target_mb == FRESH_DOM0_MB - FROM_DOM0_MB
    status = host.driver.host_status()
    assert status['dom0_owed_mb'] == FROM_DOM0_MB
    assert status['available_mb'] == fresh.available_mb  # no more
    consistent(host)
    # Still failing: recover reports it owed, and the next look too.
    assert rows(host.driver.recover()) == [
        (ledger_mod.DOM0_DEBT, 'Domain-0', 'owed')]
    assert host.driver.host_status()['dom0_owed_mb'] == FROM_DOM0_MB
    faults.mode = None
    recovered, (row,) = host.driver.recover()
    assert (row.kind, row.action) == (ledger_mod.DOM0_DEBT, 'paid')
    assert 'owed %d MiB after the destroy of vm1' % FROM_DOM0_MB in row.detail
    assert host.dom0().target_mb == FRESH_DOM0_MB
    assert host.ledger.debts() == (None, {})
    host.settle()
    consistent(host)
    assert host.ledger.figures(host.backend) == fresh
    assert rows(host.driver.recover()) == []  # paid once


def test_spawn_revert_whose_reinflate_fails_owes_dom0(sim):
    host = sim(build={'fail_at_fraction': 0.5})
    faults = Faults(host)
    faults.mode = 'error'
    with pytest.raises(exception.BuildFailed):
        host.driver.spawn('vm1', 20 * GiB)
    assert host.ledger.entries() == {}
    assert host.driver.host_status()['dom0_owed_mb'] == FROM_DOM0_MB
    assert host.ledger.baseline() == FRESH_DOM0_MB
    faults.mode = None
    assert rows(host.driver.recover()) == [
        (ledger_mod.DOM0_DEBT, 'Domain-0', 'paid')]
    assert host.dom0().target_mb == FRESH_DOM0_MB
    consistent(host)


def test_a_partial_domain_the_revert_cannot_destroy_is_owed(sim, caplog):
    host = sim(build={'fail_at_fraction': 0.5})
    faults = Faults(host)
    faults.destroy_fails = True
    with pytest.raises(exception.BuildFailed):
        host.driver.spawn('vm1', 20 * GiB)
    # One line, no traceback; recorded for recover.
    line, = [r for r in caplog.records if 'While reverting' in r.message]
    assert line.exc_info is None and '\n' not in line.getMessage()
    assert 'destroying vm1 failed' in line.getMessage()
    assert [d.name for d in host.backend.list_domains()] == ['vm1']
    owed = host.ledger.debts()[1]
    assert list(owed) == ['vm1'] and 'still there' in owed['vm1']
    # Not an unknown domain: the ledger knows it owes its destroy.
    assert recovery.reconcile(host.driver) == []
    assert rows(host.driver.recover()) == [
        (ledger_mod.DESTROY_DEBT, 'vm1', 'owed')]
    faults.destroy_fails = False
    assert rows(host.driver.recover()) == [
        (ledger_mod.DESTROY_DEBT, 'vm1', 'destroyed')]
    assert host.backend.list_domains() == []
    assert rows(host.driver.recover()) == []
    host.settle()
    assert host.dom0().target_mb == FRESH_DOM0_MB
    consistent(host)


def test_destroy_that_leaves_the_domain_keeps_its_entry(sim):
    host = sim()
    faults = Faults(host)
    host.driver.spawn('vm1', 20 * GiB)
    target = host.dom0().target_mb
    before = host.ledger.entries()
    faults.destroy_fails = True
    with pytest.raises(exception.ToolstackError, match='still there'):
        host.driver.destroy('vm1')
    # Nothing forgotten: the domain's entry stays, the destroy's hold is
    # gone, dom0 keeps what the guest took.
    assert host.ledger.entries() == before
    assert host.dom0().target_mb == target
    assert host.driver.recover() == ([], [])
    faults.destroy_fails = False
    host.driver.destroy('vm1')
    assert host.ledger.entries() == {}
    assert host.dom0().target_mb == FRESH_DOM0_MB


# -- reconcile without races ------------------------------------------------


def test_an_entry_that_moves_on_after_the_census_is_not_stale(
        sim, conf, monkeypatch):
    # A reservation whose flow is not in the store is stale, unless the
    # spawn moves on (builds) between the census and the check.
    conf.flags('persistence', orphan_action='clean')
    host = sim()
    res = host.ledger.reserve(host.backend, 'vm1', 1024)
    real = host.ledger.census

    def census(backend):
        seen = real(backend)
        host.ledger.mark_building(res.id)
        return seen
    monkeypatch.setattr(host.ledger, 'census', census)
    assert recovery.reconcile(host.driver, clean=True) == []
    assert host.ledger.entries()[res.id]['state'] == ledger_mod.BUILDING
    monkeypatch.undo()
    orphan, = recovery.reconcile(host.driver, clean=True)
    assert (orphan.kind, orphan.action) == ('stale-reservation', 'released')
    assert host.ledger.entries() == {}


def test_a_name_being_destroyed_is_not_a_vanished_domain(sim):
    host = sim()
    host.driver.spawn('vm1', 1 * GiB)
    # The destroy has claimed the name and destroyed the domain, and has
    # not yet dropped the entry: in flight, not vanished.
    with held_elsewhere(host.driver.lock_dir, 'd1'):
        host.ledger.hold_for_destroy(host.backend, 'd1', 'vm1')
        host.model.destroy('vm1')
        assert recovery.reconcile(host.driver, clean=True) == []
    states = sorted(e['state'] for e in host.ledger.entries().values())
    assert states == [ledger_mod.DESTROYING, ledger_mod.DOMAIN]


def test_a_spawn_under_way_is_never_an_orphan(sim):
    # recover() in a loop while a spawn balloons and builds: nothing is
    # reported, nothing cleaned, the spawn ends running.
    host = sim(balloon={'release_rate_mb_s': 512})
    seen = []

    def recover_loop():
        for _ in range(40):
            seen.extend(recovery.reconcile(host.driver, clean=True))
            host.clock.sleep(1.0)
    results = host.clock.run([
        (0.0, lambda: host.driver.spawn('vm1', 20 * GiB)),
        (0.5, recover_loop)])
    assert [err for _, err in results] == [None, None]
    assert seen == []
    assert [d.name for d in host.backend.list_domains()] == ['vm1']
    consistent(host)
