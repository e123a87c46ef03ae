"""Destroy, stop, start, reboot, suspend and resume posted as jobs.

What the CLI posts (cmd/power.py, cmd/domains.py): the checked inputs
of the lifecycle's flows (lifecycle.py), stored before the job is posted,
with plain-data arguments; run by the conductor on the simulated host's
virtual clock, with fake boards and jobs (fakes.py). A process killed
mid-flow is stood in for by an exception no task catches.
"""

import contextlib
import json
import threading

import pytest
from taskflow import states

from tests import conftest
from tests.unit.jobboard import fakes
from xenballoon_driver.cmd import as_job
from xenballoon_driver import exception
from xenballoon_driver.flows import destroy as destroy_flow
from xenballoon_driver.flows import names
from xenballoon_driver.flows import power_off as power_off_flow
from xenballoon_driver.flows import power_on as power_on_flow
from xenballoon_driver.flows import reboot as reboot_flow
from xenballoon_driver.flows import registry
from xenballoon_driver.jobboard import conductor as conductor_mod
from xenballoon_driver.jobboard import posting
from xenballoon_driver import lifecycle

GiB = conftest.GiB


class Killed(BaseException):
    pass


@pytest.fixture
def host(sim):
    host = sim()
    host.driver.spawn('vm1', 8 * GiB)
    return host


def conductor(host):
    board = fakes.Board(host.driver.persistence)
    return board, conductor_mod.Conductor('c1', host.driver, board, 0.01)


def _stopped(host):
    host.driver.power_off('vm1')


def _suspended(host):
    host.driver.suspend('vm1')


# (request, how the guest is first, factory, store, args, its state after)
CASES = {
    'destroy': (None, destroy_flow.FLOW_NAME,
                lambda drv: {names.NAME: 'vm1'}, {'reinflate': False},
                None),
    'power-off': (None, power_off_flow.FLOW_NAME,
                  lambda drv: lifecycle.power_off_store(drv, 'vm1', 0, 0),
                  {}, 'shutoff'),
    'power-on': (_stopped, power_on_flow.FLOW_NAME,
                 lambda drv: {names.NAME: 'vm1'}, {}, 'running'),
    'suspend': (None, power_off_flow.FLOW_NAME,
                lambda drv: lifecycle.power_off_store(
                    drv, 'vm1', save_path=lifecycle.saved_path(drv, 'vm1')),
                {}, 'suspended'),
    'resume': (_suspended, power_on_flow.FLOW_NAME,
               lambda drv: {names.NAME: 'vm1'}, {}, 'running'),
    'reboot': (None, reboot_flow.FLOW_NAME,
               lambda drv: lifecycle.power_off_store(drv, 'vm1', 30, 5),
               {}, 'running'),
}


def _states(host):
    return {i.name: i.state for i in host.driver.list_guests()}


@pytest.mark.parametrize('request_', sorted(CASES))
def test_each_lifecycle_job_is_stored_first_and_run_by_the_conductor(
        host, request_):
    before, factory, store, args, after = CASES[request_]
    if before:
        before(host)
    board, runner = conductor(host)
    flows_before = len(host.driver.list_flows())
    job, flow_id = posting.post(host.driver, board, factory,
                                store(host.driver), '%s vm1' % request_,
                                **args)
    detail, = board.stored_at_post
    assert (detail.uuid, detail.state) == (flow_id, states.PENDING)
    assert detail.meta['factory'] == factory and detail.meta['job']
    # Plain data only: the job and the flow's inputs survive JSON.
    assert json.loads(json.dumps(job.details)) == job.details
    assert json.loads(json.dumps(registry.inputs(detail))) == (
        registry.inputs(detail))
    assert len(host.driver.list_flows()) == flows_before + 1
    assert runner._dispatch_job(job) is True
    posting.wait(host.driver, flow_id, 0.01)
    assert _states(host).get('vm1') == after
    assert runner._dispatch_job(job) is True  # consumed, not run again
    assert runner.ran == 1


def test_the_reboot_job_reads_back_what_a_direct_reboot_returns(host):
    domid = host.backend.domain_info('vm1').domid
    board, runner = conductor(host)
    job, flow_id = posting.post(
        host.driver, board, reboot_flow.FLOW_NAME,
        lifecycle.power_off_store(host.driver, 'vm1', 0, 0), 'reboot vm1')
    runner._dispatch_job(job)
    results = posting.wait(host.driver, flow_id, 0.01)
    assert results[names.POWER_OFF] == {'clean': False, 'saved': None}
    info = results[names.DOMAIN]
    assert (info['name'], info['state']) == ('vm1', 'running')
    assert info['domid'] != domid
    assert info == host.backend.domain_info('vm1').__dict__


def test_a_reboot_killed_in_its_start_is_finished_or_undone(host):
    # One job: a conductor that dies between the stop and the start
    # leaves a flow the next one takes back, never a guest half done.
    board, runner = conductor(host)
    job, flow_id = posting.post(
        host.driver, board, reboot_flow.FLOW_NAME,
        lifecycle.power_off_store(host.driver, 'vm1', 0, 0), 'reboot vm1')
    real = host.backend.create_domain

    def die(*args, **kwargs):
        raise Killed()
    host.backend.create_domain = die
    with pytest.raises(Killed):
        runner._dispatch_job(job)
    host.backend.create_domain = real
    assert host.driver.list_instances() == []  # stopped, being started
    _board, again = conductor(host)
    assert again._dispatch_job(job) is True
    detail = posting.stored(host.driver.persistence, flow_id)
    # Recovery undoes an interrupted start to STOPPED, memory kept.
    assert detail.state in (states.SUCCESS, states.REVERTED)
    assert _states(host) == {'vm1': 'running' if detail.state ==
                             states.SUCCESS else 'shutoff'}
    entry, = host.ledger.entries().values()
    assert entry['need_mb'] >= 8 * GiB and 'stopping' not in entry


def test_the_reboot_flow_is_the_two_flows_tasks_in_order(sim):
    drv = sim().driver
    tasks = [t.name for t, _ in registry.build(
        drv, reboot_flow.FLOW_NAME).iter_nodes()]
    assert tasks == [t.name for f in (power_off_flow, power_on_flow)
                     for t, _ in registry.build(drv, f.FLOW_NAME)
                     .iter_nodes()]
    flow = registry.build(drv, reboot_flow.FLOW_NAME)
    assert {names.POWER_OFF, names.DOMAIN} <= set(flow.provides)


@pytest.mark.parametrize('check, error', [
    (lambda drv: lifecycle.destroy_check(drv, 'nosuch'),
     exception.DomainNotFound),
    (lambda drv: lifecycle.destroy_check(drv, 'bad name'),
     exception.InvalidInput),
    (lambda drv: lifecycle.power_off_store(drv, 'nosuch'),
     exception.DomainNotFound),
    (lambda drv: lifecycle.power_off_store(drv, 'vm1', -1),
     exception.InvalidInput),
    (lambda drv: lifecycle.power_on_plan(drv, 'nosuch'),
     exception.DomainNotFound),
    (lambda drv: lifecycle.resume_check(drv, 'nosuch'),
     exception.DomainNotFound),
    (lambda drv: lifecycle.suspend_check(drv, 'nosuch'),
     exception.DomainNotFound),
])
def test_a_refused_request_is_refused_before_anything_is_stored(
        host, check, error):
    flows = [f.flow_id for f in host.driver.list_flows()]
    entries = host.ledger.entries()
    with pytest.raises(error):
        check(host.driver)
    assert [f.flow_id for f in host.driver.list_flows()] == flows
    assert host.ledger.entries() == entries


def test_a_destroy_of_a_guest_being_spawned_is_refused_first(host):
    host.ledger.reserve(host.backend, 'vm2', GiB)
    with pytest.raises(exception.DomainBusy):
        lifecycle.destroy_check(host.driver, 'vm2')
    lifecycle.destroy_check(host.driver, 'vm1')  # known: no error


def test_nothing_to_run_posts_nothing(host):
    # Running already, stopped already: the direct path's no-ops.
    assert lifecycle.power_on_plan(host.driver, 'vm1')[0] == 'running'
    host.driver.power_off('vm1')
    assert lifecycle.power_off_store(host.driver, 'vm1') is None
    assert lifecycle.power_on_plan(host.driver, 'vm1') == ('stopped', None)


def test_a_guest_gone_from_the_host_is_started_by_a_reboot(host):
    host.model.destroy('vm1')  # the host lost it, the ledger did not
    assert lifecycle.power_on_plan(host.driver, 'vm1') == ('gone', None)


class _Command:
    def __init__(self, conf):
        self._conf = conf

    def conf(self):
        return self._conf


@pytest.fixture
def fake_board(monkeypatch):
    board = fakes.Board()

    def connected(conf, host, persistence):
        board.persistence = persistence
        return contextlib.nullcontext(board)
    monkeypatch.setattr(as_job.board_mod, 'connected', connected)
    return board


def test_async_posts_and_returns_the_job(host, conf, fake_board):
    received = type('R', (), {'event': threading.Event()})()
    job, flow_id, results = as_job.post_and_wait(
        _Command(conf), host.driver, received, True,
        destroy_flow.FLOW_NAME, {names.NAME: 'vm1'}, 'destroy', 'vm1',
        reinflate=False)
    assert results is None and fake_board.posted == [job]
    assert job.name == 'destroy vm1'
    assert as_job.posted(job, flow_id, 'vm1') == (
        as_job.POSTED_COLUMNS, (job.uuid, flow_id, 'vm1'))
    assert host.driver.list_instances() == ['vm1']  # nothing ran here


def test_a_signal_stops_the_wait_not_the_job(host, conf, fake_board):
    class Received:
        event = threading.Event()

        def details(self):
            return {'signum': 15, 'signal': 'SIGTERM'}
    received = Received()
    received.event.set()
    with pytest.raises(exception.JobWaitSignalled) as err:
        as_job.post_and_wait(_Command(conf), host.driver, received, False,
                             power_off_flow.FLOW_NAME,
                             lifecycle.power_off_store(host.driver, 'vm1'),
                             'power-off', 'vm1')
    assert err.value.exit_code == 143
    job, = fake_board.posted
    assert str(err.value).startswith(
        'SIGTERM: stopped waiting for the power-off of vm1; its job %s '
        'goes on' % job.uuid)
    # Still posted, its flow stored and pending for the conductor.
    flow_id = job.details['flow_uuid']
    assert posting.stored(host.driver.persistence,
                          flow_id).state == states.PENDING
