"""Posting a spawn as a job: its flow stored first, plain data in the job."""

import json

import pytest
from taskflow import states

from tests import conftest
from tests.unit.jobboard import fakes
from xenballoon_driver import exception
from xenballoon_driver.flows import spawn as spawn_flow
from xenballoon_driver.jobboard import posting

GiB = conftest.GiB


def test_the_flow_is_stored_before_its_job_is_posted(sim):
    host = sim()
    board = fakes.Board(host.driver.persistence)
    spec = posting.spawn_spec('vm1', 8 * GiB, vcpus=2)
    job, flow_id = posting.post_spawn(host.driver, board, spec)
    detail, = board.stored_at_post
    assert detail is not None and detail.uuid == flow_id
    assert detail.state == states.PENDING
    assert detail.meta == {'factory': spawn_flow.FLOW_NAME, 'args': {},
                           'host': host.driver.host, 'job': True}
    inputs = {a.name: a.results for a in detail}
    injected, = [r for r in inputs.values() if r]
    assert injected['spec'] == json.loads(json.dumps(spec.to_dict()))
    assert injected['request_id'] == flow_id
    # The job carries plain data only, and names its flow and book.
    assert json.loads(json.dumps(job.details)) == job.details
    assert job.details == {'flow_uuid': flow_id,
                           'factory': spawn_flow.FLOW_NAME, 'args': {},
                           'host': host.driver.host}
    assert job.name == 'spawn vm1'
    assert job.book.find(flow_id) is not None
    # Nothing ran: the host is untouched.
    assert host.driver.list_instances() == []
    assert host.ledger.entries() == {}


@pytest.mark.parametrize('args, what', [
    (('bad name', 1024), 'domain name'),
    (('vm', 0), 'memory'),
    (('vm', 1024, 0), 'vcpus'),
])
def test_bad_input_is_refused_before_anything_is_stored(sim, args, what):
    host = sim()
    with pytest.raises(exception.InvalidInput):
        posting.spawn_spec(*args)
    assert host.driver.list_flows() == []


def test_unknown_factory_posts_nothing(sim):
    host = sim()
    board = fakes.Board(host.driver.persistence)
    with pytest.raises(KeyError):
        posting.post(host.driver, board, 'no-such-flow', {}, 'x')
    assert board.posted == [] and host.driver.list_flows() == []


def test_recovery_leaves_a_posted_flow_to_its_conductor(sim):
    host = sim()
    board = fakes.Board(host.driver.persistence)
    _job, flow_id = posting.post_spawn(
        host.driver, board, posting.spawn_spec('vm1', 8 * GiB))
    recovered, _orphans = host.driver.recover()
    assert recovered == []
    row, = host.driver.list_flows()
    assert (row.flow_id, row.state) == (flow_id, states.PENDING)


def test_an_unposted_never_started_flow_is_still_discarded(sim):
    # Recovery's own rule for other flows is unchanged.
    host = sim()
    from xenballoon_driver.flows import engine
    from xenballoon_driver.flows import registry
    engine.new_flow_detail(host.driver.persistence, spawn_flow.FLOW_NAME,
                           'spawn vm1', {'spec': {}},
                           registry.meta(spawn_flow.FLOW_NAME,
                                         host.driver.host))
    (row,), _ = host.driver.recover()
    assert row.outcome == 'discarded'
