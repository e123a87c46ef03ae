"""Recovery: flows rebuilt from storage alone, owned per host, re-read.

On SQLite, PostgreSQL and MariaDB. A process killed mid-flow is stood in
for by an exception no task catches (BaseException): the engine stops
where it is, leaving the flow's record as a kill -9 would, and the
flow's lock is released as the kernel would release it.
"""

import contextlib
import copy

import pytest
from taskflow import states

from tests import conftest
from xenballoon_driver import exception
from xenballoon_driver.flows import engine as engine_mod
from xenballoon_driver.flows import listing
from xenballoon_driver.flows import registry
from xenballoon_driver.flows import resume
from xenballoon_driver.flows import spawn as spawn_flow

GiB = conftest.GiB


class Killed(BaseException):
    """What the process would die of."""


@pytest.fixture
def hosts(conf, db_url):
    """``hosts(name)``: a simulated host storing its flows at db_url."""
    conf.flags('persistence', connection=db_url)

    def factory(name='host-a'):
        conf.flags('xenballoon', host=name)
        return conftest.SimHost(conf, conftest.make_scenario(),
                                persisted=True)
    return factory


def kill_at(host, method):
    """The next call of backend.``method`` kills the spawn."""
    def die(*args, **kwargs):
        raise Killed(method)
    setattr(host.backend, method, die)


def stored(host):
    """{flow id: (state, meta, {atom name: state})} as stored now."""
    out = {}
    with contextlib.closing(host.driver.persistence.get_connection()) as c:
        for book in c.get_logbooks():
            for detail in book:
                out[detail.uuid] = (detail.state, detail.meta,
                                    {a.name: a.state for a in detail})
    return out


def edit_meta(host, flow_id, **meta):
    """Damage a stored record as an older release or a bad write could."""
    with contextlib.closing(host.driver.persistence.get_connection()) as c:
        detail = c.get_flow_details(flow_id)
        detail.meta.update(meta)
        c.update_flow_details(detail)


def interrupted_spawn(host, name='vm1', memory_mb=20 * GiB,
                      at='set_dom0_target'):
    real = getattr(host.backend, at)
    kill_at(host, at)
    with pytest.raises(Killed):
        host.driver.spawn(name, memory_mb)
    setattr(host.backend, at, real)
    flow, = [f for f in host.driver.list_flows() if f.state == 'RUNNING']
    return flow.flow_id


def test_new_flow_record_holds_inputs_and_owner(hosts):
    host = hosts()
    flow_id = interrupted_spawn(host)
    with contextlib.closing(host.driver.persistence.get_connection()) as c:
        detail = c.get_flow_details(flow_id)
    assert detail.meta == {'factory': spawn_flow.FLOW_NAME, 'args': {},
                           'host': 'host-a'}
    inputs = registry.inputs(detail)
    assert inputs['request_id'] == flow_id
    assert inputs['spec']['name'] == 'vm1'
    assert inputs['spec']['memory_mb'] == 20 * GiB


def test_interrupted_spawn_is_reverted_from_its_record(hosts):
    host = hosts()
    before = host.dom0().target_mb
    flow_id = interrupted_spawn(host)
    assert host.ledger.entries()  # the reservation is left behind
    recovered, orphans = host.driver.recover()
    assert [(r.flow_id, r.outcome) for r in recovered] == [
        (flow_id, 'reverted')]
    assert orphans == []
    assert host.ledger.entries() == {}
    assert host.dom0().target_mb == before
    assert stored(host)[flow_id][0] == states.REVERTED


def test_record_without_a_started_task_is_discarded_untouched(hosts):
    host = hosts()
    calls = []
    host.backend.set_dom0_target = lambda mb: calls.append(mb)
    book, detail = engine_mod.new_flow_detail(
        host.driver.persistence, spawn_flow.FLOW_NAME, 'spawn vm9',
        {'spec': {'name': 'vm9', 'memory_mb': 1024}, 'request_id': 'x'},
        registry.meta(spawn_flow.FLOW_NAME, 'host-a'))
    recovered, _ = host.driver.recover()
    assert [(r.flow_id, r.outcome) for r in recovered] == [
        (detail.uuid, 'discarded')]
    assert stored(host)[detail.uuid][0] == states.REVERTED
    assert calls == [] and host.ledger.entries() == {}


def test_flow_finished_after_the_listing_is_not_rerun(hosts, monkeypatch):
    """Listed while running, finished before recovery holds its lock."""
    host = hosts()
    flow_id = interrupted_spawn(host, at='create_domain')
    stale = list(listing.details(host.driver.persistence, 'host-a'))
    host.driver.recover()  # another recovery got there first...
    host.driver.spawn('vm2', 1 * GiB)  # ...and the host moved on
    entries = host.ledger.entries()
    monkeypatch.setattr(listing, 'details',
                        lambda *args, **kwargs: iter(copy.deepcopy(stale)))
    recovered = resume.resume_unfinished(host.driver)
    assert recovered == []
    assert host.ledger.entries() == entries
    assert stored(host)[flow_id][0] == states.REVERTED


def test_flow_held_by_a_live_process_is_left_alone(hosts):
    host = hosts()
    flow_id = interrupted_spawn(host)
    before = stored(host)
    with engine_mod.owning(host.driver.lock_dir, flow_id):
        recovered, _ = host.driver.recover()
    assert recovered == []
    assert stored(host) == before


def test_hosts_sharing_a_store_never_touch_each_others_flows(hosts):
    host_a = hosts('host-a')
    flow_a = interrupted_spawn(host_a, 'vm-a')
    host_b = hosts('host-b')
    flow_b = interrupted_spawn(host_b, 'vm-b')
    a_before, a_dom0 = stored(host_a)[flow_a], host_a.dom0()

    recovered, orphans = host_b.driver.recover()
    assert [(r.flow_id, r.outcome) for r in recovered] == [
        (flow_b, 'reverted')]
    assert orphans == []
    assert stored(host_a)[flow_a] == a_before
    assert host_a.dom0() == a_dom0
    assert [f.flow_id for f in host_b.driver.list_flows()] == [flow_b]

    recovered, _ = host_a.driver.recover()
    assert [(r.flow_id, r.outcome) for r in recovered] == [
        (flow_a, 'reverted')]
    assert stored(host_b)[flow_b][0] == states.REVERTED


def test_unrebuildable_flow_is_quarantined_and_blocks_nothing(hosts):
    host = hosts()
    flow_id = interrupted_spawn(host)
    edit_meta(host, flow_id, factory='xenballoon-teleport')
    recovered, _ = host.driver.recover()
    (row,) = recovered
    assert row.outcome == 'quarantined'
    assert "unknown flow factory 'xenballoon-teleport'" in row.error
    # Every later command still works; the flow is reported, never run.
    host.driver.spawn('vm2', 1 * GiB)
    recovered, _ = host.driver.recover()
    assert [r.outcome for r in recovered] == ['quarantined']
    states_by_id = {f.flow_id: f.state for f in host.driver.list_flows()}
    assert states_by_id[flow_id] == listing.QUARANTINED


def test_older_record_without_owner_or_inputs_is_reported(hosts):
    """What the previous release could leave: no meta, no inputs."""
    host = hosts()
    flow_id = interrupted_spawn(host)
    with contextlib.closing(host.driver.persistence.get_connection()) as c:
        detail = c.get_flow_details(flow_id)
        detail.meta = {}
        c.update_flow_details(detail)
    before = stored(host)[flow_id]
    recovered, _ = host.driver.recover()
    assert [(r.flow_id, r.outcome) for r in recovered] == [
        (flow_id, 'quarantined')]
    assert 'no owning host' in recovered[0].error
    assert stored(host)[flow_id] == before


def test_operator_discards_a_quarantined_flow_and_reconcile_takes_over(
        hosts, conf):
    host = hosts()
    flow_id = interrupted_spawn(host)
    edit_meta(host, flow_id, factory='xenballoon-teleport')
    host.driver.recover()
    with pytest.raises(exception.InvalidInput, match='no flow of host'):
        host.driver.discard_flow('0' * 32)
    host.driver.discard_flow(flow_id)
    assert stored(host)[flow_id][0] == states.REVERTED
    conf.flags('persistence', orphan_action='clean')
    recovered, orphans = host.driver.recover()
    assert recovered == []
    assert [(o.kind, o.action) for o in orphans] == [
        ('stale-reservation', 'released')]
    assert host.ledger.entries() == {}


def test_only_a_quarantined_flow_can_be_discarded(hosts):
    host = hosts()
    host.driver.spawn('vm1', 1 * GiB)
    flow, = host.driver.list_flows()
    with pytest.raises(exception.InvalidInput, match='not quarantined'):
        host.driver.discard_flow(flow.flow_id)
